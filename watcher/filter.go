package watcher

import (
	"path"
	"strings"
)

// markerSuffix is appended to a file's name to make its done marker.
const markerSuffix = ".done"

// Ignored reports whether a base name is on the fixed ignore list: dotfiles
// (which include the agent's .signagent claim area and its ".name.partial"
// temp files), "~$*" lock files, names ending in .tmp, .part, .partial,
// .crdownload or .filepart, Thumbs.db and desktop.ini, all compared without
// regard to case. In done-marker mode the watcher also skips "*.done"
// markers; Ignored itself does not, since without markers such a name is an
// ordinary file.
func Ignored(name string) bool {
	if name == "" || name[0] == '.' || strings.HasPrefix(name, "~$") {
		return true
	}
	l := strings.ToLower(name)
	switch l {
	case "thumbs.db", "desktop.ini":
		return true
	}
	switch path.Ext(l) {
	case ".tmp", ".part", ".partial", ".crdownload", ".filepart":
		return true
	}
	return false
}

// Match reports whether the file at rel (slash-separated, relative to the
// inbox) is wanted: its base name matches one of the include patterns (all
// names match when include is empty) and neither its base name nor rel
// matches any exclude pattern. Patterns use path.Match syntax and are
// compared without regard to case; a malformed pattern matches nothing.
func Match(rel string, include, exclude []string) bool {
	return newPatterns(include, exclude).match(rel)
}

// patterns holds include and exclude patterns, lower-cased once.
type patterns struct {
	include, exclude []string
}

func newPatterns(include, exclude []string) patterns {
	var p patterns
	for _, s := range include {
		p.include = append(p.include, strings.ToLower(s))
	}
	for _, s := range exclude {
		p.exclude = append(p.exclude, strings.ToLower(s))
	}
	return p
}

// validate returns the first malformed pattern, or "".
func (p patterns) validate() string {
	for _, list := range [][]string{p.include, p.exclude} {
		for _, s := range list {
			if _, err := path.Match(s, ""); err != nil {
				return s
			}
		}
	}
	return ""
}

func (p patterns) match(rel string) bool {
	rel = strings.ToLower(rel)
	base := path.Base(rel)
	if len(p.include) > 0 && !anyMatch(p.include, base) {
		return false
	}
	return !anyMatch(p.exclude, base) && !anyMatch(p.exclude, rel)
}

// excludesDir reports whether the sub-directory at rel is pruned: an exclude
// pattern matches its base name or its relative path.
func (p patterns) excludesDir(rel string) bool {
	if len(p.exclude) == 0 {
		return false
	}
	rel = strings.ToLower(rel)
	return anyMatch(p.exclude, path.Base(rel)) || anyMatch(p.exclude, rel)
}

func anyMatch(pats []string, name string) bool {
	for _, p := range pats {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// isMarker reports whether name is a done marker ("{name}.done", any case)
// of some other name.
func isMarker(name string) bool {
	n := len(name) - len(markerSuffix)
	return n > 0 && strings.EqualFold(name[n:], markerSuffix)
}
