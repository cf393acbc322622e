package bundle

import (
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func requirePatchelf(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("patchelf"); err != nil {
		tb.Skip("patchelf not installed (apt-get install patchelf)")
	}
}

// requireProgram returns the path of name, installing Debian package pkg if missing.
func requireProgram(tb testing.TB, name, pkg string) string {
	tb.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Geteuid() != 0 {
		tb.Skipf("%s missing and not root to install %s", name, pkg)
	}
	if out, err := exec.Command("apt-get", "install", "-y", pkg).CombinedOutput(); err != nil {
		tb.Skipf("apt-get install %s: %v\n%s", pkg, err, out)
	}
	p, err := exec.LookPath(name)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// runIn runs name with args in dir and an empty environment, so nothing
// from the host's LD_* leaks in.
func runIn(dir, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func interp(tb testing.TB, p string) string {
	tb.Helper()
	f, err := elf.Open(p)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			b := make([]byte, prog.Filesz)
			if _, err := prog.ReadAt(b, 0); err != nil {
				tb.Fatal(err)
			}
			return strings.TrimRight(string(b), "\x00")
		}
	}
	return ""
}

func TestBundleCurlAndReadlink(t *testing.T) {
	requirePatchelf(t)
	requireProgram(t, "curl", "curl")
	tmp := t.TempDir()
	built := filepath.Join(tmp, "built")
	start := time.Now()
	if err := Bundle(Options{Executables: []string{"curl", "readlink"}, Output: built}); err != nil {
		t.Fatal(err)
	}
	t.Logf("bundled in %v", time.Since(start))

	ph := interp(t, filepath.Join(built, "pbin", "curl"))
	if len(ph) < PlaceholderLen || !strings.HasPrefix(ph, built+"/lib64/") || !strings.HasSuffix(ph, "/ld-linux-x86-64.so.2") {
		t.Errorf("placeholder PT_INTERP %q (%d bytes)", ph, len(ph))
	}
	for _, p := range []string{"lib64/ld-linux-x86-64.so.2", "lib64/libc.so.6", "lib64/libcurl.so.4", "ebin/curl", "ebin/readlink"} {
		if info, err := os.Stat(filepath.Join(built, p)); err != nil || info.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v %v", p, info, err)
		}
	}

	// Moved elsewhere, the programs still point at the old loader: the
	// negative control showing that the PT_INTERP is what makes them run.
	dir := filepath.Join(tmp, "moved")
	if err := os.Rename(built, dir); err != nil {
		t.Fatal(err)
	}
	if out, err := runIn(tmp, filepath.Join(dir, "pbin", "curl"), "--version"); err == nil {
		t.Fatalf("pbin/curl ran before Localize:\n%s", out)
	}
	if err := Localize(dir); err != nil {
		t.Fatal(err)
	}
	if got, want := interp(t, filepath.Join(dir, "pbin", "readlink")), dir+"/lib64/ld-linux-x86-64.so.2"; got != want {
		t.Errorf("localized PT_INTERP %q, want %q", got, want)
	}
	for _, p := range []string{"ebin/curl", "pbin/curl"} {
		out, err := runIn(tmp, filepath.Join(dir, p), "--version")
		if err != nil || !strings.HasPrefix(out, "curl ") {
			t.Errorf("%s --version: %v\n%s", p, err, out)
		}
	}
	out, err := runIn(tmp, filepath.Join(dir, "ebin", "readlink"), "/proc/self/exe")
	if want := filepath.Join(dir, "pbin", "readlink"); err != nil || strings.TrimSpace(out) != want {
		t.Errorf("ebin/readlink /proc/self/exe = %q, %v; want %q", out, err, want)
	}
	// Every library must come from the bundle, not the host. libsasl2
	// dlopens its plugins from a compiled-in host folder unless SASL_PATH
	// says otherwise (see docs/BUNDLE.md).
	cmd := exec.Command(filepath.Join(dir, "pbin", "curl"), "--version")
	cmd.Env = []string{"LD_DEBUG=libs", "SASL_PATH=" + tmp}
	debug, _ := cmd.CombinedOutput()
	for line := range strings.Lines(string(debug)) {
		if _, lib, ok := strings.Cut(line, "calling init: "); ok && !strings.HasPrefix(lib, dir+"/") {
			t.Errorf("host library loaded: %s", lib)
		}
	}
}

