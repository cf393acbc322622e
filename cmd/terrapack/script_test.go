package main

import (
	"bytes"
	"debug/elf"
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
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:           filepath.Join("testdata", "script"),
		UpdateScripts: *update,
		Setup: func(e *testscript.Env) error {
			e.Setenv("PATH", filepath.Dir(terrapackBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
			e.Setenv("SOURCE_DATE_EPOCH", "1700000000")
			e.Setenv("HOME", e.WorkDir)
			// What TestMain set up for the processes the tests start: the
			// coverage folder (go test -cover), the stub cache (no stubs
			// embedded).
			for _, k := range []string{"GOCOVERDIR", "XDG_CACHE_HOME"} {
				if v, ok := os.LookupEnv(k); ok {
					e.Setenv(k, v)
				}
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status":  cmdStatus,
			"redact":  cmdRedact,
			"cmptree": cmdCmptree,
			"clean":   cmdClean,
			"corrupt": cmdCorrupt,
			"sampletree": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: sampletree DIR")
				}
				ts.Check(writeSampleTree(ts.MkAbs(args[0])))
			},
			"elfmachine": cmdELFMachine,
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
// exits with CODE, or with any code but 0 for CODE "!0"; stdout and stderr
// are kept for the next commands, and the code in $STATUS.
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status CODE PROG [ARGS...]")
	}
	err := ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[1], err)
	}
	ts.Setenv("STATUS", strconv.Itoa(got))
	if args[0] == "!0" {
		if got == 0 {
			ts.Fatalf("%s exited 0, want a failure", args[1])
		}
		return
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// cmdCorrupt: corrupt FILE OP ARG changes FILE in place as damage in
// transit would: "truncate N" cuts its last N bytes, "append TEXT" adds
// TEXT, "flip AT" inverts the lowest bit of byte AT (from the end when
// negative), "flipafter MARKER N" inverts all bits of the byte N bytes
// after the first MARKER.
func cmdCorrupt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: corrupt FILE truncate N | append TEXT | flip AT | flipafter MARKER N")
	}
	p := ts.MkAbs(args[0])
	b, err := os.ReadFile(p)
	ts.Check(err)
	atoi := func(s string) int {
		n, err := strconv.Atoi(s)
		ts.Check(err)
		return n
	}
	switch op := args[1]; {
	case op == "truncate":
		b = b[:len(b)-atoi(args[2])]
	case op == "append":
		b = append(b, args[2]...)
	case op == "flip":
		at := atoi(args[2])
		if at < 0 {
			at += len(b)
		}
		b[at] ^= 0x01
	case op == "flipafter" && len(args) == 4:
		i := bytes.Index(b, []byte(args[2]))
		if i < 0 {
			ts.Fatalf("%s holds no %q", args[0], args[2])
		}
		b[i+atoi(args[3])] ^= 0xff
	default:
		ts.Fatalf("corrupt: unknown operation %q", op)
	}
	ts.Check(os.WriteFile(p, b, 0o755))
}

var (
	sha256Re = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	md5Re    = regexp.MustCompile(`\b[0-9a-f]{32}\b`)
	bigNumRe = regexp.MustCompile(`\b[0-9]{6,}\b`)
	// The payload's length depends on the zstd encoder (cgo or pure Go).
	payloadRe = regexp.MustCompile(`(?m)^(payload: .*length )[0-9]+`)
	// Progress lines give a rate and the time left once 0.2 s have passed.
	rateRe = regexp.MustCompile(`, [0-9.]+ [KMGT]?i?B/s(, [0-9hms.]+ left)?`)
	// "installed app 1.0 into /opt/app in 313ms"
	tookRe = regexp.MustCompile(`(?m) in [0-9.]+(ns|µs|ms|s|m[0-9.]+s)$`)
	// The folder an archive is unpacked into: os.MkdirTemp's random digits.
	unpackRe = regexp.MustCompile(`\.unpack-[0-9]+`)
	// --json's time taken.
	durationRe = regexp.MustCompile(`"duration_seconds":[0-9.e-]+`)
	// When a record was written, and by whom (tests run as root in CI, as
	// anyone elsewhere).
	timeRe = regexp.MustCompile(`\b[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})`)
	uidRe  = regexp.MustCompile(`"uid": [0-9]+`)
	// An ssh-keygen key's fingerprint, new with every key.
	fingerprintRe = regexp.MustCompile(`SHA256:[A-Za-z0-9+/]{43}`)
)

// cmdRedact: redact FILE... replaces what changes from run to run with
// fixed words, so that golden texts hold only what the input decides: the
// script's folder with $WORK, SHA-256 and MD5 sums with SHA256 and MD5, key
// fingerprints with SHA256:KEY, an archive's unpack folder's random suffix
// with N, sizes and offsets of six digits or more and
// the payload's compressed length with N, a duration at the end of a line
// with "in D" and --json's with 0.1, a date and time with TIME, a record's
// "uid" with UID, and drops the rate and time left of progress lines.
func cmdRedact(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: redact FILE...")
	}
	for _, f := range args {
		p := ts.MkAbs(f)
		b, err := os.ReadFile(p)
		ts.Check(err)
		b = bytes.ReplaceAll(b, []byte(ts.Getenv("WORK")), []byte("$WORK"))
		b = fingerprintRe.ReplaceAll(b, []byte("SHA256:KEY"))
		b = sha256Re.ReplaceAll(b, []byte("SHA256"))
		b = md5Re.ReplaceAll(b, []byte("MD5"))
		b = unpackRe.ReplaceAll(b, []byte(".unpack-N"))
		b = bigNumRe.ReplaceAll(b, []byte("N"))
		b = payloadRe.ReplaceAll(b, []byte("${1}N"))
		b = rateRe.ReplaceAll(b, nil)
		b = tookRe.ReplaceAll(b, []byte(" in D"))
		b = durationRe.ReplaceAll(b, []byte(`"duration_seconds":0.1`))
		b = timeRe.ReplaceAll(b, []byte("TIME"))
		b = uidRe.ReplaceAll(b, []byte(`"uid": UID`))
		ts.Check(os.WriteFile(p, b, 0o644))
	}
}

// cmdCmptree: cmptree WANT GOT fails unless folder GOT holds exactly WANT's
// entries with the same types, modes, contents, link targets, times and
// hard-link groups (GOT's .terrapack/ aside), as compareTrees checks.
func cmdCmptree(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: cmptree WANT GOT")
	}
	if err := diffTrees(ts.MkAbs(args[0]), ts.MkAbs(args[1])); err != nil {
		ts.Fatalf("%v", err)
	}
}

// cmdClean: clean DIR [NAME...] fails if DIR holds anything but the names
// given: no temporary or backup folder of an install is left beside it.
func cmdClean(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: clean DIR [NAME...]")
	}
	if err := leftovers(ts.MkAbs(args[0]), args[1:]...); err != nil {
		ts.Fatalf("%v", err)
	}
}

// cmdELFMachine: elfmachine FILE MACHINE fails unless FILE is an ELF file
// for MACHINE (as debug/elf names it, e.g. EM_AARCH64).
func cmdELFMachine(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: elfmachine FILE MACHINE")
	}
	f, err := elf.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	defer f.Close()
	if f.Machine.String() != args[1] {
		ts.Fatalf("%s: machine %v, want %s", args[0], f.Machine, args[1])
	}
}
