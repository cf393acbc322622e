package main

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mountCheck tells whether a path inside a tree is a mount point, so that
// scans and removals never enter a file system mounted into an install. A
// different st_dev shows most mounts; a bind mount of a folder of the same
// file system keeps st_dev, so the mount ID is compared too: from statx
// (Linux 5.8+), else from /proc/self/mountinfo when it can be read.
type mountCheck struct {
	dev, mnt uint64
	statx    bool
	points   map[string]bool // fallback: mount points from mountinfo
}

func newMountCheck(root string) (*mountCheck, error) {
	var st unix.Stat_t
	if err := unix.Lstat(root, &st); err != nil {
		return nil, fmt.Errorf("failed to read %q: %w", root, err)
	}
	mc := &mountCheck{dev: st.Dev}
	var sx unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, root, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &sx) == nil && sx.Mask&unix.STATX_MNT_ID != 0 {
		mc.statx, mc.mnt = true, sx.Mnt_id
		return mc, nil
	}
	mc.points = mountPoints()
	return mc, nil
}

// lstat returns the entry's information and whether a file system is
// mounted on it.
func (mc *mountCheck) lstat(p string) (fs.FileInfo, bool, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, false, fmt.Errorf("failed to read %q: %w", p, err)
	}
	if st, ok := fi.Sys().(*unix.Stat_t); ok && st.Dev != mc.dev {
		return fi, true, nil
	}
	// A symlink cannot be a mount point, and statx would answer for it anyway.
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fi, false, nil
	}
	if mc.statx {
		var sx unix.Statx_t
		if err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &sx); err != nil {
			return nil, false, fmt.Errorf("failed to read %q: %w", p, err)
		}
		return fi, sx.Mnt_id != mc.mnt, nil
	}
	return fi, mc.points[p], nil
}

// mountPoints reads the mount points of /proc/self/mountinfo (empty without
// /proc; st_dev then still shows mounts of other file systems).
func mountPoints() map[string]bool {
	points := map[string]bool{}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return points
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 {
			points[filepath.Clean(unescapeOctal(fields[4]))] = true
		}
	}
	return points
}

// unescapeOctal undoes mountinfo's \040-style escapes.
func unescapeOctal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// refuseMounts refuses to replace the install at target while a file
// system is mounted inside it (at mounts, relative to target): an upgrade
// or a replacement would have to carry or delete what is mounted there.
func refuseMounts(target string, mounts []string) error {
	if len(mounts) == 0 {
		return nil
	}
	return &refusal{
		msg:  fmt.Sprintf("a file system is mounted inside %q, at %s; the install is not replaced while it is", target, listSome(mounts)),
		hint: "unmount it, then run the installer again",
	}
}

// listSome joins the first few names for a message.
func listSome(names []string) string {
	const most = 20
	if len(names) <= most {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:most], ", "), len(names)-most)
}
