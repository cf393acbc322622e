package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRecordedHashesMatchInstalledFiles checks every hash of .terrapack/files
// against the installed file: those the build recorded and those the
// installer took of files that relocation rewrote.
func TestRecordedHashesMatchInstalledFiles(t *testing.T) {
	src := sampleTree(t)
	real, err := filepath.EvalSymlinks(src)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(src, "etc.conf"), []byte("home="+real+"/share\n"), 0o644))
	run := build(t, src, "--name", "sample")
	target := filepath.Join(t.TempDir(), "app")
	mustOK(t, runCmd(t, nil, run, "--to", target, "-q"))
	if got, _ := os.ReadFile(filepath.Join(target, "etc.conf")); string(got) != "home="+target+"/share\n" {
		t.Fatalf("etc.conf was not relocated: %q", got)
	}
	f, err := os.Open(filepath.Join(target, ".terrapack/files"))
	must(t, err)
	defer f.Close()
	checked := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if strings.HasPrefix(sc.Text(), "#") || len(fields) < 5 || fields[1] != "-" {
			continue
		}
		name := strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\\`, `\`).Replace(fields[4])
		content, err := os.ReadFile(filepath.Join(target, name))
		must(t, err)
		if s := sha256.Sum256(content); hex.EncodeToString(s[:]) != fields[0] {
			t.Errorf("%s: recorded %s, installed file has %x", name, fields[0], s)
		}
		checked++
	}
	must(t, sc.Err())
	if checked < 8 {
		t.Fatalf("only %d files checked", checked)
	}
}

// TestProgressWithoutTerminal: off a terminal, build and install print a
// plain line at each quarter, in unpacked bytes and files; nothing with -q.
func TestProgressWithoutTerminal(t *testing.T) {
	src := sampleTree(t)
	out := filepath.Join(t.TempDir(), "app.run")
	r := mustOK(t, terrapack(t, "build", src, "-o", out, "--name", "sample"))
	for _, w := range []string{"compressing: 25% (", "compressing: 75% (", "/s, "} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("build output lacks %q:\n%s", w, r.stderr)
		}
	}
	if strings.ContainsAny(r.stderr, "\r\033") {
		t.Errorf("build drew a bar off a terminal:\n%q", r.stderr)
	}
	if r := mustOK(t, terrapack(t, "build", src, "-o", out+"2", "-q")); r.stderr != "" {
		t.Errorf("build -q printed:\n%s", r.stderr)
	}
	r = mustOK(t, runCmd(t, nil, out, "--to", filepath.Join(t.TempDir(), "app")))
	for _, w := range []string{"installing: 25% (", "installing: 75% (", " files, "} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("install output lacks %q:\n%s", w, r.stderr)
		}
	}
	if strings.ContainsAny(r.stderr, "\r\033") {
		t.Errorf("install drew a bar off a terminal:\n%q", r.stderr)
	}
	if r := mustOK(t, runCmd(t, nil, out, "--to", filepath.Join(t.TempDir(), "app"), "-q")); r.stderr != "" {
		t.Errorf("install -q printed:\n%s", r.stderr)
	}
}
