package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestInstallKeepsEveryEntry(t *testing.T) {
	src := sampleTree(t)
	run := build(t, src, "--name", "sample", "--version", "1.2.3")
	base := t.TempDir()
	target := filepath.Join(base, "deep", "nested path", "app")
	r := mustOK(t, runCmd(t, nil, run, "--to", target, "--sync"))
	if !strings.Contains(r.stderr, "installed sample 1.2.3 into "+target) {
		t.Errorf("no completion line:\n%s", r)
	}
	compareTrees(t, src, target)
	assertClean(t, filepath.Dir(target), "app")
	out, err := exec.Command(filepath.Join(target, "bin/hello")).Output()
	if err != nil || !strings.Contains(string(out), "hello from") {
		t.Fatalf("installed program does not run: %v %q", err, out)
	}
	for _, f := range []string{"manifest.json", "files", "install.json"} {
		if !exists(filepath.Join(target, ".terrapack", f)) {
			t.Errorf(".terrapack/%s missing", f)
		}
	}
	files, _ := os.ReadFile(filepath.Join(target, ".terrapack/files"))
	key := sum(t, filepath.Join(src, "share/secret.key"))
	if !strings.Contains(string(files), hexString(key)+"\t-\t0600\t7\tshare/secret.key\n") {
		t.Errorf("installed-file list lacks secret.key's hash:\n%s", files)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(digits[c>>4])
		sb.WriteByte(digits[c&15])
	}
	return sb.String()
}

func TestReinstallNeedsForceAndReplacesWholeTree(t *testing.T) {
	src := sampleTree(t)
	run1 := build(t, src, "--name", "sample")
	target := filepath.Join(t.TempDir(), "app")
	mustOK(t, runCmd(t, nil, run1, "--to", target))

	// Version 2 drops a file and adds one.
	must(t, os.Remove(filepath.Join(src, "share/name with spaces.txt")))
	must(t, os.WriteFile(filepath.Join(src, "NEW"), []byte("v2\n"), 0o644))
	run2 := build(t, src, "--name", "sample")

	mustFail(t, runCmd(t, nil, run2, "--to", target), 4, "already holds an install", "hint: use --force")
	if !exists(filepath.Join(target, "share/name with spaces.txt")) || exists(filepath.Join(target, "NEW")) {
		t.Fatal("refused reinstall changed the existing tree")
	}
	assertClean(t, filepath.Dir(target), "app")

	mustOK(t, runCmd(t, nil, run2, "--to", target, "--force"))
	compareTrees(t, src, target) // no stale file from version 1
	assertClean(t, filepath.Dir(target), "app")

	// An installed tree can be packed again: its .terrapack/ record is left out.
	again := build(t, target, "--name", "sample")
	other := filepath.Join(t.TempDir(), "again")
	mustOK(t, runCmd(t, nil, again, "--to", other))
	compareTrees(t, src, other)
}

func TestForceNeverReplacesForeignFolder(t *testing.T) {
	run := build(t, sampleTree(t))
	target := t.TempDir()
	must(t, os.WriteFile(filepath.Join(target, "precious"), []byte("x"), 0o644))
	mustFail(t, runCmd(t, nil, run, "--to", target, "--force"), 4, "was not made by a terrapack installer")
	if !exists(filepath.Join(target, "precious")) {
		t.Fatal("foreign folder was touched")
	}
}

func TestInstallIntoEmptyFolderAndDefaultTarget(t *testing.T) {
	src := sampleTree(t)
	empty := t.TempDir()
	run := build(t, src, "--default-target", empty)
	r := mustOK(t, runCmd(t, nil, run))
	if !strings.Contains(r.stderr, "installing to the default "+empty) {
		t.Errorf("default target not announced:\n%s", r)
	}
	compareTrees(t, src, empty)
}

