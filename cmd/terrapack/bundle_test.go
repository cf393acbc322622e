package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBundleInstallsAnywhere bundles host programs, installs the terrarium
// into a folder longer than the one it was bundled in, and runs them there
// directly: /proc/self/exe must name the pbin program, not the loader.
func TestBundleInstallsAnywhere(t *testing.T) {
	if _, err := exec.LookPath("patchelf"); err != nil {
		t.Skip("patchelf not found: apt-get install patchelf")
	}
	dir := filepath.Join(t.TempDir(), "tr")
	mustOK(t, terrapack(t, "bundle", "readlink", "ls", "-o", dir, "-q"))
	run := filepath.Join(t.TempDir(), "tr.run")
	mustOK(t, terrapack(t, "build", dir, "-o", run, "-q"))
	target := filepath.Join(t.TempDir(), strings.Repeat("much-longer-install-path-", 4), "tr")
	mustOK(t, runCmd(t, nil, run, "--to", target))
	for _, prog := range []string{"pbin/readlink", "ebin/readlink"} {
		r := mustOK(t, runCmd(t, []string{"LD_LIBRARY_PATH="}, filepath.Join(target, prog), "/proc/self/exe"))
		if strings.TrimSpace(r.stdout) != filepath.Join(target, "pbin/readlink") {
			t.Errorf("%s: /proc/self/exe is %q", prog, r.stdout)
		}
	}
	mustOK(t, runCmd(t, nil, filepath.Join(target, "ebin/ls"), target))
	if grep := runCmd(t, nil, "grep", "-rl", "--exclude-dir=.terrapack", dir, target); grep.code != 1 {
		t.Errorf("installed files still name the bundle folder:\n%s", grep)
	}
}
