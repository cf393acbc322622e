package elfscan

import (
	"bytes"
	"os"
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
