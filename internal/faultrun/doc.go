// Package faultrun holds the end-to-end fault run: the real agent signing
// 300 documents through the Sign'Stash client and a two-instance emulator
// that fails, throttles, resets connections and restarts, with and
// without the client's instance list and the proxy's look-up calls. Its
// only code is its test; see faultrun_test.go for what it asserts.
package faultrun