func TestDamagedInstallersAreRefused(t *testing.T) {
	run := build(t, sampleTree(t))
	orig, err := os.ReadFile(run)
	must(t, err)
	cases := map[string][]byte{
		"truncated": orig[:len(orig)-1000],
		"appended":  append(append([]byte{}, orig...), "junk"...),
		"flipped payload byte": func() []byte {
			b := bytes.Clone(orig)
			b[len(b)-700] ^= 0x01 // inside the compressed payload or manifest
			return b
		}(),
		"flipped stub byte": func() []byte {
			b := bytes.Clone(orig)
			b[5000] ^= 0x80 // code the kernel loads but the check must still catch
			return b
		}(),
	}
	want := map[string]string{
		"truncated":            "installer is truncated: expected",
		"appended":             "unexpected bytes appended",
		"flipped payload byte": "SHA-256 mismatch",
		"flipped stub byte":    "",
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			bad := filepath.Join(dir, "bad.run")
			must(t, os.WriteFile(bad, content, 0o755))
			base := t.TempDir()
			target := filepath.Join(base, "app")
			r := runCmd(t, nil, bad, "--to", target)
			if r.code == 0 {
				t.Fatalf("damaged installer succeeded:\n%s", r)
			}
			if want[name] != "" {
				mustFail(t, r, 3, want[name])
			}
			if exists(target) {
				t.Fatal("target exists after a refused install")
			}
			assertClean(t, base)
			mustFail(t, runCmd(t, nil, bad, "--check"), r.code)
		})
	}
}
func TestPreflightRefusals(t *testing.T) {
	run := build(t, sampleTree(t))
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	must(t, os.WriteFile(file, nil, 0o644))
	mustFail(t, runCmd(t, nil, run, "--to", file), 4, "is not a folder")
	mustFail(t, runCmd(t, nil, run, "--to", "/"), 4, "refusing to install into /")
	mustFail(t, runCmd(t, nil, run, "--to", filepath.Join(file, "sub")), 4)
	link := filepath.Join(dir, "link")
	must(t, os.Symlink(dir, link))
	mustFail(t, runCmd(t, nil, run, "--to", link), 4, "is a symlink")
	assertClean(t, dir, "a-file", "link")
}

func TestLockRefusesConcurrentInstall(t *testing.T) {
	run := build(t, sampleTree(t))
	base := t.TempDir()
	busy := filepath.Join(base, ".app.terrapack-new")
	must(t, os.Mkdir(busy, 0o700))
	f, err := os.Open(busy)
	must(t, err)
	must(t, unix.Flock(int(f.Fd()), unix.LOCK_EX))
	mustFail(t, runCmd(t, nil, run, "--to", filepath.Join(base, "app")), 4, "another install into")
	f.Close()
	// Once the other installer is gone its leftover is cleaned up.
	mustOK(t, runCmd(t, nil, run, "--to", filepath.Join(base, "app")))
	assertClean(t, base, "app")
}

func TestNoSpaceIsRefusedBeforeWriting(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	src := t.TempDir()
	must(t, os.WriteFile(filepath.Join(src, "big"), bytes.Repeat([]byte{0}, 4<<20), 0o644))
	run := build(t, src)
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	defer unix.Unmount(mnt, 0)
	mustFail(t, runCmd(t, nil, run, "--to", filepath.Join(mnt, "app")), 4, "not enough free space", "need 4.0 MiB")
	assertClean(t, mnt)
	// The mount point itself cannot receive the install's final rename.
	mustFail(t, runCmd(t, nil, run, "--to", mnt), 4, "is a mount point", "hint: install into a folder inside it")
	assertClean(t, mnt)
}

func TestUninstall(t *testing.T) {
	run := build(t, sampleTree(t), "--name", "sample")
	base := t.TempDir()
	target := filepath.Join(base, "app")
	mustOK(t, runCmd(t, nil, run, "--to", target))
	other := t.TempDir()
	must(t, os.WriteFile(filepath.Join(other, "keep"), nil, 0o644))
	mustFail(t, runCmd(t, nil, run, "--uninstall", "--to", other), 4, "is not a terrapack install")
	mustOK(t, runCmd(t, nil, run, "--uninstall", "--to", target))
	assertClean(t, base)
	if !exists(filepath.Join(other, "keep")) {
		t.Fatal("foreign folder touched")
	}
}

