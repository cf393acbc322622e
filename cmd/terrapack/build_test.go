package main

import (
	"bytes"
	"debug/elf"
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

func TestCompressionMethods(t *testing.T) {
	t.Parallel()
	src := sampleTree(t)
	for _, c := range []string{"zstd", "xz", "gzip", "none"} {
		t.Run(c, func(t *testing.T) {
			args := []string{"--compression", c}
			if c == "zstd" {
				args = append(args, "--level", "19")
			}
			run := build(t, src, args...)
			r := mustOK(t, runCmd(t, nil, run, "--info"))
			if !strings.Contains(r.stdout, "compression:     "+c) {
				t.Errorf("--info does not say %s:\n%s", c, r.stdout)
			}
			target := filepath.Join(t.TempDir(), "app")
			mustOK(t, runCmd(t, nil, run, "--to", target, "-q"))
			compareTrees(t, src, target)
		})
	}
	mustFail(t, terrapack(t, "build", src, "-o", filepath.Join(t.TempDir(), "x.run"), "--compression", "lz4"), 1, `unknown compression "lz4"`)
	mustFail(t, terrapack(t, "build", src, "-o", filepath.Join(t.TempDir(), "x.run"), "--level", "30"), 1, "--level 30 is out of range for zstd (1 to 22)")
}

func TestConfigFileAndFlagsWin(t *testing.T) {
	t.Parallel()
	src := sampleTree(t)
	must(t, os.WriteFile(filepath.Join(src, "terrapack.yaml"), []byte("name: fromfile\nversion: \"0.1\"\ndefault_target: /opt/fromfile\n"), 0o644))
	run := build(t, src, "--version", "2.0")
	r := mustOK(t, runCmd(t, nil, run, "--info"))
	for _, w := range []string{"name:            fromfile", "version:         2.0", "default target:  /opt/fromfile"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("--info lacks %q:\n%s", w, r.stdout)
		}
	}
	if strings.Contains(mustOK(t, runCmd(t, nil, run, "--list")).stdout, "terrapack.yaml") {
		t.Error("terrapack.yaml was packed")
	}
	must(t, os.WriteFile(filepath.Join(src, "terrapack.yaml"), []byte("nmae: typo\n"), 0o644))
	mustFail(t, terrapack(t, "build", src, "-o", filepath.Join(t.TempDir(), "x.run")), 1, "failed to parse", "nmae")
}

func TestArm64Stub(t *testing.T) {
	t.Parallel()
	run := build(t, sampleTree(t), "--arch", "arm64")
	f, err := elf.Open(run)
	must(t, err)
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Fatalf("machine %v, want aarch64", f.Machine)
	}
	r := mustOK(t, terrapack(t, "inspect", run))
	if !strings.Contains(r.stdout, "linux/arm64") {
		t.Errorf("inspect: %s", r.stdout)
	}
	mustFail(t, terrapack(t, "build", sampleTree(t), "-o", filepath.Join(t.TempDir(), "x.run"), "--arch", "mips"), 1, "no installer stub for linux/mips")

	// Run the arm64 installer itself under user-mode emulation.
	qemu, err := exec.LookPath("qemu-aarch64-static")
	if err != nil {
		t.Skip("qemu-aarch64-static not found (apt-get install qemu-user-static): arm64 installer not run")
	}
	src := sampleTree(t)
	target := filepath.Join(t.TempDir(), "app")
	mustOK(t, runCmd(t, nil, qemu, build(t, src, "--arch", "arm64"), "--to", target))
	compareTrees(t, src, target)
}
func TestBuildRefusesUnreadableFile(t *testing.T) {
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

// TestTemplateTypoFailsBuild: a template naming a field we do not have
// fails the build with its file, line and field, and writes nothing.
func TestTemplateTypoFailsBuild(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(src, "bin"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "bin", "info.tmpl"), []byte("#!/bin/sh\necho {{.Name}}\necho {{.Verison}}\n"), 0o755))
	outDir := t.TempDir()
	mustFail(t, terrapack(t, "build", src, "-o", filepath.Join(outDir, "app.run")), 1, `bin/info.tmpl:3:`, "unknown field .Verison", "did you mean .Version?")
	assertClean(t, outDir)
}
