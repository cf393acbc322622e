package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// prefixTree builds, with gcc, a small app under the absolute prefix P the
// way pkgsrc or conda would: RPATH, a compiled-in data folder, a config file,
// a script whose interpreter lives in P, an absolute symlink and a template.
func prefixTree(t *testing.T, p string) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not found")
	}
	for _, d := range []string{"bin", "lib", "etc", "share/app", "src"} {
		must(t, os.MkdirAll(filepath.Join(p, d), 0o755))
	}
	write := func(name, content string, mode os.FileMode) {
		must(t, os.WriteFile(filepath.Join(p, name), []byte(content), mode))
	}
	write("src/greet.c", `const char *greet(void) { return "hello from libgreet"; }`, 0o644)
	write("src/app.c", `#include <stdio.h>
const char *greet(void);
#define DATADIR "`+p+`/share/app"
int main(int argc, char **argv) {
	if (argc > 1) { printf("%s\n", DATADIR); return 0; }
	FILE *f = fopen(DATADIR "/message.txt", "r");
	if (!f) { perror(DATADIR "/message.txt"); return 1; }
	char buf[256]; size_t n = fread(buf, 1, sizeof buf - 1, f); buf[n] = 0;
	printf("%s | %s", greet(), buf);
	return 0;
}`, 0o644)
	write("share/app/message.txt", "data found\n", 0o644)
	write("etc/app.conf", "datadir = "+p+"/share/app\nlibdir="+p+"/lib\n", 0o644)
	write("bin/tool", "#!"+p+"/bin/sh-in-prefix\necho \"tool ran via $0\"\n", 0o755)
	write("bin/launch.tmpl", "#!/bin/sh\n# {{.Name}} {{.Version}}\nexec {{.Prefix}}/bin/app \"$@\"\n", 0o755)
	gcc := func(args ...string) {
		out, err := exec.Command("gcc", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, out)
		}
	}
	gcc("-shared", "-fPIC", "-o", p+"/lib/libgreet.so", p+"/src/greet.c")
	gcc("-o", p+"/bin/app", p+"/src/app.c", "-L"+p+"/lib", "-lgreet", "-Wl,--disable-new-dtags,-rpath,"+p+"/lib")
	sh, err := exec.LookPath("sh")
	must(t, err)
	b, err := os.ReadFile(sh)
	must(t, err)
	write("bin/sh-in-prefix", string(b), 0o755)
	must(t, os.Symlink(p+"/bin/app", p+"/bin/current"))
}

