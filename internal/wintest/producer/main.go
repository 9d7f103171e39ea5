//go:build windows

// Command producer writes a file the way many ERP exporters do on Windows:
// opened without FILE_SHARE_DELETE (nor FILE_SHARE_WRITE), half written,
// held open until a release file appears, then completed and closed.
//
//	producer SRC DST RELEASE
package main

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/windows"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: producer SRC DST RELEASE")
		os.Exit(2)
	}
	if err := produce(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		os.Exit(1)
	}
}

func produce(src, dst, release string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	name, err := windows.UTF16PtrFromString(dst)
	if err != nil {
		return err
	}
	h, err := windows.CreateFile(name, windows.GENERIC_WRITE, windows.FILE_SHARE_READ, nil,
		windows.CREATE_ALWAYS, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	f := os.NewFile(uintptr(h), dst)
	defer f.Close()
	half := len(data) / 2
	if _, err := f.Write(data[:half]); err != nil {
		return err
	}
	fmt.Println("holding", dst)
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(release); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no release file %s", release)
		}
	}
	if _, err := f.Write(data[half:]); err != nil {
		return err
	}
	return f.Close()
}
