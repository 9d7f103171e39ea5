package config

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/signagent/signagent/signing"
)

// Fields without a key (toml:"-" such as Path and Name, and unexported
// ones) are never filled from the file: keys written "-" or "" are unknown
// like any other.
func TestUntaggedFieldsAreNotKeys(t *testing.T) {
	_, err := Parse([]byte("- = \"x\"\n\"\" = 1\n[backends.b]\ntype = \"local\"\n- = \"y\"\n[backends.\"\"]\ntype = \"local\"\n"), "c.toml")
	ps := problemsOf(t, err)
	for key, name := range map[string]string{"-": "-", "backends.b.-": "-", `""`: ""} {
		if p, ok := find(ps, key); !ok || !strings.Contains(p.Message, "unknown key "+strconv.Quote(name)) {
			t.Errorf("no unknown-key problem for %s in:\n%v", key, err)
		}
	}
}

// Keys are compared exactly: a key that differs in case is unknown (and
// suggested), never taken for the field.
func TestKeysAreCaseSensitive(t *testing.T) {
	c, err := Parse([]byte("[[folders]]\nname = \"a\"\ninbox = \"in\"\nInbox = \"other\"\noutbox = \"out\"\nerror = \"err\"\n"), "c.toml")
	ps := problemsOf(t, err)
	if p, ok := find(ps, "folders[0].Inbox"); !ok || p.Line != 4 || p.Hint != `did you mean "inbox"?` {
		t.Errorf("Inbox: %v", err)
	}
	if c == nil || len(c.Folders) != 1 || !strings.HasSuffix(c.Folders[0].Inbox, "in") {
		t.Errorf("the inbox written in lower case was not kept: %+v", c)
	}
}

// The key lists come from the struct tags, so a field added to a struct is
// a known key at once.
func TestKeyListsFollowTags(t *testing.T) {
	if got := keysOf(reflect.TypeFor[Visible]()); !reflect.DeepEqual(got, visibleKeys) || len(got) == 0 {
		t.Errorf("keysOf(Visible) = %q, visibleKeys %q", got, visibleKeys)
	}
	for _, k := range []string{"backends", "folders", "data_dir"} {
		if !strings.Contains(strings.Join(topKeys, " "), k) {
			t.Errorf("topKeys %q lacks %s", topKeys, k)
		}
	}
}

// output_mode is octal, written as a string or a TOML octal integer; a
// decimal integer is refused (640 is not 0640), as are modes beyond the
// permission bits and modes that would keep the agent from its own outputs.
func TestOutputMode(t *testing.T) {
	if m := Default().OutputMode; m != 0o640 || m.String() != "0640" || m.Perm() != 0o640 {
		t.Errorf("default output mode %v", m)
	}
	for _, tt := range []struct {
		value string
		want  FileMode
		err   string // in the problem for output_mode; "" for none
	}{
		{`"0640"`, 0o640, ""},
		{`"640"`, 0o640, ""},
		{`"0o600"`, 0o600, ""},
		{`0o660`, 0o660, ""},
		{`"0644"`, 0o644, ""}, // a warning, not an error
		{`640`, 0, "640 is a decimal number, not a file mode"},
		{`416`, 0, "416 is a decimal number"},
		{`"rw-r-----"`, 0, `invalid file mode "rw-r-----"`},
		{`"0999"`, 0, "invalid file mode"},
		{`""`, 0, "invalid file mode"},
		{`"01640"`, 0, "is not a permission"},
		{`0o1777`, 0, "is not a permission"},
		{`6.4`, 0, "must be a file mode, not a float"},
		{`"0440"`, 0, "does not let the owner read and write"},
		{`"0646"`, 0, "lets every account change signed documents"},
	} {
		c, err := Parse([]byte("output_mode = "+tt.value+"\n"), "c.toml")
		if tt.err == "" {
			if err != nil || c.OutputMode != tt.want {
				t.Errorf("%s: mode %v, error %v; want %v", tt.value, c.OutputMode, err, tt.want)
			}
			continue
		}
		if p, ok := find(problemsOf(t, err), "output_mode"); !ok || p.Line != 1 || !strings.Contains(p.Message, tt.err) {
			t.Errorf("%s: %v; want a problem on line 1 with %q", tt.value, err, tt.err)
		}
	}
}

// A Windows path in double quotes is a TOML escape problem; the error says
// to use single quotes or forward slashes, and the single-quoted path is
// taken as written.
func TestWindowsPathHint(t *testing.T) {
	for _, src := range []string{
		`data_dir = "C:\ProgramData\signagent"`,
		`data_dir = "C:\Users\signagent"`,
		`data_dir = "C:\temp\signagent"`, // \t is a valid escape: a tab
	} {
		_, err := Parse([]byte(src+"\n"), "c.toml")
		ps := problemsOf(t, err)
		if len(ps) != 1 || ps[0].Line != 1 || !strings.Contains(ps[0].Hint, "single quotes") || !strings.Contains(ps[0].Hint, "forward slashes") {
			t.Errorf("%s: %v", src, err)
		}
	}
	c, err := Parse([]byte(`data_dir = 'C:\ProgramData\signagent'`+"\n"), "c.toml")
	if err != nil || !strings.HasSuffix(c.DataDir, `C:\ProgramData\signagent`) {
		t.Errorf("literal string: %v, data_dir %q", err, c.DataDir)
	}
}

// The visible signature's location reaches the signer's options.
func TestVisibleLocationOptions(t *testing.T) {
	c := mustParse(t, signstashConf("")+`[[folders]]
name = "a"
inbox = "in"
outbox = "out"
error = "err"
[folders.signature.visible]
location = "placeholder"
placeholder = "[SIGN]"
width = 155
`, "c.toml")
	v := c.Folders[0].Signature.Options().Visible
	if v == nil || v.Location != signing.LocationPlaceholder || v.Placeholder != "[SIGN]" || v.W != 155 || v.H != 0 || v.Page != 0 {
		t.Errorf("Options().Visible = %+v", v)
	}
	if b := c.Backends["m"]; b.Transport != "base64" {
		t.Errorf("default transport %q", b.Transport)
	}
}
