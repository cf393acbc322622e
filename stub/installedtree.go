package main

// The one answer to "what did the customer do to this install?": every
// entry of an installed tree sorted against the installed-file list
// (.terrapack/files) into as installed, changed, added or the vendor's
// keep: data. --uninstall, --purge, the leftover check of an interrupted
// run and upgrades (--force, --repair) all decide on it.
//
// The rule, the same for all of them: an entry is as installed when its
// type, mode (permission bits, and no setuid, setgid or sticky bit, which
// the installer never sets), size and SHA-256 — for a symlink, its target —
// are what was installed. A chmod is a customer change like an edit: an
// uninstall keeps the file, an upgrade keeps it or refuses as it would for
// an edit. Folders are decided by what they hold; their own mode is not
// compared.

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/terrapack/terrapack/payload"
)

// entryState is what became of one entry of an installed tree.
type entryState uint8

const (
	asInstalled entryState = iota // listed, and type, mode, size and content (or link target) are as installed
	changed                       // listed, and one of those differs
	notListed                     // not listed: the customer's
	keptData                      // listed, under the vendor's keep: globs: the customer's to change, not compared
	unread                        // listed regular file of the right type, mode and size; compare reads it
)

// treeEntry is one entry of an installed tree (.terrapack/ aside).
type treeEntry struct {
	rel   string
	info  fs.FileInfo    // from lstat: links are never followed
	rec   payload.Record // what was installed at rel, if it is listed
	state entryState
	files int    // non-folders in its subtree as walked (1 for a non-folder)
	sum   []byte // SHA-256 of a regular file's content, once read
}

func (e *treeEntry) changed() bool { return e.state == changed }

// installed reports whether e is listed in .terrapack/files.
func (e *treeEntry) installed() bool { return e.state != notListed }

// installedTree is an install's tree, read once. entries lists every entry
// below root outside .terrapack/, parents before children, names sorted;
// mount points are listed apart and never entered.
type installedTree struct {
	root      string
	records   recordSet
	keep      []string
	entries   []*treeEntry
	mounts    []string // file systems mounted inside, never entered
	missing   []string // listed, no longer there, sorted
	metaExtra []string // what .terrapack/ holds besides the installer's records
	buf       []byte   // for reading files: one, as a buffer per file cost more than the hashing
}

// metaFiles are the installer's own records inside .terrapack/.
var metaFiles = map[string]bool{"files": true, "manifest.json": true, "install.json": true, acceptanceFile: true}

// recordSet is an installed-file list by name.
type recordSet map[string]payload.Record

func newRecordSet(recs []payload.Record) recordSet {
	rs := make(recordSet, len(recs))
	for _, r := range recs {
		rs[r.Name] = r
	}
	return rs
}

// content is the record whose mode, size and SHA-256 the regular entry name
// has: its own, or for a hard link its source's.
func (rs recordSet) content(name string) (payload.Record, bool) {
	r, ok := rs[name]
	if ok && r.Type == tar.TypeLink {
		r, ok = rs[r.Link]
	}
	return r, ok && r.Type == tar.TypeReg
}

// classifyInstall reads the installed-file list of the install at root and
// classifies its tree completely, as an uninstall needs it: a folder that is
// not as installed is kept whole, so it is not entered.
func classifyInstall(ctx context.Context, root string, keep []string) (*installedTree, error) {
	recs, err := readRecords(root)
	if err != nil {
		return nil, err
	}
	t, err := scanInstalled(ctx, root, newRecordSet(recs), keep, false)
	if err != nil {
		return nil, err
	}
	return t, t.compare(ctx)
}

// scanInstalled walks root once, without following symlinks or entering
// mounts, and settles every entry but the content of the listed regular
// files, which compare reads: a caller that may refuse on what the walk
// found (a mount inside) does so before reading gigabytes. Listed entries
// under keep (globs of the vendor's data) have their type checked only.
// enterAdded also walks the folders that are not as installed (the
// customer's, or one that replaced an installed file): an upgrade merges
// their entries with the new version's.
func scanInstalled(ctx context.Context, root string, records recordSet, keep []string, enterAdded bool) (*installedTree, error) {
	return walkTree(ctx, &installedTree{root: root, records: records, keep: keep}, treeWalk{enterAdded: enterAdded})
}

// errNotOnlyData stops scanKeptData at the first file outside the globs.
var errNotOnlyData = errors.New("not only the vendor's data")

// scanKeptData walks root, a folder that is no install, as scanInstalled
// would with nothing listed, and stops with errNotOnlyData at the first
// non-folder outside keep (or in .terrapack/): only a folder that holds
// nothing but what an --uninstall kept of the vendor's data is taken in.
func scanKeptData(ctx context.Context, root string, keep []string) (*installedTree, error) {
	return walkTree(ctx, &installedTree{root: root, records: recordSet{}, keep: keep}, treeWalk{enterAdded: true, dataOnly: true})
}

func walkTree(ctx context.Context, t *installedTree, w treeWalk) (*installedTree, error) {
	mc, err := newMountCheck(t.root)
	if err != nil {
		return nil, err
	}
	w.t, w.mc, w.seen = t, mc, make(map[string]bool, len(t.records))
	if err := w.dir(ctx, "", false); err != nil {
		return nil, err
	}
	for name := range t.records {
		if !w.seen[name] && !t.underMount(name) {
			t.missing = append(t.missing, name)
		}
	}
	sort.Strings(t.missing)
	return t, nil
}

