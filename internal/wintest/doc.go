// Package wintest drives the Windows build of signagent under Wine from
// Linux: the agent in the foreground on C:\ folders (signing, publication,
// archive, error files, a kill mid-batch and recovery), Windows file
// semantics (a producer holding its file without FILE_SHARE_DELETE, names
// that differ only in case, read-only inputs) and the Windows service
// (install, start, a signed document, stop, uninstall). Its tests build
// only with -tags wine; `make test-windows` runs them.
package wintest
