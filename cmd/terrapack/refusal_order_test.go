package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestDamagedBeforeRefusal: an installer altered in its payload, run into a
// folder that would be refused (not empty, not an install: exit 4), is
// reported as damaged (exit 3) and the folder is left as it was; the sound
// installer gets the refusal.
func TestDamagedBeforeRefusal(t *testing.T) {
	t.Parallel()
	run := build(t, sampleTree(t))
	m := regexp.MustCompile(`payload: +offset (\d+), length (\d+)`).FindStringSubmatch(mustOK(t, terrapack(t, "inspect", run)).stdout)
	if m == nil {
		t.Fatal("inspect prints no payload offset")
	}
	off, _ := strconv.Atoi(m[1])
	n, _ := strconv.Atoi(m[2])
	b, err := os.ReadFile(run)
	must(t, err)
	b[off+n/2] ^= 0x55
	damaged := filepath.Join(t.TempDir(), "damaged.run")
	must(t, os.WriteFile(damaged, b, 0o755))

	mine := t.TempDir()
	must(t, os.WriteFile(filepath.Join(mine, "notes"), []byte("mine\n"), 0o644))
	mustFail(t, runCmd(t, nil, run, "--to", mine), 4, "is not empty")
	mustFail(t, runCmd(t, nil, damaged, "--to", mine), 3, "installer is damaged")
	mustFail(t, runCmd(t, nil, damaged, "--to", mine, "--dry-run"), 3, "installer is damaged")
	assertClean(t, mine, "notes")
}
