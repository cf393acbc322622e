package bundle

import (
	"time"

	"golang.org/x/sys/unix"
)

// lchtimes sets both times of p without following a symlink, which
// os.Chtimes cannot do; symlink mtimes matter for identical trees.
func lchtimes(p string, t time.Time) error {
	ts := unix.NsecToTimespec(t.UnixNano())
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}
