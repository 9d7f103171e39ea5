package pades

import (
	"os"
)

func openForTest(path string) (*pdf, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, _ := f.Stat()
	d, err := open(f, st.Size())
	return d, f, err
}

// CatalogOf returns the raw catalog dictionary of the latest revision.
func CatalogOf(path string) (string, error) {
	d, f, err := openForTest(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	root, _ := d.trailer.get("Root")
	cat, err := d.resolve(root)
	return string(cat.raw), err
}

// AcroFormOf returns the raw AcroForm dictionary of the latest revision.
func AcroFormOf(path string) (string, error) {
	d, f, err := openForTest(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	root, _ := d.trailer.get("Root")
	cat, err := d.resolve(root)
	if err != nil {
		return "", err
	}
	v, _ := cat.get("AcroForm")
	af, err := d.resolve(v)
	return string(af.raw), err
}

// AnnotsOf returns the raw annotation dictionaries of page n.
func AnnotsOf(path string, n int) ([]string, error) {
	d, f, err := openForTest(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	root, _ := d.trailer.get("Root")
	cat, _ := d.resolve(root)
	_, page, err := d.findPage(cat, n)
	if err != nil {
		return nil, err
	}
	arr, err := d.arrayOf(page, "Annots")
	var out []string
	for _, a := range arr {
		v, err := d.resolve(a)
		if err != nil {
			return nil, err
		}
		out = append(out, string(v.raw))
	}
	return out, err
}

// LastXrefKind reports "table" or "stream" for the latest xref section.
func LastXrefKind(path string) (string, error) {
	d, f, err := openForTest(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if d.xrefIsStm {
		return "stream", nil
	}
	return "table", nil
}

// SetMemMax sets the largest file verify reads into memory, for a test of
// the other path; it returns the function that restores it.
func SetMemMax(n int64) func() {
	old := memMax
	memMax = n
	return func() { memMax = old }
}
