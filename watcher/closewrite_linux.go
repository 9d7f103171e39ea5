//go:build linux

package watcher

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// closeWatch reports the files of watched directories that a writer has just
// closed (inotify's IN_CLOSE_WRITE, which fsnotify does not export) or that
// were renamed in (IN_MOVED_TO, which fsnotify reports as a Create, like
// any new file). Its reader goroutine is owned by the closeWatch: close
// stops it and waits.
type closeWatch struct {
	f      *os.File
	fd     int
	names  chan string // absolute paths of files closed after writing or moved in
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	dirs   map[int32]string // watch descriptor -> directory; guarded by mu
	byPath map[string]int32 // directory -> watch descriptor; guarded by mu
}

// closeWrites is true where closeWatch works.
const closeWrites = true

func newCloseWatch() (*closeWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	c := &closeWatch{
		f:      os.NewFile(uintptr(fd), "inotify"), // non-blocking: Close ends a Read
		fd:     fd,
		names:  make(chan string, 256),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		dirs:   map[int32]string{},
		byPath: map[string]int32{},
	}
	go c.read()
	return c, nil
}

// add watches dir for files closed after writing or moved in.
func (c *closeWatch) add(dir string) error {
	wd, err := unix.InotifyAddWatch(c.fd, dir, unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO|unix.IN_ONLYDIR|unix.IN_DONT_FOLLOW)
	if err != nil {
		return os.NewSyscallError("inotify_add_watch", err)
	}
	c.mu.Lock()
	c.dirs[int32(wd)] = dir
	c.byPath[dir] = int32(wd)
	c.mu.Unlock()
	return nil
}

// remove stops watching dir (which may be gone already).
func (c *closeWatch) remove(dir string) {
	c.mu.Lock()
	wd, ok := c.byPath[dir]
	delete(c.byPath, dir)
	delete(c.dirs, wd)
	c.mu.Unlock()
	if ok {
		_, _ = unix.InotifyRmWatch(c.fd, uint32(wd))
	}
}

// close stops the reader and waits for it.
func (c *closeWatch) close() {
	close(c.stop)
	c.f.Close()
	<-c.done
}

func (c *closeWatch) read() {
	defer close(c.done)
	var buf [64 << 10]byte
	for {
		n, err := c.f.Read(buf[:])
		if err != nil {
			return // closed
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameAt := off + unix.SizeofInotifyEvent
			off = nameAt + int(ev.Len)
			if ev.Mask&(unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO) == 0 || ev.Len == 0 || off > n {
				continue // overflow, a removed watch, or the directory itself
			}
			name := string(buf[nameAt:off])
			for len(name) > 0 && name[len(name)-1] == 0 {
				name = name[:len(name)-1]
			}
			c.mu.Lock()
			dir, ok := c.dirs[ev.Wd]
			c.mu.Unlock()
			if !ok {
				continue
			}
			select {
			case c.names <- filepath.Join(dir, name):
			case <-c.stop:
				return
			}
		}
	}
}

// openForWrite reports whether some process holds regular file p open for
// writing, as far as the kernel will say: a read lease is granted only on a
// file nobody has open for writing, and is given back at once. known is
// false when the question cannot be answered (leases are for the file's
// owner or CAP_LEASE; some file systems have none).
func openForWrite(p string) (busy, known bool) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return false, false
	}
	defer unix.Close(fd)
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_RDLCK)
	switch {
	case err == nil:
		_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_UNLCK)
		return false, true
	case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EBUSY):
		return true, true
	}
	return false, false
}
