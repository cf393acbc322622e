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
	t.Parallel()
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
