package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"Apache License\n  Version 2.0, January 2004", "Apache-2.0"},
		{"Copyright (c) 2013 TOML authors\n\nPermission is hereby granted, free of\ncharge, to any person", "MIT"},
		{"Redistribution and use in source and binary forms ... Neither the name of Google Inc. nor", "BSD-3-Clause"},
		{"Redistribution and use in source and binary forms, with or without modification", "BSD-2-Clause"},
		{"This software is provided 'as-is' ... 2. Altered source versions must be plainly marked", "Zlib"},
		{"Mozilla Public License Version 2.0", "MPL-2.0"},
		{"All rights reserved. No licence given.", ""},
	} {
		if got := classify(c.text); got != c.want {
			t.Errorf("classify(%.40q) = %q, want %q", c.text, got, c.want)
		}
	}
}

func TestModuleDir(t *testing.T) {
	got := moduleDir("/m", "github.com/BurntSushi/toml", "v1.6.0")
	if want := filepath.FromSlash("/m/github.com/!burnt!sushi/toml@v1.6.0"); got != want {
		t.Errorf("moduleDir = %s, want %s", got, want)
	}
}

func TestCopyrightLines(t *testing.T) {
	text := "Copyright (c) 2009 The Go Authors. All rights reserved.\n" +
		"   Copyright 2015 The Prometheus Authors\n" +
		"the above copyright notice and this permission notice\n" +
		"   Copyright [yyyy] [name of copyright owner]\n"
	got := strings.Join(copyrightLines(text), "|")
	if want := "Copyright (c) 2009 The Go Authors. All rights reserved.|Copyright 2015 The Prometheus Authors"; got != want {
		t.Errorf("copyrightLines = %q, want %q", got, want)
	}
}

// A module tree in a fake cache and GOROOT gives a copyright file with a
// paragraph per module, continuation lines, and Apache-2.0's text once.
func TestCopyright(t *testing.T) {
	cache, goroot := t.TempDir(), t.TempDir()
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	apache := "Apache License\nVersion 2.0, January 2004\n\nTERMS\nEND OF TERMS AND CONDITIONS\n"
	write(filepath.Join(cache, "example.com/a@v1.0.0/LICENSE"), apache)
	write(filepath.Join(cache, "example.com/a@v1.0.0/NOTICE"), "Copyright 2020 A Authors\n")
	write(filepath.Join(cache, "example.com/b@v2.0.0/LICENSE.txt"), apache+"\nAPPENDIX\n")
	write(filepath.Join(cache, "example.com/c@v0.1.0/COPYING"), "Copyright (c) 2013 C\n\nPermission is hereby granted, free of charge")
	write(filepath.Join(goroot, "LICENSE"), "Copyright 2009 The Go Authors.\n\nRedistribution and use in source and binary forms. Neither the name of Google")
	bom, err := readBOM(strings.NewReader(`{"bomFormat":"CycloneDX","components":[
		{"name":"example.com/a","version":"v1.0.0","purl":"pkg:golang/example.com/a@v1.0.0"},
		{"name":"example.com/b","version":"v2.0.0","purl":"pkg:golang/example.com/b@v2.0.0"},
		{"name":"example.com/c","version":"v0.1.0","purl":"pkg:golang/example.com/c@v0.1.0"},
		{"name":"std","version":"go1.26.8","purl":"pkg:golang/std@go1.26.8"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := copyright(bom, cache, goroot, "/usr/bin/signagent")
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{
		"Files: example.com/a/*\nCopyright: Copyright 2020 A Authors\nLicense: Apache-2.0\nComment: Go module example.com/a v1.0.0, compiled into /usr/bin/signagent.\n .\n --- NOTICE ---\n",
		"Files: example.com/c/*\nCopyright: Copyright (c) 2013 C\nLicense: MIT\n Copyright (c) 2013 C\n .\n Permission",
		"Files: go/*\nCopyright: Copyright 2009 The Go Authors.\nLicense: BSD-3-Clause\n",
		"\nLicense: Apache-2.0\n Apache License\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("copyright lacks %q:\n%s", want, s)
		}
	}
	if n := strings.Count(s, "Apache License"); n != 1 {
		t.Errorf("Apache-2.0's text written %d times, want once", n)
	}
	if err := addLicences(bom, cache, goroot); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := writeBOM(&b, bom); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"id": "MIT"`) {
		t.Errorf("no licence in the SBOM:\n%s", b.String())
	}
	write(filepath.Join(cache, "example.com/c@v0.1.0/COPYING"), "All rights reserved.")
	if _, err := copyright(bom, cache, goroot, "/usr/bin/signagent"); err == nil || !strings.Contains(err.Error(), "does not know") {
		t.Errorf("an unknown licence: %v, want an error", err)
	}
}
