package pades

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/signagent/signagent"
)

// byteRangeWidth is the space reserved for the /ByteRange array, filled in
// once the offsets are known.
const byteRangeWidth = 64

// update is the incremental update appended to the document.
type update struct {
	bytes          []byte
	base           int64 // file offset of bytes[0]
	byteRangeAt    int64 // offset in bytes of the /ByteRange array
	contentsAt     int64 // offset in bytes of the '<' of /Contents
	contentsHexLen int   // number of hex digits reserved
}

type newObj struct {
	num int64
	gen int
	at  int64 // offset in the update
}

// buildUpdate prepares the update for d with a /Contents hole of reserve
// bytes. Errors are errCorrupt or *signagent.Error.
func buildUpdate(d *pdf, signer *x509.Certificate, o Options, reserve int) (*update, error) {
	rootRef, _ := d.trailer.get("Root")
	if rootRef.k != kRef {
		return nil, corruptf("trailer has no /Root reference")
	}
	cat, err := d.resolve(rootRef)
	if err != nil {
		return nil, err
	}
	if cat.k != kDict {
		return nil, corruptf("the document catalog is missing")
	}
	pageNo := 1
	if o.Visible != nil && o.Visible.Page > 0 {
		pageNo = o.Visible.Page
	}
	pageRef, page, err := d.findPage(cat, pageNo)
	if errors.Is(err, errNoPage) {
		// Even an invisible signature needs a page for its widget: without
		// a first page, the page tree is broken, not the configuration.
		if pageNo == 1 {
			return nil, corruptf("the page tree leads to no page (the signature's widget needs one)")
		}
		if _, _, err := d.findPage(cat, 1); err != nil {
			return nil, corruptf("the page tree leads to no page (the signature's widget needs one)")
		}
		return nil, signagent.DocError(signagent.CodeSigningError,
			fmt.Sprintf("the PDF has no page %d for the visible signature", pageNo),
			"set the visible signature's page to one every document has (1 is the first page)")
	}
	if err != nil {
		return nil, err
	}

	next := d.sizeValue()
	if next+4 > maxObjNum+1 {
		return nil, corruptf("no object numbers are left under the limit of %d (/Size %d)", maxObjNum, next)
	}
	sigNum, widgetNum, apNum := next, next+1, next+2
	next += 3

	// The AcroForm: inline in the catalog, or an object of its own.
	var af value
	var afRef value
	if v, ok := cat.get("AcroForm"); ok {
		if v.k == kRef {
			afRef = v
			if af, err = d.resolve(v); err != nil {
				return nil, err
			}
		} else {
			af = v
		}
	}
	if af.k != kDict {
		af, afRef = value{k: kDict}, value{}
	}
	// The update rewrites the page and the form (or the catalog holding
	// it), each once: one object in two of those roles would be written
	// twice, and a reader keeps only one of the two, so the signature
	// would be lost from the form.
	formNum := rootRef.num
	if afRef.k == kRef {
		formNum = afRef.num
		if afRef.num == rootRef.num {
			return nil, corruptf("the form (/AcroForm %d 0 R) is the document catalog", afRef.num)
		}
	}
	if pageRef.num == formNum {
		return nil, corruptf("object %d is both a page and the form or the catalog", pageRef.num)
	}
	fields, err := d.arrayOf(af, "Fields")
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, f := range fields {
		fd, err := d.resolve(f)
		if err != nil {
			return nil, err
		}
		if t, ok := fd.get("T"); ok && t.k == kString {
			names[t.str] = true
		}
	}
	if err := d.readFieldTree(fields, "", 0, map[int64]bool{}); err != nil {
		return nil, err
	}
	fieldName := ""
	for n := 1; ; n++ {
		if fieldName = "Signature" + strconv.Itoa(n); !names[fieldName] {
			break
		}
	}
	ref := func(n int64) string { return fmt.Sprintf("%d 0 R", n) }
	newAF := dictWith(af, []kvs{
		{"Fields", appendRaw(fields, ref(widgetNum))},
		{"SigFlags", "3"},
	})

	annots, err := d.arrayOf(page, "Annots")
	if err != nil {
		return nil, err
	}
	newPage := dictWith(page, []kvs{{"Annots", appendRaw(annots, ref(widgetNum))}})

	signerName := o.Name
	if signerName == "" {
		signerName = signer.Subject.CommonName
	}
	rect := "[0 0 0 0]"
	ap := appearance(0, 0, "", o.Time)
	if v := o.Visible; v != nil {
		rect = fmt.Sprintf("[%s %s %s %s]", num(v.X), num(v.Y), num(v.X+v.W), num(v.Y+v.H))
		ap = appearance(v.W, v.H, signerName, o.Time)
	}

	u := &update{base: d.size}
	var b bytes.Buffer
	b.Grow(2*reserve + 4096)
	if last := d.tail[len(d.tail)-1]; last != '\n' && last != '\r' {
		b.WriteByte('\n')
	}
	var objs []newObj
	begin := func(n int64, gen int) {
		objs = append(objs, newObj{num: n, gen: gen, at: int64(b.Len())})
		fmt.Fprintf(&b, "%d %d obj\n", n, gen)
	}
	end := func() { b.WriteString("\nendobj\n") }

	// Signature dictionary with the holes for /ByteRange and /Contents.
	begin(sigNum, 0)
	b.WriteString("<</Type/Sig/Filter/Adobe.PPKLite/SubFilter/ETSI.CAdES.detached/ByteRange ")
	u.byteRangeAt = int64(b.Len())
	b.WriteString("[0 0 0 0]" + strings.Repeat(" ", byteRangeWidth-len("[0 0 0 0]")))
	b.WriteString("/Contents ")
	u.contentsAt = int64(b.Len())
	u.contentsHexLen = 2 * reserve
	b.WriteByte('<')
	for n := u.contentsHexLen; n > 0; {
		k := min(n, len(zeros))
		b.WriteString(zeros[:k])
		n -= k
	}
	b.WriteByte('>')
	b.WriteString("/M " + pdfString(pdfDate(o.Time)))
	for _, kv := range []struct{ k, v string }{{"Name", o.Name}, {"Reason", o.Reason}, {"Location", o.Location}, {"ContactInfo", o.ContactInfo}} {
		if kv.v != "" {
			b.WriteString("/" + kv.k + " " + pdfString(kv.v))
		}
	}
	b.WriteString(">>")
	end()

	begin(widgetNum, 0)
	fmt.Fprintf(&b, "<</Type/Annot/Subtype/Widget/FT/Sig/T %s/V %s/F 132/P %d %d R/Rect %s/AP <</N %s>>>>",
		pdfString(fieldName), ref(sigNum), pageRef.num, pageRef.gen, rect, ref(apNum))
	end()

	begin(apNum, 0)
	fmt.Fprintf(&b, "<</Type/XObject/Subtype/Form/BBox [0 0 %s %s]%s/Length %d>>\nstream\n",
		num(boxSize(o.Visible, true)), num(boxSize(o.Visible, false)), apResources(o.Visible != nil), len(ap))
	b.Write(ap)
	b.WriteString("\nendstream")
	end()

	begin(pageRef.num, pageRef.gen)
	b.Write(newPage)
	end()

	if afRef.k == kRef {
		begin(afRef.num, afRef.gen)
		b.Write(newAF)
		end()
	} else {
		begin(rootRef.num, rootRef.gen)
		b.Write(dictWith(cat, []kvs{{"AcroForm", string(newAF)}}))
		end()
	}

	// Offsets in the update count from the header, like the file's own.
	if err := writeXref(&b, d, u.base-d.base, objs, next); err != nil {
		return nil, err
	}
	u.bytes = b.Bytes()

	// The offsets are known now: fill in the /ByteRange.
	total := u.base + int64(len(u.bytes))
	lo := u.base + u.contentsAt
	hi := lo + int64(u.contentsHexLen) + 2
	br := fmt.Appendf(u.bytes[u.byteRangeAt:u.byteRangeAt], "[0 %d %d %d]", lo, hi, total-hi)
	if len(br) > byteRangeWidth {
		return nil, fmt.Errorf("byte range %s too wide", br)
	}
	return u, nil
}

