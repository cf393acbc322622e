package main

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/terrapack/terrapack/payload"
)

// removal is what --uninstall does with an install's tree: the entries
// still as installed go; everything else stays and is listed.
type removal struct {
	root   string
	remove []payload.Record // as installed
	kept   []string         // changed, added, the vendor's data, mount points; sorted
	mounts []string
}

// removalOf sorts a classified tree for an uninstall. A folder that is not
// as installed stays with all it holds and is listed once, as "dir/"; the
// vendor's data folders stay and their entries are listed.
func removalOf(t *installedTree) *removal {
	r := &removal{root: t.root, mounts: t.mounts}
	whole := "" // the folder kept whole that the walk is in
	for _, e := range t.entries {
		if whole != "" && strings.HasPrefix(e.rel, whole+"/") {
			continue
		}
		switch {
		case e.state == asInstalled:
			r.remove = append(r.remove, e.rec)
		case e.state == keptData && e.info.IsDir():
		case e.info.IsDir():
			r.kept = append(r.kept, e.rel+"/")
			whole = e.rel
		default:
			r.kept = append(r.kept, e.rel)
		}
	}
	r.kept = append(r.kept, t.metaExtra...)
	for _, m := range t.mounts {
		r.kept = append(r.kept, m+" (mount point)")
	}
	sort.Strings(r.kept)
	return r
}

// removePlanned removes the entries of r that are as installed — files and
// links first, then the folders they leave empty, deepest first, then the
// installer's records, then the root if nothing is left — and reports
// whether the root went. Everything else stays where it is.
func removePlanned(ctx context.Context, r *removal) (rootGone bool, err error) {
	w := newWritable()
	defer w.restore()
	var dirs []string
	for _, rec := range r.remove {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		abs := filepath.Join(r.root, filepath.FromSlash(rec.Name))
		if rec.Type == tar.TypeDir {
			dirs = append(dirs, abs)
			continue
		}
		if err := w.remove(abs); err != nil {
			return false, err
		}
	}
	meta := filepath.Join(r.root, payload.MetaDir)
	for name := range metaFiles {
		if err := w.remove(filepath.Join(meta, name)); err != nil {
			return false, err
		}
	}
	dirs = append(dirs, meta)
	sort.Sort(sort.Reverse(sort.StringSlice(dirs))) // children before parents
	dirs = append(dirs, r.root)
	for _, d := range dirs {
		w.remove(d) // a folder still holding kept entries stays
	}
	_, err = os.Lstat(r.root)
	return errors.Is(err, fs.ErrNotExist), nil
}

// removeTree removes dir and everything under it, making read-only folders
// writable on the way, without following symlinks and without entering a
// file system mounted inside; what cannot go is named in the error.
func removeTree(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	stuck, err := removeAll(context.Background(), dir, false)
	return mountsLeft(dir, stuck, err)
}

// purgeTree is --uninstall --purge: everything goes but mounted file
// systems, which stay with the folders that lead to them.
func purgeTree(ctx context.Context, dir string) (rootGone bool, err error) {
	stuck, err := removeAll(ctx, dir, false)
	return err == nil && len(stuck) == 0, err
}

// emptyTree is removeTree that keeps dir itself, empty.
func emptyTree(dir string) error {
	stuck, err := removeAll(context.Background(), dir, true)
	return mountsLeft(dir, stuck, err)
}

// mountsLeft turns removeAll's mount points left into an error.
func mountsLeft(dir string, stuck []string, err error) error {
	if err == nil && len(stuck) > 0 {
		err = fmt.Errorf("kept %q: a file system is mounted inside it at %s; unmount it and remove the folder", dir, strings.Join(stuck, ", "))
	}
	return err
}

// removeAll removes what it can of dir (but dir itself with keepRoot) and
// returns the mount points it did not enter.
func removeAll(ctx context.Context, dir string, keepRoot bool) (stuck []string, err error) {
	mc, err := newMountCheck(dir)
	if err != nil {
		return nil, err
	}
	w := newWritable()
	var walk func(string) error
	walk = func(d string) error {
		names, err := readDirNames(d)
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := ctx.Err(); err != nil {
				return err
			}
			p := filepath.Join(d, n)
			fi, mounted, err := mc.lstat(p)
			if err != nil {
				return err
			}
			switch {
			case mounted:
				stuck = append(stuck, p)
				continue
			case fi.IsDir():
				if err := w.open(p); err != nil {
					return err
				}
				if err := walk(p); err != nil {
					return err
				}
			}
			if err := w.remove(p); err != nil && !fi.IsDir() {
				return err
			}
		}
		return nil
	}
	if err := w.open(dir); err != nil {
		return nil, err
	}
	if err := walk(dir); err != nil {
		return stuck, err
	}
	if len(stuck) == 0 && !keepRoot {
		if err := os.Remove(dir); err != nil {
			return nil, fmt.Errorf("failed to remove %q: %w", dir, err)
		}
	} else {
		w.restore()
	}
	return stuck, nil
}

// writable opens read-only folders of a payload (0555 is common) for the
// removal of their entries, and restores the modes of those that stay.
type writable struct{ orig map[string]fs.FileMode }

func newWritable() *writable { return &writable{orig: map[string]fs.FileMode{}} }

func (w *writable) open(dir string) error {
	if _, done := w.orig[dir]; done {
		return nil
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() {
		return nil
	}
	if fi.Mode().Perm()&0o700 == 0o700 {
		return nil
	}
	if err := os.Chmod(dir, fi.Mode().Perm()|0o700); err != nil {
		return fmt.Errorf("failed to make %q writable to remove what is in it: %w", dir, err)
	}
	w.orig[dir] = fi.Mode().Perm()
	return nil
}

// remove removes one entry (a folder only when empty); one already gone is
// no error.
func (w *writable) remove(p string) error {
	if err := w.open(filepath.Dir(p)); err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("failed to remove %q: %w", p, err)
	}
	return nil
}

func (w *writable) restore() {
	for d, mode := range w.orig {
		os.Chmod(d, mode) // gone folders need nothing
	}
}
