package main

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// codeIntoPrefixC points, from code only, at the last bytes of its prefix
// string, as code does at a version literal the linker merged into the
// prefix's tail: no data relocation shows it.
const codeIntoPrefixC = `#include <stdio.h>
int main(void) {
	printf("%s %s\n", PREFIX, PREFIX + sizeof(PREFIX) - sizeof("3.1.4"));
	return 0;
}
`

// TestBuildSaysCodeNotScanned: for an ELF file of a machine whose code is
// not scanned (riscv64), build (also with --quiet), inspect --relocations
// and the installer's refusal of a long path say that its limit is assumed;
// the same program for amd64 is scanned, the reference into the prefix
// found and the string shortened, with no such note.
func TestBuildSaysCodeNotScanned(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skipf("skipping: gcc is not installed: %v", err)
	}
	compile := func(cc, src string, patchMachine bool) {
		t.Helper()
		must(t, os.MkdirAll(filepath.Join(src, "bin"), 0o755))
		c := filepath.Join(t.TempDir(), "m.c")
		must(t, os.WriteFile(c, []byte(codeIntoPrefixC), 0o644))
		real, err := filepath.EvalSymlinks(src)
		must(t, err)
		bin := filepath.Join(src, "bin", "m")
		mustOK(t, runCmd(t, nil, cc, "-O2", `-DPREFIX="`+real+`"`, "-o", bin, c))
		if patchMachine {
			// An x86-64 program marked as RISC-V (e_machine 243): what the
			// scanner does depends on that field alone.
			b, err := os.ReadFile(bin)
			must(t, err)
			binary.LittleEndian.PutUint16(b[18:], 243)
			must(t, os.WriteFile(bin, b, 0o755))
		}
	}
	// The version at the prefix's end is what the code points at.
	riscv, amd64 := filepath.Join(t.TempDir(), "app-3.1.4"), filepath.Join(t.TempDir(), "app-3.1.4")
	if cc, err := exec.LookPath("riscv64-linux-gnu-gcc"); err == nil {
		compile(cc, riscv, false)
	} else {
		t.Logf("riscv64-linux-gnu-gcc not found (apt-get install gcc-riscv64-linux-gnu): an x86-64 program marked as RISC-V stands in")
		compile("gcc", riscv, true)
	}
	compile("gcc", amd64, false)

	out := filepath.Join(t.TempDir(), "riscv.run")
	r := mustOK(t, terrapack(t, "build", riscv, "-o", out, "--quiet"))
	want := "warning: 1 ELF file(s) (bin/m): RISCV code is not scanned for references into strings (terrapack reads x86-64, arm64 and i386 code), only data relocations and pointers: its limit assumes no code points inside a build prefix"
	if !strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("build --quiet does not warn once that the code was not scanned:\n%s", r)
	}
	insp := mustOK(t, terrapack(t, "inspect", "--relocations", out)).stdout
	for _, w := range []string{"  unscanned bin/m: RISCV code is not scanned", "names the build prefix once; it keeps its length (assumed: its RISCV code was not scanned for references into strings)"} {
		if !strings.Contains(insp, w) {
			t.Errorf("inspect --relocations lacks %q:\n%s", w, insp)
		}
	}
	long := filepath.Join(t.TempDir(), strings.Repeat("x", len(riscv)+20))
	mustFail(t, runCmd(t, nil, out, "--to", long), 4, "(assumed: its RISCV code was not scanned")

	out = filepath.Join(t.TempDir(), "amd64.run")
	r = mustOK(t, terrapack(t, "build", amd64, "-o", out, "--quiet"))
	if r.stderr != "" {
		t.Errorf("build of the amd64 program warns:\n%s", r)
	}
	insp = mustOK(t, terrapack(t, "inspect", "--relocations", out)).stdout
	if strings.Contains(insp, "unscanned") || strings.Contains(insp, "assumed") || !strings.Contains(insp, "  shortened bin/m") {
		t.Errorf("the amd64 program's reference into its prefix is not found, or its code said unscanned:\n%s", insp)
	}
}

