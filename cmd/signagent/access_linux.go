package main

import (
	"encoding/binary"
	"syscall"
)

// POSIX ACL entry tags, as Linux stores them in system.posix_acl_access.
const (
	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20
)

type aclEntry struct {
	tag, perm uint16
	id        uint32
}

type posixACL []aclEntry

// readACL reads p's access ACL; false when it has none beyond its mode.
func readACL(p string) (posixACL, bool) {
	buf := make([]byte, 4096)
	n, err := syscall.Getxattr(p, "system.posix_acl_access", buf)
	if err != nil || n < 4 || binary.LittleEndian.Uint32(buf) != 2 {
		return nil, false
	}
	var acl posixACL
	for b := buf[4:n]; len(b) >= 8; b = b[8:] {
		acl = append(acl, aclEntry{tag: binary.LittleEndian.Uint16(b), perm: binary.LittleEndian.Uint16(b[2:]),
			id: binary.LittleEndian.Uint32(b[4:])})
	}
	return acl, len(acl) > 0
}

// allows applies the POSIX ACL check (acl(5), "access check algorithm").
func (acl posixACL) allows(a *account, owner, group uint32, want int) bool {
	mask := uint16(7)
	for _, e := range acl {
		if e.tag == aclMask {
			mask = e.perm
		}
	}
	ok := func(perm uint16) bool { return int(perm)&want == want }
	for _, e := range acl {
		if e.tag == aclUserObj && a.uid == owner {
			return ok(e.perm)
		}
	}
	for _, e := range acl {
		if e.tag == aclUser && e.id == a.uid {
			return ok(e.perm & mask)
		}
	}
	matched := false
	for _, e := range acl {
		if (e.tag == aclGroupObj && a.inGroup(group)) || (e.tag == aclGroup && a.inGroup(e.id)) {
			matched = true
			if ok(e.perm & mask) {
				return true
			}
		}
	}
	if matched {
		return false
	}
	for _, e := range acl {
		if e.tag == aclOther {
			return ok(e.perm)
		}
	}
	return false
}

func readOnlyMount(s *syscall.Statfs_t) bool { return s.Flags&0x1 != 0 } // ST_RDONLY
