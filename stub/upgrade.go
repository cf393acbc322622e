package main

// Upgrades: what of an earlier install is carried into the new tree. Config
// files follow dpkg's conffile rule, kept data (keep: globs) and files the
// customer added move into the new tree, installed files the customer
// changed are refused unless --discard-changes or --repair says what to do.
//
// Everything carried is hard-linked from the old tree into the new one
// before the commit: no byte is copied (gigabytes of data cost nothing) and,
// unlike a rename, the old tree stays whole until the commit rename, so a
// kill at any moment leaves either the old tree or the new one, complete.

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/terrapack/terrapack/payload"
	"golang.org/x/sys/unix"
)

// besideSuffix names the new version of a config file the customer changed.
const besideSuffix = ".terrapack-new"

// previous is the install found at the target, as its .terrapack/ records it.
type previous struct {
	root     string
	manifest *payload.Manifest
	sha256   string // of the installer that made it
	records  map[string]payload.Record
	license  string // SHA-256 of the license text accepted there, if any
}

func readPrevious(target string) (*previous, error) {
	meta := filepath.Join(target, payload.MetaDir)
	mb, err := os.ReadFile(filepath.Join(meta, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("failed to read the install record of %q: %w", target, err)
	}
	m, err := payload.ParseManifest(mb)
	if err != nil {
		return nil, fmt.Errorf("install record of %q is unreadable: %w", target, err)
	}
	prev := &previous{root: target, manifest: m, records: map[string]payload.Record{}}
	var info struct {
		SHA256 string `json:"installer_sha256"`
	}
	if b, err := os.ReadFile(filepath.Join(meta, "install.json")); err == nil {
		json.Unmarshal(b, &info) // an unreadable one only means "not the same installer"
	}
	prev.sha256 = info.SHA256
	prev.license = readAcceptance(meta)
	recs, err := readRecords(target)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		prev.records[r.Name] = r
	}
	return prev, nil
}

// oldEntry is one entry of the previous tree with what the customer did to it.
type oldEntry struct {
	rel       string
	info      fs.FileInfo
	installed bool // listed in .terrapack/files
	rec       payload.Record
	changed   bool // installed, and its content, type or link differs
	sum       []byte
}

// survey walks the previous tree and finds what the customer changed. Kept
// data is not hashed unless it collides with the new version (see hashOf).
func (prev *previous) survey(keep []string) ([]*oldEntry, error) {
	var entries []*oldEntry
	err := filepath.WalkDir(prev.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("failed to read the previous install: %w", err)
		}
		rel, _ := filepath.Rel(prev.root, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if rel == payload.MetaDir {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("failed to read %q: %w", p, err)
		}
		e := &oldEntry{rel: rel, info: info}
		e.rec, e.installed = prev.records[rel]
		if e.installed && !underGlobs(keep, rel) {
			if e.changed, err = prev.differs(e); err != nil {
				return err
			}
		}
		entries = append(entries, e)
		return nil
	})
	return entries, err
}

// differs reports whether an installed entry is no longer what was installed.
func (prev *previous) differs(e *oldEntry) (bool, error) {
	mode := e.info.Mode()
	switch e.rec.Type {
	case tar.TypeDir:
		return !mode.IsDir(), nil
	case tar.TypeSymlink:
		if mode&fs.ModeSymlink == 0 {
			return true, nil
		}
		link, err := os.Readlink(filepath.Join(prev.root, e.rel))
		return err != nil || link != e.rec.Link, nil
	}
	if !mode.IsRegular() {
		return true, nil
	}
	want := e.rec.SHA256
	if e.rec.Type == tar.TypeLink {
		want = prev.records[e.rec.Link].SHA256
	}
	sum, err := prev.hashOf(e)
	if err != nil {
		return false, err
	}
	return !bytes.Equal(sum, want), nil
}

