package config

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
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
