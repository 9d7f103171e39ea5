package signer

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/signagent/signagent"
)

// LoadCredentials loads a signing key and its certificate chain, leaf first.
//
// certPath is a PKCS#12 file (.p12, .pfx: any file that is not PEM) or a PEM
// file with the certificate chain in any order; the PEM private key (PKCS#8,
// PKCS#1 or SEC 1 EC, unencrypted) is in keyPath or, when keyPath is empty,
// in certPath itself. passwordFile holds the PKCS#12 password (trailing
// newline ignored); empty means no password. RSA and ECDSA keys are
// supported.
//
// Every error is a *signagent.Error of kind KindConfig whose message names
// the file and whose hint says what to fix; the password never appears in
// it. A password file readable by group or others is logged as a warning
// on slog.Default(); NewLocal uses its configured logger instead.
func LoadCredentials(certPath, keyPath, passwordFile string) (crypto.Signer, []*x509.Certificate, error) {
	return loadCredentials(certPath, keyPath, passwordFile, slog.Default())
}

// readConfigFile reads a credential file, turning failures into
// configuration errors.
func readConfigFile(what, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, signagent.ConfigError(fmt.Sprintf("%s %s does not exist", what, path), "check the path in the backend configuration", nil)
	case errors.Is(err, fs.ErrPermission):
		return nil, signagent.ConfigError(fmt.Sprintf("%s %s is not readable by this process", what, path),
			"give the service account read access to it (and nobody else)", nil)
	case err != nil:
		return nil, signagent.ConfigError(fmt.Sprintf("cannot read %s %s", what, path), "check the path in the backend configuration", err)
	}
	return b, nil
}

func loadCredentials(certPath, keyPath, passwordFile string, log *slog.Logger) (crypto.Signer, []*x509.Certificate, error) {
	if certPath == "" {
		return nil, nil, signagent.ConfigError("no certificate configured", `set certificate to a .p12/.pfx or PEM file, or to "dev" for a development certificate`, nil)
	}
	data, err := readConfigFile("certificate file", certPath)
	if err != nil {
		return nil, nil, err
	}
	var (
		key   any
		certs []*x509.Certificate
	)
	if bytes.Contains(data, []byte("-----BEGIN")) {
		key, certs, err = parsePEM(certPath, data)
		if err != nil {
			return nil, nil, err
		}
		if keyPath != "" {
			kdata, err := readConfigFile("key file", keyPath)
			if err != nil {
				return nil, nil, err
			}
			if key, _, err = parsePEM(keyPath, kdata); err != nil {
				return nil, nil, err
			}
		}
		if key == nil {
			return nil, nil, signagent.ConfigError(fmt.Sprintf("no private key in %s", certPath),
				"set key_file to the PEM private key, or append the key to the certificate file", nil)
		}
	} else {
		password := ""
		if passwordFile != "" {
			pw, err := readConfigFile("password file", passwordFile)
			if err != nil {
				return nil, nil, err
			}
			warnLoosePermissions(log, passwordFile)
			password = strings.TrimSuffix(strings.TrimSuffix(string(pw), "\n"), "\r")
		}
		var leaf *x509.Certificate
		var cas []*x509.Certificate
		key, leaf, cas, err = pkcs12.DecodeChain(data, password)
		switch {
		case errors.Is(err, pkcs12.ErrIncorrectPassword):
			hint := "put the right password in the password file (only the password, one line)"
			if passwordFile == "" {
				hint = "the file is protected: set password_file to a file holding its password"
			}
			return nil, nil, signagent.ConfigError(fmt.Sprintf("wrong password for PKCS#12 file %s", certPath), hint, nil)
		case err != nil:
			return nil, nil, signagent.ConfigError(fmt.Sprintf("%s is neither PEM nor a readable PKCS#12 file", certPath),
				"export the certificate and key as PKCS#12 (.p12) or PEM", err)
		}
		certs = append([]*x509.Certificate{leaf}, cas...)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, signagent.ConfigError(fmt.Sprintf("unsupported private key type %T in %s", key, certPath), "use an RSA or ECDSA key", nil)
	}
	switch signer.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey:
	default:
		return nil, nil, signagent.ConfigError(fmt.Sprintf("unsupported private key type %T in %s", key, certPath), "use an RSA or ECDSA key", nil)
	}
	chain, err := orderChain(signer.Public(), certs)
	if err != nil {
		return nil, nil, signagent.ConfigError(fmt.Sprintf("%s: %v", certPath, err),
			"configure the certificate issued for this private key", nil)
	}
	return signer, chain, nil
}

// parsePEM returns the first private key and every certificate of a PEM
// file.
func parsePEM(path string, data []byte) (any, []*x509.Certificate, error) {
	var key any
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, nil, signagent.ConfigError(fmt.Sprintf("bad certificate in %s", path), "export the certificate again", err)
			}
			certs = append(certs, c)
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if key != nil {
				continue
			}
			var err error
			switch b.Type {
			case "PRIVATE KEY":
				key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
			case "RSA PRIVATE KEY":
				key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
			default:
				key, err = x509.ParseECPrivateKey(b.Bytes)
			}
			if err != nil {
				return nil, nil, signagent.ConfigError(fmt.Sprintf("bad private key in %s", path), "export the key again as unencrypted PKCS#8 PEM", nil)
			}
		case "ENCRYPTED PRIVATE KEY":
			return nil, nil, signagent.ConfigError(fmt.Sprintf("the private key in %s is encrypted", path),
				"use a PKCS#12 file with password_file instead (openssl pkcs12 -export)", nil)
		}
	}
	if key == nil && len(certs) == 0 {
		return nil, nil, signagent.ConfigError(fmt.Sprintf("no certificate or key found in %s", path), "check that the file is PEM", nil)
	}
	return key, certs, nil
}

// orderChain returns the certificate matching pub followed by its issuers as
// far as they are present, then any other certificate.
func orderChain(pub crypto.PublicKey, certs []*x509.Certificate) ([]*x509.Certificate, error) {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	eq, ok := pub.(equaler)
	if !ok {
		return nil, fmt.Errorf("unsupported public key %T", pub)
	}
	var leaf *x509.Certificate
	for _, c := range certs {
		if eq.Equal(c.PublicKey) {
			leaf = c
			break
		}
	}
	if leaf == nil {
		return nil, errors.New("no certificate matches the private key")
	}
	chain := []*x509.Certificate{leaf}
	used := map[*x509.Certificate]bool{leaf: true}
	for cur := leaf; !bytes.Equal(cur.RawIssuer, cur.RawSubject); {
		var next *x509.Certificate
		for _, c := range certs {
			if !used[c] && bytes.Equal(c.RawSubject, cur.RawIssuer) && cur.CheckSignatureFrom(c) == nil {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		chain = append(chain, next)
		used[next] = true
		cur = next
	}
	for _, c := range certs {
		if !used[c] {
			chain = append(chain, c)
		}
	}
	return chain, nil
}

// warnLoosePermissions warns when a secret file is readable by others.
func warnLoosePermissions(log *slog.Logger, path string) {
	if runtime.GOOS == "windows" {
		return // ACLs, not mode bits, protect files there
	}
	st, err := os.Stat(path)
	if err == nil && st.Mode().Perm()&0o077 != 0 {
		log.Warn("password file is readable by other users; restrict it to the service account",
			"file", filepath.Clean(path), "mode", fmt.Sprintf("%04o", st.Mode().Perm()), "hint", "chmod 600 "+path)
	}
}
