package main

import (
	"archive/tar"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// archiveOf packs dir with `tar -C dir .` (or `zip -r` for .zip) into a
// file named name in a new folder.
func archiveOf(t *testing.T, dir, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	var cmd []string
	switch {
	case strings.HasSuffix(name, ".zip"):
		needTools(t, "zip")
		r := runCmd(t, nil, "sh", "-c", `cd "$1" && zip -qry "$2" .`, "sh", dir, out)
		mustOK(t, r)
		return out
	case strings.HasSuffix(name, ".tar.xz"):
		cmd = []string{"-cJf"}
	case strings.HasSuffix(name, ".tar.zst"):
		needTools(t, "zstd")
		cmd = []string{"--zstd", "-cf"}
	default:
		cmd = []string{"-czf"}
	}
	mustOK(t, runCmd(t, nil, "tar", append(append([]string{"-C", dir}, cmd...), out, ".")...))
	return out
}

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

// TestArchiveOfTreeRoot: an archive made with `tar -C dir .` records no
// prefix; a tree of bin/ alone must not make /bin the prefix.
func TestArchiveOfTreeRoot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := "#!/bin/sh\n/bin/ls / >/dev/null && echo listed\n"
	must(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "bin", "hello"), []byte(script), 0o755))
	for _, ext := range []string{"tar.gz", "tar.xz", "tar.zst", "zip"} {
		t.Run(ext, func(t *testing.T) {
			a := archiveOf(t, dir, "ourapp-1.2.3."+ext)
			run := filepath.Join(t.TempDir(), "app.run")
			r := mustOK(t, terrapack(t, "build", a, "-o", run))
			if strings.Contains(r.stderr, "archive holds") || strings.Contains(r.stderr, "relocation from") {
				t.Errorf("a prefix was taken from a tar -C archive:\n%s", r.stderr)
			}
			if name, version := nameVersion(t, run); name != "ourapp" || version != "1.2.3" {
				t.Errorf("name %q and version %q not taken from the file name", name, version)
			}
			target := filepath.Join(t.TempDir(), "app")
			mustOK(t, runCmd(t, nil, run, "--to", target, "-q"))
			got, err := os.ReadFile(filepath.Join(target, "bin", "hello"))
			must(t, err)
			if string(got) != script {
				t.Errorf("bin/hello was rewritten:\n%s", got)
			}
			if r := mustOK(t, runCmd(t, nil, filepath.Join(target, "bin", "hello"))); r.stdout != "listed\n" {
				t.Errorf("bin/hello: %s", r)
			}
		})
	}
}

// TestArchivePrefixDetectedAndConfig: with no recorded prefix, the prefix is
// found from what the files name and printed; a terrapack.yaml inside the
// archive applies, and flags win over it.
func TestArchivePrefixDetectedAndConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := "/home/ourapp/root"
	files := map[string]string{
		"etc/app.conf":   "data=" + p + "/share/app\nlog=/var/log/app.log\n",
		"share/app/x":    "x\n",
		"bin/tool":       "#!" + p + "/bin/sh\necho hi\n",
		"bin/sh":         "",
		"terrapack.yaml": "name: from-yaml\nversion: \"9.9\"\n",
	}
	for name, content := range files {
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o755))
	}
	a := archiveOf(t, dir, "ourapp-system.tar.gz")
	run := filepath.Join(t.TempDir(), "app.run")
	r := mustOK(t, terrapack(t, "build", a, "-o", run, "--version", "1.0"))
	if !strings.Contains(r.stderr, "build prefix "+p+" detected from 2 mentions") {
		t.Errorf("prefix not detected and printed:\n%s", r.stderr)
	}
	if name, version := nameVersion(t, run); name != "from-yaml" || version != "1.0" {
		t.Errorf("name %q, version %q: terrapack.yaml in the archive, or the flag over it, not applied", name, version)
	}
	target := filepath.Join(t.TempDir(), "app")
	mustOK(t, runCmd(t, nil, run, "--to", target, "-q"))
	conf, err := os.ReadFile(filepath.Join(target, "etc", "app.conf"))
	must(t, err)
	if want := "data=" + target + "/share/app\nlog=/var/log/app.log\n"; string(conf) != want {
		t.Errorf("config %q, want %q", conf, want)
	}
	if exists(filepath.Join(target, "terrapack.yaml")) {
		t.Error("terrapack.yaml was packed")
	}
}

// TestHostileInputArchives: entries that would reach outside the unpacked
// tree, or are devices, are refused with their name and a hint.
func TestHostileInputArchives(t *testing.T) {
	t.Parallel()
	secret := filepath.Join(t.TempDir(), "build-machine-secret")
	must(t, os.WriteFile(secret, []byte("s3cret\n"), 0o644))
	up := strings.Repeat("../", 12) + strings.TrimPrefix(secret, "/")
	dir := func(n string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeDir, Mode: 0o755} }
	file := func(n string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644} }
	link := func(n, to string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeSymlink, Linkname: to} }
	hard := func(n, to string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeLink, Linkname: to} }
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
		})
	}
}
