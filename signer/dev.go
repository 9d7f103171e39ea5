package signer

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/signagent/signagent"
)

// DevCommonName is the subject common name of the development signer.
const DevCommonName = "signagent development signer (NOT TRUSTED)"

// Files of the development certificate, in dataDir/dev.
const (
	devDir      = "dev"
	devKeyFile  = "signer.key" // PKCS#8 private key of the signer
	devCertFile = "signer.pem" // signer certificate followed by the CA
	devCAFile   = "ca.pem"     // the development CA, to verify with
	devValidity = 10 * 365 * 24 * time.Hour
)

var oidDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}

// DevCredentials returns the development signing key and chain kept in
// dataDir/dev, creating them on first use: a development CA (valid 10
// years, its key discarded once the signer is issued) and an RSA-2048
// signer certificate under it (documentSigning and emailProtection
// extended key usages, digitalSignature and nonRepudiation). The directory
// is 0700 and its files 0600; dev/ca.pem holds the CA certificate, which
// verifiers can be pointed at.
//
// Creation is safe against concurrent starts: the files are made in a
// temporary directory that is renamed into place, so a loser of the race
// discards its own and loads the winner's. Every call logs a warning that
// these signatures are not trusted.
func DevCredentials(dataDir string, log *slog.Logger, now time.Time) (crypto.Signer, []*x509.Certificate, error) {
	if log == nil {
		log = slog.Default()
	}
	if dataDir == "" {
		return nil, nil, signagent.ConfigError(`certificate = "dev" needs a data directory`, "set data_dir in the configuration", nil)
	}
	dir := filepath.Join(dataDir, devDir)
	if _, err := os.Stat(filepath.Join(dir, devCertFile)); errors.Is(err, fs.ErrNotExist) {
		if err := createDev(dataDir, dir, now); err != nil {
			return nil, nil, err
		}
		log.Info("created development certificate", "dir", dir)
	}
	key, chain, err := loadCredentials(filepath.Join(dir, devCertFile), filepath.Join(dir, devKeyFile), "", log)
	if err != nil {
		return nil, nil, signagent.ConfigError("the development certificate in "+dir+" is unusable",
			"remove that directory to create a new one", err)
	}
	log.Warn("signing with the development certificate: these signatures are NOT trusted by anyone",
		"ca", filepath.Join(dir, devCAFile), "expires", chain[0].NotAfter.Format(time.DateOnly),
		"hint", "configure a real certificate (.p12) before production use")
	return key, chain, nil
}

func createDev(dataDir, dir string, now time.Time) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	tmp, err := os.MkdirTemp(dataDir, ".dev-")
	if err != nil {
		return fmt.Errorf("create development certificate: %w", err)
	}
	defer os.RemoveAll(tmp) // after a successful rename there is nothing left
	if err := os.Chmod(tmp, 0o700); err != nil {
		return err
	}
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	start := now.Add(-time.Hour).UTC()
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "signagent development CA (NOT TRUSTED)", Organization: []string{"signagent development"}},
		NotBefore:             start,
		NotAfter:              start.Add(devValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: DevCommonName, Organization: []string{"signagent development"}},
		NotBefore:             start,
		NotAfter:              start.Add(devValidity),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{oidDocumentSigning},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, key.Public(), caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	certPEM := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	for name, data := range map[string][]byte{
		devKeyFile:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		devCertFile: certPEM,
		devCAFile:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
	} {
		if err := writeSync(filepath.Join(tmp, name), data); err != nil {
			return fmt.Errorf("create development certificate: %w", err)
		}
	}
	// Renaming a directory onto an existing one fails, so exactly one of
	// several concurrent creators wins; the others use its files.
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, devCertFile)); statErr == nil {
			return nil
		}
		return fmt.Errorf("create development certificate: %w", err)
	}
	return nil
}

func writeSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n.Add(n, big.NewInt(1))
}

// DevExists reports whether the development certificate has been created
// in dataDir (DevCredentials creates it on first use).
func DevExists(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, devDir, devCertFile))
	return err == nil
}
