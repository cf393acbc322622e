package planner

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/terrapack/terrapack/payload"

	"github.com/terrapack/terrapack/elfscan"
	"github.com/terrapack/terrapack/internal/elftest"
	"github.com/terrapack/terrapack/relocate"
)

const e2eAppC = `#include <stdio.h>
#define DATADIR "%s/share/app"
int greet(void);
int main(int argc, char **argv) {
	const char *path = DATADIR "/data.txt";
	char buf[256];
	FILE *f = fopen(path, "r");
	if (f == NULL) { perror(path); return 1; }
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	printf("greet=%%d argc=%%d data=%%s", greet(), argc, buf);
	return 0;
}
`

// TestEndToEnd builds a small C tree under a long prefix, plans it, deletes
// the build folder, installs into a shorter one and runs the result.
func TestEndToEnd(t *testing.T) {
	elftest.RequireTool(t, "gcc")
	elftest.RequireTool(t, "patchelf")
	tmp := t.TempDir()
	P := filepath.Join(tmp, "build", strings.Repeat("a", 80), "prefix")
	// Shorter than P (binary strings only shrink), long enough that
	// "#!T/bin/sh -e" needs a trampoline.
	T := filepath.Join(tmp, strings.Repeat("t", 88))
	if len(T) >= len(P) || len("#!"+T+"/bin/sh -e") <= relocate.MaxShebang {
		t.Fatalf("test paths of %d and %d bytes do not exercise what they should", len(P), len(T))
	}

	// The build: libgreet.so, app with DT_RPATH, a private copy of the
	// loader as PT_INTERP, and a compiled-in data path.
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		"greet.c": elftest.GreetLibC,
		"app.c":   fmt.Sprintf(e2eAppC, P),
	})
	writeTree(t, P, map[string]string{
		"share/app/data.txt":                       "hello from the data file\n",
		"etc/app.conf":                             "# app configuration\nroot=" + P + "\ndata=" + P + "/share/app\nother=" + P + "fs/keep\n",
		"bin/tool*":                                "#!" + P + "/bin/sh -e\necho \"tool: $# args\"\nexec " + P + "/bin/app \"$@\"\n",
		"bin/launch.tmpl*":                         "#!/bin/sh\nexec {{.Prefix}}/bin/app \"$@\"\n",
		"bin/current -> " + P + "/bin/app":         "",
		"lib/python/__pycache__/m.cpython-311.pyc": "\xa7\x0d\x0d\x0a\x00\x00\x00\x00\xfa\x20" + P + "/lib/python/m.py\xda\x08<module>",
	})
	os.MkdirAll(filepath.Join(P, "lib"), 0o755)
	elftest.Run(t, "gcc", "-shared", "-fPIC", "-Wl,-soname,libgreet.so", "-o", P+"/lib/libgreet.so", src+"/greet.c")
	elftest.Run(t, "gcc", "-o", P+"/bin/app", src+"/app.c", "-L"+P+"/lib", "-lgreet", "-Wl,-rpath,"+P+"/lib", "-Wl,--disable-new-dtags")
	loader := readFacts(t, P+"/bin/app").Interp.Value
	copyFile(t, loader, P+"/lib64/"+filepath.Base(loader), 0o755)
	elftest.Run(t, "patchelf", "--set-interpreter", P+"/lib64/"+filepath.Base(loader), P+"/bin/app")
	copyFile(t, realInterp("dash", "bash"), P+"/bin/sh", 0o755)
	if out, err := elftest.RunClean(P + "/bin/current"); err != nil || !strings.Contains(out, "hello from the data file") {
		t.Fatalf("the build itself does not run: %v\n%s", err, out)
	}

	packed := filepath.Join(tmp, "packed")
	pl := planTree(t, P, packed, P)
	if err := os.RemoveAll(filepath.Join(tmp, "build")); err != nil {
		t.Fatal(err)
	}

	// What the plan holds.
	kinds := map[string]string{}
	for _, f := range pl.Files {
		kinds[f.Name] = f.Kind
	}
	wantKinds := map[string]string{"bin/app": relocate.KindELF, "bin/launch": relocate.KindTemplate, "bin/tool": relocate.KindShebang, "etc/app.conf": relocate.KindText}
	if !mapsEqual(kinds, wantKinds) {
		t.Errorf("planned kinds %v, want %v", kinds, wantKinds)
	}
	if got := pl.MaxTargetLen(); got != len(P) {
		t.Errorf("MaxTargetLen = %d, want %d (the data path has no slack)", got, len(P))
	}
	if len(pl.Kept) != 1 || !strings.HasSuffix(pl.Kept[0].Name, ".pyc") {
		t.Errorf("kept %+v, want the .pyc", pl.Kept)
	}
	// The packed app already has a relative DT_RPATH.
	facts := readFacts(t, packed+"/bin/app")
	if len(facts.RPath) != 1 || facts.RPath[0].Value != "$ORIGIN/../lib" || len(facts.RunPath) != 0 {
		t.Errorf("packed RPATH %+v, RUNPATH %+v; want DT_RPATH $ORIGIN/../lib", facts.RPath, facts.RunPath)
	}

	// A target longer than the plan allows is refused before anything is written.
	long := filepath.Join(tmp, strings.Repeat("x", len(P)-len(tmp)))
	if _, err := relocate.NewApplier(pl, relocate.Vars{Prefix: long}); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("at most %d", len(P))) {
		t.Fatalf("a %d-byte target: error %v, want a refusal naming %d", len(long), err, len(P))
	}

	a, err := relocate.NewApplier(pl, relocate.Vars{Prefix: T, Name: "app", Version: "1.0"})
	if err != nil {
		t.Fatal(err)
	}
	installTree(t, packed, T, a)

	// The same through the installer's extractor, from a tar stream.
	T2 := filepath.Join(tmp, strings.Repeat("u", 88))
	a2, err := relocate.NewApplier(pl, relocate.Vars{Prefix: T2, Name: "app", Version: "1.0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(T2, 0o755); err != nil {
		t.Fatal(err)
	}
	x := &payload.Extractor{Root: T2, Rewrite: a2}
	if err := x.Extract(context.Background(), payload.NewTarReader(tarTree(t, packed))); err != nil {
		t.Fatal(err)
	}
	if rest := a2.Remaining(); len(rest) != 0 {
		t.Fatalf("Remaining() = %q after extraction", rest)
	}

	for _, tc := range []struct {
		prog string
		want string
	}{
		{"bin/app", "greet=42 argc=1 data=hello from the data file\n"},
		{"bin/current", "greet=42 argc=1 data=hello from the data file\n"},
		{"bin/tool", "tool: 0 args\ngreet=42 argc=1 data=hello from the data file\n"},
		{"bin/launch", "greet=42 argc=1 data=hello from the data file\n"},
	} {
		for _, root := range []string{T, T2} {
			out, err := elftest.RunClean(filepath.Join(root, tc.prog))
			if err != nil || out != tc.want {
				t.Errorf("%s: %v\n%s\nwant\n%s", filepath.Join(root, tc.prog), err, out, tc.want)
			}
		}
	}
	facts = readFacts(t, T+"/bin/app")
	if want := T + "/lib64/" + filepath.Base(loader); facts.Interp.Value != want {
		t.Errorf("installed PT_INTERP %q, want %q", facts.Interp.Value, want)
	}
	if link, _ := os.Readlink(T + "/bin/current"); link != "app" {
		t.Errorf("bin/current -> %q, want app", link)
	}
	conf, _ := os.ReadFile(T + "/etc/app.conf")
	if want := "# app configuration\nroot=" + T + "\ndata=" + T + "/share/app\nother=" + P + "fs/keep\n"; string(conf) != want {
		t.Errorf("etc/app.conf:\n%s\nwant\n%s", conf, want)
	}
	if tool, _ := os.ReadFile(T + "/bin/tool"); !strings.HasPrefix(string(tool), "#!/bin/sh\nif [") {
		t.Errorf("bin/tool has no trampoline:\n%s", tool)
	}
	if fi, err := os.Stat(T + "/bin/launch"); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/launch: %v, %v", fi, err)
	}

	// Nothing names the build prefix any more, but what the plan keeps
	// (etc/app.conf's "Pfs" names another path).
	var left []string
	filepath.WalkDir(T, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		var data []byte
		if d.Type()&fs.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			data = []byte(l)
		} else if data, err = os.ReadFile(p); err != nil {
			return err
		}
		if relocate.NewPrefixes(P).Names(string(data)) && !strings.HasSuffix(p, ".pyc") {
			rel, _ := filepath.Rel(T, p)
			left = append(left, rel)
		}
		return nil
	})
	if len(left) > 0 || pl.Kept[0].Name != "*.pyc" {
		t.Errorf("files naming the build prefix: %q; kept %q", left, pl.Kept)
	}
	out, _ := exec.Command("grep", "-rlF", "--exclude=*.pyc", P+"/", T).Output()
	if got := strings.TrimSpace(string(out)); got != "" {
		t.Errorf("grep -r finds the build prefix in:\n%s", got)
	}
}

