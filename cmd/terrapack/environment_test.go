package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// hostDir returns a folder every user can enter, removed after the test.
func hostDir(t *testing.T) string {
	t.Helper()
	// Not under /tmp, which some tests hide behind a noexec tmpfs.
	d, err := os.MkdirTemp("/var/tmp", "terrapack-env-")
	must(t, err)
	must(t, os.Chmod(d, 0o755))
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// copyInstaller copies the installer run into dir, where every user can reach it.
func copyInstaller(t *testing.T, run, dir string) string {
	t.Helper()
	b, err := os.ReadFile(run)
	must(t, err)
	dst := filepath.Join(dir, "app.run")
	must(t, os.WriteFile(dst, b, 0o755))
	return dst
}

func needRootTools(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for mount namespaces and changing user")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found (util-linux)", tool)
		}
	}
}

// inNamespace runs script with sh in a private mount namespace.
func inNamespace(t *testing.T, script string) result {
	t.Helper()
	return runCmd(t, nil, "unshare", "--mount", "--propagation", "private", "--fork", "sh", "-ec", script)
}

func TestInstallWithoutProc(t *testing.T) {
	t.Parallel()
	needRootTools(t, "unshare")
	src := sampleTree(t)
	run := build(t, src)
	target := filepath.Join(t.TempDir(), "app")
	// Started by a relative name, so that only os.Args[0] can locate the file.
	r := inNamespace(t, "umount -l /proc; test ! -e /proc/self/exe; cd "+filepath.Dir(run)+"; ./app.run --to '"+target+"'")
	mustOK(t, r)
	compareTrees(t, src, target)
}

func TestInstallThroughSymlinkFromReadOnlyDirWithNoexecTmp(t *testing.T) {
	t.Parallel()
	needRootTools(t, "unshare")
	src := sampleTree(t)
	dir := hostDir(t)
	run := copyInstaller(t, build(t, src), dir)
	link := filepath.Join(dir, "shortcut")
	must(t, os.Symlink(run, link))
	ro := filepath.Join(dir, "ro")
	must(t, os.Mkdir(ro, 0o755))
	target := filepath.Join(dir, "app")
	script := strings.Join([]string{
		"mount --bind " + ro + " " + ro,
		"mount -o remount,bind,ro " + ro,
		"mount -t tmpfs -o noexec,size=1m tmpfs /tmp",
		"cd " + ro,
		"! touch probe 2>/dev/null",
		link + " --to " + target,
	}, "\n")
	mustOK(t, inNamespace(t, script))
	compareTrees(t, src, target)
}

func TestInstallAsUserIntoHome(t *testing.T) {
	t.Parallel()
	needRootTools(t, "setpriv")
	src := sampleTree(t)
	dir := hostDir(t)
	run := copyInstaller(t, build(t, src), dir)
	home := filepath.Join(dir, "home")
	must(t, os.Mkdir(home, 0o755))
	must(t, os.Chown(home, 65534, 65534))
	asUser := func(args ...string) result {
		return runCmd(t, []string{"HOME=" + home}, "setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", run}, args...)...)
	}
	mustOK(t, asUser("--to", "~/apps/sample"))
	compareTrees(t, src, filepath.Join(home, "apps/sample"))
	// A folder the user cannot write to is refused before anything is written.
	mustFail(t, asUser("--to", "/opt/terrapack-test-not-writable/app"), 4, "cannot write to", "hint:")
	if exists("/opt/terrapack-test-not-writable") {
		t.Fatal("refused install created a folder")
	}
}
