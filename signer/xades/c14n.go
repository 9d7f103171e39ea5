package xades

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// Algorithm identifiers written and understood.
const (
	nsDS       = "http://www.w3.org/2000/09/xmldsig#"
	nsXAdES    = "http://uri.etsi.org/01903/v1.3.2#"
	algExcC14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
	algEnvSig  = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	algSHA256  = "http://www.w3.org/2001/04/xmlenc#sha256"
	algRSA256  = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	algECDSA   = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
	typeSigned = "http://uri.etsi.org/01903#SignedProperties"
)

// parse reads an XML document. Only UTF-8 (and its subset US-ASCII) and
// ISO-8859-1 are accepted; a UTF-8 byte order mark is skipped. References
// to entities of the internal DTD subset are expanded (see
// expandEntities). Outside the single document element only white space,
// comments, processing instructions and one document type declaration
// before it may appear.
func parse(data []byte) (*etree.Document, error) {
	body, err := expandEntities(data)
	if err != nil {
		return nil, err
	}
	return parseExpanded(body)
}

// parseExpanded is parse for a document whose entities are expanded
// already: a reference to an entity other than the predefined ones is an
// error.
func parseExpanded(data []byte) (*etree.Document, error) {
	doc := etree.NewDocument()
	doc.ReadSettings.CharsetReader = charsetReader
	if err := doc.ReadFromBytes(normalizeAttrSpace(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))); err != nil {
		return nil, err
	}
	roots := 0
	for _, t := range doc.Child {
		switch t := t.(type) {
		case *etree.Element:
			roots++
		case *etree.CharData:
			if !t.IsWhitespace() {
				return nil, fmt.Errorf("text outside the document element")
			}
		case *etree.Directive:
			if roots > 0 {
				return nil, fmt.Errorf("a declaration after the document element")
			}
		}
	}
	switch {
	case roots == 0:
		return nil, fmt.Errorf("no document element")
	case roots > 1:
		return nil, fmt.Errorf("more than one document element")
	}
	return doc, nil
}

// normalizeAttrSpace replaces white space written literally inside
// attribute values by spaces, as XML 1.0 §3.3.3 asks of every reader (the
// standard library's decoder does not). Character references such as &#9;
// are left alone, so they still yield their character.
func normalizeAttrSpace(data []byte) []byte {
	if !bytes.ContainsAny(data, "\t\r\n") {
		return data
	}
	out := make([]byte, 0, len(data))
	skip := func(i int, end string) int {
		j := bytes.Index(data[i:], []byte(end))
		if j < 0 {
			return len(data)
		}
		return i + j + len(end)
	}
	for i := 0; i < len(data); {
		c := data[i]
		if c != '<' {
			out = append(out, c)
			i++
			continue
		}
		rest := data[i:]
		var j int
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			j = skip(i, "-->")
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			j = skip(i, "]]>")
		case bytes.HasPrefix(rest, []byte("<?")):
			j = skip(i, "?>")
		case bytes.HasPrefix(rest, []byte("<!")):
			j = doctypeEnd(data, i)
		default:
			// A tag: rewrite white space inside quoted values.
			quote := byte(0)
			out = append(out, '<')
			for i++; i < len(data); i++ {
				d := data[i]
				if quote != 0 {
					switch d {
					case quote:
						quote = 0
					case '\r':
						if i+1 < len(data) && data[i+1] == '\n' {
							i++
						}
						d = ' '
					case '\t', '\n':
						d = ' '
					}
				} else if d == '"' || d == '\'' {
					quote = d
				} else if d == '>' {
					out = append(out, d)
					i++
					break
				}
				out = append(out, d)
			}
			continue
		}
		if j > len(data) {
			j = len(data)
		}
		out = append(out, data[i:j]...)
		i = j
	}
	return out
}

