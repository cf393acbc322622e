package disc

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/terrapack/terrapack/builder"
)

// TestVerifyMultiExtent: an installer stored as several extents, as every
// installer of 4 GiB or more is, verifies through the independent reader.
func TestVerifyMultiExtent(t *testing.T) {
	if len(builder.Arches()) == 0 {
		t.Skip("no installer stub embedded: run `make build` first (make test does)")
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "data"), bytes.Repeat([]byte("x"), 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	run := filepath.Join(dir, "app.run")
	if err := builder.Build(builder.Options{Source: src, Output: run, Compression: "none"}); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "app.iso")
	if err := Write(Options{Installer: run, Output: img, ExtentSize: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Verify(context.Background(), img, &out, nil); err != nil {
		t.Fatalf("verify: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "ok  app.run: ") {
		t.Fatalf("installer not verified:\n%s", out.String())
	}
	// A flipped byte in a later extent is still found.
	b, _ := os.ReadFile(img)
	i := bytes.LastIndex(b, bytes.Repeat([]byte("x"), 4096))
	b[i] = 'y'
	bad := filepath.Join(dir, "bad.iso")
	os.WriteFile(bad, b, 0o644)
	if err := Verify(context.Background(), bad, &out, nil); err == nil || !strings.Contains(err.Error(), "app.run: SHA-256") {
		t.Fatalf("damage in a later extent not found: %v", err)
	}
}
