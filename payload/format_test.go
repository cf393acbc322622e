package payload

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"slices"
	"testing"
)

func TestTrailerRoundTrip(t *testing.T) {
	tr := Trailer{Version: FormatVersion, Layout: Layout{PayloadOffset: 100, PayloadLength: 50, ManifestOffset: 150, ManifestLength: 10, TotalSize: 160 + TrailerSize}}
	tr.SHA256[0], tr.SHA256[31] = 0xab, 0xcd
	b := tr.MarshalBinary()
	if !bytes.Equal(b[120:], Magic[:]) {
		t.Fatal("trailer does not end with the magic")
	}
	got, err := ParseTrailer(b, 0)
	if err != nil || got != tr {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	b[20] ^= 1 // payload length no longer adds up
	var fe *FormatError
	if _, err := ParseTrailer(b, 7); !errors.As(err, &fe) {
		t.Fatalf("inconsistent layout accepted: %v", err)
	}
}

func TestStubInfo(t *testing.T) {
	bare := NewStubInfo()
	if _, patched, err := DecodeStubInfo(bare[:]); patched || err != nil {
		t.Fatalf("bare block: patched %v, %v", patched, err)
	}
	l := Layout{PayloadOffset: 100, PayloadLength: 2, ManifestOffset: 102, ManifestLength: 4, TotalSize: 106 + TrailerSize}
	got, patched, err := DecodeStubInfo(EncodeStubInfo(l))
	if !patched || err != nil || got != l {
		t.Fatalf("got %+v %v %v", got, patched, err)
	}
	for _, at := range []int{0, 21, 80, 127} {
		b := EncodeStubInfo(l)
		b[at] ^= 0x10
		var fe *FormatError
		if _, _, err := DecodeStubInfo(b); !errors.As(err, &fe) {
			t.Errorf("flip at byte %d of the block: %v, want a FormatError", at, err)
		}
	}
	stub := append(append([]byte("code"), EncodeStubInfo(Layout{})...), "more"...)
	if i, err := FindStubInfo(stub); err != nil || i != 4 {
		t.Fatalf("FindStubInfo = %d, %v", i, err)
	}
	if _, err := FindStubInfo(append(stub, StubInfoMarker...)); err == nil {
		t.Fatal("two blocks accepted")
	}
}

// FuzzOpen feeds arbitrary bytes as an installer: it must never panic or
// allocate from an unchecked length, and what it accepts must be in bounds:
// the parts inside the file and in order, a manifest the installer can use.
func FuzzOpen(f *testing.F) {
	m := []byte(`{"format":1,"name":"x","compression":"none","files":1,"post_install":"bin/x"}`)
	tr := Trailer{Version: FormatVersion, Layout: Layout{PayloadOffset: 1, PayloadLength: 0, ManifestOffset: 1, ManifestLength: int64(len(m)), TotalSize: 1 + int64(len(m)) + TrailerSize}}
	f.Add(append(append([]byte("x"), m...), tr.MarshalBinary()...))
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := Open(bytes.NewReader(b), int64(len(b)), nil)
		if err != nil {
			var fe *FormatError
			var se *SizeError
			if !errors.As(err, &fe) && !errors.As(err, &se) {
				t.Fatalf("refused with an untyped error: %v", err)
			}
			return
		}
		l := in.Trailer.Layout
		switch {
		case l.TotalSize != int64(len(b)) || l.PayloadOffset <= 0 || l.PayloadLength < 0 || l.ManifestLength < 0:
			t.Fatalf("accepted layout out of bounds: %+v for %d bytes", l, len(b))
		case l.ManifestOffset != l.PayloadOffset+l.PayloadLength || l.ManifestOffset+l.ManifestLength+TrailerSize != l.TotalSize:
			t.Fatalf("accepted layout with gaps or overlaps: %+v", l)
		case l.ManifestLength > MaxManifestSize || int64(len(in.ManifestBytes)) != l.ManifestLength:
			t.Fatalf("manifest of %d bytes accepted", l.ManifestLength)
		case in.Manifest.Name == "" || !slices.Contains(Methods, in.Manifest.Compression) || in.Manifest.Entries() < 0 || in.Manifest.UnpackedSize < 0:
			t.Fatalf("unusable manifest accepted: %+v", in.Manifest)
		case in.Manifest.PostInstall != "" && !fs.ValidPath(in.Manifest.PostInstall):
			t.Fatalf("hook %q accepted", in.Manifest.PostInstall)
		}
	})
}

// TestZstdRoundTrip checks the zstd writer (libzstd with cgo, the pure-Go
// fallback without): empty, small and multi-megabyte streams written in
// pieces decode to the input, and the bytes do not depend on the number of
// workers, so builds are reproducible on any machine.
func TestZstdRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, 40<<20 + 12345} {
		in := make([]byte, size)
		for i := range in {
			in[i] = byte(i * 7 % 251)
		}
		var first []byte
		for _, workers := range []int{1, 3} {
			var out bytes.Buffer
			w, err := newZstdWriter(&out, zstdDefaultLevel, workers)
			if err != nil {
				t.Fatal(err)
			}
			for _, part := range [][]byte{in[:size/2], in[size/2:]} {
				if _, err := w.Write(part); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = out.Bytes()
			} else if !bytes.Equal(first, out.Bytes()) {
				t.Fatalf("size %d: %d workers wrote other bytes than 1", size, workers)
			}
			r, err := NewDecompressor(bytes.NewReader(out.Bytes()), Zstd)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, in) {
				t.Fatalf("size %d, %d workers: round trip failed: %v", size, workers, err)
			}
		}
	}
}

// TestTrailerUndefinedBytes: unknown flags, non-zero reserved bytes and a
// signature length that disagrees with the signed flag are refused, with
// the offset of the byte.
func TestTrailerUndefinedBytes(t *testing.T) {
	tr := Trailer{Version: FormatVersion, Flags: FlagSigned, Layout: Layout{PayloadOffset: 100, PayloadLength: 50, ManifestOffset: 150, ManifestLength: 10, SignatureLength: 302, TotalSize: 160 + 302 + TrailerSize}}
	good := tr.MarshalBinary()
	if got, err := ParseTrailer(good, 0); err != nil || got != tr {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, c := range []struct {
		at   int
		mask byte
	}{{12, 0x02}, {15, 0x80}, {12, 0x01}, {88, 0x01}, {96, 0x01}, {119, 0x40}} {
		b := bytes.Clone(good)
		b[c.at] ^= c.mask
		var fe *FormatError
		if _, err := ParseTrailer(b, 1000); !errors.As(err, &fe) {
			t.Errorf("byte %d ^ %#x accepted: %v", c.at, c.mask, err)
		}
	}
}
