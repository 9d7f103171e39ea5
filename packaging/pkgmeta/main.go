// Command pkgmeta writes the release metadata that comes from the Go
// modules compiled into a binary: its CycloneDX SBOM with each module's
// licence, a package's SBOM, and the copyright file shipped in the
// packages. It reads the module list from an SBOM written by
// cyclonedx-gomod (bin mode) and the licence files from the module cache.
//
//	pkgmeta sbom -modcache DIR -goroot DIR <RAW.cdx.json >ARTIFACT.cdx.json
//	pkgmeta package -name N -version V -purl PURL -file F <BINARY.cdx.json >F.cdx.json
//	pkgmeta copyright -modcache DIR -goroot DIR -binary PATH <BINARY.cdx.json >copyright
//
// sbom adds a "licenses" entry to every module (and std); package makes
// the SBOM of a package (a .deb, an MSI) that ships the binary: the package
// is the main component, with its file's SHA-256, and depends on the
// binary's. copyright writes a Debian machine-readable copyright file
// (copyright-format 1.0) with one paragraph per module and the full text of
// its licence, notice and patent files.
//
// Every output is a function of the inputs: no time, no random serial.
// A module whose licence is not one of the few known here, or that has no
// licence file, is an error: a new dependency's licence is looked at before
// it ships.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	modcache := fs.String("modcache", "", "the module cache (go env GOMODCACHE)")
	goroot := fs.String("goroot", "", "the Go installation that built the binary (go env GOROOT)")
	name := fs.String("name", "", "package: the package's name")
	version := fs.String("version", "", "package: the package's version")
	purl := fs.String("purl", "", "package: the package's package URL")
	file := fs.String("file", "", "package: the package file, hashed into the SBOM")
	binary := fs.String("binary", "", "copyright: where the package installs the binary")
	fs.Parse(os.Args[2:])

	bom, err := readBOM(os.Stdin)
	if err == nil {
		switch os.Args[1] {
		case "sbom":
			err = addLicences(bom, *modcache, *goroot)
		case "package":
			err = wrapPackage(bom, *name, *version, *purl, *file)
		case "copyright":
			var b []byte
			if b, err = copyright(bom, *modcache, *goroot, *binary); err == nil {
				_, err = os.Stdout.Write(b)
			}
			bom = nil
		default:
			usage()
		}
	}
	if err == nil && bom != nil {
		err = writeBOM(os.Stdout, bom)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pkgmeta "+os.Args[1]+": "+err.Error())
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: pkgmeta sbom|package|copyright [flags] <SBOM (see the package documentation)")
	os.Exit(2)
}

type object = map[string]any

func readBOM(r io.Reader) (object, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var bom object
	if err := dec.Decode(&bom); err != nil {
		return nil, fmt.Errorf("read the SBOM: %w", err)
	}
	if bom["bomFormat"] != "CycloneDX" {
		return nil, errors.New("read the SBOM: not a CycloneDX document")
	}
	return bom, nil
}

// writeBOM writes with sorted keys (encoding/json sorts map keys), so the
// bytes depend only on the content.
func writeBOM(w io.Writer, bom object) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(bom); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// module is one Go module compiled into the binary.
type module struct {
	component object
	path      string
	version   string
}

// modules lists the SBOM's Go modules (std included), in its order.
func modules(bom object) []module {
	list, _ := bom["components"].([]any)
	var out []module
	for _, c := range list {
		comp, ok := c.(object)
		if !ok {
			continue
		}
		purl, _ := comp["purl"].(string)
		if !strings.HasPrefix(purl, "pkg:golang/") {
			continue
		}
		p, _ := comp["name"].(string)
		v, _ := comp["version"].(string)
		out = append(out, module{comp, p, v})
	}
	return out
}

// licence is what a module's licence files say.
type licence struct {
	id    string   // SPDX identifier of the main licence file
	files []string // every licence, notice and patent file, main one first
}

var (
	mainFile  = regexp.MustCompile(`^(?i)(licen[cs]e|copying)(\.(md|txt))?$`)
	otherFile = regexp.MustCompile(`^(?i)(licen[cs]e|copying|notice|patents)([-._].*)?$`)
)

