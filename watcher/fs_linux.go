//go:build linux

package watcher

import "golang.org/x/sys/unix"

// remoteMagic names the network and user-space file systems by their statfs
// magic number.
var remoteMagic = map[int64]string{
	unix.NFS_SUPER_MAGIC:   "nfs",
	unix.SMB_SUPER_MAGIC:   "smb",
	unix.CIFS_SUPER_MAGIC:  "smb",
	unix.SMB2_SUPER_MAGIC:  "smb",
	unix.FUSE_SUPER_MAGIC:  "fuse",
	unix.V9FS_MAGIC:        "9p",
	unix.AFS_SUPER_MAGIC:   "afs",
	unix.AFS_FS_MAGIC:      "afs",
	unix.CODA_SUPER_MAGIC:  "coda",
	unix.CEPH_SUPER_MAGIC:  "ceph",
	unix.NCP_SUPER_MAGIC:   "ncp",
	unix.OCFS2_SUPER_MAGIC: "ocfs2",
	0x01161970:             "gfs2",
	0x0bd00bd0:             "lustre",
	0x786f4256:             "vboxsf",
	0x7c7c6673:             "prl_fs",
}

func detectFS(path string) (FS, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return FS{}, err
	}
	return fsOfMagic(int64(st.Type)), nil
}

// fsOfMagic maps a statfs magic number to an FS. Type is uint32 on some
// architectures and int64 on others; both arrive here as the same value.
func fsOfMagic(magic int64) FS {
	if t, ok := remoteMagic[magic&0xffffffff]; ok {
		return remoteFS(t)
	}
	return localFS
}
