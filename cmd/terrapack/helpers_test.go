package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terrapack/terrapack/builder"
)

// The tests drive the real binaries: the builder, compiled by TestMain into
// a temporary folder (never into the source tree), and the installers it
// writes. `make test` builds the stubs first, so the builder embeds them;
// without them it builds the stub once into a temporary cache, as a
// builder from `go install` does. Under `go test -cover` (`make cover`)
// the builder and the stubs it embeds are built with -cover too and write
// their counters beside this test binary's (GOCOVERDIR), so coverage counts
// the code the tests run in those processes.
var terrapackBin string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	root, err := filepath.Abs("../..")
	if err != nil {
		panic(err)
	}
	tmp, err := os.MkdirTemp("", "terrapack-cli-test-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	terrapackBin = filepath.Join(tmp, "terrapack")
	args := []string{"build", "-trimpath"}
	switch coverDir := testCoverDir(); {
	case coverDir != "":
		overlay, err := coveredStubs(root, tmp)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		args = append(args, "-cover", "-overlay", overlay)
		// Every process the tests start inherits it, installers run as
		// user nobody included.
		os.Setenv("GOCOVERDIR", coverDir)
		os.Chmod(coverDir, 0o777)
	case len(builder.Arches()) == 0:
		// -trimpath would hide the module source the stub is built from.
		args = []string{"build"}
		os.Setenv("XDG_CACHE_HOME", filepath.Join(tmp, "cache"))
		fmt.Fprintln(os.Stderr, "no installer stubs embedded (run `make build` first for the released ones): the builder under test builds them into a temporary cache")
	}
	build := exec.Command("go", append(args, "-o", terrapackBin, "./cmd/terrapack")...)
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/terrapack failed: %v\n", err)
		return 1
	}
	syscall.Umask(0o022) // the usual one, whatever the caller's
	return m.Run()
}

// testCoverDir is where this test binary writes its coverage counters
// (go test -cover sets -test.gocoverdir), or "" when it does not.
func testCoverDir() string {
	if testing.CoverMode() == "" {
		return ""
	}
	if f := flag.Lookup("test.gocoverdir"); f != nil {
		if dir, err := filepath.Abs(f.Value.String()); err == nil && f.Value.String() != "" {
			return dir
		}
	}
	return ""
}

// coveredStubs builds the installer stub with -cover for each architecture
// the tests build installers for, and writes a go build -overlay file that
// puts them where the builder embeds its stubs from.
func coveredStubs(root, tmp string) (string, error) {
	replace := map[string]string{}
	for _, arch := range []string{"amd64", "arm64"} {
		out := filepath.Join(tmp, "stub-linux-"+arch)
		cmd := exec.Command("go", "build", "-trimpath", "-cover", "-ldflags", "-s -w -buildid=", "-o", out, "./stub")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build -cover ./stub for linux/%s failed: %v\n%s", arch, err, msg)
		}
		replace[filepath.Join(root, "builder", "stubs", "linux-"+arch)] = out
	}
	b, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		return "", err
	}
	overlay := filepath.Join(tmp, "overlay.json")
	return overlay, os.WriteFile(overlay, b, 0o644)
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// runCmd runs name with args and env additions, returning its output and exit code.
func runCmd(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	var err error
	// A binary a parallel test just wrote can be busy for a moment: a
	// child forked meanwhile holds its write descriptor until it execs
	// (ETXTBSY, golang.org/issue/22315).
	for try := 0; ; try++ {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), env...)
		out.Reset()
		errb.Reset()
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err = cmd.Run(); !errors.Is(err, syscall.ETXTBSY) || try == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("failed to run %s: %v", name, err)
	}
	return result{out.String(), errb.String(), code}
}

func terrapack(t *testing.T, args ...string) result {
	t.Helper()
	return runCmd(t, nil, terrapackBin, args...)
}

// mustOK fails the test unless r exited 0.
func mustOK(t *testing.T, r result) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("command failed:\n%s", r)
	}
	return r
}

// mustFail fails the test unless r exited with code and stderr contains every want.
func mustFail(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d, got:\n%s", code, r)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Fatalf("stderr lacks %q:\n%s", w, r)
		}
	}
}

// sampleTree makes a folder with every kind of entry an install must keep.
func sampleTree(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "sample app")
	must(t, writeSampleTree(src))
	return src
}

