package elfscan

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// cStrings returns the spans of the NUL-terminated strings of data that
// equal s exactly.
func cStrings(data []byte, s string) []Span {
	var spans []Span
	needle := append([]byte{0}, append([]byte(s), 0)...)
	for i := 0; ; {
		j := bytes.Index(data[i:], needle)
		if j < 0 {
			return spans
		}
		spans = append(spans, Span{Off: int64(i + j + 1), Len: len(s)})
		i += j + 1
	}
}

// TestInnerReferencesPyenv finds, in every pyenv-built libpython, the
// reference to PY_VERSION that ld merged into the tail of the prefix string.
func TestInnerReferencesPyenv(t *testing.T) {
	root := os.Getenv("PYENV_ROOT")
	if root == "" {
		root = "/root/.pyenv"
	}
	libs, _ := filepath.Glob(filepath.Join(root, "versions", "*", "lib", "libpython*.so.1.0"))
	if len(libs) == 0 {
		t.Skipf("no pyenv-built CPython under %s/versions on this machine", root)
	}
	for _, lib := range libs {
		prefix := filepath.Dir(filepath.Dir(lib))
		version := filepath.Base(prefix)
		t.Run(version, func(t *testing.T) {
			data, err := os.ReadFile(lib)
			if err != nil {
				t.Fatal(err)
			}
			spans := cStrings(data, prefix)
			if len(spans) == 0 {
				t.Skipf("%s holds no string equal to its prefix", lib)
			}
			refs, err := InnerReferences(bytes.NewReader(data), spans)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.LastIndex(prefix, version)
			found := false
			for i, inner := range refs.Inner {
				t.Logf("%s: string at %d: inner references at %v", lib, spans[i].Off, inner)
				found = found || slices.Contains(inner, want)
			}
			if !found {
				t.Errorf("no reference at byte %d (PY_VERSION %q) of %q found", want, version, prefix)
			}
		})
	}
}

// TestInnerReferencesCompiled compiles programs that point into the middle
// of a string from code only and from data only, as PIE and non-PIE, for
// amd64 and (with the cross compiler) arm64, and checks that exactly that
// byte is found: no reference missed, none invented.
func TestInnerReferencesCompiled(t *testing.T) {
	const prefix = "/tmp/some/prefix/3.1.4"
	const tail = "(PREFIX + sizeof(PREFIX) - sizeof(\"3.1.4\"))"
	sources := map[string]string{
		"code": "#include <stdio.h>\nint main(void) { puts(PREFIX); puts(" + tail + "); return 0; }\n",
		"data": "#include <stdio.h>\nconst char *p = PREFIX, *v = " + tail + ";\nint main(void) { puts(p); puts(v); return 0; }\n",
		"none": "#include <stdio.h>\nconst char *p = PREFIX;\nint main(void) { puts(p); puts(PREFIX); return 0; }\n",
	}
	want := map[string][]int{"code": {len(prefix) - len("3.1.4")}, "data": {len(prefix) - len("3.1.4")}, "none": nil}
	compilers := map[string]string{"amd64": "gcc", "arm64": "aarch64-linux-gnu-gcc"}
	for arch, cc := range compilers {
		if _, err := exec.LookPath(cc); err != nil {
			t.Logf("%s not found: %s references not tested", cc, arch)
			continue
		}
		for name, src := range sources {
			for _, pie := range []string{"-pie", "-no-pie"} {
				t.Run(arch+"/"+name+pie, func(t *testing.T) {
					dir := t.TempDir()
					c := filepath.Join(dir, "p.c")
					if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
						t.Fatal(err)
					}
					bin := filepath.Join(dir, "p")
					run(t, cc, "-O2", pie, "-o", bin, c, `-DPREFIX="`+prefix+`"`)
					data, err := os.ReadFile(bin)
					if err != nil {
						t.Fatal(err)
					}
					spans := cStrings(data, prefix)
					if len(spans) != 1 {
						t.Fatalf("%d strings equal to %q, want 1", len(spans), prefix)
					}
					refs, err := InnerReferences(bytes.NewReader(data), spans)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(refs.Inner[0], want[name]) || !refs.CodeScanned {
						t.Errorf("inner references %v (code scanned: %v), want %v", refs.Inner[0], refs.CodeScanned, want[name])
					}
				})
			}
		}
	}
}
