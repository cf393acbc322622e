package payload

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// entry is one tar entry of a test payload; Body makes it a regular file.
type entry struct {
	Name, Link string
	Type       byte
	Mode       int64
	Body       string
}

func dir(name string) entry { return entry{Name: name, Type: tar.TypeDir, Mode: 0o755} }
func file(name, body string) entry {
	return entry{Name: name, Type: tar.TypeReg, Mode: 0o644, Body: body}
}
func link(name, target string) entry { return entry{Name: name, Type: tar.TypeSymlink, Link: target} }

func tarOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Linkname: e.Link, Size: int64(len(e.Body)), Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.Body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// modes are the three ways the extractor runs; each must give one verdict.
var modes = []struct {
	name          string
	dry, fallback bool
}{{"openat2", false, false}, {"os.Root", false, true}, {"dry run", true, false}}

// extractAll extracts data in every mode into root/<mode>/tree and returns
// the errors, failing if the modes disagree.
func extractAll(t *testing.T, root string, data []byte) error {
	t.Helper()
	var first error
	for i, m := range modes {
		tree := filepath.Join(root, m.name, "tree")
		if err := os.MkdirAll(tree, 0o755); err != nil {
			t.Fatal(err)
		}
		x := &Extractor{Root: tree, DryRun: m.dry, forceFallback: m.fallback}
		err := x.Extract(context.Background(), NewTarReader(bytes.NewReader(data)))
		if i == 0 {
			first = err
		} else if (err == nil) != (first == nil) {
			t.Fatalf("%s: %v, but %s: %v", m.name, err, modes[0].name, first)
		}
	}
	return first
}

func TestSymlinksLeavingThroughOtherLinksAreRefused(t *testing.T) {
	chain := []entry{dir("a")}
	prev := "a"
	for i := 0; i < 12; i++ {
		n := "l" + strings.Repeat("x", i)
		chain = append(chain, link(n, prev+"/.."))
		prev = n
	}
	for name, entries := range map[string][]entry{
		"up then up":          {dir("d"), link("d/up", ".."), link("esc", "d/up/..")},
		"later link":          {link("esc", "d/up/.."), dir("d"), link("d/up", "..")},
		"12-level chain":      chain,
		"absolute":            {link("abs", "/etc")},
		"through a link":      {dir("d"), link("d/self", "."), link("esc", "d/self/../..")},
		"link to an escaping": {link("a", "b"), link("b", "../x")},
		"dangling then up":    {link("l", "missing/../../x")},
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			err := extractAll(t, root, tarOf(t, entries...))
			var ee *EntryError
			if !errors.As(err, &ee) || !strings.Contains(err.Error(), "leads outside") && !strings.Contains(err.Error(), "absolute") {
				t.Fatalf("error %v, want a refusal", err)
			}
		})
	}
}

func TestSymlinksInsideAreKept(t *testing.T) {
	data := tarOf(t,
		dir("bin"), file("bin/app", "x"), dir("lib"),
		link("bin/current", "app"),
		link("lib/up", ".."),                // the root itself
		link("lib/via", "up/bin/../lib/up"), // a chain that stays
		link("dangling", "not/yet/made"),
		link("dangling-up", "missing/../bin"),
		link("loop-a", "loop-b"), link("loop-b", "loop-a"), // ELOOP inside the tree
		link("file-then-up", "bin/app/../.."), // ENOTDIR at bin/app
	)
	root := t.TempDir()
	if err := extractAll(t, root, data); err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(root, "openat2", "tree")
	if l, err := os.Readlink(filepath.Join(tree, "lib/via")); err != nil || l != "up/bin/../lib/up" {
		t.Fatalf("lib/via: %q, %v", l, err)
	}
}

func TestExtractKeepsModesTimesAndLinks(t *testing.T) {
	for _, m := range modes[:2] {
		t.Run(m.name, func(t *testing.T) {
			tree := t.TempDir()
			data := tarOf(t, entry{Name: "ro/", Type: tar.TypeDir, Mode: 0o555}, entry{Name: "ro/x", Type: tar.TypeReg, Mode: 0o600, Body: "secret"},
				entry{Name: "h", Type: tar.TypeLink, Link: "ro/x"})
			x := &Extractor{Root: tree, forceFallback: m.fallback}
			if err := x.Extract(context.Background(), NewTarReader(bytes.NewReader(data))); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(filepath.Join(tree, "ro"))
			if err != nil || st.Mode().Perm() != 0o555 {
				t.Fatalf("ro: %v %v", st.Mode(), err)
			}
			b, err := os.ReadFile(filepath.Join(tree, "h"))
			if err != nil || string(b) != "secret" {
				t.Fatalf("hard link: %q %v", b, err)
			}
			os.Chmod(filepath.Join(tree, "ro"), 0o755)
		})
	}
}

// FuzzExtract feeds arbitrary bytes as a tar stream: the extractor must
// never panic, and nothing may appear outside its root, in any mode.
func FuzzExtract(f *testing.F) {
	f.Add(tarOf(f, dir("d"), link("d/up", ".."), link("esc", "d/up/..")))
	f.Add(tarOf(f, link("l", "."), file("l/x", "y")))
	f.Add(tarOf(f, file("a", "b"), entry{Name: "h", Type: tar.TypeLink, Link: "../a"}))
	f.Add(tarOf(f, dir("a/b"), file("a/b/c", "d"), link("a/l", "b/c")))
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		outer := t.TempDir()
		for _, m := range modes {
			tree := filepath.Join(outer, m.name, "tree")
			if err := os.MkdirAll(tree, 0o755); err != nil {
				t.Fatal(err)
			}
			x := &Extractor{Root: tree, DryRun: m.dry, forceFallback: m.fallback}
			x.Extract(context.Background(), NewTarReader(bytes.NewReader(data)))
			makeWritable(tree)
			got, err := os.ReadDir(filepath.Join(outer, m.name))
			if err != nil || len(got) != 1 {
				t.Fatalf("%s: something was written beside the root: %v %v", m.name, got, err)
			}
		}
		entries, err := os.ReadDir(outer)
		if err != nil || len(entries) != len(modes) {
			t.Fatalf("something was written outside: %v %v", entries, err)
		}
	})
}

// makeWritable lets the test's cleanup remove read-only folders.
func makeWritable(root string) {
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
}
