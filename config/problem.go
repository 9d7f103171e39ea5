package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/signagent/signagent"
)

// Problem is one thing wrong (or, with Warning, worth a look) in a
// configuration.
type Problem struct {
	// File is the config file as the caller named it; empty for a
	// configuration built in code.
	File string
	// Key is the key as written in the file, with array indexes, e.g.
	// "folders[0].settle"; empty for the file as a whole.
	Key string
	// Line is the 1-based line of Key (or of the nearest enclosing table)
	// in File; 0 when unknown.
	Line int
	// Message says what is wrong; Hint, when set, what to do about it.
	Message string
	Hint    string
	// Warning marks a problem that does not stop the agent.
	Warning bool
}

// String formats p as "file:line: key: message", leaving out what is
// unknown, with "warning: " before the message of a warning. The hint is not
// included.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	} else if p.Line > 0 {
		b.WriteString("line " + strconv.Itoa(p.Line) + ": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	if p.Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every problem found in a configuration, in file order. As an
// error it stands for a configuration the agent must not run with; errors.As
// finds it as Problems or *Problems, and as a *signagent.Error of
// KindConfig.
type Problems []Problem

// Error lists every problem, one per line, each followed by an indented
// "hint:" line when it has one.
func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
		if p.Hint != "" {
			b.WriteString("\n    hint: " + p.Hint)
		}
	}
	return b.String()
}

// Errors returns the problems that are not warnings.
func (ps Problems) Errors() Problems {
	var out Problems
	for _, p := range ps {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// As lets errors.As see a *Problems as Problems and as a *signagent.Error
// (KindConfig, CodeConfig), so generic error handling classifies it.
func (ps *Problems) As(target any) bool {
	switch t := target.(type) {
	case *Problems:
		*t = *ps
		return true
	case **signagent.Error:
		hint := ""
		for _, p := range *ps {
			if p.Hint != "" {
				hint = p.Hint
				break
			}
		}
		*t = signagent.ConfigError("configuration: "+ps.Error(), hint, nil)
		return true
	}
	return false
}

// problemf builds a problem for key; the decoder or validator fills File and
// Line.
func problemf(key, hint, format string, args ...any) Problem {
	return Problem{Key: key, Hint: hint, Message: fmt.Sprintf(format, args...)}
}
