package payload

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
)

// TestRecordedSHA256 checks that the extractor takes a file's hash from the
// build's record rather than hashing it again, hashes a file without one,
// and refuses a malformed record.
func TestRecordedSHA256(t *testing.T) {
	payload := func(records map[string]string) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, name := range []string{"recorded", "unrecorded"} {
			h := &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(name)), Format: tar.FormatPAX}
			if v, ok := records[name]; ok {
				h.PAXRecords = map[string]string{paxComment: v}
			}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			tw.Write([]byte(name))
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	extract := func(data []byte) (map[string][]byte, error) {
		sums := map[string][]byte{}
		tree := filepath.Join(t.TempDir(), "tree")
		if err := os.Mkdir(tree, 0o755); err != nil {
			t.Fatal(err)
		}
		x := &Extractor{Root: tree, OnEntry: func(r Record) { sums[r.Name] = r.SHA256 }}
		return sums, x.Extract(context.Background(), NewTarReader(bytes.NewReader(data)))
	}

	// A value that is not the content's hash shows that the record is
	// taken as it is: the whole-file checksum is what vouches for it.
	var h tar.Header
	SetRecordedSHA256(&h, bytes.Repeat([]byte{7}, 32))
	sums, err := extract(payload(map[string]string{"recorded": h.PAXRecords[paxComment]}))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sums["recorded"], bytes.Repeat([]byte{7}, 32)) {
		t.Errorf("recorded file: SHA-256 %x, want the recorded 0707…", sums["recorded"])
	}
	if want := sha256.Sum256([]byte("unrecorded")); !bytes.Equal(sums["unrecorded"], want[:]) {
		t.Errorf("file without a record: SHA-256 %x, want %x", sums["unrecorded"], want)
	}

	for _, bad := range []string{sha256Prefix + "zz", sha256Prefix + "0123"} {
		if _, err := extract(payload(map[string]string{"recorded": bad})); !IsRefusal(err) {
			t.Errorf("record %q: %v, want a refusal", bad, err)
		}
	}
	// Someone else's comment is no record.
	if _, err := extract(payload(map[string]string{"recorded": "made by hand"})); err != nil {
		t.Errorf("a foreign comment: %v", err)
	}
}