func TestRelocatedInstallRuns(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	p := filepath.Join(base, "build", strings.Repeat("long-prefix-", 6), "root")
	prefixTree(t, p)
	run := filepath.Join(t.TempDir(), "app.run")
	mustOK(t, terrapack(t, "build", p, "-o", run, "--name", "app", "--version", "2.0", "--prefix", p, "-q"))
	insp := mustOK(t, terrapack(t, "inspect", "--relocations", run)).stdout
	for _, w := range []string{"build prefix:    " + p, "etc/app.conf", "bin/app", "template  bin/launch", "longest target:"} {
		if !strings.Contains(insp, w) {
			t.Errorf("inspect --relocations lacks %q:\n%s", w, insp)
		}
	}
	// The absolute link into the tree is packed relative, so that --check,
	// verify and the install agree on it wherever the tree goes.
	if list := mustOK(t, runCmd(t, nil, run, "--list")).stdout; !strings.Contains(list, "bin/current -> app\n") {
		t.Errorf("--list does not show bin/current packed as a relative link:\n%s", list)
	}
	mustOK(t, runCmd(t, nil, run, "--check"))
	mustOK(t, terrapack(t, "verify", run))
	// The build folder disappears, as on a customer's machine.
	must(t, os.RemoveAll(filepath.Join(base, "build")))

	target := filepath.Join(t.TempDir(), "opt", "app")
	mustOK(t, runCmd(t, nil, run, "--to", target))
	env := []string{"LD_LIBRARY_PATH="}
	r := mustOK(t, runCmd(t, env, filepath.Join(target, "bin/app")))
	if r.stdout != "hello from libgreet | data found\n" {
		t.Errorf("app output %q", r.stdout)
	}
	// A compiled-in string keeps its length: the shorter target is padded
	// with slashes, and names the same folder.
	if r := mustOK(t, runCmd(t, env, filepath.Join(target, "bin/app"), "datadir")); filepath.Clean(strings.TrimSpace(r.stdout)) != target+"/share/app" || len(strings.TrimSpace(r.stdout)) != len(p+"/share/app") {
		t.Errorf("compiled-in path not relocated to %s/share/app, padded to its length: %q", target, r.stdout)
	}
	if r := mustOK(t, runCmd(t, env, filepath.Join(target, "bin/tool"))); !strings.Contains(r.stdout, "tool ran via") {
		t.Errorf("script with relocated shebang: %s", r)
	}
	if r := mustOK(t, runCmd(t, env, filepath.Join(target, "bin/launch"))); r.stdout != "hello from libgreet | data found\n" {
		t.Errorf("rendered launcher: %s", r)
	}
	if l, _ := os.Readlink(filepath.Join(target, "bin/current")); l != "app" {
		t.Errorf("symlink points to %q, want app", l)
	}
	if r := mustOK(t, runCmd(t, env, filepath.Join(target, "bin/current"))); !strings.Contains(r.stdout, "data found") {
		t.Errorf("symlinked program: %s", r)
	}
	if exists(filepath.Join(target, "bin/launch.tmpl")) {
		t.Error("template kept its .tmpl name")
	}
	grep := runCmd(t, nil, "grep", "-rl", "--exclude-dir=.terrapack", p, target)
	if grep.code != 1 {
		t.Errorf("installed files still name the build prefix:\n%s", grep)
	}

	// A target longer than the compiled-in strings allow is refused up front.
	long := filepath.Join(t.TempDir(), strings.Repeat("x", len(p)+10))
	mustFail(t, runCmd(t, nil, run, "--to", long), 4, "hint:")
	if exists(long) {
		t.Fatal("refused install created its target")
	}
	assertClean(t, filepath.Dir(long))
}

// TestArchiveInput builds from archives of a prefix, as a CI job makes them
// with `tar czf out.tar.gz $PREFIX` (or zip -r): the prefix is the path they
// record, the name the file's.
func TestArchiveInput(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	p := filepath.Join(base, "home", "ourapp", "root")
	must(t, os.MkdirAll(filepath.Join(p, "etc"), 0o755))
	must(t, os.WriteFile(filepath.Join(p, "etc", "app.conf"), []byte("root="+p+"\n"), 0o644))
	must(t, os.Symlink(p+"/etc/app.conf", filepath.Join(p, "conf-link")))
	archives := map[string][]string{
		"tar.gz":  {"tar", "-czf", "", p},
		"tar.xz":  {"tar", "-cJf", "", p},
		"tar.zst": {"tar", "--zstd", "-cf", "", p},
		"zip":     {"zip", "-qry", "", p},
	}
	for ext, cmd := range archives {
		t.Run(ext, func(t *testing.T) {
			if _, err := exec.LookPath(map[string]string{"tar.gz": "gzip", "tar.xz": "xz", "tar.zst": "zstd", "zip": "zip"}[ext]); err != nil {
				t.Skipf("no compressor for %s", ext)
			}
			a := filepath.Join(t.TempDir(), "ourapp-system."+ext)
			cmd[len(cmd)-2] = a
			mustOK(t, runCmd(t, nil, cmd[0], cmd[1:]...))
			run := filepath.Join(t.TempDir(), "app.run")
			r := mustOK(t, terrapack(t, "build", a, "-o", run))
			if !strings.Contains(r.stderr, "archive holds "+p) {
				t.Errorf("prefix not detected from the archive:\n%s", r)
			}
			if name, version := nameVersion(t, run); name != "ourapp-system" || version != "" {
				t.Errorf("name %q, version %q not taken from the archive's file name", name, version)
			}
			target := filepath.Join(t.TempDir(), "app")
			mustOK(t, runCmd(t, nil, run, "--to", target))
			conf, err := os.ReadFile(filepath.Join(target, "conf-link"))
			must(t, err)
			if string(conf) != "root="+target+"\n" {
				t.Errorf("config through relocated link: %q", conf)
			}
			assertClean(t, filepath.Dir(run), "app.run")
		})
	}
}

