package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/signagent/signagent/internal/atomicfile"
	"github.com/signagent/signagent/ledger"
)

// Requeue moves a failed original from errorDir back into inbox (same
// sub-path, a free name), removes its error file and notes the requeue in
// the ledger. The agent then takes it as a new attempt. It returns the
// inbox path.
func Requeue(ctx context.Context, db *ledger.DB, folder, errorDir, inbox, path string) (string, error) {
	rel, err := filepath.Rel(errorDir, path)
	if err != nil || rel == "." || filepath.IsAbs(rel) || rel[0] == '.' {
		return "", fmt.Errorf("not a file in the error folder %s", errorDir)
	}
	if !exists(path) {
		return "", fmt.Errorf("no such failed document")
	}
	dir := filepath.Join(inbox, filepath.Dir(rel))
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return "", err
	}
	if err := db.NoteRequeued(ctx, folder, path); err != nil {
		return "", err
	}
	dst := freePath(dir, filepath.Base(rel))
	// A rename: a crash leaves the document in error/ or in the inbox,
	// never in both.
	if err := atomicfile.Rename(path, dst); err != nil {
		return "", err
	}
	os.Remove(path + ".error.json")
	return dst, atomicfile.SyncDir(dir)
}
