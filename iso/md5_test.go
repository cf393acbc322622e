package iso

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMediaChecksum: a fresh image has spaces where the media checksum
// goes, so implantisomd5 takes it without -f; ImplantMD5 writes what
// implantisomd5 writes; CheckMD5 accepts it and finds a flipped byte.
func TestMediaChecksum(t *testing.T) {
	entries := sampleEntries()
	entries = append(entries, fileEntry("big.bin", 0o644, pattern(7, 3<<20)))
	img, err := os.ReadFile(writeImage(t, Options{Label: "MD5", ModTime: testTime}, entries))
	if err != nil {
		t.Fatal(err)
	}
	if got := img[pvdOffset+appUseOffset : pvdOffset+appUseOffset+appUseSize]; !bytes.Equal(got, bytes.Repeat([]byte(" "), appUseSize)) {
		t.Fatal("application-use area is not spaces")
	}
	if _, err := CheckMD5(bytes.NewReader(img)); err == nil || !strings.Contains(err.Error(), "no media checksum") {
		t.Fatalf("image without a checksum: %v", err)
	}
	p := filepath.Join(t.TempDir(), "a.iso")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := ImplantMD5(f); err != nil {
		t.Fatal(err)
	}
	ours, _ := os.ReadFile(p)
	if _, err := CheckMD5(bytes.NewReader(ours)); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(ours)
	bad[len(bad)-mediaSkipSectors*sectorSize-1] ^= 1 // the last byte checked
	if _, err := CheckMD5(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "mismatch") {
		t.Fatalf("damage not found: %v", err)
	}
	if _, err := exec.LookPath("implantisomd5"); err != nil {
		t.Skipf("implantisomd5 not installed (apt-get install isomd5sum): %v", err)
	}
	theirs := filepath.Join(t.TempDir(), "b.iso")
	os.WriteFile(theirs, img, 0o644)
	if out, err := exec.Command("implantisomd5", theirs).CombinedOutput(); err != nil {
		t.Fatalf("implantisomd5 refuses a fresh image: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(theirs); !bytes.Equal(b, ours) {
		t.Fatalf("implantisomd5 implants\n%q\nwe implant\n%q", b[pvdOffset+appUseOffset:][:appUseSize], ours[pvdOffset+appUseOffset:][:appUseSize])
	}
}
