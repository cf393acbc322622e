package main

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/terrapack/terrapack/payload"
)

// fakeInstall writes a small install at root as the extractor and the
// record writer leave one: the files and .terrapack/files listing them.
func fakeInstall(t *testing.T, root string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	recs, err := newRecordWriter(root)
	must(err)
	dir := func(name string) {
		must(os.MkdirAll(filepath.Join(root, name), 0o755))
		recs.add(payload.Record{Name: name, Type: tar.TypeDir, Mode: 0o755})
	}
	file := func(name, content string, mode os.FileMode) {
		p := filepath.Join(root, name)
		must(os.WriteFile(p, []byte(content), mode))
		must(os.Chmod(p, mode))
		sum := sha256.Sum256([]byte(content))
		recs.add(payload.Record{Name: name, Type: tar.TypeReg, Mode: mode, Size: int64(len(content)), SHA256: sum[:]})
	}
	for _, d := range []string{"bin", "etc", "lib", "share", "share/doc", "var"} {
		dir(d)
	}
	file("bin/tool", "#!/bin/sh\necho tool\n", 0o755)
	file("bin/other", "#!/bin/sh\necho other\n", 0o755)
	file("etc/app.conf", "port=80\n", 0o644)
	file("lib/libx.so", "not really a library", 0o644)
	file("share/doc/README", "read me\n", 0o644)
	file("share/gone", "to be deleted\n", 0o644)
	file("var/db", "vendor's seed data\n", 0o644)
	must(os.Link(filepath.Join(root, "share/doc/README"), filepath.Join(root, "share/README.hard")))
	recs.add(payload.Record{Name: "share/README.hard", Type: tar.TypeLink, Link: "share/doc/README"})
	must(os.Symlink("doc/README", filepath.Join(root, "share/README.link")))
	recs.add(payload.Record{Name: "share/README.link", Type: tar.TypeSymlink, Mode: 0o777, Link: "doc/README"})
	must(recs.close())
	must(os.WriteFile(filepath.Join(root, payload.MetaDir, "manifest.json"), []byte(`{"format":1,"name":"x"}`), 0o644))
}