func TestPostInstallHookFailureRollsBack(t *testing.T) {
	src := sampleTree(t)
	must(t, os.WriteFile(filepath.Join(src, "hook.sh"), []byte("#!/bin/sh\necho hook ran in \"$TERRAPACK_PREFIX\"\ntouch \"$TERRAPACK_PREFIX/made-by-hook\"\nexit ${HOOK_EXIT:-0}\n"), 0o755))
	run := build(t, src, "--post-install", "hook.sh", "--name", "sample")
	base := t.TempDir()
	target := filepath.Join(base, "app")
	r := mustOK(t, runCmd(t, nil, run, "--to", target))
	if !strings.Contains(r.stderr, "hook ran in "+target) {
		t.Errorf("hook did not run with TERRAPACK_PREFIX:\n%s", r)
	}
	// The hook runs with the user's umask, not the installer's 0.
	if st, err := os.Stat(filepath.Join(target, "made-by-hook")); err != nil || st.Mode().Perm()&0o022 != 0 {
		t.Errorf("file made by the hook: %v, %v (want no group/other write under umask 022)", st.Mode(), err)
	}
	before := sum(t, filepath.Join(target, ".terrapack/install.json"))
	must(t, os.WriteFile(filepath.Join(target, "marker-of-v1"), nil, 0o644))
	// Another build: the identical installer would find its install intact.
	run2 := build(t, src, "--post-install", "hook.sh", "--name", "sample", "--version", "2")
	mustFail(t, runCmd(t, []string{"HOOK_EXIT=3"}, run2, "--to", target, "--force"), 5, "post-install hook", "undone")
	if !exists(filepath.Join(target, "marker-of-v1")) || !bytes.Equal(before, sum(t, filepath.Join(target, ".terrapack/install.json"))) {
		t.Fatal("previous install not restored after a failed hook")
	}
	assertClean(t, base, "app")
	fresh := filepath.Join(base, "fresh")
	mustFail(t, runCmd(t, []string{"HOOK_EXIT=3"}, run, "--to", fresh), 5)
	assertClean(t, base, "app")
}

// TestInterruptLeavesNothing sends SIGINT, SIGTERM, SIGHUP and SIGQUIT while a large payload
// is being written.
func TestInterruptLeavesNothing(t *testing.T) {
	src := t.TempDir()
	chunk := bytes.Repeat([]byte("incompressible? no, but large "), 1<<15)
	for i := range 400 {
		must(t, os.WriteFile(filepath.Join(src, "f"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+itoa(i)), chunk, 0o644))
	}
	run := build(t, src, "--compression", "none")
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT} {
		t.Run(sig.String(), func(t *testing.T) {
			base := t.TempDir()
			target := filepath.Join(base, "app")
			cmd := exec.Command(run, "--to", target)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			must(t, cmd.Start())
			tmp := filepath.Join(base, ".app.terrapack-new")
			deadline := time.Now().Add(20 * time.Second)
			for !exists(filepath.Join(tmp, "fa0")) && time.Now().Before(deadline) {
				time.Sleep(2 * time.Millisecond)
			}
			must(t, cmd.Process.Signal(sig))
			err := cmd.Wait()
			if err == nil {
				t.Skip("install finished before the signal arrived; nothing to test on this machine")
			}
			if code := cmd.ProcessState.ExitCode(); code != 130 {
				t.Fatalf("exit %d, want 130; stderr:\n%s", code, stderr.String())
			}
			assertClean(t, base)
		})
	}
}

func itoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(i)) }

func fmtInt(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return fmtInt(i/10) + string(rune('0'+i%10))
}
