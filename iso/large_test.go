//go:build slow

package iso

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// patternReader generates size bytes repeating a block whose length
// (1 MiB + 13) is not a multiple of the sector size, so data recorded
// at a wrong offset never matches.
type patternReader struct {
	block     []byte
	off, size int64
}

func newPatternReader(size int64) *patternReader {
	return &patternReader{block: pattern(12, 1<<20+13), size: size}
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.size-r.off)]
	n := 0
	for n < len(p) {
		n += copy(p[n:], r.block[(r.off+int64(n))%int64(len(r.block)):])
	}
	r.off += int64(n)
	return n, nil
}

func (r *patternReader) Close() error { return nil }

func sum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// TestLargeFile writes a 4.5 GiB file, which needs two extents, and
// reads it back with xorriso and 7-Zip. Run with: go test -tags slow.
func TestLargeFile(t *testing.T) {
	requireTools(t, "xorriso", "isoinfo", "7z")
	const size = 4831838208 // 4.5 GiB
	want := sha256.New()
	entries := []Entry{
		fileEntry("before.txt", 0o644, []byte("before\n")),
		{Path: "payload/Big Payload.bin", Mode: 0o644, Size: size, Open: func() (io.ReadCloser, error) {
			return struct {
				io.Reader
				io.Closer
			}{io.TeeReader(newPatternReader(size), want), io.NopCloser(nil)}, nil
		}},
		fileEntry("payload/zz after.txt", 0o644, []byte("after\n")),
	}
	img := filepath.Join(t.TempDir(), "large.iso")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := Write(f, Options{ModTime: testTime}, entries); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("Write allocated %d bytes for a %d byte file", alloc, int64(size))
	}
	wantSum := sum(want)

	out := xorriso(t, "-indev", img, "-lsl", "/payload", "--")
	if !strings.Contains(out, " 4831838208 May 17  2024 'Big Payload.bin'") {
		t.Errorf("xorriso -lsl:\n%s", out)
	}
	records := lines(run(t, "isoinfo", "-l", "-i", img), "BIG_PAYLOAD.BIN;1")
	if len(records) != 2 || !strings.Contains(records[0], "4294965248") || !strings.Contains(records[1], "536872960") {
		t.Errorf("isoinfo -l records of the big file:\n%s", strings.Join(records, "\n"))
	}

	dir := filepath.Join(t.TempDir(), "x")
	xorriso(t, "-osirrox", "on", "-indev", img, "-extract", "/payload", dir)
	got := sha256.New()
	extracted, err := os.Open(filepath.Join(dir, "Big Payload.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer extracted.Close()
	if _, err := io.Copy(got, extracted); err != nil {
		t.Fatal(err)
	}
	if s := sum(got); s != wantSum {
		t.Errorf("xorriso extraction: sha256 %s, want %s", s, wantSum)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "zz after.txt")); err != nil || string(b) != "after\n" {
		t.Errorf("file after the big one: %q, %v", b, err)
	}

	// 7-Zip reads the Joliet tree, which has its own multi-extent records.
	cmd := exec.Command("7z", "x", "-so", img, "payload/Big Payload.bin")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	got.Reset()
	n, err := io.Copy(got, stdout)
	if err != nil || cmd.Wait() != nil {
		t.Fatalf("7z x -so: %v", err)
	}
	if s := sum(got); n != size || s != wantSum {
		t.Errorf("7z extraction: %d bytes, sha256 %s, want %d bytes, %s", n, s, int64(size), wantSum)
	}
}
