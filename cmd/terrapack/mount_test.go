package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mountOrSkip runs a mount command and unmounts at the end; it skips with
// the reason when mounting is not permitted here.
func mountOrSkip(t *testing.T, mountpoint string, name string, args ...string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skipf("%s needs root", name)
	}
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s is not installed: %v", name, err)
	}
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Skipf("%s is not permitted here: %v %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mountpoint).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", mountpoint, err, out)
		}
	})
}

// TestBindMountInsideInstallIsNeverEntered: a folder bind-mounted into an
// install — from the same file system, so st_dev alone cannot tell — keeps
// its data through --uninstall, --purge and --force.
func TestBindMountInsideInstallIsNeverEntered(t *testing.T) {
	t.Parallel()
	run := build(t, sampleTree(t), "--name", "sample")
	base := t.TempDir()
	target := filepath.Join(base, "app")
	mustOK(t, runCmd(t, nil, run, "--to", target))
	data := filepath.Join(base, "precious")
	must(t, os.MkdirAll(data, 0o755))
	must(t, os.WriteFile(filepath.Join(data, "db"), []byte("do not delete"), 0o644))
	// Onto an installed folder and onto one the customer made.
	mnt := filepath.Join(target, "share/doc")
	mountOrSkip(t, mnt, "mount", "--bind", data, mnt)
	mine := filepath.Join(target, "mnt")
	must(t, os.Mkdir(mine, 0o755))
	mountOrSkip(t, mine, "mount", "--bind", data, mine)

	mustFail(t, runCmd(t, nil, run, "--to", target, "--force", "--discard-changes"), 4, "mounted inside", "share/doc")
	r := mustOK(t, runCmd(t, nil, run, "--uninstall", "--to", target))
	for _, k := range []string{"share/doc (mount point)", "mnt (mount point)"} {
		if !strings.Contains(r.stderr, "kept "+target+"/"+k) {
			t.Errorf("%s not listed as kept:\n%s", k, r)
		}
	}
	if exists(filepath.Join(target, "bin")) || exists(filepath.Join(target, ".terrapack")) {
		t.Errorf("the installed files around the mounts were not removed")
	}
	if got, _ := os.ReadFile(filepath.Join(data, "db")); string(got) != "do not delete" {
		t.Fatal("data of a bind mount inside the install was deleted")
	}
	assertClean(t, base, "app", "precious")

	// --purge removes everything but what is mounted.
	target2 := filepath.Join(base, "app2")
	mustOK(t, runCmd(t, nil, run, "--to", target2))
	mnt2 := filepath.Join(target2, "lib")
	mountOrSkip(t, mnt2, "mount", "--bind", data, mnt2)
	r = mustOK(t, runCmd(t, nil, run, "--uninstall", "--purge", "--to", target2))
	if !strings.Contains(r.stderr, "kept "+target2+"/lib (mount point)") {
		t.Errorf("mount point not listed:\n%s", r)
	}
	if got, _ := os.ReadFile(filepath.Join(data, "db")); string(got) != "do not delete" {
		t.Fatal("--purge deleted the data of a bind mount")
	}
}

// TestNoRenameExchangeOnFUSE: bindfs (FUSE) has no RENAME_EXCHANGE, so
// --force commits with two renames; a kill between them leaves the target
// absent and the previous tree at .app.terrapack-old, and the next run puts
// it back and says so.
func TestNoRenameExchangeOnFUSE(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("no /dev/fuse: %v", err)
	}
	src1, run1, src2, run2 := twoVersions(t)
	sum1, sum2 := checksumOf(t, run1), checksumOf(t, run2)
	under, base := t.TempDir(), t.TempDir()
	mountOrSkip(t, base, "bindfs", under, base)
	target := filepath.Join(base, "app")
	mustOK(t, runCmd(t, nil, run1, "--to", target))
	mustOK(t, runCmd(t, nil, run2, "--to", target, "--force"))
	compareTrees(t, src2, target)
	assertClean(t, base, "app")

	// The exchange (renameat2) fails on FUSE; then renameat moves the
	// target to .app.terrapack-old, and is killed moving the new tree in.
	killAt(t, "renameat", filepath.Join(base, ".app.terrapack-new"), false, run1, "--to", target, "--force")
	if exists(target) || installerSum(t, filepath.Join(base, ".app.terrapack-old")) != sum2 {
		t.Fatal("the kill did not land between the two renames")
	}
	r := mustOK(t, runCmd(t, nil, run1, "--to", target, "--force"))
	if !strings.Contains(r.stderr, "put back "+target) {
		t.Errorf("the previous tree was not put back, or silently:\n%s", r)
	}
	if installerSum(t, target) != sum1 {
		t.Fatal("the run after the kill did not install")
	}
	compareTrees(t, src1, target)
	assertClean(t, base, "app")

	// Killed after the second rename: the commit is done and the old tree
	// is beside; the next run removes it, saying so.
	killAt(t, "unlinkat", "", false, run2, "--to", target, "--force")
	if installerSum(t, target) != sum2 || !exists(filepath.Join(base, ".app.terrapack-old")) {
		t.Fatal("the kill did not land after the commit")
	}
	r = mustOK(t, runCmd(t, nil, run2, "--uninstall", "--to", target))
	if !strings.Contains(r.stderr, "the previous install left by an interrupted run") {
		t.Errorf("the old tree was removed silently:\n%s", r)
	}
	assertClean(t, base)
}
