package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/terrapack/terrapack/payload"
)

// asideFolder gathers what has no place in the new tree. It is staged in
// the new tree's .terrapack/aside, so that a kill before the commit leaves
// nothing beside the install, and moved out to NAME.terrapack-kept (or -2,
// -3… when taken) after it; an install that finds a staged one left by a
// kill right after a commit moves it out first.
type asideFolder struct {
	staging string // NEW/.terrapack/aside
	parent  string
	base    string
	path    string // where it went, once published
	used    bool
}

const asideDir = "aside"

func newAsideFolder(newRoot, target string) *asideFolder {
	return &asideFolder{
		staging: filepath.Join(newRoot, payload.MetaDir, asideDir),
		parent:  filepath.Dir(target), base: filepath.Base(target),
	}
}

func (a *asideFolder) make() (string, error) {
	if !a.used {
		if err := os.Mkdir(a.staging, 0o755); err != nil {
			return "", fmt.Errorf("failed to create %q for the files that have no place in the new version: %w", a.staging, err)
		}
		a.used = true
	}
	return a.staging, nil
}

// publish moves the staged folder of the committed tree at target out beside it.
func (a *asideFolder) publish(target string) error {
	if !a.used {
		return nil
	}
	var err error
	a.path, err = publishAside(filepath.Join(target, payload.MetaDir, asideDir), a.parent, a.base)
	return err
}

// publishAside renames staged to the first free parent/base.terrapack-kept[-N].
func publishAside(staged, parent, base string) (string, error) {
	for i := 1; ; i++ {
		p := asideName(parent, base, i)
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		if err := os.Rename(staged, p); err != nil {
			return "", fmt.Errorf("failed to move the files set aside from %q to %q: %w", staged, p, err)
		}
		return p, nil
	}
}

func asideName(parent, base string, i int) string {
	p := filepath.Join(parent, base+".terrapack-kept")
	if i > 1 {
		p += fmt.Sprintf("-%d", i)
	}
	return p
}

// freeAsideName is the folder publish would pick now (for a dry run).
func freeAsideName(target string) string {
	for i := 1; ; i++ {
		if p := asideName(filepath.Dir(target), filepath.Base(target), i); !exists(p) {
			return p
		}
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// recoverAside moves out a staged aside folder that a kill right after the
// commit left in the install at target, before anything else touches it.
func recoverAside(target string) (string, error) {
	staged := filepath.Join(target, payload.MetaDir, asideDir)
	if !exists(staged) {
		return "", nil
	}
	return publishAside(staged, filepath.Dir(target), filepath.Base(target))
}
