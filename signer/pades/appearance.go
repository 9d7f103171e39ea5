package pades

import (
	"fmt"
	"math"
	"strings"
	"time"
)

func boxSize(v *Visible, width bool) float64 {
	if v == nil {
		return 0
	}
	if width {
		return v.W
	}
	return v.H
}

func apResources(visible bool) string {
	if !visible {
		return ""
	}
	return "/Resources <</Font <</Helv <</Type/Font/Subtype/Type1/BaseFont/Helvetica/Encoding/WinAnsiEncoding>>>>>>"
}

// appearance is the content of the visible widget's form XObject: a thin
// frame, the signer's name and the date in Helvetica. An invisible
// signature gets an empty appearance.
func appearance(w, h float64, name string, t time.Time) []byte {
	if w <= 0 || h <= 0 {
		return nil
	}
	lines := []string{"Signed by " + name, "Date: " + t.Format("2006-01-02 15:04:05 -07:00")}
	longest := 0
	for _, l := range lines {
		longest = max(longest, len([]rune(l)))
	}
	fs := math.Min(h/(float64(len(lines))*1.25+0.5), (w-4)/(float64(longest)*0.55))
	fs = math.Max(1, math.Min(fs, 12))
	var b strings.Builder
	fmt.Fprintf(&b, "q 0.5 w 0 G 0.25 0.25 %s %s re S Q\n", num(w-0.5), num(h-0.5))
	lead := fs * 1.25
	y := h/2 + lead*float64(len(lines)-1)/2 - fs*0.35
	fmt.Fprintf(&b, "BT /Helv %s Tf 0 g %s TL 2 %s Td", num(fs), num(lead), num(y))
	for i, l := range lines {
		if i > 0 {
			b.WriteString(" T*")
		}
		b.WriteString(" " + winAnsiLiteral(l) + " Tj")
	}
	b.WriteString(" ET")
	return []byte(b.String())
}

// winAnsiLiteral encodes s for a WinAnsiEncoding font as a literal string;
// characters outside Latin-1 become '?'.
func winAnsiLiteral(s string) string {
	var b strings.Builder
	b.WriteByte('(')
	for _, r := range s {
		switch {
		case r == '\\' || r == '(' || r == ')':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r >= 0xa0 && r <= 0xff:
			fmt.Fprintf(&b, "\\%03o", r)
		default:
			b.WriteByte('?')
		}
	}
	b.WriteByte(')')
	return b.String()
}
