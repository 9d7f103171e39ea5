package xades

import (
	"bytes"
	"sort"
	"strings"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

const nsXML = "http://www.w3.org/XML/1998/namespace"

// excC14N is Exclusive XML Canonicalization 1.0 (without comments unless
// asked) of an etree element. The element is read, never changed. It is
// written here rather than taken from goxmldsig because that one renders
// a redundant xmlns="" (an element undeclaring a default namespace that no
// rendered ancestor declared), which verifiers do not.
type excC14N struct {
	inclusive map[string]bool // InclusiveNamespaces PrefixList
	comments  bool
}

func newExcC14N(prefixList string, comments bool) *excC14N {
	c := &excC14N{inclusive: map[string]bool{}, comments: comments}
	for _, p := range strings.Fields(prefixList) {
		if p == "#default" {
			p = ""
		}
		c.inclusive[p] = true
	}
	return c
}

func (c *excC14N) Algorithm() dsig.AlgorithmID {
	if c.comments {
		return dsig.CanonicalXML10ExclusiveWithCommentsAlgorithmId
	}
	return dsig.CanonicalXML10ExclusiveAlgorithmId
}

// Canonicalize renders el with the namespaces its ancestors declare in
// scope.
func (c *excC14N) Canonicalize(el *etree.Element) ([]byte, error) {
	scope := map[string]string{}
	var chain []*etree.Element
	for p := el.Parent(); p != nil; p = p.Parent() {
		chain = append(chain, p)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		declare(scope, chain[i])
	}
	var buf bytes.Buffer
	c.element(&buf, el, scope, map[string]string{})
	return buf.Bytes(), nil
}

// declare adds el's namespace declarations to scope.
func declare(scope map[string]string, el *etree.Element) {
	for _, a := range el.Attr {
		switch {
		case a.Space == "xmlns":
			scope[a.Key] = a.Value
		case a.Space == "" && a.Key == "xmlns":
			scope[""] = a.Value
		}
	}
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+2)
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (c *excC14N) element(w *bytes.Buffer, el *etree.Element, parentScope, parentRendered map[string]string) {
	scope := copyMap(parentScope)
	declare(scope, el)
	rendered := parentRendered

	// Namespaces visibly utilized by the element and its attributes, plus
	// those of the inclusive prefix list that are in scope.
	used := map[string]bool{el.Space: true}
	type attr struct{ ns, local, qname, value string }
	var attrs []attr
	for _, a := range el.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		ns := ""
		switch a.Space {
		case "":
		case "xml":
			ns = nsXML
		default:
			ns = scope[a.Space]
			used[a.Space] = true
		}
		attrs = append(attrs, attr{ns: ns, local: a.Key, qname: a.FullKey(), value: a.Value})
	}
	for p := range c.inclusive {
		if _, ok := scope[p]; ok {
			used[p] = true
		}
	}
	var decls []string
	for p := range used {
		if p == "xml" {
			continue
		}
		ns, inScope := scope[p]
		prev, wasRendered := rendered[p]
		if p != "" && (!inScope || ns == "") {
			continue // an undeclared prefix; the parser would have refused it
		}
		if wasRendered && prev == ns || !wasRendered && p == "" && ns == "" {
			continue
		}
		decls = append(decls, p)
	}
	if len(decls) > 0 {
		rendered = copyMap(parentRendered)
		for _, p := range decls {
			rendered[p] = scope[p]
		}
	}
	sort.Strings(decls)
	sort.Slice(attrs, func(i, j int) bool {
		if attrs[i].ns != attrs[j].ns {
			return attrs[i].ns < attrs[j].ns
		}
		return attrs[i].local < attrs[j].local
	})

	w.WriteByte('<')
	w.WriteString(el.FullTag())
	for _, p := range decls {
		if p == "" {
			w.WriteString(` xmlns="`)
		} else {
			w.WriteString(" xmlns:" + p + `="`)
		}
		escapeAttr(w, rendered[p])
		w.WriteByte('"')
	}
	for _, a := range attrs {
		w.WriteString(" " + a.qname + `="`)
		escapeAttr(w, a.value)
		w.WriteByte('"')
	}
	w.WriteByte('>')
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.Element:
			c.element(w, t, scope, rendered)
		case *etree.CharData:
			escapeText(w, t.Data)
		case *etree.Comment:
			if c.comments {
				w.WriteString("<!--" + t.Data + "-->")
			}
		case *etree.ProcInst:
			w.WriteString("<?" + t.Target)
			if t.Inst != "" {
				w.WriteString(" " + t.Inst)
			}
			w.WriteString("?>")
		}
	}
	w.WriteString("</" + el.FullTag() + ">")
}

func escapeText(w *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			w.WriteString("&amp;")
		case '<':
			w.WriteString("&lt;")
		case '>':
			w.WriteString("&gt;")
		case '\r':
			w.WriteString("&#xD;")
		default:
			w.WriteByte(c)
		}
	}
}

func escapeAttr(w *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			w.WriteString("&amp;")
		case '<':
			w.WriteString("&lt;")
		case '"':
			w.WriteString("&quot;")
		case '\t':
			w.WriteString("&#x9;")
		case '\n':
			w.WriteString("&#xA;")
		case '\r':
			w.WriteString("&#xD;")
		default:
			w.WriteByte(c)
		}
	}
}