// TestRealPythonTrees relocates CPythons built with --prefix by pyenv (tens
// of thousands of files): Python 2.7 and the first 3.x here, every version
// with -tags slow. Each is installed at a short path with a space and, where
// the plan allows it, at a path of the build prefix's length (the rewritten
// sources then keep their size and mtime, which is what a cache checks).
func TestRealPythonTrees(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: skipping the interpreter trees of 100-250 MB")
	}
	root := os.Getenv("PYENV_ROOT")
	if root == "" {
		root = "/root/.pyenv"
	}
	var trees []string
	for _, pattern := range []string{"2.7.*", "3.*"} {
		found, _ := filepath.Glob(filepath.Join(root, "versions", pattern))
		if !allPythons && len(found) > 1 {
			found = found[:1]
		}
		trees = append(trees, found...)
	}
	if len(trees) == 0 {
		t.Skipf("no pyenv-built CPython under %s/versions on this machine", root)
	}
	for _, src := range trees {
		t.Run(filepath.Base(src), func(t *testing.T) {
			t.Parallel()
			relocatePython(t, src)
		})
	}
}

func relocatePython(t *testing.T, src string) {
	version := filepath.Base(src)
	py := "python" + version[:1]
	env := []string{"LD_LIBRARY_PATH=", "PYTHONDONTWRITEBYTECODE="}
	builtVersion := mustOK(t, runCmd(t, env, filepath.Join(src, "bin", py), "-c", "import sys; print(sys.version)")).stdout

	run := filepath.Join(t.TempDir(), "py.run")
	mustOK(t, terrapack(t, "build", src, "-o", run, "--level", "1", "-q"))
	insp := mustOK(t, terrapack(t, "inspect", "--relocations", run)).stdout
	var omitted []string
	for _, l := range strings.Split(insp, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "omitted" {
			omitted = append(omitted, f[1])
		}
	}
	if !slices.ContainsFunc(omitted, func(o string) bool { return strings.Contains(o, "_sysconfigdata") }) {
		t.Errorf("inspect lists no omitted _sysconfigdata cache:\n%s", insp)
	}
	limit := -1
	if _, after, ok := strings.Cut(insp, "longest target:  "); ok {
		fmt.Sscanf(after, "%d", &limit)
	}

	// A short path (the binary strings' limit is about 21 bytes for these
	// trees) with a space; and one as long as the build prefix ending in
	// the version, so that a string merged into the prefix's tail reads the same.
	short, err := os.MkdirTemp("/tmp", "t ")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(short) })
	targets := []string{filepath.Join(short, "p")}
	if pad := len(src) - len(short) - len("//"+version); pad >= 1 && len(src) <= limit {
		targets = append(targets, filepath.Join(short, strings.Repeat("s", pad), version))
	} else {
		t.Logf("no install at the build prefix's length: the plan allows %d bytes of %d", limit, len(src))
	}
	if py == "python2" {
		// Python 2 reads _sysconfigdata.py, which declares no encoding, as ASCII.
		utf8 := filepath.Join(short, "ü")
		mustFail(t, runCmd(t, nil, run, "--to", utf8), 4, "Python 2 source without an encoding declaration", "hint: choose a path of ASCII characters only")
		if exists(utf8) {
			t.Errorf("refused install created %s", utf8)
		}
	}
	for _, target := range targets {
		mustOK(t, runCmd(t, nil, run, "--to", target, "-q"))
		for _, o := range omitted {
			if exists(filepath.Join(target, o)) {
				t.Errorf("omitted cache %s was installed", o)
			}
		}
		bin := filepath.Join(target, "bin")
		// PYTHONDONTWRITEBYTECODE stands for a read-only install: the
		// relocated source is compiled in memory.
		for _, extra := range []string{"PYTHONDONTWRITEBYTECODE=1", "PYTHONDONTWRITEBYTECODE="} {
			r := mustOK(t, runCmd(t, append(env, extra), filepath.Join(bin, py), "-c",
				"import sys, sysconfig; print(sys.prefix); print(sysconfig.get_config_var('LIBDIR')); print(sys.version)"))
			if want := target + "\n" + target + "/lib\n" + builtVersion; r.stdout != want {
				t.Errorf("%s at %q (%s) prints:\n%s\nwant:\n%s", py, target, extra, r.stdout, want)
			}
		}
		if r := mustOK(t, runCmd(t, env, filepath.Join(bin, py+"-config"), "--ldflags")); !strings.Contains(r.stdout, "-L"+target+"/lib") || strings.Contains(r.stdout, src) {
			t.Errorf("%s-config --ldflags at %q: %s", py, target, r.stdout)
		}
		if r := mustOK(t, runCmd(t, env, filepath.Join(bin, "pip"), "--version")); !strings.Contains(r.stdout, target) {
			t.Errorf("pip at %q: %s", target, r)
		}
		if py == "python3" && target == targets[0] { // venv and ensurepip take half a minute
			venv := filepath.Join(t.TempDir(), "my venv")
			mustOK(t, runCmd(t, env, filepath.Join(bin, py), "-m", "venv", venv))
			if r := mustOK(t, runCmd(t, env, filepath.Join(venv, "bin", "pip"), "--version")); !strings.Contains(r.stdout, venv) {
				t.Errorf("the venv's pip: %s", r)
			}
		}
		grep := runCmd(t, nil, "grep", "-rlF", "--exclude-dir=.terrapack", "--exclude=*.pyc", "--exclude=*.pyo", src, target)
		if grep.code != 1 {
			t.Errorf("installed files still name %s:\n%s", src, grep.stdout)
		}
		must(t, os.RemoveAll(target))
	}
}

