//go:build !windows

package winname

// Extended returns path: only Windows has an extended-length form.
func Extended(path string) string { return path }