func (prev *previous) hashOf(e *oldEntry) ([]byte, error) {
	if e.sum != nil {
		return e.sum, nil
	}
	f, err := os.Open(filepath.Join(prev.root, e.rel))
	if err != nil {
		return nil, fmt.Errorf("failed to read %q of the previous install: %w", e.rel, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("failed to read %q of the previous install: %w", e.rel, err)
	}
	e.sum = h.Sum(nil)
	return e.sum, nil
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

// rules are the globs of both versions: a file the old version called config
// or data keeps that protection when the new version forgets it.
type rules struct {
	config, keep []string
	repair       bool // put back changed installed files (they go aside)
	discard      bool // replace changed installed files
}

func newRules(m *payload.Manifest, prev *previous, o options) rules {
	return rules{
		config:  append(append([]string{}, m.Config...), prev.manifest.Config...),
		keep:    append(append([]string{}, m.Keep...), prev.manifest.Keep...),
		repair:  o.repair,
		discard: o.discard,
	}
}

// conflicts lists the installed files the customer changed that no rule
// keeps: the new version would overwrite or drop them.
func (r rules) conflicts(entries []*oldEntry) []string {
	var out []string
	for _, e := range entries {
		if e.changed && !e.info.IsDir() && !payload.MatchAny(r.config, e.rel) && !underGlobs(r.keep, e.rel) {
			out = append(out, e.rel)
		}
	}
	return out
}

// missing lists the installed entries no longer in the tree, sorted.
func (prev *previous) missing(entries []*oldEntry) []string {
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		seen[e.rel] = true
	}
	var out []string
	for name := range prev.records {
		if !seen[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// carry is one step that puts something of the old tree into the new one.
type carry struct {
	rel     string
	aside   bool // into the aside folder instead of the new tree
	beside  bool // first move the new version to rel + besideSuffix
	dropNew bool // first remove the new version (the old one replaces it)
	link    bool // then link the old entry (subtree) at rel
}

// upgradePlan is what an upgrade does with the previous tree.
type upgradePlan struct {
	steps []carry
}

// newTree is what the payload installs: entry name -> record.
type newTree map[string]payload.Record

// newEntries gathers what the payload installs while it streams in. Only an
// upgrade compares the new tree with the old one and needs every record; a
// fresh install keeps the count and the config files alone, so that its
// memory does not grow with the tree (CPython's 54,804 records held 11 MiB
// and kept the garbage collector busy near the heap limit).
type newEntries struct {
	tree   newTree // every record, for an upgrade; nil for a fresh install
	config []string
	count  int
	m      *payload.Manifest
}

func (up *upgrade) newEntries() *newEntries {
	n := &newEntries{m: up.m}
	if up.prev != nil {
		n.tree = newTree{}
	}
	return n
}

func (n *newEntries) add(r payload.Record) {
	n.count++
	if n.tree != nil {
		n.tree[r.Name] = r
	}
	if (r.Type == tar.TypeReg || r.Type == tar.TypeLink) && payload.MatchAny(n.m.Config, r.Name) {
		n.config = append(n.config, r.Name)
	}
}

func (t newTree) isDir(rel string) bool {
	if rel == "." {
		return true
	}
	r, ok := t[rel]
	return ok && r.Type == tar.TypeDir
}

// sum is the content hash of a regular entry (through hard links).
func (t newTree) sum(rel string) []byte {
	r := t[rel]
	if r.Type == tar.TypeLink {
		r = t[r.Link]
	}
	return r.SHA256
}

func (t newTree) isFile(rel string) bool {
	r, ok := t[rel]
	return ok && (r.Type == tar.TypeReg || r.Type == tar.TypeLink)
}

// plan decides, entry by entry, what the upgrade carries and fills res.
func (r rules) plan(prev *previous, entries []*oldEntry, nw newTree, sameInstaller bool, res *result) (*upgradePlan, error) {
	pl := &upgradePlan{}
	carried := "" // a subtree linked whole: its entries need no step
	for _, e := range entries {
		if carried != "" && strings.HasPrefix(e.rel, carried+"/") {
			continue
		}
		step := carry{rel: e.rel}
		_, inNew := nw[e.rel]
		isDir := e.info.IsDir()
		switch {
		case underGlobs(r.keep, e.rel):
			if isDir && nw.isDir(e.rel) {
				continue // both have the folder: its entries decide
			}
			if inNew && !isDir && nw.isFile(e.rel) {
				same, err := r.customerWins(prev, e, nw, &step)
				if err != nil {
					return nil, err
				}
				if same {
					continue
				}
			} else if inNew {
				step.aside = true // the new version has something else there
			}
			step.link = true
			if !step.aside {
				res.Data.Moved = append(res.Data.Moved, e.rel)
				res.Data.Files += countFiles(filepath.Join(prev.root, e.rel), e.info)
			}
		case !e.installed || (e.rec.Type != tar.TypeDir && isDir):
			if isDir && nw.isDir(e.rel) {
				continue
			}
			if inNew && !isDir && nw.isFile(e.rel) && payload.MatchAny(r.config, e.rel) {
				// The customer made a file the new version ships as config:
				// theirs stays, the new one goes beside.
				same, err := r.customerWins(prev, e, nw, &step)
				if err != nil {
					return nil, err
				}
				if !same {
					step.link = true
					res.Config.Kept = append(res.Config.Kept, e.rel)
				}
				break
			}
			step.link = true
			if inNew || !nw.isDir(path.Dir(e.rel)) {
				step.aside = true
				res.Added.SetAside = append(res.Added.SetAside, e.rel)
			} else {
				res.Added.Carried = append(res.Added.Carried, e.rel)
			}
		case isDir:
			continue // an installed folder: its entries decide
		case !e.changed && strings.HasSuffix(e.rel, besideSuffix):
			continue // the new version an earlier upgrade put beside, untouched
		case payload.MatchAny(r.config, e.rel):
			switch {
			case !e.changed && inNew:
				res.Config.Replaced = append(res.Config.Replaced, e.rel)
			case !e.changed:
				res.Config.Removed = append(res.Config.Removed, e.rel)
			case !inNew || !nw.isFile(e.rel):
				step.link = true
				step.aside = inNew
				res.Config.Kept = append(res.Config.Kept, e.rel)
			default:
				same, err := r.customerWins(prev, e, nw, &step)
				if err != nil {
					return nil, err
				}
				if same {
					res.Config.Replaced = append(res.Config.Replaced, e.rel)
				} else {
					step.link = true
					res.Config.Kept = append(res.Config.Kept, e.rel)
				}
			}
		case e.changed && r.repair:
			// The customer's version goes aside; the installed one comes back.
			step.link, step.aside = true, true
			res.Repaired = append(res.Repaired, e.rel)
			res.Added.SetAside = append(res.Added.SetAside, e.rel)
		case e.changed:
			// Refused before extraction unless --discard-changes.
			res.Conflicts = append(res.Conflicts, e.rel)
		default:
			continue
		}
		if step.link && isDir {
			carried = e.rel
		}
		if step.link || step.beside || step.dropNew {
			pl.steps = append(pl.steps, step)
		}
	}
	for _, name := range prev.missing(entries) {
		rec := prev.records[name]
		switch {
		case rec.Type == tar.TypeReg && payload.MatchAny(r.config, name) && nw.isFile(name):
			// dpkg's rule: a config file the customer deleted stays deleted.
			pl.steps = append(pl.steps, carry{rel: name, beside: true})
			res.Config.Kept = append(res.Config.Kept, name)
			res.Config.Beside = append(res.Config.Beside, name)
		case sameInstaller && !underGlobs(r.keep, name):
			if _, ok := nw[name]; ok {
				res.Repaired = append(res.Repaired, name)
			}
		}
	}
	for _, s := range pl.steps {
		if s.beside && s.link {
			res.Config.Beside = append(res.Config.Beside, s.rel)
		}
	}
	sort.Strings(res.Config.Beside)
	sort.Strings(res.Config.Kept)
	return pl, nil
}

// customerWins sets step for an old file at a path where the new version
// also has a file: the customer's stays; the new one is dropped when the
// vendor did not change it, else written beside. same is true when both are
// alike (or the customer did not touch it), so the new one simply stays.
func (r rules) customerWins(prev *previous, e *oldEntry, nw newTree, step *carry) (same bool, err error) {
	if !e.info.Mode().IsRegular() {
		step.beside = true
		return false, nil
	}
	cur, err := prev.hashOf(e)
	if err != nil {
		return false, err
	}
	newSum := nw.sum(e.rel)
	recorded := e.rec.SHA256
	if e.rec.Type == tar.TypeLink {
		recorded = prev.records[e.rec.Link].SHA256
	}
	switch {
	case bytes.Equal(cur, newSum):
		return true, nil
	case e.installed && bytes.Equal(cur, recorded):
		return true, nil // untouched: the new version replaces it
	case e.installed && bytes.Equal(newSum, recorded):
		step.dropNew = true // the vendor did not change it
	default:
		step.beside = true
	}
	return false, nil
}

// countFiles counts the non-folders in the subtree at p.
func countFiles(p string, info fs.FileInfo) int {
	if !info.IsDir() {
		return 1
	}
	n := 0
	filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// countChanges fills res.Counts' new, replaced and removed entries.
func countChanges(prev *previous, nw newTree, res *result) {
	for name := range nw {
		if _, ok := prev.records[name]; ok {
			res.Counts.Replaced++
		} else {
			res.Counts.New++
		}
	}
	for name := range prev.records {
		if _, ok := nw[name]; !ok {
			res.Counts.Removed++
		}
	}
}

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
				rec := nw[s.rel]
				if rec.Type == tar.TypeLink {
					rec.SHA256, rec.Type, rec.Link = nw.sum(s.rel), tar.TypeReg, ""
				}
				rec.Name += besideSuffix
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

// upgrade is what install knows about the earlier install at the target.
type upgrade struct {
	prev       *previous // nil for a fresh install
	entries    []*oldEntry
	rules      rules
	m          *payload.Manifest
	noneReason string // why nothing is to be done (res.Action "none")
}

// prepareUpgrade reads the earlier install, refuses what would lose the
// customer's work, and sets res.Action: install, upgrade, repair, or none
// when the identical installer finds its own install intact.
func prepareUpgrade(in *payload.Installer, o options, target string, state targetState, res *result) (*upgrade, error) {
	m := in.Manifest
	up := &upgrade{m: m}
	res.Action = "install"
	switch {
	case state == targetOther:
		prev, err := keptDataOnly(target, m)
		if err != nil || prev == nil {
			return nil, &refusal{
				msg:  fmt.Sprintf("target %q is not empty and was not made by a terrapack installer", target),
				hint: "choose a new or empty folder; --force only replaces earlier terrapack installs",
			}
		}
		// What an earlier --uninstall left of the vendor's keep: data moves
		// into this install.
		fmt.Fprintf(o.stderr, "%s holds only data an earlier install kept (%s): it moves into this install\n", target, strings.Join(m.Keep, " "))
		up.prev, up.rules = prev, rules{config: m.Config, keep: m.Keep}
		if up.entries, err = prev.survey(m.Keep); err != nil {
			return nil, err
		}
		return up, nil
	case state != targetOurs && o.repair:
		return nil, &refusal{msg: fmt.Sprintf("nothing to repair: %q holds no install", target), hint: "install it first (without --repair)"}
	case state != targetOurs:
		return up, nil
	}
	if err := checkOwnInstall(target, m.Name); err != nil {
		return nil, err
	}
	if p, err := recoverAside(target); err != nil {
		return nil, err
	} else if p != "" {
		fmt.Fprintf(o.stderr, "moved the files an interrupted upgrade set aside to %s\n", p)
	}
	prev, err := readPrevious(target)
	if err != nil {
		return nil, err
	}
	up.prev = prev
	res.PreviousVersion = prev.manifest.Version
	res.Action = "upgrade"
	if o.repair {
		res.Action = "repair"
	}
	same := prev.sha256 == in.Trailer.Checksum()
	switch {
	case prev.manifest.Name != m.Name:
		return nil, &refusal{
			msg:  fmt.Sprintf("target %q holds %s, not %s", target, prev.manifest.Name, m.Name),
			hint: "choose another --to; an install is only upgraded by an installer of the same name",
		}
	case !o.force && !o.repair:
		return nil, &refusal{
			msg:  fmt.Sprintf("target %q already holds an install (%s %s)", target, prev.manifest.Name, prev.manifest.Version),
			hint: "use --force to upgrade or replace it (atomically; config you changed, kept data and files you added are carried over), or choose another --to",
		}
	case o.repair && !same:
		return nil, &refusal{
			msg:  fmt.Sprintf("--repair needs the installer that made the install in %q (sha256 %s)", target, prev.sha256),
			hint: "run that installer with --repair, or this one with --force to upgrade",
		}
	}
	up.rules = newRules(m, prev, o)
	if up.entries, err = prev.survey(up.rules.keep); err != nil {
		return nil, err
	}
	if same {
		// The identical payload installs exactly what the records say.
		scratch := newResult()
		if _, err := up.rules.plan(prev, up.entries, newTree(prev.records), true, scratch); err != nil {
			return nil, err
		}
		if len(scratch.Repaired) == 0 && len(up.rules.conflicts(up.entries)) == 0 {
			res.Action = "none"
			up.noneReason = fmt.Sprintf("already installed: %s %s in %s is intact; nothing rewritten", m.Name, m.Version, target)
			if o.repair {
				up.noneReason = fmt.Sprintf("nothing to repair: %s %s in %s is intact", m.Name, m.Version, target)
			}
			return up, nil
		}
	}
	if c := up.rules.conflicts(up.entries); len(c) > 0 && !o.repair && !o.discard {
		res.Conflicts = c
		hint := "move your changes elsewhere and run again, or add --discard-changes to replace them with the new version"
		if same {
			hint = "--repair puts the installed versions back (yours go to a folder beside the install), or --discard-changes replaces them"
		}
		return nil, &refusal{
			msg:  fmt.Sprintf("you changed %d installed file(s) the new version would replace: %s", len(c), strings.Join(c, ", ")),
			hint: hint,
		}
	}
	return up, nil
}

// keptDataOnly returns the folder target as a previous install with nothing
// installed when all its files lie under m's keep: globs (what --uninstall
// leaves), else nil.
func keptDataOnly(target string, m *payload.Manifest) (*previous, error) {
	if len(m.Keep) == 0 {
		return nil, nil
	}
	only := true
	err := filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(target, p)
		if !d.IsDir() && !underGlobs(m.Keep, filepath.ToSlash(rel)) {
			only = false
			return filepath.SkipAll
		}
		return nil
	})
	if err != nil || !only {
		return nil, err
	}
	return &previous{root: target, manifest: &payload.Manifest{Name: m.Name}, records: map[string]payload.Record{}}, nil
}

// carryOver plans against the extracted new tree and carries what the
// customer keeps into it; besides records the new versions moved beside.
func (up *upgrade) carryOver(newRoot string, aside *asideFolder, nw *newEntries, besides func(payload.Record), res *result) error {
	countNew(up.m, nw, res)
	if up.prev == nil {
		return nil
	}
	pl, err := up.plan(nw.tree, res)
	if err != nil {
		return err
	}
	return pl.apply(up.prev.root, newRoot, aside, nw.tree, besides)
}

func (up *upgrade) plan(nw newTree, res *result) (*upgradePlan, error) {
	same := up.prev.sha256 == res.InstallerSHA256
	pl, err := up.rules.plan(up.prev, up.entries, nw, same, res)
	if err != nil {
		return nil, err
	}
	res.Counts.New = 0
	countChanges(up.prev, nw, res)
	var fresh []string
	for _, name := range res.Config.New {
		if _, ok := up.prev.records[name]; !ok {
			fresh = append(fresh, name)
		}
	}
	res.Config.New = fresh
	if res.Config.New == nil {
		res.Config.New = []string{}
	}
	return pl, nil
}

// countNew fills the counts of the new tree and lists its config files as new.
func countNew(m *payload.Manifest, nw *newEntries, res *result) {
	res.Counts.Files, res.Counts.Dirs, res.Counts.Symlinks, res.Counts.Hardlinks = m.Files, m.Dirs, m.Symlinks, m.Hardlinks
	res.Counts.Bytes = m.UnpackedSize
	res.Counts.New = nw.count
	res.Config.New = append(res.Config.New, nw.config...)
	sort.Strings(res.Config.New)
}

// hookEnv is what the post-install hook gets besides the environment.
func (up *upgrade) hookEnv(o options) hookInput {
	h := hookInput{args: o.hookArgs, output: o.stderr}
	if up.prev != nil {
		h.previousVersion, h.upgrade = up.prev.manifest.Version, true
	}
	return h
}