// tarTree packs a folder the way the builder does.
func tarTree(t *testing.T, root string) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if d.Type()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		hdr.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(data)
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return &buf
}

func copyFile(t *testing.T, from, to string, mode fs.FileMode) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, mode); err != nil {
		t.Fatal(err)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			return false
		}
	}
	return true
}

// TestEndToEndBytesUnchanged checks that files not naming the prefix pass
// through untouched.
func TestEndToEndBytesUnchanged(t *testing.T) {
	a, err := relocate.NewApplier(&relocate.Plan{BuildPrefix: binPrefix}, relocate.Vars{Prefix: "/opt/x"})
	if err != nil {
		t.Fatal(err)
	}
	rw, err := a.File("anything")
	if err != nil || rw.Wrap != nil || rw.Patch != nil {
		t.Fatalf("File = %+v, %v; want the zero rewrite", rw, err)
	}
	if got, err := a.Symlink("l", "/usr/lib/x"); err != nil || got != "/usr/lib/x" {
		t.Fatalf("Symlink = %q, %v", got, err)
	}
}

// readFacts reads the ELF facts of a program the test built.
func readFacts(t *testing.T, name string) *elfscan.Facts {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	facts, err := elfscan.ReadFacts(f)
	if err != nil || facts == nil || facts.Interp == nil {
		t.Fatalf("%s: no ELF program with an interpreter: %v", name, err)
	}
	return facts
}
