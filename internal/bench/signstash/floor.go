package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/signagent/signagent/internal/bench/benchdata"
)

// floorFigures are the CPU times, in this process, of the file work an
// agent cannot leave out of a scenario: hash every original when it is
// claimed (duplicates, and the integrity issue's "what is signed is what
// was hashed"), read every original to send it, write every signed output
// to the outbox's file system, flush each, and read and hash each output
// to verify it before it is published. The emulator does none of it: it
// keeps documents in memory.
type floorFigures struct {
	hash, read, write, flush, check time.Duration
}

func (f floorFigures) total() time.Duration { return f.hash + f.read + f.write + f.flush + f.check }

// fileFloor measures floorFigures over the scenario's documents, made
// again from base into dir/in as runScenario made them, and the signed outputs in
// outbox, copied to new files in dir/out (the copy's reading is not
// counted). dir is removed on return.
func fileFloor(dir, outbox string, s scenario, base []byte) (floorFigures, error) {
	var fig floorFigures
	defer os.RemoveAll(dir)
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	for _, p := range []string{in, out} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return fig, err
		}
	}
	inputs := make([]string, s.docs)
	for i := range s.docs {
		inputs[i] = filepath.Join(in, fmt.Sprintf("doc-%05d.pdf", i))
		if err := os.WriteFile(inputs[i], benchdata.Unique(base, s.name+" "+strconv.Itoa(i)), 0o644); err != nil {
			return fig, err
		}
	}
	outputs, err := filepath.Glob(filepath.Join(outbox, "*.pdf"))
	if err != nil {
		return fig, err
	}
	buf := make([]byte, 256<<10)
	timed := func(into *time.Duration, f func() error) error {
		c0 := benchdata.CPUTime()
		err := f()
		*into += benchdata.CPUTime() - c0
		return err
	}
	readAll := func(p string, w io.Writer) error {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.CopyBuffer(w, struct{ io.Reader }{f}, buf)
		return err
	}
	for _, p := range inputs {
		if err := timed(&fig.hash, func() error { return readAll(p, sha256.New()) }); err != nil {
			return fig, err
		}
		if err := timed(&fig.read, func() error { return readAll(p, io.Discard) }); err != nil {
			return fig, err
		}
	}
	for _, p := range outputs {
		b, err := os.ReadFile(p)
		if err != nil {
			return fig, err
		}
		dst := filepath.Join(out, filepath.Base(p))
		var f *os.File
		err = timed(&fig.write, func() error {
			if f, err = os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
				return err
			}
			_, err := f.Write(b)
			return err
		})
		if err == nil {
			err = timed(&fig.flush, f.Sync)
		}
		if f != nil {
			f.Close()
		}
		if err != nil {
			return fig, err
		}
	}
	for _, p := range outputs {
		dst := filepath.Join(out, filepath.Base(p))
		if err := timed(&fig.check, func() error { return readAll(dst, sha256.New()) }); err != nil {
			return fig, err
		}
	}
	return fig, nil
}

// printFloor prints f beside the agent's and the emulator's CPU of the
// scenario it was measured for.
func printFloor(name string, f floorFigures, agentCPU, simCPU time.Duration) {
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }
	fmt.Printf("RESULT signstash %s floor, the agent's file work alone in one process over the same files: hash originals %s + read them %s + write outputs %s + flush %s + read and hash outputs %s = %s; 25%% of the pair allows the agent %s at this emulator's %s (agent measured %s)\n",
		name, r(f.hash), r(f.read), r(f.write), r(f.flush), r(f.check), r(f.total()), r(simCPU/3), r(simCPU), r(agentCPU))
}
