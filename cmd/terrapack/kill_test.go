package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Kill tests: strace (a Debian package) delivers SIGKILL to the installer on
// entering a chosen system call, before that call runs. After each kill the
// target must be the old install or the new one, and the next run must
// recover from what the kill left beside it.

// killAt runs the installer under strace, killed on entering syscall: the
// first such call, or with path, the first one that names path (strace
// counts calls per thread, and the runtime may move the installer's work
// between threads, so no "Nth call" is used). It runs as user nobody when
// asNobody is set, and skips without strace or ptrace.
func killAt(t *testing.T, syscall, path string, asNobody bool, run string, args ...string) result {
	t.Helper()
	return signalAt(t, "KILL", syscall, path, asNobody, run, args...)
}

// signalAt is killAt with another signal.
func signalAt(t *testing.T, sig, syscall, path string, asNobody bool, run string, args ...string) result {
	t.Helper()
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace is not installed (Debian package strace); cannot kill at a chosen syscall")
	}
	if runtime.GOARCH != "amd64" {
		t.Skipf("the system calls named below are those of linux/amd64, not %s", runtime.GOARCH)
	}
	if out, err := exec.Command("strace", "-qq", "-o", "/dev/null", "true").CombinedOutput(); err != nil {
		t.Skipf("strace cannot trace here (ptrace not permitted?): %v %s", err, out)
	}
	sargs := []string{"-f", "-qq", "-o", "/dev/null", "-e", "trace=" + syscall, "-e", "inject=" + syscall + ":signal=" + sig}
	if path != "" {
		sargs = append(sargs, "-P", path)
	}
	if asNobody {
		sargs = append(sargs, "-u", "nobody")
	}
	r := runCmd(t, nil, "strace", append(append(sargs, run), args...)...)
	if r.code == 0 {
		t.Fatalf("the installer did not stop at SIG%s on %s %s (the point moved?):\n%s", sig, syscall, path, r)
	}
	return r
}

// installerSum is the SHA-256 that install.json records for the installer
// that made target, or "" when target holds no install.
func installerSum(t *testing.T, target string) string {
	t.Helper()
	if !exists(filepath.Join(target, ".terrapack/install.json")) {
		return ""
	}
	s, _ := installRecord(t, target)["installer_sha256"].(string)
	return s
}

func checksumOf(t *testing.T, run string) string {
	t.Helper()
	r := mustOK(t, runCmd(t, nil, run, "--check"))
	i := strings.Index(r.stdout, "sha256 ")
	return strings.TrimSpace(r.stdout[i+len("sha256 "):])
}

// twoVersions builds v1 and v2 of one program (v2 adds a file).
func twoVersions(t *testing.T) (src1, run1, src2, run2 string) {
	src1 = sampleTree(t)
	run1 = build(t, src1, "--name", "sample", "--version", "1")
	src2 = sampleTree(t)
	must(t, os.WriteFile(filepath.Join(src2, "share/new-in-v2"), []byte("v2"), 0o644))
	run2 = build(t, src2, "--name", "sample", "--version", "2")
	return
}

func TestKillFreshInstallAtCommit(t *testing.T) {
	t.Parallel()
	src, run, _, _ := twoVersions(t)
	base := t.TempDir()
	target := filepath.Join(base, "app")
	// Named by its path: under go test -cover the installer's coverage
	// runtime renames a file of its own first.
	killAt(t, "renameat", filepath.Join(base, ".app.terrapack-new"), false, run, "--to", target)
	if exists(target) {
		t.Fatal("target exists after a kill before the commit")
	}
	r := mustOK(t, runCmd(t, nil, run, "--to", target))
	if !strings.Contains(r.stderr, "left by an interrupted run") {
		t.Errorf("the leftover was removed without a word:\n%s", r)
	}
	compareTrees(t, src, target)
	assertClean(t, base, "app")
}

func TestKillForceBeforeAndAfterExchange(t *testing.T) {
	t.Parallel()
	src1, run1, src2, run2 := twoVersions(t)
	sum1, sum2 := checksumOf(t, run1), checksumOf(t, run2)
	base := t.TempDir()
	target := filepath.Join(base, "app")
	mustOK(t, runCmd(t, nil, run1, "--to", target))

	killAt(t, "renameat2", "", false, run2, "--to", target, "--force")
	if installerSum(t, target) != sum1 {
		t.Fatal("a kill before the exchange changed the target")
	}
	compareTrees(t, src1, target)
	r := mustOK(t, runCmd(t, nil, run1, "--to", target, "--force"))
	if !strings.Contains(r.stderr, "left by an interrupted run") {
		t.Errorf("the leftover was removed without a word:\n%s", r)
	}
	assertClean(t, base, "app")

	// The first unlinkat after the exchange is the removal of the old tree.
	killAt(t, "unlinkat", "", false, run2, "--to", target, "--force")
	if installerSum(t, target) != sum2 {
		t.Fatal("a kill after the exchange: target is not the new install")
	}
	compareTrees(t, src2, target)
	compareTrees(t, src1, filepath.Join(base, ".app.terrapack-new"))
	r = mustOK(t, runCmd(t, nil, run1, "--to", target, "--force"))
	if !strings.Contains(r.stderr, "removing "+filepath.Join(base, ".app.terrapack-new")+", left by an interrupted run") {
		t.Errorf("leftover removed silently:\n%s", r)
	}
	compareTrees(t, src1, target)
	assertClean(t, base, "app")
}

