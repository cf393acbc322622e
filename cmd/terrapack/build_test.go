package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestBuildIsReproducible(t *testing.T) {
	t.Parallel()
	src := sampleTree(t)
	env := []string{"SOURCE_DATE_EPOCH=1700000000"}
	a, b := filepath.Join(t.TempDir(), "a.run"), filepath.Join(t.TempDir(), "b.run")
	mustOK(t, runCmd(t, append(env, "GOMAXPROCS=1"), terrapackBin, "build", src, "-o", a, "-q"))
	// Touch every file: times newer than the epoch are clamped to it.
	now := time.Now()
	filepath.Walk(src, func(p string, _ os.FileInfo, _ error) error { os.Chtimes(p, now, now); return nil })
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC) // older than the epoch: kept as is
	must(t, os.Chtimes(filepath.Join(src, "share/doc/README"), old, old))
	mustOK(t, runCmd(t, append(env, "GOMAXPROCS=2"), terrapackBin, "build", src, "-o", b, "-q"))
	ab, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ab, bb) {
		t.Fatal("two builds of the same input differ")
	}
	target := filepath.Join(t.TempDir(), "app")
	mustOK(t, runCmd(t, nil, a, "--to", target))
	st, err := os.Stat(filepath.Join(target, "bin/hello"))
	must(t, err)
	if st.ModTime().Unix() != 1700000000 {
		t.Errorf("mtime %v not clamped to SOURCE_DATE_EPOCH", st.ModTime())
	}
}

func TestBuildRefusesUnreadableFile(t *testing.T) {
	t.Parallel()
	needRootTools(t, "setpriv")
	dir := hostDir(t)
	src := filepath.Join(dir, "src")
	must(t, os.MkdirAll(src, 0o755))
	must(t, os.WriteFile(filepath.Join(src, "ok"), []byte("x"), 0o644))
	must(t, os.WriteFile(filepath.Join(src, "private"), []byte("x"), 0o600))
	out := filepath.Join(dir, "out")
	must(t, os.Mkdir(out, 0o777))
	r := runCmd(t, nil, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", terrapackBin, "build", src, "-o", filepath.Join(out, "x.run"))
	mustFail(t, r, 1, "cannot read", "private", "permission denied")
	assertClean(t, out)
}

// TestExtractByHand runs docs/FORMAT.md's recipe (tail, head, zstd, tar,
// sha256sum; no terrapack) on a default build: the tree comes out whole and
// the checksum it prints is the installer's.
func TestExtractByHand(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"zstd", "tar", "sha256sum", "od"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s is not installed (apt-get install zstd coreutils tar)", tool)
		}
	}
	doc, err := os.ReadFile("../../docs/FORMAT.md")
	must(t, err)
	_, recipe, ok := strings.Cut(string(doc), "## Extracting by hand")
	if ok {
		_, recipe, ok = strings.Cut(recipe, "```sh\n")
		recipe, _, _ = strings.Cut(recipe, "```")
	}
	if !ok || !strings.Contains(recipe, "zstd -d") {
		t.Fatal("docs/FORMAT.md has no shell recipe under \"Extracting by hand\"")
	}
	src := sampleTree(t)
	run := build(t, src)
	dir := t.TempDir()
	r := mustOK(t, runCmd(t, nil, "bash", "-euo", "pipefail", "-c", "cd "+dir+"\nf="+run+"\n"+strings.TrimPrefix(recipe, "f=app.run\n")))
	compareTrees(t, src, filepath.Join(dir, "out"))
	info := mustOK(t, terrapack(t, "inspect", run)).stdout
	_, after, _ := strings.Cut(info, "sha256:")
	if sum := strings.Fields(after); len(sum) == 0 || !strings.Contains(r.stdout, sum[0]) {
		t.Errorf("the recipe's checksum is not the installer's:\nrecipe: %s\ninspect: %s", r.stdout, info)
	}
}

// TestBuildOutputDiskFull: a build whose output does not fit fails with the
// reason and leaves neither a partial installer nor a temporary file.
func TestBuildOutputDiskFull(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	src := t.TempDir()
	noise := make([]byte, 12<<20) // incompressible: the payload is as big
	for i, x := 0, uint32(1); i < len(noise); i++ {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		noise[i] = byte(x)
	}
	must(t, os.WriteFile(filepath.Join(src, "noise"), noise, 0o644))
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=8m"); err != nil {
		t.Skipf("skipping: cannot mount tmpfs: %v", err)
	}
	defer unix.Unmount(mnt, 0)
	mustFail(t, terrapack(t, "build", src, "-o", filepath.Join(mnt, "app.run")), 1, "no space left on device", "hint: free space where -o points")
	assertClean(t, mnt)
}