// findLicence reads the licence files at the top of a module's directory.
func findLicence(dir string) (licence, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return licence{}, err
	}
	var l licence
	var others []string
	for _, e := range entries {
		switch {
		case e.IsDir():
		case mainFile.MatchString(e.Name()) && l.files == nil:
			l.files = []string{filepath.Join(dir, e.Name())}
		case otherFile.MatchString(e.Name()):
			others = append(others, filepath.Join(dir, e.Name()))
		}
	}
	if l.files == nil {
		return l, fmt.Errorf("%s: no LICENSE, LICENCE or COPYING file", dir)
	}
	sort.Strings(others)
	l.files = append(l.files, others...)
	text, err := os.ReadFile(l.files[0])
	if err != nil {
		return l, err
	}
	if l.id = classify(string(text)); l.id == "" {
		return l, fmt.Errorf("%s: a licence pkgmeta does not know: read it, then teach classify", l.files[0])
	}
	return l, nil
}

// classify names the licence of a text by phrases only it has, or returns
// "". It knows the licences of the modules this project uses.
func classify(text string) string {
	t := strings.Join(strings.Fields(strings.ToLower(text)), " ")
	has := func(s ...string) bool {
		for _, x := range s {
			if !strings.Contains(t, x) {
				return false
			}
		}
		return true
	}
	switch {
	case has("apache license", "version 2.0"):
		return "Apache-2.0"
	case has("mozilla public license", "version 2.0"):
		return "MPL-2.0"
	case has("permission is hereby granted, free of charge"):
		return "MIT"
	case has("permission to use, copy, modify, and/or distribute this software for any purpose"):
		return "ISC"
	case has("provided 'as-is'", "altered source versions must be plainly marked"):
		return "Zlib"
	case has("redistribution and use in source and binary forms") &&
		(strings.Contains(t, "neither the name") || strings.Contains(t, "names of its contributors may not be used")):
		return "BSD-3-Clause"
	case has("redistribution and use in source and binary forms"):
		return "BSD-2-Clause"
	}
	return ""
}

