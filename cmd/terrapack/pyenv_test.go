package main

import (
	"archive/zip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pyenvVersions are the CPythons `make test` installs; `make test-pyenv`
// (build tag pyenv) installs every one under $(pyenv root)/versions.
var pyenvVersions = []string{"2.7.18", "3.13.0"}

// pyenvCheck runs inside a mount namespace where the pyenv root is an empty
// tmpfs, so the installed tree cannot lean on its build folder. It prints
// one "key=value" line per check.
const pyenvCheck = `set -u
mount -t tmpfs none "$PYENV_ROOT" || exit 99
T=$1 MAJOR=$2 FULL=$3 PKG=$4 W=$5
PY=$T/bin/python$MAJOR
"$RUN" --to "$T" -q || { echo install=failed; exit 0; }
echo "version=$("$PY" -c 'import sys; print(sys.version)' 2>&1 | tr '\n' ' ')"
echo "pip=$("$PY" -m pip --version 2>&1 | tr '\n' ' ')"
echo "sysconfig=$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("prefix") + " " + sysconfig.get_config_var("LIBDIR"))' 2>&1 | tr '\n' ' ')"
echo "config=$("$T/bin/python$MAJOR-config" --prefix 2>&1 | tr '\n' ' ')"
"$PY" -m pip install -q --no-index --no-cache-dir "$PKG" >"$W/pip.log" 2>&1 || cat "$W/pip.log" | tr '\n' ' ' | sed 's/^/pipinstall=/'; echo
echo "imported=$("$PY" -c 'import tpmod; print(tpmod.__file__)' 2>&1 | tr '\n' ' ')"
if [ "$MAJOR" != 2 ]; then
  if [ "$FULL" = 1 ]; then "$PY" -m venv "$W/venv" >"$W/venv.log" 2>&1; else "$PY" -m venv --without-pip "$W/venv" >"$W/venv.log" 2>&1; fi
  echo "venv=$("$W/venv/bin/python" -c 'import sys; print(sys.prefix + " " + sys.base_prefix)' 2>&1 | tr '\n' ' ') $(tr '\n' ' ' <"$W/venv.log")"
  [ "$FULL" = 1 ] && echo "venvpip=$("$W/venv/bin/pip" --version 2>&1 | tr '\n' ' ')"
fi
echo "grep=$(grep -rlF --exclude-dir=.terrapack --exclude='*.pyc' --exclude='*.pyo' "$BUILD" "$T" | sed "s|^$T/||" | tr '\n' ' ')"
`

// TestPyenvEveryLength builds each pyenv CPython into an installer and
// installs it at the printed limit, 3 bytes under it and at a short path,
// with the build tree hidden: sys.version, pip, a local wheel installed by
// pip, sysconfig, python-config, a venv (with pip at the limit under make
// test-pyenv), and no file naming the build prefix but those listed kept.
func TestPyenvEveryLength(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: skipping the pyenv CPython trees")
	}
	root := os.Getenv("PYENV_ROOT")
	if out, err := exec.Command("pyenv", "root").Output(); err == nil {
		root = strings.TrimSpace(string(out))
	}
	if root == "" {
		t.Skip("pyenv not found and PYENV_ROOT not set: no pyenv CPython to install")
	}
	if _, err := exec.LookPath("unshare"); err != nil || os.Getuid() != 0 {
		t.Skip("needs root and unshare (util-linux) to hide the pyenv root in a mount namespace")
	}
	versions := pyenvVersions
	if pyenvAll {
		entries, _ := os.ReadDir(filepath.Join(root, "versions"))
		versions = nil
		for _, e := range entries {
			versions = append(versions, e.Name())
		}
	}
	pkg := localPackage(t)
	for _, v := range versions {
		src := filepath.Join(root, "versions", v)
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			if !exists(filepath.Join(src, "bin", "python")) {
				t.Skipf("no pyenv CPython %s at %s", v, src)
			}
			major := v[:1]
			// The check prints each value on one line (2.7's has a newline).
			want := strings.ReplaceAll(strings.TrimSpace(mustOK(t, runCmd(t, nil, filepath.Join(src, "bin", "python"), "-c", "import sys; print(sys.version)")).stdout), "\n", " ")
			run := filepath.Join(t.TempDir(), "py.run")
			// Uncompressed: this installer is built and used once.
			mustOK(t, terrapack(t, "build", src, "-o", run, "--compression", "none", "-q"))
			limit, insp := printedLimit(t, run)
			kept := keptNames(insp)
			t.Logf("CPython %s, built at %s (%d bytes): printed limit %d", v, src, len(src), limit)
			base, err := os.MkdirTemp("/tmp", "py")
			must(t, err)
			t.Cleanup(func() { os.RemoveAll(base) })
			for i, n := range []int{limit, limit - 3, 10} {
				target := targetOfLength(t, base, n)
				work := t.TempDir()
				// A venv with pip (ensurepip, ~10 s) at the limit, in the full matrix.
				withPip := i == 0 && pyenvAll
				cmd := exec.Command("unshare", "--mount", "--propagation", "private", "bash", "-c", pyenvCheck, "check", target, major, fmt.Sprint(btoi(withPip)), pkg, work)
				// Python 2 takes an empty PYTHONHOME as a home: unset, not
				// empty. (No PIP_NO_CACHE_DIR either: pip 18.1 of 3.6 breaks on it.)
				for _, kv := range os.Environ() {
					if !strings.HasPrefix(kv, "PYTHONHOME=") && !strings.HasPrefix(kv, "PYTHONPATH=") {
						cmd.Env = append(cmd.Env, kv)
					}
				}
				cmd.Env = append(cmd.Env, "PYENV_ROOT="+root, "RUN="+run, "BUILD="+src, "PIP_DISABLE_PIP_VERSION_CHECK=1")
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("check at %s: %v\n%s", target, err, out)
				}
				got := map[string]string{}
				for _, line := range strings.Split(string(out), "\n") {
					if k, val, ok := strings.Cut(line, "="); ok {
						got[k] = strings.TrimSpace(val)
					}
				}
				fail := func(what string) { t.Errorf("at a %d-byte path %s: %s\n%s", n, target, what, out) }
				switch {
				case got["install"] != "":
					fail("install failed")
					continue
				case got["version"] != want:
					fail(fmt.Sprintf("sys.version %q, want %q", got["version"], want))
				}
				if !strings.Contains(got["pip"], target) {
					fail("pip --version does not name the install")
				}
				if got["pipinstall"] != "" || !strings.HasPrefix(got["imported"], target+"/lib/") {
					fail("pip install of a local package")
				}
				sysconfig, config := got["sysconfig"] == target+" "+target+"/lib", got["config"] == target
				if major == "2" && !(sysconfig && config) && staleSysconfigPyc(t, target, src) {
					// #10 item 4 (lane reloc-paths): the rewritten
					// _sysconfigdata.py keeps its mtime, so its stale .pyc wins.
					t.Logf("at %s: sysconfig %q, python-config %q: _sysconfigdata.pyc still names %s (stale cache, not checked here)", target, got["sysconfig"], got["config"], src)
				} else if !sysconfig || !config {
					fail(fmt.Sprintf("sysconfig %q and python-config --prefix %q do not name the install", got["sysconfig"], got["config"]))
				}
				if major != "2" && !strings.HasPrefix(got["venv"], filepath.Join(work, "venv")+" "+target+" ") && got["venv"] != filepath.Join(work, "venv")+" "+target {
					fail("venv")
				}
				if withPip && major != "2" && !strings.Contains(got["venvpip"], filepath.Join(work, "venv")) {
					fail("pip in the venv")
				}
				for _, f := range strings.Fields(got["grep"]) {
					if !slices.Contains(kept, f) {
						fail(fmt.Sprintf("%s names the build prefix but inspect does not list it as kept", f))
					}
				}
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// keptNames are the files inspect --relocations lists as kept.
func keptNames(insp string) []string {
	var out []string
	for _, line := range strings.Split(insp, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "kept" {
			out = append(out, f[1])
		}
	}
	return out
}

// staleSysconfigPyc reports whether Python 2's compiled _sysconfigdata
// still names the build prefix after installation.
func staleSysconfigPyc(t *testing.T, target, build string) bool {
	t.Helper()
	pycs, _ := filepath.Glob(filepath.Join(target, "lib", "python2.*", "_sysconfigdata.pyc"))
	for _, p := range pycs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), build) {
			return true
		}
	}
	return false
}

// localPackage writes a tiny pure-Python wheel, which pip installs offline
// without setuptools (3.12 and later ship none).
func localPackage(t *testing.T) string {
	whl := filepath.Join(t.TempDir(), "tpmod-1.0-py2.py3-none-any.whl")
	f, err := os.Create(whl)
	must(t, err)
	z := zip.NewWriter(f)
	files := [][2]string{
		{"tpmod.py", "VALUE = 42\n"},
		{"tpmod-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tpmod\nVersion: 1.0\n"},
		{"tpmod-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: terrapack-test\nRoot-Is-Purelib: true\nTag: py2-none-any\nTag: py3-none-any\n"},
		{"tpmod-1.0.dist-info/RECORD", "tpmod.py,,\ntpmod-1.0.dist-info/METADATA,,\ntpmod-1.0.dist-info/WHEEL,,\ntpmod-1.0.dist-info/RECORD,,\n"},
	}
	for _, fl := range files {
		w, err := z.Create(fl[0])
		must(t, err)
		_, err = w.Write([]byte(fl[1]))
		must(t, err)
	}
	must(t, z.Close())
	must(t, f.Close())
	return whl
}
