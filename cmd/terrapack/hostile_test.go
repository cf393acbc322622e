package main

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/terrapack/terrapack/builder"
	"github.com/terrapack/terrapack/payload"
)

// craft writes an installer around a hand-made tar stream, as an attacker
// with a valid checksum would.
func craft(t *testing.T, entries []tar.Header) string {
	t.Helper()
	stub, err := builder.Stub("amd64", nil)
	must(t, err)
	out := filepath.Join(t.TempDir(), "hostile.run")
	f, err := os.OpenFile(out, os.O_RDWR|os.O_CREATE, 0o755)
	must(t, err)
	defer f.Close()
	m := &payload.Manifest{Format: payload.FormatVersion, Name: "hostile", Arch: "amd64", Compression: payload.None}
	_, err = builder.Seal(f, stub, m, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		for _, h := range entries {
			h := h
			m.Files++ // honest counts, so that the entry itself is what is refused
			if h.Typeflag == tar.TypeReg {
				h.Size = 3
				m.UnpackedSize += 3
			}
			if err := tw.WriteHeader(&h); err != nil {
				return err
			}
			if h.Typeflag == tar.TypeReg {
				tw.Write([]byte("bad"))
			}
		}
		return tw.Close()
	})
	must(t, err)
	return out
}

func TestHostilePayloadsAreRefused(t *testing.T) {
	reg := func(name string) tar.Header { return tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644} }
	cases := map[string][]tar.Header{
		"absolute path":    {reg("/tmp/terrapack-escape")},
		"dot-dot":          {reg("../escape")},
		"inner dot-dot":    {{Name: "a/", Typeflag: tar.TypeDir, Mode: 0o755}, reg("a/../../escape")},
		"absolute symlink": {{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}},
		"symlink leaving":  {{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755}, {Name: "d/l", Typeflag: tar.TypeSymlink, Linkname: "../../escape"}},
		"write through symlink": {
			{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "."},
			reg("l/escape"),
		},
		"hard link outside":  {{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}},
		"hard link absolute": {{Name: "h", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}},
		"device node":        {{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666}},
		"duplicate entry":    {reg("x"), {Name: "x", Typeflag: tar.TypeSymlink, Linkname: "/etc"}},
		"reserved folder":    {reg(".terrapack/manifest.json")},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			run := craft(t, entries)
			base := t.TempDir()
			target := filepath.Join(base, "app")
			mustFail(t, runCmd(t, nil, run, "--to", target), 3, "refusing payload entry")
			if exists(target) || exists("/tmp/terrapack-escape") || exists(filepath.Join(base, "escape")) {
				t.Fatal("something was written")
			}
			assertClean(t, base)
			mustFail(t, runCmd(t, nil, run, "--check"), 3, "refusing payload entry")
		})
	}
}
