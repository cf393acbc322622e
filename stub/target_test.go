package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMountPointRefused: a target that is the root of another file system
// cannot receive the install's final rename; its hint names a folder
// inside it. A folder on its parent's file system, or a missing one, passes.
func TestMountPointRefused(t *testing.T) {
	var proc, root unix.Stat_t
	if unix.Stat("/proc", &proc) != nil || unix.Stat("/", &root) != nil || proc.Dev == root.Dev {
		t.Skip("/proc is not mounted here: no mount point to try")
	}
	err := checkNotMountPoint("/proc", targetOther)
	code, hint := classify(err)
	if code != exitRefused || hint != "install into a folder inside it, e.g. --to /proc/app" ||
		!strings.HasPrefix(err.Error(), `target "/proc" is a mount point`) {
		t.Errorf("checkNotMountPoint(/proc): %v, exit %d, hint %q", err, code, hint)
	}
	dir := t.TempDir()
	if err := checkNotMountPoint(dir, targetEmpty); err != nil {
		t.Errorf("a plain folder: %v", err)
	}
	if err := checkNotMountPoint("/proc", targetMissing); err != nil {
		t.Errorf("a missing target is never a mount point: %v", err)
	}
}

// TestMakeParents: the missing parents are made and returned outermost
// first, for removeDirs to take back; under a file it fails and leaves
// nothing it made.
func TestMakeParents(t *testing.T) {
	base := t.TempDir()
	made, err := makeParents(filepath.Join(base, "a", "b", "target"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(base, "a"), filepath.Join(base, "a", "b")}; strings.Join(made, " ") != strings.Join(want, " ") {
		t.Errorf("made %q, want %q", made, want)
	}
	removeDirs(made)
	if _, err := os.Lstat(filepath.Join(base, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("removeDirs left %s/a: %v", base, err)
	}
	if made, err := makeParents(filepath.Join(base, "target")); err != nil || len(made) != 0 {
		t.Errorf("an existing parent: made %q, %v", made, err)
	}

	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := makeParents(filepath.Join(file, "x", "target")); err == nil || !strings.Contains(err.Error(), "cannot create") {
		t.Errorf("parents under a file: %v", err)
	}
}

// TestWriteRefusal: a folder the user may not write to is a refusal
// (exit 4) whose hint offers one in the home folder; other failures are
// plain errors (exit 1).
func TestWriteRefusal(t *testing.T) {
	err := writeRefusal("/opt/app", &os.PathError{Op: "mkdir", Path: "/opt/app", Err: unix.EACCES})
	if code, hint := classify(err); code != exitRefused || !strings.HasPrefix(hint, "choose a folder you can write to, e.g. --to ~/app") {
		t.Errorf("permission denied: exit %d, hint %q", code, hint)
	}
	if code, _ := classify(writeRefusal("/mnt/cd/app", unix.EROFS)); code != exitRefused {
		t.Errorf("read-only file system: exit %d, want %d", code, exitRefused)
	}
	if code, hint := classify(writeRefusal("/opt/app", unix.EIO)); code != exitFailed || hint != "" {
		t.Errorf("I/O error: exit %d, hint %q", code, hint)
	}
}

// TestCheckSpace: more than the file system has is refused with what is
// needed and what is free; what fits passes.
func TestCheckSpace(t *testing.T) {
	dir := t.TempDir()
	if err := checkSpace(dir, 1); err != nil {
		t.Errorf("one byte: %v", err)
	}
	err := checkSpace(dir, 1<<62)
	if code, hint := classify(err); code != exitRefused || hint != "free some space or choose a folder on another file system" ||
		!strings.Contains(err.Error(), "not enough free space in \""+dir+"\": need 4.0 EiB, have ") {
		t.Errorf("4 EiB: %v, exit %d, hint %q", err, code, hint)
	}
	if err := checkSpace(filepath.Join(dir, "missing"), 1); err == nil {
		t.Error("a missing folder: no error")
	}
}
