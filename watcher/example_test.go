package watcher_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/signagent/signagent/watcher"
)

func Example() {
	inbox, err := os.MkdirTemp("", "inbox")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(inbox)
	// The recommended producer pattern: write under an ignored temp name,
	// then rename into place.
	tmp := filepath.Join(inbox, "invoice.pdf.partial")
	if err := os.WriteFile(tmp, []byte("%PDF-"), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(inbox, "invoice.pdf")); err != nil {
		log.Fatal(err)
	}

	w, err := watcher.New(watcher.Config{
		Root:    inbox,
		Include: []string{"*.pdf", "*.xml"},
		Settle:  100 * time.Millisecond,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = w.Run(ctx, func(ctx context.Context, f watcher.File) {
		fmt.Println(f.Rel, f.Size)
		cancel() // an agent would claim the file here, then carry on
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output: invoice.pdf 5
}
