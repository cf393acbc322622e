package payload

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// sampleTars are streams in the shapes the builder writes and a few it
// does not: long names and link targets (PAX records), ustar prefixes, GNU
// headers with base-256 numbers, fractional PAX times, old-style regular
// files, empty and truncated streams.
func sampleTars(t testing.TB) [][]byte {
	long := strings.Repeat("d/", 80) + "file"
	build := func(format tar.Format, hdrs ...*tar.Header) []byte {
		var b bytes.Buffer
		w := tar.NewWriter(&b)
		for _, h := range hdrs {
			h.Format = format
			if err := w.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			if h.Typeflag == tar.TypeReg {
				w.Write(bytes.Repeat([]byte{'x'}, int(h.Size)))
			}
		}
		w.Close()
		return b.Bytes()
	}
	mtime := time.Unix(1700000000, 0)
	entries := func() []*tar.Header {
		return []*tar.Header{
			{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime},
			{Name: "bin/tool", Typeflag: tar.TypeReg, Mode: 0o755, Size: 1000, ModTime: mtime,
				PAXRecords: map[string]string{"comment": "terrapack.sha256=" + strings.Repeat("ab", 32)}},
			{Name: "bin/link", Typeflag: tar.TypeSymlink, Linkname: "tool", ModTime: mtime},
			{Name: "bin/hard", Typeflag: tar.TypeLink, Linkname: "bin/tool", ModTime: mtime},
			{Name: "empty", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: mtime},
			{Name: "exact", Typeflag: tar.TypeReg, Mode: 0o600, Size: 512, ModTime: mtime},
		}
	}
	pax := build(tar.FormatPAX, append(entries(),
		&tar.Header{Name: long, Typeflag: tar.TypeReg, Mode: 0o644, Size: 3, ModTime: mtime},
		&tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: long, ModTime: mtime},
		&tar.Header{Name: "frac", Typeflag: tar.TypeReg, Size: 1, ModTime: time.Unix(5, 123456789)},
		&tar.Header{Name: "ünï", Typeflag: tar.TypeReg, Size: 2, ModTime: mtime},
	)...)
	ustar := build(tar.FormatUSTAR, append(entries()[:1],
		&tar.Header{Name: strings.Repeat("p", 120) + "/name", Typeflag: tar.TypeReg, Mode: 0o644, Size: 7, ModTime: mtime})...)
	gnu := build(tar.FormatGNU,
		&tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: 9, Uid: 1 << 30, ModTime: time.Unix(1<<34, 0)})
	regA := append([]byte(nil), ustar...)
	regA[512+156] = 0 // an old-style regular file: checksum fixed below
	fixChecksum(regA[512 : 512+512])
	return [][]byte{pax, ustar, gnu, regA, {}, make([]byte, 1024)}
}

func fixChecksum(b []byte) {
	copy(b[148:156], "        ")
	var sum int64
	for _, c := range b {
		sum += int64(c)
	}
	copy(b[148:156], []byte(strings.Repeat("0", 6-len(octal(sum)))+octal(sum)+"\x00 "))
}

func octal(n int64) string {
	if n == 0 {
		return "0"
	}
	var s []byte
	for ; n > 0; n /= 8 {
		s = append([]byte{byte('0' + n%8)}, s...)
	}
	return string(s)
}

type entryView struct {
	Name, Linkname string
	Typeflag       byte
	Mode, Size     int64
	ModTime        time.Time
	Uid, Gid       int
	Comment        string
	Data           string
}

// readAll reads every entry with next/read; it stops at the first error.
func readAll(next func() (*tar.Header, error), r io.Reader) ([]entryView, error) {
	var out []entryView
	for {
		h, err := next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		// The first 64 KiB: archive/tar reads a sparse file's holes as
		// zeros, gigabytes of them for a hostile header.
		data, err := io.ReadAll(io.LimitReader(r, 64<<10))
		if err != nil {
			return out, err
		}
		out = append(out, entryView{h.Name, h.Linkname, h.Typeflag, h.Mode, h.Size, h.ModTime, h.Uid, h.Gid, h.PAXRecords["comment"], string(data)})
	}
}

// comparable reports whether archive/tar and TarReader are meant to agree
// on the entry: sparse files and global headers, which the extractor
// refuses, are read differently.
func comparable(e entryView) bool {
	return e.Typeflag != tar.TypeGNUSparse && e.Typeflag != tar.TypeXGlobalHeader
}

// checkSame holds TarReader to archive/tar: every entry TarReader returns,
// archive/tar returns too, with the same fields and data. TarReader may
// refuse what archive/tar reads (it is stricter), never the other way round
// on the builder's own streams.
func checkSame(t *testing.T, stream []byte, mustAgree bool) {
	t.Helper()
	std := tar.NewReader(bytes.NewReader(stream))
	want, wantErr := readAll(std.Next, std)
	ours := NewTarReader(bytes.NewReader(stream))
	got, gotErr := readAll(ours.Next, ours)
	for i, g := range got {
		if !comparable(g) {
			return
		}
		if i >= len(want) {
			t.Fatalf("entry %d: TarReader read %+v, archive/tar stopped (%v)", i+1, g, wantErr)
		}
		if g != want[i] {
			t.Fatalf("entry %d: TarReader read\n%+v\narchive/tar read\n%+v", i+1, g, want[i])
		}
	}
	if mustAgree && (len(got) != len(want) || (gotErr == nil) != (wantErr == nil)) {
		t.Fatalf("TarReader read %d entries (%v), archive/tar %d (%v)", len(got), gotErr, len(want), wantErr)
	}
}

func TestTarReaderMatchesArchiveTar(t *testing.T) {
	for _, s := range sampleTars(t) {
		checkSame(t, s, true)
		// Truncated anywhere: TarReader never reads more than archive/tar.
		for cut := 0; cut < len(s); cut += 97 {
			checkSame(t, s[:cut], false)
		}
	}
}

func TestTarReaderRefusals(t *testing.T) {
	pax := sampleTars(t)[0]
	t.Run("checksum", func(t *testing.T) {
		b := append([]byte(nil), pax...)
		b[10] ^= 1
		_, err := NewTarReader(bytes.NewReader(b)).Next()
		var te *TarError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), "checksum") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		// Inside bin/tool's data: after bin/, its PAX header and its header.
		r := NewTarReader(bytes.NewReader(pax[:4*512+100]))
		_, err := readAll(r.Next, r)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("gnu long name", func(t *testing.T) {
		var b bytes.Buffer
		w := tar.NewWriter(&b)
		w.WriteHeader(&tar.Header{Name: strings.Repeat("n", 150), Typeflag: tar.TypeReg, Format: tar.FormatGNU})
		w.Close()
		_, err := NewTarReader(&b).Next()
		if err == nil || !strings.Contains(err.Error(), "GNU long-name") {
			t.Fatalf("got %v", err)
		}
	})
}

func FuzzTarReader(f *testing.F) {
	for _, s := range sampleTars(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkSame(t, b, false)
	})
}
