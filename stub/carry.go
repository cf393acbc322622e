package main

// Carrying the customer's files into the new tree. Everything carried is
// hard-linked from the old tree into the new one before the commit: no
// byte is copied (gigabytes of data cost nothing) and, unlike a rename, the
// old tree stays whole until the commit rename, so a kill at any moment
// leaves either the old tree or the new one, complete.

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/terrapack/terrapack/payload"
	"golang.org/x/sys/unix"
)

// apply carries out pl: newRoot is the extracted new tree, oldRoot the
// previous install, aside the folder (created on first use) for what has no
// place in the new tree. besides receives the records of the new versions
// moved beside, for the installed-file list.
func (pl *upgradePlan) apply(oldRoot, newRoot string, aside *asideFolder, nw newTree, besides func(payload.Record)) error {
	for _, s := range pl.steps {
		dst := filepath.Join(newRoot, filepath.FromSlash(s.rel))
		if s.dropNew || s.beside {
			err := inWritableDir(filepath.Dir(dst), func() error {
				if s.dropNew {
					return os.Remove(dst)
				}
				return os.Rename(dst, dst+besideSuffix)
			})
			if err != nil {
				return fmt.Errorf("failed to make room for %q in the new tree: %w", s.rel, err)
			}
			if s.beside {
				// A hard link moved beside is listed as the file it is: its
				// source's mode, size and SHA-256.
				rec := nw.file(s.rel)
				rec.Name = s.rel + besideSuffix
				besides(rec)
			}
		}
		if !s.link {
			continue
		}
		root := newRoot
		if s.aside {
			var err error
			if root, err = aside.make(); err != nil {
				return err
			}
		}
		if err := linkInto(oldRoot, root, s.rel); err != nil {
			return err
		}
	}
	return nil
}

// linkInto hard-links oldRoot/rel (a whole subtree for a folder) to
// root/rel, creating the missing parents with the old tree's modes.
func linkInto(oldRoot, root, rel string) error {
	var parents []string
	for p := path.Dir(rel); p != "."; p = path.Dir(p) {
		parents = append([]string{p}, parents...)
	}
	for _, p := range parents {
		dst := filepath.Join(root, filepath.FromSlash(p))
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		st, err := os.Stat(filepath.Join(oldRoot, filepath.FromSlash(p)))
		if err != nil {
			return fmt.Errorf("failed to read %q of the previous install: %w", p, err)
		}
		if err := inWritableDir(filepath.Dir(dst), func() error { return os.Mkdir(dst, st.Mode().Perm()|0o700) }); err != nil {
			return fmt.Errorf("failed to create %q: %w", dst, err)
		}
		defer os.Chmod(dst, st.Mode().Perm())
	}
	src := filepath.Join(oldRoot, filepath.FromSlash(rel))
	dst := filepath.Join(root, filepath.FromSlash(rel))
	return inWritableDir(filepath.Dir(dst), func() error { return linkTree(src, dst) })
}

// linkTree recreates the folder src at dst with every non-folder hard-linked.
func linkTree(src, dst string) error {
	st, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("failed to read %q: %w", src, err)
	}
	if !st.IsDir() {
		if err := os.Link(src, dst); err != nil {
			hint := "the upgrade hard-links what it keeps (nothing is copied); run it as the owner of that file or as root"
			if errors.Is(err, unix.EXDEV) {
				hint = "a file system is mounted inside the install: unmount it, upgrade, and mount it again"
			}
			return &refusal{msg: fmt.Sprintf("cannot carry %q into the new tree: %v; nothing was changed", src, err), hint: hint}
		}
		return nil
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		return fmt.Errorf("failed to create %q: %w", dst, err)
	}
	names, err := readDirNames(src)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := linkTree(filepath.Join(src, n), filepath.Join(dst, n)); err != nil {
			return err
		}
	}
	if err := os.Chmod(dst, st.Mode().Perm()); err != nil {
		return fmt.Errorf("failed to set mode of %q: %w", dst, err)
	}
	return os.Chtimes(dst, st.ModTime(), st.ModTime())
}

// inWritableDir runs fn with dir made owner-writable for the time being (the
// new tree already has the payload's folder modes, some read-only).
func inWritableDir(dir string, fn func() error) error {
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm()&0o200 != 0 {
		return fn()
	}
	if err := os.Chmod(dir, st.Mode().Perm()|0o200); err != nil {
		return err
	}
	defer os.Chmod(dir, st.Mode().Perm())
	return fn()
}
