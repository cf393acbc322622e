package builder

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"

	"github.com/terrapack/terrapack/payload"
)

type testSigner ed25519.PrivateKey

func (k testSigner) PublicKey() ed25519.PublicKey {
	return ed25519.PrivateKey(k).Public().(ed25519.PublicKey)
}
func (k testSigner) Sign(d []byte) ([]byte, error) {
	return ed25519.Sign(ed25519.PrivateKey(k), d), nil
}

// TestEveryTrailerByteCounts: a flipped low or high bit in any byte of the
// trailer, and of the signature block of a signed installer, is refused by
// Open or by the check that --check, verify and every install run.
func TestEveryTrailerByteCounts(t *testing.T) {
	if len(Arches()) == 0 {
		t.Skip("no installer stub embedded: run `make build` first (make test does)")
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "data"), []byte("some data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	for name, signer := range map[string]testSigner{"unsigned": nil, "signed": testSigner(key)} {
		out := filepath.Join(t.TempDir(), "app.run")
		o := Options{Source: src, Output: out}
		if signer != nil {
			o.Signer = signer
		}
		if err := Build(o); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(out)
		in, err := payload.Open(bytes.NewReader(b), int64(len(b)), nil)
		if err != nil || in.Check(context.Background(), nil) != nil {
			t.Fatalf("%s: fresh installer refused: %v", name, err)
		}
		from := in.Trailer.Layout.SignatureOffset()
		for at := from; at < int64(len(b)); at++ {
			masks := []byte{0x01, 0x80}
			if at < int64(len(b))-payload.TrailerSize {
				masks = masks[:1] // the signature block: costly checks, one flip each
			}
			for _, mask := range masks {
				c := bytes.Clone(b)
				c[at] ^= mask
				in, err := payload.Open(bytes.NewReader(c), int64(len(c)), nil)
				if err == nil {
					err = in.Check(context.Background(), nil)
				}
				if err == nil {
					t.Fatalf("%s: byte %d ^ %#x (trailer at %d) passes", name, at, mask, len(b)-payload.TrailerSize)
				}
			}
		}
	}
}
