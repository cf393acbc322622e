package bundle

import (
	"syscall"
	"time"
	"unsafe"
)

// lchtimes sets both times of p without following a symlink, which
// os.Chtimes cannot do; symlink mtimes matter for identical trees.
func lchtimes(p string, t time.Time) error {
	const atFDCWD, atSymlinkNofollow = -0x64, 0x100
	ts := [2]syscall.Timespec{syscall.NsecToTimespec(t.UnixNano()), syscall.NsecToTimespec(t.UnixNano())}
	name, err := syscall.BytePtrFromString(p)
	if err != nil {
		return err
	}
	fd := atFDCWD
	_, _, errno := syscall.Syscall6(syscall.SYS_UTIMENSAT, uintptr(fd), uintptr(unsafe.Pointer(name)), uintptr(unsafe.Pointer(&ts[0])), atSymlinkNofollow, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
