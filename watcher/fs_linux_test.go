package watcher

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestFSOfMagic(t *testing.T) {
	for _, tc := range []struct {
		magic  int64
		typ    string
		remote bool
	}{
		{unix.NFS_SUPER_MAGIC, "nfs", true},
		{unix.CIFS_SUPER_MAGIC, "smb", true},
		{unix.SMB2_SUPER_MAGIC, "smb", true},
		{int64(int32(-0x1acb2be)), "smb", true}, // SMB2 as a signed 32-bit f_type
		{unix.FUSE_SUPER_MAGIC, "fuse", true},
		{unix.V9FS_MAGIC, "9p", true},
		{unix.EXT4_SUPER_MAGIC, "local", false},
		{unix.TMPFS_MAGIC, "local", false},
		{unix.OVERLAYFS_SUPER_MAGIC, "local", false},
	} {
		if got := fsOfMagic(tc.magic); got.Type != tc.typ || got.Remote != tc.remote {
			t.Errorf("magic %#x: %+v, want %s remote=%v", tc.magic, got, tc.typ, tc.remote)
		}
	}
}
