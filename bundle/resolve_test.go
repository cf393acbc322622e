package bundle

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseLDCacheMatchesLdconfig(t *testing.T) {
	data, err := os.ReadFile("/etc/ld.so.cache")
	if err != nil {
		t.Skipf("no ld.so.cache here: %v", err)
	}
	entries, err := ParseLDCache(data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ldconfig", "-p").Output()
	if err != nil {
		t.Skipf("ldconfig -p: %v", err)
	}
	// ldconfig -p prints "\tNAME (FLAGS) => PATH" per entry, in file order.
	var want []string
	for line := range strings.Lines(string(out)) {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), " (")
		_, p, ok2 := strings.Cut(rest, ") => ")
		if ok && ok2 {
			want = append(want, name+" => "+p)
		}
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name+" => "+e.Path)
	}
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("parsed %d entries, ldconfig -p lists %d; first parsed %q", len(got), len(want), got[:min(3, len(got))])
	}
	c, err := loadLDCache("/etc/ld.so.cache")
	if err != nil {
		t.Fatal(err)
	}
	if p := c["libc.so.6"]; len(p) == 0 || filepath.Base(p[0]) != "libc.so.6" {
		t.Errorf("libc.so.6 resolves to %q", p)
	}
}

func TestParseLDCacheRejectsGarbage(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("hello"), []byte(cacheMagicNew), []byte(cacheMagicOld + "xxxx")} {
		if _, err := ParseLDCache(data); err == nil {
			t.Errorf("ParseLDCache(%q) succeeded", data)
		}
	}
	// A header claiming more entries than the file holds.
	h := make([]byte, cacheHeaderSize)
	copy(h, cacheMagicNew)
	h[20] = 5
	if _, err := ParseLDCache(h); err == nil || !strings.Contains(err.Error(), "claims 5 entries") {
		t.Errorf("truncated cache: %v", err)
	}
}

func TestExpand(t *testing.T) {
	r := &resolver{lib: "lib/x86_64-linux-gnu", platform: "x86_64"}
	got := r.expand([]string{"$ORIGIN/../lib64:${ORIGIN}/x::/opt/$LIB", "/p/${PLATFORM}/$PLATFORM/${LIB}"}, "/o/bin")
	want := []string{"/o/lib64", "/o/bin/x", "/opt/lib/x86_64-linux-gnu", "/p/x86_64/x86_64/lib/x86_64-linux-gnu"}
	if !slices.Equal(got, want) {
		t.Errorf("expand = %q, want %q", got, want)
	}
}

func TestParseInclude(t *testing.T) {
	for spec, want := range map[string]Include{
		"/usr/lib/python3.11:lib/python3.11": {"/usr/lib/python3.11", "lib/python3.11"},
		"/usr/share/zoneinfo":                {"/usr/share/zoneinfo", "zoneinfo"},
		"a:b/../c/":                          {"a", "c"},
	} {
		if got, err := ParseInclude(spec); err != nil || got != want {
			t.Errorf("ParseInclude(%q) = %v, %v; want %v", spec, got, err, want)
		}
	}
	for _, spec := range []string{":x", "a:/abs", "a:../up", "a:.", "a:lib64/x", "a:pbin"} {
		if _, err := ParseInclude(spec); err == nil {
			t.Errorf("ParseInclude(%q) succeeded", spec)
		}
	}
}

// gcc compiles src into out with extra flags, skipping without gcc.
func gcc(t *testing.T, out, src string, flags ...string) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	c := out + ".c"
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("gcc", append([]string{"-o", out, c}, flags...)...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", out, err, b)
	}
}

// chain builds prog → liba → libb with libb only in dir/b, reachable
// through prog's DT_RPATH; liba gets aFlags (e.g. a DT_RUNPATH).
func chain(t *testing.T, dir string, aFlags ...string) string {
	for _, d := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	libb := filepath.Join(dir, "b", "libb.so")
	gcc(t, libb, "int b(void){return 7;}\n", "-shared", "-fPIC")
	gcc(t, filepath.Join(dir, "a", "liba.so"), "int b(void); int a(void){return b();}\n",
		append([]string{"-shared", "-fPIC", "-L" + filepath.Join(dir, "b"), "-lb"}, aFlags...)...)
	prog := filepath.Join(dir, "prog")
	gcc(t, prog, "int a(void); int main(void){return a()==7?0:1;}\n", "-L"+filepath.Join(dir, "a"), "-la",
		"-Wl,--disable-new-dtags", "-Wl,-rpath,$ORIGIN/a:$ORIGIN/b", "-Wl,-rpath-link,"+filepath.Join(dir, "b"))
	return prog
}

// TestClosureFollowsLoader checks the resolver against the real ld.so:
// DT_RPATH of the loading chain applies unless the requester has DT_RUNPATH.
func TestClosureFollowsLoader(t *testing.T) {
	r, err := newResolver("/etc/ld.so.cache")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		aFlags []string
		ok     bool
	}{
		{"rpath chain", nil, true},
		{"runpath hides chain", []string{"-Wl,--enable-new-dtags", "-Wl,-rpath,/nonexistent"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog := chain(t, t.TempDir(), tc.aFlags...)
			runErr := exec.Command(prog).Run()
			if (runErr == nil) != tc.ok {
				t.Fatalf("ld.so: run error %v, want ok=%v", runErr, tc.ok)
			}
			root, err := r.openObject(prog, filepath.Dir(prog))
			if err != nil {
				t.Fatal(err)
			}
			libs, err := r.closure(root)
			if (err == nil) != tc.ok {
				t.Fatalf("closure error %v, want ok=%v", err, tc.ok)
			}
			if err != nil {
				// The error names the library, who needs it and where we looked.
				for _, s := range []string{`"libb.so"`, "liba.so", "/nonexistent", "/etc/ld.so.cache"} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %s", err, s)
					}
				}
				return
			}
			var names []string
			for _, l := range libs {
				names = append(names, l.names[0])
			}
			if !slices.Contains(names, "libb.so") || !slices.Contains(names, "libc.so.6") {
				t.Errorf("closure = %q", names)
			}
		})
	}
}

func TestBundleMissingLibrary(t *testing.T) {
	requirePatchelf(t)
	dir := t.TempDir()
	prog := chain(t, dir)
	if err := os.Remove(filepath.Join(dir, "b", "libb.so")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	err := Bundle(Options{Executables: []string{prog}, Output: out})
	if err == nil {
		t.Fatal("bundle succeeded without libb.so")
	}
	for _, s := range []string{`"libb.so"`, filepath.Join(dir, "a", "liba.so"), filepath.Join(dir, "b")} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %s", err, s)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("failed bundle left %q behind: %v", out, err)
	}
}
