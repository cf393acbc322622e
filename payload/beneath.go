package payload

import (
	"errors"
	"fmt"
	"os"
	"path"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// beneath creates entries below one root folder with raw fd-based system
// calls, every name resolved by the kernel beneath that root: openat2 with
// RESOLVE_BENEATH and RESOLVE_NO_SYMLINKS, so that no "..", absolute path or
// symlink, whatever the tree holds, can take a write elsewhere. Kernels
// without openat2 (before 5.6, or a seccomp filter that hides it) get Go's
// os.Root, which resolves beneath the root in user space.
type beneath struct {
	root   *os.File
	rootFd int
	goRoot *os.Root // the fallback, nil while openat2 works
}

const resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

func openBeneath(dir string, forceFallback bool) (*beneath, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	b := &beneath{root: f, rootFd: int(f.Fd())}
	if !forceFallback {
		fd, err := unix.Openat2(b.rootFd, ".", &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveFlags})
		if err == nil {
			unix.Close(fd)
			return b, nil
		}
		if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EPERM) {
			f.Close()
			return nil, err
		}
	}
	if b.goRoot, err = os.OpenRoot(dir); err != nil {
		f.Close()
		return nil, err
	}
	return b, nil
}

func (b *beneath) close() {
	if b.goRoot != nil {
		b.goRoot.Close()
	}
	b.root.Close()
}

// open returns a file descriptor for name, a clean relative path; the caller
// closes it.
//
// openat2, write and utimensat on the files are raw system calls: through
// the scheduler's syscall path, each slow one (more than 20 µs) made the
// runtime hand the extractor's processor to another thread and back. Raw,
// an install of the Go tree makes 1.5k futex and 3.8k nanosleep calls
// instead of 5.2k and 12.6k, and spends 15% less CPU (docs/BENCHMARKS.md).
// A write blocked by the kernel's write-back throttling then holds its
// processor, which costs nothing here: the decoder has the other one.
func (b *beneath) open(name string, flags int, mode uint32) (int, error) {
	if b.goRoot == nil {
		how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Mode: uint64(mode), Resolve: resolveFlags}
		p, err := unix.BytePtrFromString(name)
		if err != nil {
			return -1, err
		}
		for {
			fd, _, errno := unix.RawSyscall6(unix.SYS_OPENAT2, uintptr(b.rootFd), uintptr(unsafe.Pointer(p)),
				uintptr(unsafe.Pointer(&how)), unsafe.Sizeof(how), 0, 0)
			switch errno {
			case 0:
				return int(fd), nil
			case unix.EINTR:
				continue
			}
			return -1, errno
		}
	}
	f, err := b.goRoot.OpenFile(name, flags, os.FileMode(mode))
	if err != nil {
		return -1, err
	}
	defer f.Close()
	return unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
}

// inParent runs fn with a descriptor of name's parent folder and name's last
// component, so that fn's *at call resolves a single name.
func (b *beneath) inParent(name string, fn func(dirFd int, base string) error) error {
	dir, base := path.Split(name)
	if dir == "" {
		return fn(b.rootFd, base)
	}
	fd, err := b.open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return fn(fd, base)
}

func (b *beneath) mkdir(name string, mode uint32) error {
	return b.inParent(name, func(fd int, base string) error { return unix.Mkdirat(fd, base, mode) })
}

func (b *beneath) symlink(target, name string, mtime time.Time) error {
	return b.inParent(name, func(fd int, base string) error {
		if err := unix.Symlinkat(target, fd, base); err != nil {
			return err
		}
		ts := timespecs(mtime)
		return unix.UtimesNanoAt(fd, base, ts[:], unix.AT_SYMLINK_NOFOLLOW)
	})
}

func (b *beneath) link(src, name string) error {
	return b.inParent(src, func(srcFd int, srcBase string) error {
		return b.inParent(name, func(fd int, base string) error {
			return unix.Linkat(srcFd, srcBase, fd, base, 0)
		})
	})
}

// setDir gives folder name its final mode and time.
func (b *beneath) setDir(name string, mode uint32, mtime time.Time) error {
	fd, err := b.open(name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Fchmod(fd, mode); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return futimens(fd, mtime)
}

func timespecs(t time.Time) [2]unix.Timespec {
	ts := unix.NsecToTimespec(t.UnixNano())
	return [2]unix.Timespec{ts, ts}
}

// futimens sets the access and modification times of the open file fd:
// utimensat(fd, NULL, …), which needs no /proc (unix.Futimes does).
func futimens(fd int, t time.Time) error {
	ts := timespecs(t)
	_, _, errno := unix.RawSyscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// fdWriter writes to a raw file descriptor.
type fdWriter int

func (w fdWriter) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(w), uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n))
		switch errno {
		case 0:
		case unix.EINTR:
			continue
		default:
			return n, errno
		}
		n += int(k)
	}
	return n, nil
}