// moduleDir is where the module cache keeps path@version: capitals are
// written as '!' and the lower-case letter.
func moduleDir(modcache, path, version string) string {
	var b strings.Builder
	for _, r := range path {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return filepath.Join(modcache, filepath.FromSlash(b.String())+"@"+version)
}

func (m module) dir(modcache, goroot string) (string, error) {
	if m.path == "std" {
		if goroot == "" {
			return "", errors.New("std: -goroot is required")
		}
		return goroot, nil
	}
	if modcache == "" {
		return "", errors.New("-modcache is required")
	}
	return moduleDir(modcache, m.path, m.version), nil
}

// addLicences sets each module's licence, as found in its licence file.
func addLicences(bom object, modcache, goroot string) error {
	for _, m := range modules(bom) {
		dir, err := m.dir(modcache, goroot)
		if err != nil {
			return err
		}
		l, err := findLicence(dir)
		if err != nil {
			return err
		}
		m.component["licenses"] = []any{object{"license": object{"id": l.id}}}
	}
	return nil
}

// wrapPackage makes the binary's SBOM the SBOM of a package that ships it.
func wrapPackage(bom object, name, version, purl, file string) error {
	if name == "" || version == "" || purl == "" || file == "" {
		return errors.New("-name, -version, -purl and -file are required")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	meta, _ := bom["metadata"].(object)
	if meta == nil {
		return errors.New("the SBOM has no metadata")
	}
	bin, _ := meta["component"].(object)
	binRef, _ := bin["bom-ref"].(string)
	if binRef == "" {
		return errors.New("the SBOM has no main component")
	}
	meta["component"] = object{
		"bom-ref": purl,
		"type":    "application",
		"name":    name,
		"version": version,
		"purl":    purl,
		"hashes":  []any{object{"alg": "SHA-256", "content": hex.EncodeToString(sum[:])}},
		"properties": []any{
			object{"name": "signagent:package:file", "value": filepath.Base(file)},
		},
	}
	comps, _ := bom["components"].([]any)
	bom["components"] = append([]any{bin}, comps...)
	deps, _ := bom["dependencies"].([]any)
	bom["dependencies"] = append([]any{object{"ref": purl, "dependsOn": []any{binRef}}}, deps...)
	return nil
}

// copyright writes the Debian copyright file of a package that ships the
// binary described by bom at binary.
func copyright(bom object, modcache, goroot, binary string) ([]byte, error) {
	if binary == "" {
		return nil, errors.New("-binary is required")
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: signagent
Source: https://github.com/signagent/signagent
Comment: %s is one statically linked program: it contains the Go
 modules listed below (with the Go standard library and runtime), each under
 its own licence, quoted in full with its notice and patent files. The list
 is the program's software bill of materials (the .cdx.json file published
 with each release); this file is generated from it and from the modules'
 licence files when the release is built.

Files: *
Copyright: the signagent authors
License: unstated
 The signagent project has not yet stated a licence for its own code.
`, binary)
	// A licence text that names no copyright holder (Apache-2.0's) is
	// written once, in a stand-alone paragraph after the modules.
	generic := map[string]string{} // id → normalized text
	var standalone []string
	for _, m := range modules(bom) {
		dir, err := m.dir(modcache, goroot)
		if err != nil {
			return nil, err
		}
		l, err := findLicence(dir)
		if err != nil {
			return nil, err
		}
		var texts, holders []string
		for i, f := range l.files {
			t, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			text := strings.ReplaceAll(string(t), "\r\n", "\n")
			holders = append(holders, copyrightLines(text)...)
			if i > 0 {
				text = "--- " + filepath.Base(f) + " ---\n\n" + text
			}
			texts = append(texts, strings.TrimSpace(text))
		}
		licenceText := texts[0]
		if len(copyrightLines(texts[0])) == 0 {
			norm, _, _ := strings.Cut(texts[0], "END OF TERMS AND CONDITIONS")
			norm = strings.Join(strings.Fields(norm), " ")
			if prev, ok := generic[l.id]; !ok {
				generic[l.id] = norm
				standalone = append(standalone, l.id, texts[0])
				licenceText = ""
			} else if prev == norm {
				licenceText = ""
			}
		}
		name, what := m.path, "Go module "+m.path+" "+m.version
		if m.path == "std" {
			name, what = "go", "the Go standard library and runtime, "+m.version
		}
		fmt.Fprintf(&b, "\nFiles: %s/*\n", name)
		b.WriteString("Copyright:")
		if len(holders) == 0 {
			holders = []string{"the authors of " + name + " (see the licence)"}
		}
		for i, h := range dedupe(holders) {
			if i > 0 {
				b.WriteString("\n          ")
			}
			b.WriteString(" " + h)
		}
		fmt.Fprintf(&b, "\nLicense: %s\n", l.id)
		if licenceText != "" {
			writeText(&b, licenceText)
		}
		fmt.Fprintf(&b, "Comment: %s, compiled into %s.\n", what, binary)
		if len(texts) > 1 {
			writeText(&b, "\n"+strings.Join(texts[1:], "\n\n"))
		}
	}
	for i := 0; i < len(standalone); i += 2 {
		fmt.Fprintf(&b, "\nLicense: %s\n", standalone[i])
		writeText(&b, standalone[i+1])
	}
	return b.Bytes(), nil
}

// holderLine finds copyright statements, not the licence's own wording
// ("copyright notice", the Apache appendix's "[yyyy]").
var holderLine = regexp.MustCompile(`(?i)^\s*(copyright\s*(\(c\)|©)?\s*\d{4}.*|copyright\s*(\(c\)|©).*)$`)

func copyrightLines(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if holderLine.MatchString(line) && !strings.ContainsAny(line, "[]{}") {
			out = append(out, strings.Join(strings.Fields(line), " "))
		}
	}
	return out
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// writeText writes a licence text as the continuation lines of a field: each
// line indented by one space, an empty line as " .".
func writeText(b *bytes.Buffer, text string) {
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, " \t")
		if line == "" {
			b.WriteString(" .\n")
			continue
		}
		b.WriteString(" " + line + "\n")
	}
}
