//go:build unix

package main

import "syscall"

type syscallStat struct{ dev uint64 }

func statDev(p string, s *syscallStat) error {
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		return err
	}
	s.dev = uint64(st.Dev)
	return nil
}
