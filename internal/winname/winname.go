// Package winname tells which file names Windows cannot address by their
// plain path, and gives the agent a name it can store them under.
//
// Win32 path parsing turns a name such as CON.pdf, nul.xml or COM1.pdf into
// a device (the console, the null device, a serial port), and silently drops
// trailing dots and spaces, so "invoice.pdf." opens "invoice.pdf", another
// file. Such names reach an inbox from \\?\ paths, from Unix clients of a
// share, or from Wine. Opened by their plain path they would read a device
// or another document; the agent moves them, by their extended-length path
// (Extended), to the error folder under a name of Safe.
package winname

import (
	"strings"
)

// reserved are the device names Win32 reserves, in upper case: with any
// extension (CON.pdf) and in any case (nul.xml) they name the device.
var reserved = map[string]bool{
	"CON": true, "PRN": true, "AUX": true, "NUL": true, "CONIN$": true, "CONOUT$": true, "CLOCK$": true,
	"COM0": true, "COM1": true, "COM2": true, "COM3": true, "COM4": true, "COM5": true, "COM6": true, "COM7": true, "COM8": true, "COM9": true,
	"COM¹": true, "COM²": true, "COM³": true,
	"LPT0": true, "LPT1": true, "LPT2": true, "LPT3": true, "LPT4": true, "LPT5": true, "LPT6": true, "LPT7": true, "LPT8": true, "LPT9": true,
	"LPT¹": true, "LPT²": true, "LPT³": true,
}

// Problem says why Windows cannot address name (one path element) by its
// plain path, or returns "" when it can.
func Problem(name string) string {
	if name == "" || name == "." || name == ".." {
		return ""
	}
	switch name[len(name)-1] {
	case '.':
		return "it ends in a dot, which Windows drops from paths"
	case ' ':
		return "it ends in a space, which Windows drops from paths"
	}
	stem := name
	if i := strings.IndexByte(stem, '.'); i >= 0 {
		stem = stem[:i]
	}
	stem = strings.TrimRight(stem, " ")
	if reserved[strings.ToUpper(stem)] {
		return stem + " is a device name Windows reserves"
	}
	return ""
}

// ProblemPath is Problem of the first element of the slash-separated path
// rel that has one, prefixed with that element when it is a folder.
func ProblemPath(rel string) string {
	elems := strings.Split(rel, "/")
	for i, e := range elems {
		if p := Problem(e); p != "" {
			if i < len(elems)-1 {
				return "folder " + e + ": " + p
			}
			return p
		}
	}
	return ""
}

// Safe returns name unchanged when Windows can address it, otherwise a name
// it can: a reserved device name gets a leading underscore (_CON.pdf), and
// trailing dots and spaces become underscores (invoice.pdf_).
func Safe(name string) string {
	if Problem(name) == "" {
		return name
	}
	trimmed := strings.TrimRight(name, ". ")
	name = trimmed + strings.Repeat("_", len(name)-len(trimmed))
	if Problem(name) != "" {
		name = "_" + name
	}
	return name
}

// SafePath is Safe of every element of the slash-separated path rel.
func SafePath(rel string) string {
	elems := strings.Split(rel, "/")
	for i, e := range elems {
		elems[i] = Safe(e)
	}
	return strings.Join(elems, "/")
}