// TestSeveralPrefixes: a tree built at one place and staged at another
// names both; every prefix given becomes the install path.
func TestSeveralPrefixes(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	built, staged := "/home/ourapp/root", "/build/stage/ourapp"
	must(t, os.WriteFile(filepath.Join(src, "app.conf"), []byte("lib="+built+"/lib\ndata="+staged+"/share\n"), 0o644))
	must(t, os.Symlink(staged+"/app.conf", filepath.Join(src, "conf-link")))
	must(t, os.WriteFile(filepath.Join(src, "terrapack.yaml"), []byte("prefix: ["+built+", "+staged+"]\n"), 0o644))
	for name, args := range map[string][]string{"flags": {"--prefix", built, "--prefix", staged}, "terrapack.yaml": nil} {
		t.Run(name, func(t *testing.T) {
			run := build(t, src, args...)
			if insp := mustOK(t, terrapack(t, "inspect", "--relocations", run)).stdout; !strings.Contains(insp, "also rewritten:  "+staged) {
				t.Errorf("inspect does not show the second prefix:\n%s", insp)
			}
			target := filepath.Join(t.TempDir(), "app")
			mustOK(t, runCmd(t, nil, run, "--to", target, "-q"))
			conf, err := os.ReadFile(filepath.Join(target, "conf-link"))
			must(t, err)
			if want := "lib=" + target + "/lib\ndata=" + target + "/share\n"; string(conf) != want {
				t.Errorf("config %q, want %q", conf, want)
			}
		})
	}
}

