package iso

import (
	"bytes"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kdomanski/iso9660"
)

var testTime = time.Date(2024, 5, 17, 12, 34, 56, 0, time.UTC)

// requireTools skips the test, saying why, when a tool is not installed.
func requireTools(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			t.Skipf("%s not installed (apt-get install -y xorriso genisoimage p7zip-full fuseiso): %v", name, err)
		}
	}
}

// run runs a tool, fails the test if it exits non-zero and returns its
// combined output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// xorriso runs xorriso and fails on any complaint it prints.
func xorriso(t *testing.T, args ...string) string {
	t.Helper()
	out := run(t, "xorriso", args...)
	for _, bad := range []string{"WARNING", "SORRY", "FAILURE", "FATAL", "MISHAP"} {
		if strings.Contains(out, bad) {
			t.Fatalf("xorriso %s reported %s:\n%s", strings.Join(args, " "), bad, out)
		}
	}
	return out
}

// pattern returns n deterministic pseudo-random bytes.
func pattern(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 42))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// fileEntry is an in-memory regular file.
func fileEntry(path string, mode fs.FileMode, data []byte) Entry {
	return Entry{Path: path, Mode: mode, Size: int64(len(data)), Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}

// content returns the data of an in-memory entry.
func content(t *testing.T, e Entry) []byte {
	t.Helper()
	if e.Open == nil {
		return nil
	}
	rc, err := e.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeImage writes entries to an image file in a temporary directory.
func writeImage(t *testing.T, opts Options, entries []Entry) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.iso")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := Write(f, opts, entries); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkTree compares a directory tree on disk with the entries: file
// contents, permissions, symlink targets and directories. withModes is
// false for Joliet views, which carry no permissions.
func checkTree(t *testing.T, root string, entries []Entry, withModes bool) {
	t.Helper()
	for _, e := range entries {
		p := filepath.Join(root, filepath.FromSlash(e.Path))
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%q missing: %v", e.Path, err)
			continue
		}
		switch {
		case e.Mode&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil || target != e.Target {
				t.Errorf("symlink %q: target %q, %v; want %q", e.Path, target, err, e.Target)
			}
			continue
		case e.Mode.IsDir():
			if !fi.IsDir() {
				t.Errorf("%q is %v, want a directory", e.Path, fi.Mode())
			}
		default:
			got, err := os.ReadFile(p)
			if err != nil {
				t.Errorf("%q: %v", e.Path, err)
			} else if !bytes.Equal(got, content(t, e)) {
				t.Errorf("%q: content differs (%d bytes, want %d)", e.Path, len(got), e.Size)
			}
		}
		if withModes && fi.Mode().Perm() != e.Mode.Perm() {
			t.Errorf("%q: mode %v, want %v", e.Path, fi.Mode().Perm(), e.Mode.Perm())
		}
	}
}

// readWithKdomanski reads every file of the image's Rock Ridge view with
// the independent github.com/kdomanski/iso9660 reader. It returns file
// contents and modes by path; directories map to nil content.
func readWithKdomanski(t *testing.T, image string) (map[string][]byte, map[string]fs.FileMode) {
	t.Helper()
	f, err := os.Open(image)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := iso9660.OpenImage(f)
	if err != nil {
		t.Fatalf("iso9660.OpenImage: %v", err)
	}
	root, err := img.RootDir()
	if err != nil {
		t.Fatalf("RootDir: %v", err)
	}
	files := map[string][]byte{}
	modes := map[string]fs.FileMode{}
	var walk func(dir *iso9660.File, prefix string)
	walk = func(dir *iso9660.File, prefix string) {
		children, err := dir.GetChildren()
		if err != nil {
			t.Fatalf("GetChildren %q: %v", prefix, err)
		}
		for _, c := range children {
			p := prefix + c.Name()
			modes[p] = c.Mode()
			if c.IsDir() {
				files[p] = nil
				walk(c, p+"/")
				continue
			}
			b, err := io.ReadAll(c.Reader())
			if err != nil {
				t.Fatalf("reading %q: %v", p, err)
			}
			files[p] = b
		}
	}
	walk(root, "")
	return files, modes
}

// lines returns the non-empty lines of s that contain sub.
func lines(s, sub string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" && strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}
