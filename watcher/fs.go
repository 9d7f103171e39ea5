package watcher

import "time"

// DefaultNetworkScanInterval replaces DefaultScanInterval on file systems
// whose file events cannot be trusted (FS.Remote): there, scans are the only
// way most new files are found.
const DefaultNetworkScanInterval = 3 * time.Second

// FS describes the file system holding a folder, as far as finding new files
// is concerned.
type FS struct {
	// Type names the file system: "nfs", "smb", "fuse", "9p", … for the
	// ones in Remote; "local" otherwise; "" when it could not be told.
	Type string
	// Remote is set for network shares and user-space file systems: files
	// written by another machine (or under the user-space layer) raise no
	// file event here, so new files are found by scanning.
	Remote bool
	// stableDirs is set where a directory's modification time and size are
	// current whenever they are read, so an unchanged directory need not be
	// listed again. NFS clients cache directory attributes for up to a
	// minute (acdirmax), so an NFS directory is listed at every scan.
	stableDirs bool
}

// String says what the folder is, for messages: "local disk", "network
// share (smb)", "user-space file system (fuse)".
func (f FS) String() string {
	switch {
	case f.Remote && f.Type == "fuse":
		return "user-space file system (fuse)"
	case f.Remote:
		return "network share (" + f.Type + ")"
	case f.Type == "":
		return "unknown file system"
	}
	return "local disk"
}

// DefaultScanInterval returns the scan interval used when Config.ScanInterval
// is zero: DefaultNetworkScanInterval on a remote file system, else
// DefaultScanInterval.
func (f FS) DefaultScanInterval() time.Duration {
	if f.Remote {
		return DefaultNetworkScanInterval
	}
	return DefaultScanInterval
}

// Unreliable returns the operator's explanation for a remote file system, ""
// for a local one. interval is the scan interval in use.
func (f FS) Unreliable(interval time.Duration) string {
	if !f.Remote {
		return ""
	}
	return f.String() + ": file events are unreliable here; new files are found by scanning every " + interval.String()
}

// localFS is what a folder on a local disk reports.
var localFS = FS{Type: "local", stableDirs: true}

// remoteFS returns a remote file system of type typ.
func remoteFS(typ string) FS { return FS{Type: typ, Remote: true, stableDirs: typ != "nfs"} }

// DetectFS tells what kind of file system holds path (which must exist).
// Windows: UNC paths and network drives are remote. Linux: the file system's
// magic number; macOS and the BSDs: the mount's "local" flag.
func DetectFS(path string) (FS, error) { return detectFS(path) }
