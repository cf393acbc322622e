package elfmagic

import (
	"os"
	"path/filepath"
	"testing"
)

func TestIs(t *testing.T) {
	for in, want := range map[string]bool{"": false, "\x7fEL": false, "\x7fELF": true, "\x7fELF\x02\x01": true, "#!/bin/sh\n": false, "MZ\x90\x00": false} {
		if got := Is([]byte(in)); got != want {
			t.Errorf("Is(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestIsFile: the test binary itself is ELF; its source, a 3-byte file
// and a missing file are not.
func TestIsFile(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(t.TempDir(), "short")
	if err := os.WriteFile(short, []byte("\x7fEL"), 0o644); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{self: true, "elfmagic.go": false, short: false, filepath.Join(t.TempDir(), "none"): false} {
		if got := IsFile(p); got != want {
			t.Errorf("IsFile(%q) = %v, want %v", p, got, want)
		}
	}
}
