package signagent

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

// Each constructor's error is classified, coded and explained as its kind
// says, through wrapping, and keeps its cause.
func TestErrorConstructors(t *testing.T) {
	cause := fs.ErrPermission // KindLocal on its own: the constructor's kind must win
	for _, tt := range []struct {
		err  *Error
		kind Kind
		code Code
	}{
		{ConfigError("bad key", "fix it", cause), KindConfig, CodeConfig},
		{LocalError("disk full", "free space", cause), KindLocal, CodeLocal},
		{TransientError("no answer", "wait", cause), KindTransient, CodeTransient},
		{DocError(CodeNotAPDF, "not a PDF", "send a PDF"), KindDocument, CodeNotAPDF},
	} {
		wrapped := fmt.Errorf("folder a: %w", tt.err)
		if KindOf(wrapped) != tt.kind || CodeOf(wrapped) != tt.code || HintOf(wrapped) != tt.err.Hint || tt.err.Hint == "" {
			t.Errorf("%v: kind %v code %v hint %q; want %v %v %q", tt.err, KindOf(wrapped), CodeOf(wrapped), HintOf(wrapped), tt.kind, tt.code, tt.err.Hint)
		}
		if tt.err.Err != nil && !errors.Is(wrapped, cause) {
			t.Errorf("%v does not keep its cause", tt.err)
		}
	}
	if got := ConfigError("bad key", "", nil).Error(); got != "CONFIGURATION: bad key" {
		t.Errorf("Error() = %q", got)
	}
}
