package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
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

// TestProgressOnATerminal watches a build and an install on a terminal
// (script(1) gives them a pty): github.com/schollz/progressbar/v3 bars with
// the rate and the time left, the installer's counted in unpacked bytes and
// files, redrawn no more often than the throttle allows, and not one call
// that syncs to disk (strace).
func TestProgressOnATerminal(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"script", "strace"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s is not installed (apt-get install util-linux strace): %v", tool, err)
		}
	}
	// 48 MiB that does not compress: a second or so of compression and a
	// few tenths of extraction, long enough for several frames.
	src := t.TempDir()
	rnd := rand.New(rand.NewSource(1))
	for i := range 3000 {
		dir := filepath.Join(src, fmt.Sprintf("d%02d", i%30))
		must(t, os.MkdirAll(dir, 0o755))
		data := make([]byte, 16<<10)
		rnd.Read(data)
		must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), data, 0o644))
	}
	run := filepath.Join(t.TempDir(), "app.run")
	target := filepath.Join(t.TempDir(), "app")

	// onTerminal runs command line on a pty under strace and returns what
	// the terminal showed and how long it took.
	onTerminal := func(line string) (string, time.Duration) {
		t.Helper()
		trace := filepath.Join(t.TempDir(), "trace")
		began := time.Now()
		r := mustOK(t, runCmd(t, nil, "script", "-qec",
			"strace -f -qq -e signal=none -e trace=fsync,fdatasync,msync,sync_file_range,syncfs,sync -o "+trace+" "+line, "/dev/null"))
		took := time.Since(began)
		if calls := strings.TrimSpace(string(readFile(t, trace))); calls != "" {
			t.Errorf("%s synced to disk:\n%s", line, calls)
		}
		return r.stdout, took
	}
	// frames are the bar's drawings of what in screen; each must say
	// more. At most one per throttle interval, plus the first and last.
	frames := func(screen string, frame *regexp.Regexp, took time.Duration) []string {
		t.Helper()
		var got []string
		for _, l := range strings.Split(screen, "\r") {
			if frame.MatchString(l) {
				got = append(got, strings.TrimSpace(l))
			}
		}
		if limit := int(took/(65*time.Millisecond)) + 2; len(got) == 0 || len(got) > limit {
			t.Errorf("%d frames in %v (want 1 to %d) of %v in:\n%q", len(got), took, limit, frame, screen)
		}
		return got
	}

	screen, took := onTerminal(terrapackBin + " build " + src + " -o " + run)
	frames(screen, regexp.MustCompile(`^compressing +\d+% \|[█ ]{24}\| \([0-9.]+( [KM]iB)?/47 MiB, [0-9.]+ [KM]iB/s\) \[\d+s:\d+s\]`), took)
	if !strings.Contains(screen, "wrote "+run) {
		t.Errorf("no closing line of the build in:\n%q", screen)
	}

	screen, took = onTerminal(run + " --to " + target)
	got := frames(screen, regexp.MustCompile(`^installing \d+/3000 files +\d+% \|[█ ]{24}\| \([0-9.]+( [KM]iB)?/47 MiB, [0-9.]+ [KM]iB/s\) \[\d+s:\d+s\]`), took)
	if len(got) > 1 && got[0] == got[len(got)-1] {
		t.Errorf("the bar did not move: %q", got)
	}
	if !strings.Contains(screen, "installed") || !strings.Contains(screen, target) {
		t.Errorf("no closing line of the install in:\n%q", screen)
	}
	// Not a terminal: plain lines only, no bar.
	r := mustOK(t, runCmd(t, nil, run, "--to", target+"2"))
	if strings.Contains(r.stderr, "\r") || !strings.Contains(r.stderr, "installing: 75% (35.2 MiB/46.9 MiB, 2250/3000 files") {
		t.Errorf("plain progress lines expected, got:\n%q", r.stderr)
	}
}
