package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/terrapack/terrapack/payload"
)

// treePlan sorts what an existing install holds against the list of what
// was installed there (.terrapack/files). It is what --uninstall and --force
// decide on: only Unchanged entries are ours to remove without asking.
type treePlan struct {
	root      string
	Unchanged []payload.Record // as installed: same type, mode, size, SHA-256 or link target
	Changed   []string         // installed, then modified or replaced
	Missing   []string         // installed, then deleted
	Added     []string         // not installed by us; a folder counts once, as "dir/"
	Mounts    []string         // a file system mounted inside; never entered
	Data      []string         // as installed, but held back as the vendor's keep: data
}

// holdBack moves the entries under globs (a folder with all it holds) from
// Unchanged to Data: an uninstall leaves the vendor's keep: data in place.
func (p *treePlan) holdBack(globs []string) {
	if len(globs) == 0 {
		return
	}
	var rest []payload.Record
	for _, r := range p.Unchanged {
		if underGlobs(globs, r.Name) {
			if r.Type != tar.TypeDir {
				p.Data = append(p.Data, r.Name)
			}
			continue
		}
		rest = append(rest, r)
	}
	p.Unchanged = rest
}

// kept lists, sorted, everything a removal must leave in place.
func (p *treePlan) kept() []string {
	var k []string
	k = append(k, p.Changed...)
	k = append(k, p.Added...)
	k = append(k, p.Data...)
	for _, m := range p.Mounts {
		k = append(k, m+" (mount point)")
	}
	sort.Strings(k)
	return k
}

// metaFiles are the installer's own records inside .terrapack/.
var metaFiles = map[string]bool{"files": true, "manifest.json": true, "install.json": true, acceptanceFile: true}

// planTree scans dir, an install whose installed-file list is in
// dir/.terrapack/files, without following symlinks or entering mounts.
func planTree(ctx context.Context, dir string) (*treePlan, error) {
	recs, err := readRecords(dir)
	if err != nil {
		return nil, err
	}
	mc, err := newMountCheck(dir)
	if err != nil {
		return nil, err
	}
	s := &planScan{
		plan: &treePlan{root: dir},
		recs: make(map[string]payload.Record, len(recs)),
		seen: make(map[string]bool, len(recs)),
		mc:   mc,
	}
	for _, r := range recs {
		s.recs[r.Name] = r
	}
	if err := s.dir(ctx, ""); err != nil {
		return nil, err
	}
	// A hard link is as installed when its content is still that of its
	// source, as installed (the source itself may be gone or changed).
	for _, r := range s.links {
		src, ok := s.recs[r.Link]
		abs := filepath.Join(dir, filepath.FromSlash(r.Name))
		same := false
		if fi, err := os.Lstat(abs); err == nil && ok {
			if same, err = sameFile(ctx, abs, fi, src); err != nil {
				return nil, err
			}
		}
		if same {
			s.plan.Unchanged = append(s.plan.Unchanged, r)
		} else {
			s.plan.Changed = append(s.plan.Changed, r.Name)
		}
	}
	for _, r := range recs {
		if !s.seen[r.Name] && !s.under(r.Name) {
			s.plan.Missing = append(s.plan.Missing, r.Name)
		}
	}
	sort.Strings(s.plan.Changed)
	sort.Strings(s.plan.Added)
	return s.plan, nil
}

type planScan struct {
	plan  *treePlan
	recs  map[string]payload.Record
	seen  map[string]bool
	links []payload.Record
	mc    *mountCheck
	skip  []string // folders not entered (added, changed or mounted)
}

// under reports whether name lies in a folder the scan did not enter, so
// that it is not also counted as missing.
func (s *planScan) under(name string) bool {
	for _, d := range s.skip {
		if strings.HasPrefix(name, d+"/") {
			return true
		}
	}
	return false
}

func (s *planScan) dir(ctx context.Context, rel string) error {
	abs := filepath.Join(s.plan.root, filepath.FromSlash(rel))
	names, err := readDirNames(abs)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := path.Join(rel, n)
		if err := s.entry(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

func (s *planScan) entry(ctx context.Context, name string) error {
	abs := filepath.Join(s.plan.root, filepath.FromSlash(name))
	st, mounted, err := s.mc.lstat(abs)
	if err != nil {
		return err
	}
	p := s.plan
	if mounted {
		p.Mounts = append(p.Mounts, name)
		s.skip = append(s.skip, name)
		s.seen[name] = true
		return nil
	}
	if name == payload.MetaDir && st.IsDir() {
		return s.meta(name)
	}
	rec, listed := s.recs[name]
	if !listed {
		if st.IsDir() {
			p.Added = append(p.Added, name+"/")
			s.skip = append(s.skip, name)
		} else {
			p.Added = append(p.Added, name)
		}
		return nil
	}
	s.seen[name] = true
	switch rec.Type {
	case tar.TypeDir:
		if !st.IsDir() {
			p.Changed = append(p.Changed, name)
			return nil
		}
		p.Unchanged = append(p.Unchanged, rec)
		return s.dir(ctx, name)
	case tar.TypeLink:
		if !st.Mode().IsRegular() {
			p.Changed = append(p.Changed, name)
			return nil
		}
		s.links = append(s.links, rec)
		return nil
	case tar.TypeSymlink:
		if st.Mode()&fs.ModeSymlink != 0 {
			if target, err := os.Readlink(abs); err == nil && target == rec.Link {
				p.Unchanged = append(p.Unchanged, rec)
				return nil
			}
		}
	default:
		same, err := sameFile(ctx, abs, st, rec)
		if err != nil {
			return err
		}
		if same {
			p.Unchanged = append(p.Unchanged, rec)
			return nil
		}
	}
	if st.IsDir() {
		p.Changed = append(p.Changed, name+"/")
		s.skip = append(s.skip, name)
		return nil
	}
	p.Changed = append(p.Changed, name)
	return nil
}

// meta sorts .terrapack/: the installer's own records are removed with the
// install (they are not in the list), anything else in it is kept.
func (s *planScan) meta(name string) error {
	names, err := readDirNames(filepath.Join(s.plan.root, name))
	if err != nil {
		return err
	}
	for _, n := range names {
		if !metaFiles[n] {
			s.plan.Added = append(s.plan.Added, path.Join(name, n))
		}
	}
	return nil
}

// sameFile reports whether the regular file at abs is as rec says it was
// installed: mode, size and SHA-256.
func sameFile(ctx context.Context, abs string, st fs.FileInfo, rec payload.Record) (bool, error) {
	if !st.Mode().IsRegular() || st.Mode().Perm() != rec.Mode.Perm() || st.Size() != rec.Size {
		return false, nil
	}
	f, err := os.Open(abs)
	if err != nil {
		return false, fmt.Errorf("failed to read %q to compare it with what was installed: %w", abs, err)
	}
	defer f.Close()
	h := sha256.New()
	if err := copyCtx(ctx, h, f); err != nil {
		return false, fmt.Errorf("failed to read %q to compare it with what was installed: %w", abs, err)
	}
	return bytes.Equal(h.Sum(nil), rec.SHA256), nil
}

// copyCtx copies src to dst, stopping early when ctx is done.
func copyCtx(ctx context.Context, dst io.Writer, src io.Reader) error {
	buf := make([]byte, 256<<10)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := src.Read(buf)
		dst.Write(buf[:n])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
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
