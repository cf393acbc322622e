package main

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite the golden files (inside testdata/script/*.txtar, and testdata/*.golden.json) from the programs' output")

// TestScripts runs testdata/script/*.txtar, each in parallel in a folder of
// its own, against the builder under test (as "terrapack" on PATH) and the
// installers it writes. The texts users read or parse are compared whole
// with cmp against files inside the scripts; -update rewrites those.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           filepath.Join("testdata", "script"),
		UpdateScripts: *update,
		Setup: func(e *testscript.Env) error {
			e.Setenv("PATH", filepath.Dir(terrapackBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
			e.Setenv("SOURCE_DATE_EPOCH", "1700000000")
			e.Setenv("HOME", e.WorkDir)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status": cmdStatus,
			"redact": cmdRedact,
		},
		Condition: func(cond string) (bool, error) {
			if cond == "root" {
				return os.Geteuid() == 0, nil
			}
			return false, errors.New("unknown condition " + cond)
		},
	})
}

// cmdStatus: status CODE PROG [ARGS...] runs PROG and fails unless it
// exits with CODE; stdout and stderr are kept for the next commands.
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status CODE PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

var (
	sha256Re = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	md5Re    = regexp.MustCompile(`\b[0-9a-f]{32}\b`)
	bigNumRe = regexp.MustCompile(`\b[0-9]{6,}\b`)
	// The payload's length depends on the zstd encoder (cgo or pure Go).
	payloadRe = regexp.MustCompile(`(?m)^(payload: .*length )[0-9]+`)
)

// cmdRedact: redact FILE... replaces what changes with every stub build
// (SHA-256 and MD5 sums, sizes and offsets of six digits or more, the payload's
// compressed length) with SHA256
// and N, so that golden texts hold only what the input decides.
func cmdRedact(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: redact FILE...")
	}
	for _, f := range args {
		p := ts.MkAbs(f)
		b, err := os.ReadFile(p)
		ts.Check(err)
		b = sha256Re.ReplaceAll(b, []byte("SHA256"))
		b = md5Re.ReplaceAll(b, []byte("MD5"))
		b = bigNumRe.ReplaceAll(b, []byte("N"))
		b = payloadRe.ReplaceAll(b, []byte("${1}N"))
		ts.Check(os.WriteFile(p, b, 0o644))
	}
}
