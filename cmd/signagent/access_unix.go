//go:build unix

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// account is a service account as the kernel sees it: its user id and
// every group it is in.
type account struct {
	name string
	uid  uint32
	gids []uint32
}

// lookupAccount resolves a user name (or numeric id) to its uid and every
// group id it is in, as the kernel checks them.
func lookupAccount(name string) (*account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		var uerr error
		if u, uerr = user.LookupId(name); uerr != nil {
			return nil, serviceAccountExists(name)
		}
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("account %s: uid %q: %w", name, u.Uid, err)
	}
	a := &account{name: name, uid: uint32(uid)}
	gids, err := u.GroupIds()
	if err != nil {
		gids = []string{u.Gid}
	}
	for _, g := range append(gids, u.Gid) {
		if id, err := strconv.ParseUint(g, 10, 32); err == nil {
			a.gids = append(a.gids, uint32(id))
		}
	}
	return a, nil
}

// access reports why the account could not open p for want (bits of
// accRead, accWrite, accExec), nil when it could.
//
// The kernel's rule is evaluated from what stat shows, rather than by
// switching to the account and trying: this works for any caller, root or
// not, and writes nothing. Along the real path (links resolved) every
// folder must let the account search it (x); then p must grant want, by
// its POSIX ACL where it has one (Linux), else by its owner, group or
// other bits. root passes, except for writing on a read-only mount.
// What stat cannot show is not seen: SELinux or AppArmor rules, an NFS
// server mapping root or the account to another id, and the service's own
// sandbox (the installed unit makes the folders writable).
func (a *account) access(p string, want int) error {
	rp, err := filepath.EvalSymlinks(p)
	if err != nil {
		return err
	}
	rp, err = filepath.Abs(rp)
	if err != nil {
		return err
	}
	var dirs []string
	for d := filepath.Dir(rp); ; d = filepath.Dir(d) {
		dirs = append([]string{d}, dirs...)
		if d == filepath.Dir(d) {
			break
		}
	}
	if rp == "/" {
		dirs = nil
	}
	for _, d := range dirs {
		if err := a.may(d, accExec); err != nil {
			return fmt.Errorf("cannot enter %s: %w", d, err)
		}
	}
	if err := a.may(rp, want); err != nil {
		return fmt.Errorf("cannot %s it: %w", verb(want), err)
	}
	if want&accWrite != 0 {
		var sfs syscall.Statfs_t
		if syscall.Statfs(rp, &sfs) == nil && readOnlyMount(&sfs) {
			return errors.New("cannot write it: the file system is mounted read-only")
		}
	}
	return nil
}

func verb(want int) string {
	switch want {
	case accRead:
		return "read"
	case accExec:
		return "enter"
	}
	return "create files in"
}

// may checks want against p's ACL or mode for the account.
func (a *account) may(p string, want int) error {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return err
		}
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if a.uid == 0 {
		return nil
	}
	mode := uint32(fi.Mode().Perm())
	owner, group := st.Uid, st.Gid
	desc := fmt.Sprintf("owner %s, group %s, mode %s", userName(owner), groupName(group), fi.Mode().String())
	if acl, ok := readACL(p); ok {
		if acl.allows(a, owner, group, want) {
			return nil
		}
		return fmt.Errorf("%s, and its ACL gives the account no %s", desc, bitsText(want))
	}
	var got uint32
	switch {
	case a.uid == owner:
		got = mode >> 6
	case a.inGroup(group):
		got = mode >> 3
	default:
		got = mode
	}
	if int(got&7)&want == want {
		return nil
	}
	return errors.New(desc)
}

func (a *account) inGroup(g uint32) bool {
	for _, id := range a.gids {
		if id == g {
			return true
		}
	}
	return false
}

func bitsText(want int) string {
	s := ""
	for _, b := range []struct {
		bit int
		c   string
	}{{accRead, "r"}, {accWrite, "w"}, {accExec, "x"}} {
		if want&b.bit != 0 {
			s += b.c
		}
	}
	return s
}

func userName(uid uint32) string {
	if u, err := user.LookupId(fmt.Sprint(uid)); err == nil {
		return u.Username
	}
	return fmt.Sprint(uid)
}

func groupName(gid uint32) string {
	if g, err := user.LookupGroupId(fmt.Sprint(gid)); err == nil {
		return g.Name
	}
	return fmt.Sprint(gid)
}
