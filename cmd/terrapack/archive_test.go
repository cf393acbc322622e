package main

import (
	"archive/tar"
	"compress/gzip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// nameVersion returns the name and version inspect shows for installer run.
func nameVersion(t *testing.T, run string) (name, version string) {
	t.Helper()
	for _, l := range strings.Split(mustOK(t, terrapack(t, "inspect", run)).stdout, "\n") {
		if v, ok := strings.CutPrefix(l, "name:"); ok {
			name = strings.TrimSpace(v)
		} else if v, ok := strings.CutPrefix(l, "version:"); ok {
			version = strings.TrimSpace(v)
		}
	}
	return name, version
}

// TestHostileInputArchives: entries that would reach outside the unpacked
// tree, or are devices, are refused with their name and a hint, and nothing
// is written. What the builder says of each is compared whole with
// testdata/hostile-archives.golden (-update rewrites it); the archives are
// made with archive/tar, as no tar command writes such entries.
func TestHostileInputArchives(t *testing.T) {
	t.Parallel()
	secret := filepath.Join(t.TempDir(), "build-machine-secret")
	must(t, os.WriteFile(secret, []byte("s3cret\n"), 0o644))
	up := strings.Repeat("../", 12) + strings.TrimPrefix(secret, "/")
	dir := func(n string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeDir, Mode: 0o755} }
	file := func(n string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644} }
	link := func(n, to string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeSymlink, Linkname: to} }
	hard := func(n, to string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeLink, Linkname: to} }
	var said strings.Builder
	for _, tc := range []struct {
		name    string
		entries []tar.Header
		want    string
	}{
		{"hard link out", []tar.Header{dir("opt/"), dir("opt/app/"), hard("opt/app/stolen", up)}, `hard link "opt/app/stolen"`},
		{"hard link absolute", []tar.Header{dir("opt/"), hard("opt/stolen", secret)}, `hard link "opt/stolen"`},
		{"hard link through a symlink", []tar.Header{link("d", filepath.Dir(secret)), hard("stolen", "d/"+filepath.Base(secret))}, `hard link "stolen"`},
		{"hard link to a folder", []tar.Header{dir("a/"), hard("b", "a")}, `hard link "b"`},
		{"symlink out", []tar.Header{dir("a/"), link("a/esc", "../../etc")}, `symlink "a/esc" points to "../../etc", which leaves the archive`},
		{"symlink chain out", []tar.Header{dir("d/"), link("d/up", ".."), link("esc", "d/up/..")}, `symlink "esc" points to "d/up/..", which resolves outside`},
		{"symlink loop", []tar.Header{link("a", "b"), link("b", "a")}, `symlink "a": too many levels of links`},
		{"file through a symlink", []tar.Header{link("d", "/tmp"), file("d/x")}, `entry "d/x" would be written through "d"`},
		{"folder through a symlink", []tar.Header{link("d", "/tmp"), dir("d/")}, `folder entry "d"`},
		{"device", []tar.Header{{Name: "null", Typeflag: tar.TypeChar, Mode: 0o666}}, `entry "null" is a character device`},
		{"fifo", []tar.Header{{Name: "fifo", Typeflag: tar.TypeFifo, Mode: 0o666}}, `entry "fifo" is a named pipe`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := filepath.Join(t.TempDir(), "hostile.tar.gz")
			f, err := os.Create(a)
			must(t, err)
			zw := gzip.NewWriter(f)
			tw := tar.NewWriter(zw)
			for _, h := range tc.entries {
				must(t, tw.WriteHeader(&h))
			}
			must(t, tw.Close())
			must(t, zw.Close())
			must(t, f.Close())
			outDir := t.TempDir()
			r := terrapack(t, "build", a, "-o", filepath.Join(outDir, "app.run"))
			mustFail(t, r, 1, tc.want, "hint:")
			assertClean(t, outDir)
			text := strings.NewReplacer(filepath.Dir(secret), "$SECRET_DIR", filepath.Dir(a), "$ARCHIVE_DIR", outDir, "$OUT").Replace(r.stderr)
			said.WriteString("== " + tc.name + "\n" + regexp.MustCompile(`\.unpack-[0-9]+`).ReplaceAllString(text, ".unpack-N"))
		})
	}
	golden := filepath.Join("testdata", "hostile-archives.golden")
	if *update {
		must(t, os.WriteFile(golden, []byte(said.String()), 0o644))
	}
	if want := string(readFile(t, golden)); said.String() != want {
		t.Errorf("what the builder says differs from %s (-update rewrites it):\n%s", golden, said.String())
	}
}
