package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBundleInstallsAnywhere bundles host programs, installs the terrarium
// into a folder longer than the one it was bundled in, and runs them there
// directly: /proc/self/exe must name the pbin program, not the loader.
func TestBundleInstallsAnywhere(t *testing.T) {
	t.Parallel()
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

// TestBundleEnv: launchers export --env values with $TERRARIUM expanded to
// wherever the terrarium was installed, which is how apps such as
// ImageMagick find modules they load at run time.
func TestBundleEnv(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("patchelf"); err != nil {
		t.Skip("patchelf not found: apt-get install patchelf")
	}
	dir := filepath.Join(t.TempDir(), "env")
	mustOK(t, terrapack(t, "bundle", "printenv", "-o", dir, "-q", "--env", "APP_DATA=$TERRARIUM/share", "--env", "APP_MODE=plain value"))
	run := filepath.Join(t.TempDir(), "env.run")
	mustOK(t, terrapack(t, "build", dir, "-o", run, "-q"))
	target := filepath.Join(t.TempDir(), "app")
	mustOK(t, runCmd(t, nil, run, "--to", target, "-q"))
	r := mustOK(t, runCmd(t, nil, filepath.Join(target, "ebin/printenv"), "APP_DATA", "APP_MODE"))
	if r.stdout != target+"/share\nplain value\n" {
		t.Errorf("launcher environment: %q", r.stdout)
	}
	mustFail(t, terrapack(t, "bundle", "printenv", "-o", filepath.Join(t.TempDir(), "x"), "--env", "1BAD=x"), 1, "must be NAME=VALUE")
}

// TestBundlePythonInstallsAnywhere: an interpreter with its stdlib and
// native modules, bundled, built into an installer, installed elsewhere.
func TestBundlePythonInstallsAnywhere(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("patchelf"); err != nil {
		t.Skip("patchelf not found: apt-get install patchelf")
	}
	stdlib, _ := filepath.Glob("/usr/lib/python3.[0-9]*")
	if _, err := os.Stat("/usr/bin/python3"); err != nil || len(stdlib) == 0 {
		t.Skip("no Debian python3 (/usr/bin/python3, /usr/lib/python3.X) on this machine")
	}
	dir := filepath.Join(t.TempDir(), "py")
	args := []string{"bundle", "/usr/bin/python3", "-o", dir, "-q", "--include", stdlib[0] + ":lib/" + filepath.Base(stdlib[0])}
	// Debian's numpy (python3-numpy) with its BLAS, when the machine has it.
	const dist = "/usr/lib/python3/dist-packages"
	_, err := os.Stat(dist + "/numpy")
	withNumpy := err == nil
	if withNumpy {
		args = append(args, "--include", dist+":lib/python3/dist-packages")
	} else {
		t.Log("python3-numpy not installed: bundling python3 without numpy")
	}
	mustOK(t, terrapack(t, args...))
	run := filepath.Join(t.TempDir(), "py.run")
	mustOK(t, terrapack(t, "build", dir, "-o", run, "-q"))
	target := filepath.Join(t.TempDir(), "somewhere", "else", "py")
	mustOK(t, runCmd(t, nil, run, "--to", target, "-q"))
	r := mustOK(t, runCmd(t, []string{"PYTHONHOME=", "PYTHONPATH="}, filepath.Join(target, "ebin", "python3"), "-c",
		"import sys, json, ssl, sqlite3; print(sys.executable); print(ssl.__file__)"))
	if !strings.HasPrefix(r.stdout, filepath.Join(target, "pbin", "python3")+"\n"+target+"/lib/") {
		t.Errorf("bundled python runs from the wrong place:\n%s", r)
	}
	if withNumpy {
		r := mustOK(t, runCmd(t, []string{"PYTHONHOME=", "PYTHONPATH="}, filepath.Join(target, "ebin", "python3"), "-c",
			"import numpy; a = numpy.arange(12.).reshape(3, 4); print(numpy.__file__, (a @ a.T).sum(), numpy.linalg.inv(numpy.eye(3) * 2)[0, 0])"))
		if want := target + "/lib/python3/dist-packages/numpy/__init__.py 1134.0 0.5\n"; r.stdout != want {
			t.Errorf("bundled numpy: %q, want %q", r.stdout, want)
		}
	}
}