// zeros fills the /Contents hole.
const zeros = "0000000000000000000000000000000000000000000000000000000000000000" +
	"0000000000000000000000000000000000000000000000000000000000000000"

// writeXref appends the cross-reference section and trailer: a classic
// table after a classic (or hybrid) file, a stream after a stream file.
func writeXref(b *bytes.Buffer, d *pdf, base int64, objs []newObj, next int64) error {
	var trailerKeep []entry
	skip := map[string]bool{"Size": true, "Prev": true, "XRefStm": true, "Type": true, "W": true,
		"Index": true, "Filter": true, "DecodeParms": true, "Length": true, "DL": true, "F": true,
		"FFilter": true, "FDecodeParms": true}
	for _, e := range d.trailer.dict {
		if !skip[e.key] {
			trailerKeep = append(trailerKeep, e)
		}
	}
	writeKeep := func() {
		for _, e := range trailerKeep {
			b.Write(e.rawKey)
			b.WriteByte(' ')
			b.Write(e.val.raw)
		}
	}
	if !d.xrefIsStm {
		sort.Slice(objs, func(i, j int) bool { return objs[i].num < objs[j].num })
		xrefAt := base + int64(b.Len())
		b.WriteString("xref\n")
		for i := 0; i < len(objs); {
			j := i + 1
			for j < len(objs) && objs[j].num == objs[j-1].num+1 {
				j++
			}
			fmt.Fprintf(b, "%d %d\n", objs[i].num, j-i)
			for _, o := range objs[i:j] {
				fmt.Fprintf(b, "%010d %05d n\r\n", base+o.at, o.gen)
			}
			i = j
		}
		fmt.Fprintf(b, "trailer\n<</Size %d/Prev %d", next, d.startxref)
		writeKeep()
		fmt.Fprintf(b, ">>\nstartxref\n%d\n%%%%EOF\n", xrefAt)
		return nil
	}
	// A cross-reference stream, itself object next.
	xnum := next
	next++
	xrefAt := base + int64(b.Len())
	objs = append(objs, newObj{num: xnum, gen: 0, at: xrefAt - base})
	sort.Slice(objs, func(i, j int) bool { return objs[i].num < objs[j].num })
	w := 1
	for xrefAt >= 1<<(8*w) {
		w++
	}
	var index bytes.Buffer
	var data []byte
	for i := 0; i < len(objs); {
		j := i + 1
		for j < len(objs) && objs[j].num == objs[j-1].num+1 {
			j++
		}
		fmt.Fprintf(&index, "%d %d ", objs[i].num, j-i)
		for _, o := range objs[i:j] {
			data = append(data, 1)
			off := base + o.at
			for k := w - 1; k >= 0; k-- {
				data = append(data, byte(off>>(8*k)))
			}
			data = append(data, byte(o.gen>>8), byte(o.gen))
		}
		i = j
	}
	fmt.Fprintf(b, "%d 0 obj\n<</Type/XRef/Size %d/W [1 %d 2]/Index [%s]/Prev %d", xnum, next, w,
		strings.TrimSpace(index.String()), d.startxref)
	writeKeep()
	fmt.Fprintf(b, "/Length %d>>\nstream\n", len(data))
	b.Write(data)
	fmt.Fprintf(b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", xrefAt)
	return nil
}

// findPage returns the reference and dictionary of page n (1-based).
func (d *pdf) findPage(cat value, n int) (value, value, error) {
	node, _ := cat.get("Pages")
	if node.k != kRef {
		return value{}, value{}, corruptf("the catalog has no page tree")
	}
	remaining := int64(n)
	for depth := 0; depth < 64; depth++ {
		nd, err := d.resolve(node)
		if err != nil {
			return value{}, value{}, err
		}
		if nd.k != kDict {
			return value{}, value{}, corruptf("page tree node %d is not a dictionary", node.num)
		}
		kids, err := d.arrayOf(nd, "Kids")
		if err != nil {
			return value{}, value{}, err
		}
		if nd.name("Type") == "Page" || (len(kids) == 0 && nd.name("Type") != "Pages") {
			if remaining == 1 {
				return node, nd, nil
			}
			break
		}
		found := false
		for _, kid := range kids {
			kd, err := d.resolve(kid)
			if err != nil {
				return value{}, value{}, err
			}
			if kd.k != kDict || kid.k != kRef {
				return value{}, value{}, corruptf("bad page tree entry")
			}
			if kd.name("Type") == "Pages" {
				cnt, _ := kd.get("Count")
				if cnt, err = d.resolve(cnt); err != nil {
					return value{}, value{}, err
				}
				if remaining <= cnt.num {
					node, found = kid, true
					break
				}
				remaining -= cnt.num
				continue
			}
			if remaining == 1 {
				return kid, kd, nil
			}
			remaining--
		}
		if !found {
			break
		}
	}
	return value{}, value{}, errNoPage
}

// errNoPage is findPage's answer when the page tree has no such page.
var errNoPage = errors.New("no such page")

// readFieldTree reads the form fields as Verify does (kids, and the value
// of signature fields): a form Verify could not read is refused before
// signing, not found unreadable in the signed output.
func (d *pdf) readFieldTree(fs []value, ft string, depth int, seen map[int64]bool) error {
	if depth > 32 {
		return nil
	}
	for _, fr := range fs {
		if fr.k == kRef {
			if seen[-fr.num-1] {
				continue
			}
			seen[-fr.num-1] = true
		}
		fd, err := d.resolve(fr)
		if err != nil {
			return err
		}
		fft := ft
		if n := fd.name("FT"); n != "" {
			fft = n
		}
		if kids, _ := d.arrayOf(fd, "Kids"); len(kids) > 0 {
			if err := d.readFieldTree(kids, fft, depth+1, seen); err != nil {
				return err
			}
		}
		if v, ok := fd.get("V"); ok && fft == "Sig" && !(v.k == kRef && seen[v.num]) {
			if v.k == kRef {
				seen[v.num] = true
			}
			if _, err := d.resolve(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// arrayOf returns the elements of v's array entry key, direct or indirect.
func (d *pdf) arrayOf(v value, key string) ([]value, error) {
	a, ok := v.get(key)
	if !ok {
		return nil, nil
	}
	a, err := d.resolve(a)
	if err != nil {
		return nil, err
	}
	if a.k != kArray {
		return nil, nil
	}
	return a.arr, nil
}

type kvs struct{ key, val string }

// dictWith copies dictionary v entry by entry, raw, replacing or adding the
// entries of set.
func dictWith(v value, set []kvs) []byte {
	var b bytes.Buffer
	done := make([]bool, len(set))
	b.WriteString("<<")
	for _, e := range v.dict {
		replaced := false
		for i, s := range set {
			if e.key == s.key && !done[i] {
				b.WriteString("/" + s.key + " " + s.val)
				done[i], replaced = true, true
				break
			}
		}
		if !replaced {
			dup := false
			for _, s := range set {
				dup = dup || e.key == s.key
			}
			if dup {
				continue // a duplicated key we already replaced
			}
			b.Write(e.rawKey)
			b.WriteByte(' ')
			b.Write(e.val.raw)
		}
		b.WriteByte('\n')
	}
	for i, s := range set {
		if !done[i] {
			b.WriteString("/" + s.key + " " + s.val + "\n")
		}
	}
	b.WriteString(">>")
	return b.Bytes()
}

func appendRaw(vals []value, extra string) string {
	var b strings.Builder
	b.WriteByte('[')
	for _, v := range vals {
		b.Write(v.raw)
		b.WriteByte(' ')
	}
	b.WriteString(extra)
	b.WriteByte(']')
	return b.String()
}

var literalEscaper = strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`)

// pdfString encodes s as a PDF text string.
func pdfString(s string) string {
	ascii := true
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			ascii = false
			break
		}
	}
	if ascii {
		return "(" + literalEscaper.Replace(s) + ")"
	}
	var b strings.Builder
	b.WriteString("<FEFF")
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	b.WriteByte('>')
	return b.String()
}

// pdfDate formats t as a PDF date.
func pdfDate(t time.Time) string {
	_, off := t.Zone()
	s := "D:" + t.Format("20060102150405")
	if off == 0 {
		return s + "Z"
	}
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("%s%c%02d'%02d'", s, sign, off/3600, off%3600/60)
}

func num(f float64) string {
	s := strconv.FormatFloat(f, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" || s == "-" {
		return "0"
	}
	return s
}