type treeWalk struct {
	t          *installedTree
	mc         *mountCheck
	enterAdded bool // see scanInstalled
	dataOnly   bool // see scanKeptData
	seen       map[string]bool
	nonDirs    int // entries so far that are not folders
}

// dir walks the folder rel; inMeta is true inside .terrapack/, which is
// only looked through for mounts.
func (w *treeWalk) dir(ctx context.Context, rel string, inMeta bool) error {
	names, err := readDirNames(filepath.Join(w.t.root, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := path.Join(rel, n)
		info, mounted, err := w.mc.lstat(w.t.abs(name))
		switch {
		case err != nil:
			return err
		case mounted:
			w.t.mounts = append(w.t.mounts, name)
			continue
		case w.dataOnly && !info.IsDir() && (inMeta || !underGlobs(w.t.keep, name)):
			return errNotOnlyData
		case rel == "" && n == payload.MetaDir && info.IsDir():
			if err := w.dir(ctx, name, true); err != nil {
				return err
			}
			continue
		case inMeta:
			if rel == payload.MetaDir && !metaFiles[n] {
				w.t.metaExtra = append(w.t.metaExtra, name)
			}
			if info.IsDir() {
				if err := w.dir(ctx, name, true); err != nil {
					return err
				}
			}
			continue
		}
		e := &treeEntry{rel: name, info: info}
		rec, listed := w.t.records[name]
		e.rec, w.seen[name] = rec, listed
		e.state = w.t.state(e, listed)
		w.t.entries = append(w.t.entries, e)
		if !info.IsDir() {
			e.files = 1
			w.nonDirs++
			continue
		}
		if !w.enterAdded && (e.state == notListed || e.state == changed) {
			continue
		}
		before := w.nonDirs
		if err := w.dir(ctx, name, false); err != nil {
			return err
		}
		e.files = w.nonDirs - before
	}
	return nil
}

// state settles e as far as its lstat and link target tell.
func (t *installedTree) state(e *treeEntry, listed bool) entryState {
	if !listed {
		return notListed
	}
	mode := e.info.Mode()
	var sameType bool
	switch e.rec.Type {
	case tar.TypeDir:
		sameType = mode.IsDir()
	case tar.TypeSymlink:
		sameType = mode&fs.ModeSymlink != 0
	default:
		sameType = mode.IsRegular()
	}
	switch {
	case !sameType:
		return changed
	case underGlobs(t.keep, e.rel):
		return keptData
	case e.rec.Type == tar.TypeDir:
		return asInstalled
	case e.rec.Type == tar.TypeSymlink:
		// One that cannot be read (gone since the lstat) is not as installed.
		if link, err := os.Readlink(t.abs(e.rel)); err != nil || link != e.rec.Link {
			return changed
		}
		return asInstalled
	}
	want, ok := t.records.content(e.rel)
	if !ok || fileMode(e.info) != want.Mode || e.info.Size() != want.Size {
		return changed
	}
	return unread
}

// fileMode is what of an entry's mode the rule compares with a record's.
func fileMode(info fs.FileInfo) fs.FileMode {
	return info.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}

// compare reads the listed regular files scanInstalled left unread and
// settles them by their SHA-256.
func (t *installedTree) compare(ctx context.Context) error {
	for _, e := range t.entries {
		if e.state != unread {
			continue
		}
		sum, err := t.sum(ctx, e)
		if err != nil {
			return err
		}
		want, _ := t.records.content(e.rel)
		e.state = changed
		if bytes.Equal(sum, want.SHA256) {
			e.state = asInstalled
		}
	}
	return nil
}

// sum is the SHA-256 of the regular file e, read once.
func (t *installedTree) sum(ctx context.Context, e *treeEntry) ([]byte, error) {
	if e.sum != nil {
		return e.sum, nil
	}
	f, err := os.Open(t.abs(e.rel))
	if err != nil {
		return nil, fmt.Errorf("failed to read %q to compare it with what was installed: %w", t.abs(e.rel), err)
	}
	defer f.Close()
	if t.buf == nil {
		t.buf = make([]byte, 256<<10)
	}
	h := sha256.New()
	if err := payload.CopyContext(ctx, h, f, t.buf); err != nil {
		return nil, fmt.Errorf("failed to read %q to compare it with what was installed: %w", t.abs(e.rel), err)
	}
	e.sum = h.Sum(nil)
	return e.sum, nil
}

func (t *installedTree) abs(rel string) string {
	return filepath.Join(t.root, filepath.FromSlash(rel))
}

// underMount reports whether name lies below a mount point.
func (t *installedTree) underMount(name string) bool {
	for _, m := range t.mounts {
		if strings.HasPrefix(name, m+"/") {
			return true
		}
	}
	return false
}

// underGlobs reports whether rel or one of its parents matches one of globs.
func underGlobs(globs []string, rel string) bool {
	if len(globs) == 0 {
		return false
	}
	for p := rel; p != "."; p = path.Dir(p) {
		if payload.MatchAny(globs, p) {
			return true
		}
	}
	return false
}

func readDirNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("failed to read %q: %w", dir, err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("failed to read %q: %w", dir, err)
	}
	sort.Strings(names)
	return names, nil
}