// TestKillAfterExchangeAsNobody: the old tree left beside holds read-only
// folders (locked/ is 0555); a non-root user's next run still removes it.
func TestKillAfterExchangeAsNobody(t *testing.T) {
	t.Parallel()
	_, run1, src2, run2 := twoVersions(t)
	dir, run1 := nobodyDir(t, run1)
	run2b := filepath.Join(dir, "app2.run")
	b, err := os.ReadFile(run2)
	must(t, err)
	must(t, os.WriteFile(run2b, b, 0o755))
	target := filepath.Join(dir, "app")
	nobody := func(args ...string) result {
		cmd := asNobody(exec.Command(args[0], args[1:]...))
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return result{stderr: string(out), code: code}
	}
	mustOK(t, nobody(run1, "--to", target))
	killAt(t, "unlinkat", "", true, run2b, "--to", target, "--force")
	if st, err := os.Stat(filepath.Join(dir, ".app.terrapack-new/locked")); err != nil || st.Mode().Perm() != 0o555 {
		t.Fatalf("the kill did not leave the old tree with its read-only folder: %v %v", st, err)
	}
	mustOK(t, nobody(run2b, "--to", target, "--force"))
	compareTrees(t, src2, target)
	mustOK(t, nobody(run2b, "--uninstall", "--to", target))
	assertClean(t, dir, "app.run", "app2.run")
}

func TestKillUninstall(t *testing.T) {
	t.Parallel()
	src, run, _, _ := twoVersions(t)
	for _, c := range []struct {
		name, syscall string
		path          string // under the test's folder; "" for the first call
		aside         bool   // the kill leaves the tree moved aside
	}{
		{"before the move aside", "renameat", "", false},
		{"before the first removal", "unlinkat", "", true},
		{"in the middle of the removal", "unlinkat", ".app.terrapack-old/share/doc/README", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			target := filepath.Join(base, "app")
			mustOK(t, runCmd(t, nil, run, "--to", target))
			must(t, os.WriteFile(filepath.Join(target, "mine.txt"), []byte("mine"), 0o644))
			path := ""
			if c.path != "" {
				path = filepath.Join(base, c.path)
			}
			killAt(t, c.syscall, path, false, run, "--uninstall", "--to", target)
			if c.aside {
				if exists(target) || !exists(filepath.Join(base, ".app.terrapack-old/mine.txt")) {
					t.Fatal("want the tree moved aside, with mine.txt")
				}
			} else {
				must(t, os.Remove(filepath.Join(target, "mine.txt")))
				compareTrees(t, src, target)
				must(t, os.WriteFile(filepath.Join(target, "mine.txt"), []byte("mine"), 0o644))
			}
			// The next run puts back what was moved aside, says so, and
			// finishes the uninstall.
			r := mustOK(t, runCmd(t, nil, run, "--uninstall", "--to", target))
			if c.aside && !strings.Contains(r.stderr, "put back "+target) {
				t.Errorf("the tree moved aside was not put back, or silently:\n%s", r)
			}
			if !strings.Contains(r.stderr, "kept "+target+"/mine.txt") {
				t.Errorf("mine.txt not listed as kept:\n%s", r)
			}
			if got, _ := os.ReadFile(filepath.Join(target, "mine.txt")); string(got) != "mine" {
				t.Fatal("the user's file was lost")
			}
			entries, _ := os.ReadDir(target)
			if len(entries) != 1 {
				t.Errorf("after the uninstall the folder holds %d entries, want only mine.txt", len(entries))
			}
			assertClean(t, base, "app")
		})
	}
}

// TestInterruptedUninstallPutsTheRestBack: SIGINT or SIGQUIT at the first
// removal stops it; what is left goes back in place, and a second run
// finishes.
func TestInterruptedUninstallPutsTheRestBack(t *testing.T) {
	t.Parallel()
	// 2,000 files removed after bin/hello: the signal reaches the removal
	// loop (through os/signal's goroutine) long before it could finish.
	// With the sample tree alone the loop sometimes finished first.
	src := sampleTree(t)
	must(t, os.MkdirAll(filepath.Join(src, "zz"), 0o755))
	for i := range 2000 {
		must(t, os.WriteFile(filepath.Join(src, fmt.Sprintf("zz/f%04d", i)), nil, 0o644))
	}
	run := build(t, src, "--name", "sample", "--version", "1")
	for _, sig := range []string{"INT", "QUIT"} {
		base := t.TempDir()
		target := filepath.Join(base, "app")
		mustOK(t, runCmd(t, nil, run, "--to", target))
		r := signalAt(t, sig, "unlinkat", filepath.Join(base, ".app.terrapack-old/bin/hello"), false, run, "--uninstall", "--to", target)
		if r.code != 130 || !strings.Contains(r.stderr, "run --uninstall again to finish") {
			t.Fatalf("SIG%s during the removal:\n%s", sig, r)
		}
		if exists(filepath.Join(target, "bin/hello")) || !exists(filepath.Join(target, ".terrapack/install.json")) {
			t.Fatal("want bin/hello removed and the rest put back")
		}
		assertClean(t, base, "app")
		mustOK(t, runCmd(t, nil, run, "--uninstall", "--to", target))
		assertClean(t, base)
	}
}
