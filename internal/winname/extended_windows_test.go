package winname

import "testing"

func TestExtended(t *testing.T) {
	for in, want := range map[string]string{
		`C:\in\COM1.pdf`:            `\\?\C:\in\COM1.pdf`,
		`C:\in\dot.pdf.`:            `\\?\C:\in\dot.pdf.`,
		`C:/in/a.pdf`:               `\\?\C:\in\a.pdf`,
		`\\server\share\in\CON.pdf`: `\\?\UNC\server\share\in\CON.pdf`,
		`\\?\C:\in\a.pdf`:           `\\?\C:\in\a.pdf`,
		`\\.\COM1`:                  `\\.\COM1`,
	} {
		if got := Extended(in); got != want {
			t.Errorf("Extended(%q) = %q, want %q", in, got, want)
		}
	}
}
