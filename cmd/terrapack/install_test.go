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

func TestLockRefusesConcurrentInstall(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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

// TestInterruptLeavesNothing sends SIGINT, SIGTERM, SIGHUP and SIGQUIT while a large payload
// is being written.
func TestInterruptLeavesNothing(t *testing.T) {
	t.Parallel()
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