// TestInstallAtTrickyPaths installs a prefix tree at paths with blanks,
// quotes, sh's special characters and UTF-8: its "#!" script, text file and
// symlink work there; a path no rewrite can carry is refused before writing.
func TestInstallAtTrickyPaths(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	p := filepath.Join(base, "build", "root")
	bash, err := exec.LookPath("bash")
	must(t, err)
	b, err := os.ReadFile(bash)
	must(t, err)
	for name, content := range map[string]string{
		"bin/bash":     string(b),
		"bin/hello":    "#!" + p + "/bin/bash -e\necho \"shell=$BASH\"\ncat \"${0%/bin/hello}/etc/app.conf\"\n",
		"bin/node-app": "#!" + p + "/bin/node\nconsole.log(1)\n",
		"etc/app.conf": "root=" + p + "\n",
	} {
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(p, name)), 0o755))
		must(t, os.WriteFile(filepath.Join(p, name), []byte(content), 0o755))
	}
	must(t, os.Symlink(p+"/etc/app.conf", filepath.Join(p, "conf-link")))
	// Every trampoline style, with the system's interpreters copied in.
	scripts := map[string]string{
		"python3": "import sys; print('0=' + sys.argv[0])",
		"perl":    "print \"0=$0\\n\";",
		"ruby":    "puts \"0=#{$0}\"",
		"tclsh":   "puts \"0=$argv0\"",
	}
	for interp, body := range scripts {
		real, err := filepath.EvalSymlinks("/usr/bin/" + interp)
		if err != nil {
			t.Logf("no /usr/bin/%s: its trampoline is not run here", interp)
			delete(scripts, interp)
			continue
		}
		b, err := os.ReadFile(real)
		must(t, err)
		must(t, os.WriteFile(filepath.Join(p, "bin", interp), b, 0o755))
		must(t, os.WriteFile(filepath.Join(p, "bin", "run-"+interp), []byte("#!"+p+"/bin/"+interp+"\n"+body+"\n"), 0o755))
	}
	withNode := build(t, p, "--prefix", p)
	must(t, os.Remove(filepath.Join(p, "bin/node-app")))
	run := build(t, p, "--prefix", p)
	must(t, os.RemoveAll(filepath.Join(base, "build")))

	for _, dir := range []string{"my apps/tool box", "tab\there", `it's $HOME "q" back\slash ünï/数据`} {
		target := filepath.Join(t.TempDir(), dir)
		mustOK(t, runCmd(t, nil, run, "--to", target, "-q"))
		r := mustOK(t, runCmd(t, nil, filepath.Join(target, "bin/hello")))
		if want := "shell=" + target + "/bin/bash\nroot=" + target + "\n"; r.stdout != want {
			t.Errorf("at %q: bin/hello printed %q, want %q", target, r.stdout, want)
		}
		conf, err := os.ReadFile(filepath.Join(target, "conf-link"))
		must(t, err)
		if string(conf) != "root="+target+"\n" {
			t.Errorf("at %q: config through the relocated link: %q", target, conf)
		}
		for interp := range scripts {
			script := filepath.Join(target, "bin", "run-"+interp)
			if r := mustOK(t, runCmd(t, nil, script)); r.stdout != "0="+script+"\n" {
				t.Errorf("at %q: %s script printed %q", target, interp, r.stdout)
			}
		}
	}

	// node has no trampoline: a blank in the path is refused as such.
	for dir, why := range map[string]string{"my app": "contains a space or tab", "new\nline": "contains a newline"} {
		target := filepath.Join(t.TempDir(), "sub", dir)
		mustFail(t, runCmd(t, nil, withNode, "--to", target), 4, why, "hint: choose a path without")
		if r := runCmd(t, nil, withNode, "--to", target); strings.Contains(r.stderr, "shorter") {
			t.Errorf("refusal of %q speaks of length:\n%s", target, r.stderr)
		}
		if exists(filepath.Dir(target)) {
			t.Errorf("refused install of %q created %s", target, filepath.Dir(target))
		}
	}
}
