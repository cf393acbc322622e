package main

// Deciding, entry by entry, what of an earlier install an upgrade keeps.
// Config files follow dpkg's conffile rule, kept data (keep: globs) and
// files the customer added move into the new tree, installed files the
// customer changed are refused unless --discard-changes or --repair says
// what to do. What the customer changed is the installed-tree classifier's
// answer (installedtree.go).

import (
	"archive/tar"
	"context"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/terrapack/terrapack/payload"
)

// besideSuffix names the new version of a config file the customer changed.
const besideSuffix = ".terrapack-new"

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
func (r rules) conflicts(t *installedTree) []string {
	var out []string
	for _, e := range t.entries {
		if e.changed() && !e.info.IsDir() && !payload.MatchAny(r.config, e.rel) && !underGlobs(r.keep, e.rel) {
			out = append(out, e.rel)
		}
	}
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

// file is the record of a regular entry's content (through hard links).
func (t newTree) file(rel string) payload.Record {
	r, _ := recordSet(t).content(rel)
	return r
}

func (t newTree) isFile(rel string) bool {
	r, ok := t[rel]
	return ok && (r.Type == tar.TypeReg || r.Type == tar.TypeLink)
}

// plan decides, entry by entry, what the upgrade carries and fills res.
func (r rules) plan(prev *previous, nw newTree, sameInstaller bool, res *result) (*upgradePlan, error) {
	pl := &upgradePlan{}
	carried := "" // a subtree linked whole: its entries need no step
	for _, e := range prev.tree.entries {
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
				res.Data.Files += e.files
			}
		case !e.installed() || (e.rec.Type != tar.TypeDir && isDir):
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
		case !e.changed() && strings.HasSuffix(e.rel, besideSuffix):
			continue // the new version an earlier upgrade put beside, untouched
		case payload.MatchAny(r.config, e.rel):
			switch {
			case !e.changed() && inNew:
				res.Config.Replaced = append(res.Config.Replaced, e.rel)
			case !e.changed():
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
		case e.changed() && r.repair:
			// The customer's version goes aside; the installed one comes back.
			step.link, step.aside = true, true
			res.Repaired = append(res.Repaired, e.rel)
			res.Added.SetAside = append(res.Added.SetAside, e.rel)
		case e.changed():
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
	for _, name := range prev.tree.missing {
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
// Content and mode tell versions apart: a chmod is a change.
func (r rules) customerWins(prev *previous, e *treeEntry, nw newTree, step *carry) (same bool, err error) {
	if !e.info.Mode().IsRegular() {
		step.beside = true
		return false, nil
	}
	// Read here for the first time only when kept data collides with a
	// file of the new version (compare read the rest).
	sum, err := prev.tree.sum(context.Background(), e)
	if err != nil {
		return false, err
	}
	theirs := fileVersion{string(sum), fileMode(e.info)}
	newer := versionIn(recordSet(nw), e.rel)
	installed := versionIn(prev.records, e.rel)
	switch {
	case theirs == newer:
		return true, nil
	case e.installed() && theirs == installed:
		return true, nil // untouched: the new version replaces it
	case e.installed() && newer == installed:
		step.dropNew = true // the vendor did not change it
	default:
		step.beside = true
	}
	return false, nil
}

// fileVersion is what tells two versions of a regular file apart.
type fileVersion struct {
	sum  string // SHA-256
	mode fs.FileMode
}

// versionIn is the version of the regular entry name of a list (the zero
// fileVersion, unlike any file's, when it lists none).
func versionIn(rs recordSet, name string) fileVersion {
	r, _ := rs.content(name)
	return fileVersion{string(r.SHA256), r.Mode}
}