// customerChanges does to the fake install what customers do.
func customerChanges(t *testing.T, root string) {
	t.Helper()
	p := func(name string) string { return filepath.Join(root, name) }
	for _, err := range []error{
		os.Chmod(p("bin/tool"), 0o700),                                    // mode only
		os.Chmod(p("bin/other"), 0o755|os.ModeSetuid),                     // setuid added
		os.WriteFile(p("etc/app.conf"), []byte("port=81\n"), 0o644),       // content, same size
		os.Remove(p("lib/libx.so")),                                       // replaced by a link
		os.Symlink("/etc/hostname", p("lib/libx.so")),                     //
		os.Remove(p("share/README.link")),                                 // retargeted
		os.Symlink("/etc/passwd", p("share/README.link")),                 //
		os.Remove(p("share/doc/README")),                                  // replaced by a folder
		os.Mkdir(p("share/doc/README"), 0o755),                            //
		os.WriteFile(p("share/doc/README/notes"), []byte("mine"), 0o644),  //
		os.Remove(p("share/gone")),                                        // deleted
		os.WriteFile(p("share/mine.txt"), []byte("mine"), 0o644),          // added
		os.WriteFile(p("var/db"), []byte("the customer's data\n"), 0o600), // kept data
		os.WriteFile(p(".terrapack/notes"), []byte("mine"), 0o644),        // beside the records
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func states(tree *installedTree) map[string]entryState {
	m := map[string]entryState{}
	for _, e := range tree.entries {
		m[e.rel] = e.state
	}
	return m
}

// TestClassifierRule: one rule for every caller — type, mode, size and
// content (a symlink's target) decide; a chmod, setuid included, is a
// change; a hard link is judged by its source's record even when the source
// is gone; keep: data is the customer's and not compared.
func TestClassifierRule(t *testing.T) {
	root := t.TempDir()
	fakeInstall(t, root)
	customerChanges(t, root)
	for _, enterAdded := range []bool{false, true} {
		recs, err := readRecords(root)
		if err != nil {
			t.Fatal(err)
		}
		tree, err := scanInstalled(context.Background(), root, newRecordSet(recs), []string{"var/**"}, enterAdded)
		if err != nil {
			t.Fatal(err)
		}
		if got := states(tree)["share/README.hard"]; got != unread {
			t.Errorf("before compare, an untouched file is %v, want unread", got)
		}
		if err := tree.compare(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := map[string]entryState{
			"bin": asInstalled, "etc": asInstalled, "lib": asInstalled, "share": asInstalled, "share/doc": asInstalled,
			"bin/tool":          changed,
			"bin/other":         changed,
			"etc/app.conf":      changed,
			"lib/libx.so":       changed,
			"share/README.link": changed,
			"share/doc/README":  changed,
			"share/README.hard": asInstalled,
			"share/mine.txt":    notListed,
			"var":               keptData,
			"var/db":            keptData,
		}
		if enterAdded {
			want["share/doc/README/notes"] = notListed
		}
		if got := states(tree); !reflect.DeepEqual(got, want) {
			t.Errorf("enterAdded=%v: states\n got %v\nwant %v", enterAdded, got, want)
		}
		if !reflect.DeepEqual(tree.missing, []string{"share/gone"}) || !reflect.DeepEqual(tree.metaExtra, []string{".terrapack/notes"}) {
			t.Errorf("missing %v, beside the records %v", tree.missing, tree.metaExtra)
		}
		for _, e := range tree.entries {
			if e.rel == "var/db" && e.sum != nil {
				t.Error("keep: data was read")
			}
			if e.rel == "share/doc/README" && enterAdded && e.files != 1 {
				t.Errorf("the folder that replaced a file holds %d files as walked, want 1", e.files)
			}
		}
	}
}

// TestClassifierUnchangedTree: an install nobody touched is all as installed.
func TestClassifierUnchangedTree(t *testing.T) {
	root := t.TempDir()
	fakeInstall(t, root)
	tree, err := classifyInstall(context.Background(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tree.entries {
		if e.state != asInstalled {
			t.Errorf("%s: %v", e.rel, e.state)
		}
	}
	if r := removalOf(tree); len(r.kept) != 0 || len(r.remove) != len(tree.entries) {
		t.Errorf("kept %v, remove %d of %d", r.kept, len(r.remove), len(tree.entries))
	}
}

// TestRemovalKeepsCustomersWork: what an uninstall removes and lists.
func TestRemovalKeepsCustomersWork(t *testing.T) {
	root := t.TempDir()
	fakeInstall(t, root)
	customerChanges(t, root)
	tree, err := classifyInstall(context.Background(), root, []string{"var/**"})
	if err != nil {
		t.Fatal(err)
	}
	r := removalOf(tree)
	want := []string{".terrapack/notes", "bin/other", "bin/tool", "etc/app.conf", "lib/libx.so", "share/README.link", "share/doc/README/", "share/mine.txt", "var/db"}
	if !reflect.DeepEqual(r.kept, want) {
		t.Errorf("kept\n got %v\nwant %v", r.kept, want)
	}
	var removed []string
	for _, rec := range r.remove {
		removed = append(removed, rec.Name)
	}
	if got := strings.Join(removed, " "); got != "bin etc lib share share/README.hard share/doc" {
		t.Errorf("removed %s", got)
	}
	gone, err := removePlanned(context.Background(), r)
	if err != nil || gone {
		t.Fatalf("removePlanned: gone %v, %v", gone, err)
	}
	for _, k := range []string{"bin/tool", "share/doc/README/notes", "var/db", "etc/app.conf"} {
		if _, err := os.Lstat(filepath.Join(root, k)); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "share/README.hard")); err == nil {
		t.Error("an unchanged hard link stayed")
	}
}

// TestScanKeptDataStopsAtTheFirstOtherFile: only a folder holding nothing
// but the vendor's data is taken in by an install.
func TestScanKeptDataStopsAtTheFirstOtherFile(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "var/db"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "var/db/x"), []byte("x"), 0o644)
	tree, err := scanKeptData(context.Background(), root, []string{"var/**"})
	if err != nil || len(tree.entries) != 3 || tree.entries[0].files != 1 {
		t.Fatalf("kept data only: %v, %+v", err, tree)
	}
	for _, other := range []string{"thesis.tex", ".terrapack/files"} {
		os.MkdirAll(filepath.Dir(filepath.Join(root, other)), 0o755)
		os.WriteFile(filepath.Join(root, other), []byte("x"), 0o644)
		if _, err := scanKeptData(context.Background(), root, []string{"var/**"}); err != errNotOnlyData {
			t.Errorf("with %s: %v, want errNotOnlyData", other, err)
		}
		os.Remove(filepath.Join(root, other))
	}
}
