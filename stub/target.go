package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/terrapack/terrapack/meter"
	"github.com/terrapack/terrapack/payload"
	"golang.org/x/sys/unix"
)

// resolveTarget turns --to (or the default) into a clean absolute path,
// expanding a leading ~ and checking the rules that need no file system.
func resolveTarget(dir string) (string, error) {
	if dir == "" {
		return "", &refusal{msg: "no target folder given", hint: "use --to DIR"}
	}
	if dir == "~" || strings.HasPrefix(dir, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cannot expand %q: %w", dir, err)
		}
		dir = filepath.Join(home, dir[1:])
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("cannot resolve %q: %w", dir, err)
	}
	if strings.Contains(abs, "\n") {
		return "", &refusal{
			msg:  fmt.Sprintf("target %q contains a newline: scripts, configuration files and the install record name the install path on one line, which it would split", abs),
			hint: "choose a path without a newline",
		}
	}
	if abs == "/" {
		return "", &refusal{msg: "refusing to install into /", hint: "choose a folder of its own, such as /opt/APP"}
	}
	return abs, nil
}

// targetState is what is at the target path now.
type targetState int

const (
	targetMissing targetState = iota
	targetEmpty
	targetOurs  // a previous terrapack install
	targetOther // a non-empty folder terrapack did not make
)

func inspectTarget(target string) (targetState, error) {
	st, err := os.Lstat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return targetMissing, nil
	case err != nil:
		return 0, &refusal{msg: fmt.Sprintf("cannot use target %q: %v", target, err)}
	case st.Mode()&fs.ModeSymlink != 0:
		real, _ := filepath.EvalSymlinks(target)
		return 0, &refusal{msg: fmt.Sprintf("target %q is a symlink", target), hint: fmt.Sprintf("give the real folder, e.g. --to %s", real)}
	case !st.IsDir():
		return 0, &refusal{msg: fmt.Sprintf("target %q exists and is not a folder", target), hint: "remove it or choose another --to"}
	}
	d, err := os.Open(target)
	if err != nil {
		return 0, &refusal{msg: fmt.Sprintf("cannot read target %q: %v", target, err)}
	}
	defer d.Close()
	if _, err := d.Readdirnames(1); err == io.EOF {
		return targetEmpty, nil
	}
	if _, err := os.Stat(filepath.Join(target, payload.MetaDir, "manifest.json")); err == nil {
		return targetOurs, nil
	}
	return targetOther, nil
}

// checkNotMountPoint refuses a target that is the root of a mounted file
// system: the new tree is built beside the target, on the parent's file
// system, and could never be renamed onto it.
func checkNotMountPoint(target string, state targetState) error {
	if state == targetMissing {
		return nil
	}
	var t, p unix.Stat_t
	if unix.Stat(target, &t) != nil || unix.Stat(filepath.Dir(target), &p) != nil || t.Dev == p.Dev {
		return nil
	}
	return &refusal{
		msg:  fmt.Sprintf("target %q is a mount point: the install is built beside it and moved in with one rename, which cannot cross file systems", target),
		hint: "install into a folder inside it, e.g. --to " + filepath.Join(target, "app"),
	}
}

// makeParents creates the missing parents of target and returns them,
// outermost first, so that a failed install can remove them again.
func makeParents(target string) ([]string, error) {
	var missing []string
	for p := filepath.Dir(target); ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil {
			break
		}
		missing = append([]string{p}, missing...)
		if p == filepath.Dir(p) {
			break
		}
	}
	for i, p := range missing {
		if err := os.Mkdir(p, 0o755); err != nil {
			removeDirs(missing[:i])
			return nil, writeRefusal(p, err)
		}
	}
	return missing, nil
}

// removeDirs removes the empty folders dirs, innermost first.
func removeDirs(dirs []string) {
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i])
	}
}

func writeRefusal(dir string, err error) error {
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, unix.EROFS) {
		return &refusal{
			msg:  fmt.Sprintf("cannot write to %q: %v", dir, err),
			hint: "choose a folder you can write to, e.g. --to ~/" + filepath.Base(dir) + ", or run as a user who can write there",
		}
	}
	return fmt.Errorf("cannot create %q: %w", dir, err)
}

// checkSpace refuses when the file system of dir lacks room for need bytes.
func checkSpace(dir string, need int64) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("failed to read free space of %q: %w", dir, err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if free < need {
		return &refusal{
			msg:  fmt.Sprintf("not enough free space in %q: need %s, have %s", dir, meter.Bytes(need), meter.Bytes(free)),
			hint: "free some space or choose a folder on another file system",
		}
	}
	return nil
}
