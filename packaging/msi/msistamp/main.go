// Command msistamp makes an MSI built by wixl reproducible: wixl writes a
// random package code (the summary information's revision number) and the
// current time into every MSI. msistamp overwrites them in place with a
// given package code and time, leaving every other byte as it was.
//
//	msistamp -package-code {GUID} -time UNIXSECONDS FILE.msi
//
// The summary information is an OLE property set (MS-OLEPS) stored as one
// stream of the compound file; a small MSI keeps it in contiguous bytes,
// which msistamp requires: it finds the set by its format identifier and
// refuses a file where the set's properties do not lie where the set says.
// The release script checks the result with msiinfo.
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"time"
)

// fmtidSummary is {F29F85E0-4FF9-1068-AB91-08002B27B3D9} as stored.
var fmtidSummary = []byte{0xE0, 0x85, 0x9F, 0xF2, 0xF9, 0x4F, 0x68, 0x10, 0xAB, 0x91, 0x08, 0x00, 0x2B, 0x27, 0xB3, 0xD9}

// Property identifiers and types used here.
const (
	pidRevNumber = 9
	pidCreated   = 12
	pidLastSaved = 13
	vtLPSTR      = 0x1E
	vtFILETIME   = 0x40
)

var guidRE = regexp.MustCompile(`^\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}$`)

func main() {
	code := flag.String("package-code", "", "the package code, {XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX} in capitals")
	epoch := flag.Int64("time", -1, "creation and last-saved time, in Unix seconds")
	flag.Parse()
	if !guidRE.MatchString(*code) || *epoch < 0 || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: msistamp -package-code {GUID} -time UNIXSECONDS FILE.msi")
		os.Exit(2)
	}
	if err := stamp(flag.Arg(0), *code, time.Unix(*epoch, 0)); err != nil {
		fmt.Fprintln(os.Stderr, "msistamp: "+err.Error())
		os.Exit(1)
	}
}

func stamp(file, code string, t time.Time) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := stampBytes(b, code, t); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return os.WriteFile(file, b, 0o644)
}

// stampBytes patches the summary information property set in b.
func stampBytes(b []byte, code string, t time.Time) error {
	i := bytes.Index(b, fmtidSummary)
	if i < 28 || bytes.Contains(b[i+1:], fmtidSummary) {
		return errors.New("no single summary information property set")
	}
	set := b[i-28:] // byte order, version, system id, CLSID, count, then FMTID
	if set[0] != 0xFE || set[1] != 0xFF {
		return errors.New("summary information: not a property set header")
	}
	le := binary.LittleEndian
	off := int(le.Uint32(set[44:]))
	if off+8 > len(set) {
		return errors.New("summary information: section out of range")
	}
	sec := set[off:]
	n := int(le.Uint32(sec[4:]))
	// FILETIME: 100-nanosecond intervals since 1601-01-01 UTC.
	ft := uint64(t.Unix()+11644473600) * 10_000_000
	done := map[uint32]bool{}
	for k := 0; k < n; k++ {
		if 8+8*k+8 > len(sec) {
			return errors.New("summary information: property table out of range")
		}
		pid := le.Uint32(sec[8+8*k:])
		p := int(le.Uint32(sec[8+8*k+4:]))
		if p+8 > len(sec) {
			return errors.New("summary information: property out of range")
		}
		switch pid {
		case pidRevNumber:
			size := int(le.Uint32(sec[p+4:]))
			if le.Uint32(sec[p:]) != vtLPSTR || size != len(code)+1 || p+8+size > len(sec) ||
				!guidRE.Match(sec[p+8:p+8+len(code)]) {
				return errors.New("summary information: the revision number is not a package code")
			}
			copy(sec[p+8:], code)
		case pidCreated, pidLastSaved:
			if le.Uint32(sec[p:]) != vtFILETIME || p+12 > len(sec) {
				return fmt.Errorf("summary information: property %d is not a time", pid)
			}
			le.PutUint64(sec[p+4:], ft)
		default:
			continue
		}
		done[pid] = true
	}
	if !done[pidRevNumber] {
		return errors.New("summary information: no revision number")
	}
	return nil
}
