package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: apt-get install xorriso genisoimage p7zip-full", tool)
		}
	}
}

func TestISOReadByRealTools(t *testing.T) {
	t.Parallel()
	needTools(t, "xorriso", "isoinfo", "7z", "sha256sum")
	src := sampleTree(t)
	dir := t.TempDir()
	run := filepath.Join(dir, "My Sample App 1.2.3 x86_64 Setup.run")
	img := filepath.Join(dir, "sample.iso")
	extra := filepath.Join(dir, "notes")
	must(t, os.MkdirAll(filepath.Join(extra, "more"), 0o755))
	must(t, os.WriteFile(filepath.Join(extra, "more", "Release Notes.txt"), []byte("v1\n"), 0o644))
	env := []string{"SOURCE_DATE_EPOCH=1700000000"}
	mustOK(t, runCmd(t, env, terrapackBin, "build", src, "-o", run, "--name", "sample", "--version", "1.2.3", "-q"))
	mustOK(t, runCmd(t, env, terrapackBin, "iso", run, extra, "-o", img, "--label", "SAMPLE_123"))

	d := mustOK(t, runCmd(t, nil, "isoinfo", "-d", "-i", img)).stdout
	for _, w := range []string{"Volume id: SAMPLE_123", "Joliet with UCS level 3 found", "Rock Ridge signatures version 1 found"} {
		if !strings.Contains(d, w) {
			t.Errorf("isoinfo -d lacks %q:\n%s", w, d)
		}
	}
	if pt := mustOK(t, runCmd(t, nil, "isoinfo", "-p", "-i", img)).stdout; !strings.Contains(pt, "Path table starts at block") || !strings.Contains(pt, "NOTES") {
		t.Errorf("isoinfo -p shows no path table with the NOTES folder:\n%s", pt)
	}
	ls := mustOK(t, runCmd(t, nil, "xorriso", "-indev", img, "-lsl", "/")).stdout
	if !strings.Contains(ls, "-rwxr-xr-x") || !strings.Contains(ls, "'My Sample App 1.2.3 x86_64 Setup.run'") {
		t.Errorf("xorriso does not show the installer's name and mode:\n%s", ls)
	}
	if l := mustOK(t, runCmd(t, nil, "7z", "l", img)).stdout; !strings.Contains(l, "My Sample App 1.2.3 x86_64 Setup.run") {
		t.Errorf("7z does not list the installer:\n%s", l)
	}

	out := filepath.Join(t.TempDir(), "extracted")
	mustOK(t, runCmd(t, nil, "xorriso", "-osirrox", "on", "-indev", img, "-extract", "/", out))
	a, _ := os.ReadFile(run)
	b, _ := os.ReadFile(filepath.Join(out, filepath.Base(run)))
	if !bytes.Equal(a, b) {
		t.Fatal("installer extracted by xorriso differs from the .run")
	}
	sums := exec.Command("sha256sum", "-c", "SHA256SUMS")
	sums.Dir = out
	if o, err := sums.CombinedOutput(); err != nil || !strings.Contains(string(o), "notes/more/Release Notes.txt: OK") {
		t.Fatalf("sha256sum -c failed: %v\n%s", err, o)
	}
	mustOK(t, runCmd(t, nil, filepath.Join(out, filepath.Base(run)), "--check"))
	readme, _ := os.ReadFile(filepath.Join(out, "README.txt"))
	if !strings.Contains(string(readme), "'/media/cdrom/My Sample App 1.2.3 x86_64 Setup.run' --to /opt/sample") {
		t.Errorf("README.txt lacks the install command:\n%s", readme)
	}

	seven := filepath.Join(t.TempDir(), "7z")
	mustOK(t, runCmd(t, nil, "7z", "x", "-o"+seven, img))
	c, _ := os.ReadFile(filepath.Join(seven, filepath.Base(run)))
	if !bytes.Equal(a, c) {
		t.Fatal("installer extracted by 7z differs")
	}

	v := mustOK(t, terrapack(t, "verify", img)).stdout
	if !strings.Contains(v, "ok  My Sample App 1.2.3 x86_64 Setup.run: sample 1.2.3") {
		t.Errorf("verify output:\n%s", v)
	}

	img2 := filepath.Join(dir, "again.iso")
	mustOK(t, runCmd(t, env, terrapackBin, "iso", run, extra, "-o", img2, "--label", "SAMPLE_123"))
	i1, _ := os.ReadFile(img)
	i2, _ := os.ReadFile(img2)
	if !bytes.Equal(i1, i2) {
		t.Fatal("two images of the same input differ")
	}
}