// tree describes every entry below root: type, mode, mtime and content or link target.
func tree(tb testing.TB, root string) map[string]string {
	tb.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		desc := fmt.Sprintf("%v %d", info.Mode(), info.ModTime().UnixNano())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + string(b)
		}
		m[rel] = desc
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func sameTree(t *testing.T, a, b map[string]string) {
	t.Helper()
	if len(a) != len(b) {
		t.Errorf("trees have %d and %d entries", len(a), len(b))
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			t.Errorf("%s differs (present in second: %v)", k, ok)
		}
	}
}

func TestBundleReproducible(t *testing.T) {
	requirePatchelf(t)
	requireProgram(t, "curl", "curl")
	epoch := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		name  string
		epoch *time.Time
	}{{"source mtimes", nil}, {"SOURCE_DATE_EPOCH", &epoch}} {
		t.Run(tc.name, func(t *testing.T) {
			// Same output path both times: the placeholder embeds it.
			out := filepath.Join(t.TempDir(), "app")
			o := Options{Executables: []string{"curl", "readlink"}, Output: out, Epoch: tc.epoch,
				Includes: []Include{{Src: "/usr/share/zoneinfo/Europe", Dest: "share/zoneinfo/Europe"}}}
			if err := Bundle(o); err != nil {
				t.Fatal(err)
			}
			first := tree(t, out)
			if err := os.RemoveAll(out); err != nil {
				t.Fatal(err)
			}
			if err := Bundle(o); err != nil {
				t.Fatal(err)
			}
			second := tree(t, out)
			sameTree(t, first, second)
			if tc.epoch == nil {
				return
			}
			for k, v := range second {
				if !strings.Contains(v, fmt.Sprintf(" %d", epoch.UnixNano())) {
					t.Errorf("%s does not have the epoch mtime", k)
				}
			}
		})
	}
}

func TestBundleRefusesNonEmptyOutput(t *testing.T) {
	requirePatchelf(t)
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := Bundle(Options{Executables: []string{"readlink"}, Output: out})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("bundle into a non-empty folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "x")); err != nil {
		t.Errorf("existing file gone: %v", err)
	}
}

func TestLauncherScript(t *testing.T) {
	s := launcherScript("it's", nil)
	if !strings.HasPrefix(s, "#!/bin/sh\n") || !strings.Contains(s, `exec "$here/../pbin/"'it'\''s' "$@"`) {
		t.Errorf("launcher:\n%s", s)
	}
	if out, err := exec.Command("sh", "-n", "-c", s).CombinedOutput(); err != nil {
		t.Errorf("sh -n: %v\n%s", err, out)
	}
}

// TestBundlePython bundles python3 with its stdlib; its extension modules
// (lib-dynload) bring libssl, libsqlite3, ... into lib64.
func TestBundlePython(t *testing.T) {
	if testing.Short() {
		t.Skip("copies the 50 MB stdlib")
	}
	requirePatchelf(t)
	// Not a PATH lookup: that may find a pyenv shim script.
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skipf("no Debian python3 (apt-get install python3): %v", err)
	}
	real, err := filepath.EvalSymlinks(py)
	if err != nil {
		t.Fatal(err)
	}
	ver := filepath.Base(real) // python3.11
	stdlib := filepath.Join("/usr/lib", ver)
	if _, err := os.Stat(filepath.Join(stdlib, "os.py")); err != nil {
		t.Skipf("no stdlib at %q: %v", stdlib, err)
	}
	dir := filepath.Join(t.TempDir(), "py")
	start := time.Now()
	if err := Bundle(Options{Executables: []string{py}, Output: dir, Includes: []Include{{Src: stdlib, Dest: "lib/" + ver}}}); err != nil {
		t.Fatal(err)
	}
	if err := Localize(dir); err != nil {
		t.Fatal(err)
	}
	t.Logf("bundled %s in %v", ver, time.Since(start))
	out, err := runIn("/", filepath.Join(dir, "ebin", "python3"), "-c",
		"import sys, ssl, json, sqlite3; print(sys.prefix); print(ssl.__file__); import _ssl; print(_ssl.__file__)")
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(l, dir) {
			t.Errorf("python used %q from outside the bundle", l)
		}
	}
	mods, _ := filepath.Glob(filepath.Join(dir, "lib", ver, "lib-dynload", "_ssl.*.so"))
	if len(mods) != 1 {
		t.Fatalf("_ssl modules: %q", mods)
	}
	if rp := dynString(t, mods[0], elf.DT_RPATH); rp != "$ORIGIN/../../../lib64" {
		t.Errorf("_ssl RPATH %q", rp)
	}
}

func dynString(tb testing.TB, p string, tag elf.DynTag) string {
	tb.Helper()
	f, err := elf.Open(p)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	v, err := f.DynString(tag)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Join(v, ":")
}