// TestBuildWarnsTemplateForeignField: a *.tmpl reading one of terrapack's
// fields beside one of its own is shipped as it is, and the build says so
// (with --quiet too), naming the file, line and both fields; a terrapack
// template beside it is rendered, without a word.
func TestBuildWarnsTemplateForeignField(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	raw := "name={{.Name}}\nfoo={{.Foo}}\n"
	must(t, os.MkdirAll(filepath.Join(src, "share"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "share", "mixed.conf.tmpl"), []byte(raw), 0o644))
	must(t, os.WriteFile(filepath.Join(src, "share", "ours.conf.tmpl"), []byte("name={{.Name}} {{.Version}}\n"), 0o644))
	run := filepath.Join(t.TempDir(), "app.run")
	r := mustOK(t, terrapack(t, "build", src, "-o", run, "--name", "app", "--version", "1.0", "--quiet"))
	want := "warning: template share/mixed.conf.tmpl:2:6: reads .Foo, a field terrapack does not provide, beside .Name (at share/mixed.conf.tmpl:1:7), one of terrapack's: shipped as it is, not rendered"
	if !strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("build --quiet does not warn once about the template:\n%s", r)
	}
	target := filepath.Join(t.TempDir(), "app")
	mustOK(t, runCmd(t, nil, run, "--to", target, "--quiet"))
	if got := readText(t, filepath.Join(target, "share", "mixed.conf.tmpl")); got != raw {
		t.Errorf("the mixed template was changed: %q", got)
	}
	if got := readText(t, filepath.Join(target, "share", "ours.conf")); got != "name=app 1.0\n" {
		t.Errorf("terrapack's template rendered as %q", got)
	}
}

// TestRealTemplatesShipUntouched: the Go tree (its *.tmpl test data) and
// setuptools' script templates of every pyenv CPython build without a
// warning and install byte for byte.
func TestRealTemplatesShipUntouched(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	must(t, err)
	goroot := strings.TrimSpace(string(out))
	tmpls, _ := filepath.Glob(filepath.Join(goroot, "src", "*", "template", "testdata", "*.tmpl"))
	if len(tmpls) == 0 {
		t.Fatalf("no *.tmpl in %s/src/*/template/testdata", goroot)
	}
	run := filepath.Join(t.TempDir(), "go.run")
	r := mustOK(t, terrapack(t, "build", goroot, "-o", run, "--quiet", "--level", "1"))
	if r.stderr != "" {
		t.Errorf("build of the Go tree warns:\n%s", r)
	}
	target := filepath.Join(t.TempDir(), "go")
	mustOK(t, runCmd(t, nil, run, "--to", target, "--quiet"))
	for _, p := range tmpls {
		rel, _ := filepath.Rel(goroot, p)
		if readText(t, filepath.Join(target, rel)) != readText(t, p) {
			t.Errorf("%s differs after install", rel)
		}
	}

	setuptools, _ := filepath.Glob(filepath.Join(os.Getenv("HOME"), ".pyenv", "versions", "*", "lib", "python*", "site-packages", "setuptools", "*.tmpl"))
	if len(setuptools) == 0 {
		t.Logf("no pyenv CPython with setuptools on this machine: its templates not tested (%d of the Go tree were)", len(tmpls))
		return
	}
	src := t.TempDir()
	for i, p := range setuptools {
		dst := filepath.Join(src, strings.Repeat("v", i+1), filepath.Base(p))
		must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		must(t, os.WriteFile(dst, []byte(readText(t, p)), 0o644))
	}
	run = filepath.Join(t.TempDir(), "setuptools.run")
	if r := mustOK(t, terrapack(t, "build", src, "-o", run, "--quiet")); r.stderr != "" {
		t.Errorf("build of setuptools' templates warns:\n%s", r)
	}
	target = filepath.Join(t.TempDir(), "st")
	mustOK(t, runCmd(t, nil, run, "--to", target, "--quiet"))
	compareTrees(t, src, target)
	t.Logf("%d templates of the Go tree and %d of setuptools ship untouched", len(tmpls), len(setuptools))
}
