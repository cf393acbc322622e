package builder

import (
	"os"
	"path/filepath"
	"testing"
)

// nearEmptyBudget bounds the installer of a one-file folder: the stub is
// what every customer downloads on top of the app (docs/BENCHMARKS.md).
const nearEmptyBudget = 4.5 * (1 << 20)

// TestNearEmptyInstallerSize: for every embedded architecture, the
// installer of a one-file folder stays within the budget.
func TestNearEmptyInstallerSize(t *testing.T) {
	if len(Arches()) == 0 {
		t.Skip("no installer stub embedded: run `make build` first (make test does)")
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "hello"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, arch := range Arches() {
		out := filepath.Join(t.TempDir(), "app.run")
		if err := Build(Options{Source: src, Output: out, Arch: arch}); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: near-empty installer %d bytes (%.2f MiB)", arch, st.Size(), float64(st.Size())/(1<<20))
		if st.Size() > nearEmptyBudget {
			t.Errorf("%s: near-empty installer is %d bytes, over the %.1f MiB budget", arch, st.Size(), nearEmptyBudget/(1<<20))
		}
	}
}