// doctypeEnd returns the offset just after the document type declaration
// starting at i: its '>' outside brackets, quotes, comments and processing
// instructions.
func doctypeEnd(data []byte, i int) int {
	depth, quote := 0, byte(0)
	for j := i + 2; j < len(data); j++ {
		d := data[j]
		switch {
		case quote != 0:
			if d == quote {
				quote = 0
			}
		case depth > 0 && bytes.HasPrefix(data[j:], []byte("<!--")):
			j = skipPast(data, j, "-->") - 1
		case depth > 0 && bytes.HasPrefix(data[j:], []byte("<?")):
			j = skipPast(data, j, "?>") - 1
		case d == '"' || d == '\'':
			quote = d
		case d == '[':
			depth++
		case d == ']':
			depth--
		case d == '>' && depth <= 0:
			return j + 1
		}
	}
	return len(data)
}

func charsetReader(charset string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "utf-8", "utf8", "us-ascii", "ascii", "":
		return in, nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1":
		b, err := io.ReadAll(in)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 0, len(b)+len(b)/8)
		for _, c := range b {
			out = utf8.AppendRune(out, rune(c))
		}
		return bytes.NewReader(out), nil
	}
	return nil, fmt.Errorf("character encoding %q is not supported (use UTF-8)", charset)
}

// canonicalDocument returns the canonical form of the whole document (the
// node set of URI=""): processing instructions outside the document element
// on their own lines, comments removed, the document element in the
// canonical form given by canon.
func canonicalDocument(doc *etree.Document, root *etree.Element, canon dsig.Canonicalizer) ([]byte, error) {
	var buf bytes.Buffer
	seenRoot := false
	for _, t := range doc.Child {
		switch t := t.(type) {
		case *etree.ProcInst:
			if t.Target == "xml" {
				continue
			}
			if seenRoot {
				buf.WriteByte('\n')
			}
			buf.WriteString("<?" + t.Target)
			if t.Inst != "" {
				buf.WriteString(" " + t.Inst)
			}
			buf.WriteString("?>")
			if !seenRoot {
				buf.WriteByte('\n')
			}
		case *etree.Element:
			seenRoot = true
			// Canonicalizers may rewrite the element they are given.
			b, err := canon.Canonicalize(root.Copy())
			if err != nil {
				return nil, err
			}
			buf.Write(b)
		}
	}
	return buf.Bytes(), nil
}

// canonicalElement returns the canonical form of el as it stands in its
// document: namespaces declared by its ancestors are in scope. el is not
// changed.
func canonicalElement(el *etree.Element, canon dsig.Canonicalizer) ([]byte, error) {
	switch canon.Algorithm() {
	case dsig.CanonicalXML10RecAlgorithmId, dsig.CanonicalXML10WithCommentsAlgorithmId,
		dsig.CanonicalXML10ExclusiveAlgorithmId, dsig.CanonicalXML10ExclusiveWithCommentsAlgorithmId:
		// These read the ancestors themselves and do not change el.
		return canon.Canonicalize(el)
	}
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return nil, err
	}
	detached, err := etreeutils.NSDetatch(ctx, el)
	if err != nil {
		return nil, err
	}
	return canon.Canonicalize(detached)
}

// canonicalizer maps a transform or canonicalization algorithm to its
// implementation; prefixes is the exclusive InclusiveNamespaces PrefixList.
func canonicalizer(alg, prefixes string) (dsig.Canonicalizer, error) {
	switch dsig.AlgorithmID(alg) {
	case dsig.CanonicalXML10ExclusiveAlgorithmId:
		return newExcC14N(prefixes, false), nil
	case dsig.CanonicalXML10ExclusiveWithCommentsAlgorithmId:
		return newExcC14N(prefixes, true), nil
	case dsig.CanonicalXML10RecAlgorithmId:
		return dsig.MakeC14N10RecCanonicalizer(), nil
	case dsig.CanonicalXML10WithCommentsAlgorithmId:
		return dsig.MakeC14N10WithCommentsCanonicalizer(), nil
	case dsig.CanonicalXML11AlgorithmId:
		return dsig.MakeC14N11Canonicalizer(), nil
	case dsig.CanonicalXML11WithCommentsAlgorithmId:
		return dsig.MakeC14N11WithCommentsCanonicalizer(), nil
	}
	return nil, fmt.Errorf("unsupported canonicalization %q", alg)
}