// writeSampleTree writes sampleTree's entries into src (the scripts'
// sampletree command).
func writeSampleTree(src string) error {
	var err error
	do := func(e error) {
		if err == nil {
			err = e
		}
	}
	mk := func(name, content string, mode fs.FileMode) {
		p := filepath.Join(src, name)
		do(os.MkdirAll(filepath.Dir(p), 0o755))
		do(os.WriteFile(p, []byte(content), mode))
		do(os.Chmod(p, mode))
	}
	mk("bin/hello", "#!/bin/sh\necho \"hello from $0\"\n", 0o755)
	mk("share/doc/README", "read me\n", 0o644)
	mk("share/secret.key", "s3cret\n", 0o600)
	mk("share/größe ünïcødé.txt", "utf-8 name\n", 0o644)
	mk("share/name with spaces.txt", "spaces\n", 0o640)
	mk("share/readonly.txt", "ro\n", 0o444)
	mk("lib/libdata.bin", strings.Repeat("\x00\x01binary\xff", 5000), 0o644)
	do(os.MkdirAll(filepath.Join(src, "var/empty/deeper"), 0o755))
	do(os.MkdirAll(filepath.Join(src, "locked"), 0o755))
	mk("locked/inside.txt", "in a read-only folder\n", 0o644)
	do(os.Chmod(filepath.Join(src, "locked"), 0o555))
	do(os.Symlink("../share/doc/README", filepath.Join(src, "bin/readme-link")))
	do(os.Symlink("doc", filepath.Join(src, "share/doc-dir-link")))
	do(os.Symlink("missing-target", filepath.Join(src, "share/dangling")))
	do(os.Link(filepath.Join(src, "share/doc/README"), filepath.Join(src, "share/README.hardlink")))
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	do(os.Chtimes(filepath.Join(src, "share/doc/README"), old, old))
	return err
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// build makes an installer from src and returns its path.
func build(t *testing.T, src string, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "app.run")
	mustOK(t, terrapack(t, append([]string{"build", src, "-o", out, "--quiet"}, args...)...))
	return out
}

// compareTrees checks that got holds exactly want's entries, with the same
// types, modes, contents, link targets, times and hard-link groups; got's
// .terrapack/ is ignored.
func compareTrees(t *testing.T, want, got string) {
	t.Helper()
	if err := diffTrees(want, got); err != nil {
		t.Fatal(err)
	}
}

// diffTrees is compareTrees' check, with the first difference as its error.
func diffTrees(want, got string) error {
	seen := map[string]bool{}
	wantInodes, gotInodes := map[uint64]string{}, map[uint64]string{}
	err := filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		seen[rel] = true
		g := filepath.Join(got, rel)
		wi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		gi, err := os.Lstat(g)
		if err != nil {
			return fmt.Errorf("missing in install: %q", rel)
		}
		if rel != "." && wi.Mode() != gi.Mode() {
			return fmt.Errorf("%q: mode %v, want %v", rel, gi.Mode(), wi.Mode())
		}
		switch {
		case wi.Mode().IsRegular():
			if same, err := sameContent(p, g); err != nil || !same {
				return fmt.Errorf("%q: content differs", rel)
			}
			if !wi.ModTime().Truncate(time.Second).Equal(gi.ModTime()) {
				return fmt.Errorf("%q: mtime %v, want %v", rel, gi.ModTime(), wi.ModTime())
			}
			ws, gs := wi.Sys().(*syscall.Stat_t), gi.Sys().(*syscall.Stat_t)
			if ws.Nlink > 1 {
				if _, ok := wantInodes[ws.Ino]; !ok {
					wantInodes[ws.Ino] = rel
				}
				if _, ok := gotInodes[gs.Ino]; !ok {
					gotInodes[gs.Ino] = rel
				}
				if wantInodes[ws.Ino] != gotInodes[gs.Ino] {
					return fmt.Errorf("%q: not hard-linked to %q", rel, wantInodes[ws.Ino])
				}
			}
		case wi.Mode()&fs.ModeSymlink != 0:
			wl, _ := os.Readlink(p)
			gl, _ := os.Readlink(g)
			if wl != gl {
				return fmt.Errorf("%q: link to %q, want %q", rel, gl, wl)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return filepath.WalkDir(got, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(got, p)
		if rel == ".terrapack" {
			return filepath.SkipDir
		}
		if !seen[rel] {
			return fmt.Errorf("unexpected entry in install: %q", rel)
		}
		return err
	})
}

func sameContent(a, b string) (bool, error) {
	x, err := os.ReadFile(a)
	if err != nil {
		return false, err
	}
	y, err := os.ReadFile(b)
	return bytes.Equal(x, y), err
}

func sum(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return s[:]
}

// assertClean checks that dir holds only the names in keep: no temporary or
// backup folder of an install is left beside a target.
func assertClean(t *testing.T, dir string, keep ...string) {
	t.Helper()
	if err := leftovers(dir, keep...); err != nil {
		t.Error(err)
	}
}

// leftovers is assertClean's check: an error naming what dir holds beyond keep.
func leftovers(dir string, keep ...string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	allowed := map[string]bool{}
	for _, k := range keep {
		allowed[k] = true
	}
	var extra []string
	for _, e := range entries {
		if !allowed[e.Name()] {
			extra = append(extra, e.Name())
		}
	}
	if len(extra) > 0 {
		return fmt.Errorf("leftover %q in %s", extra, dir)
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
