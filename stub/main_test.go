package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/terrapack/terrapack/payload"
)

// runInProcess runs the installer's run() with buffers for its streams.
func runInProcess(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestExitCodes: every kind of failure maps to its documented exit code
// and says what to do on a hint: line.
func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		name  string
		err   error
		code  int
		lines []string // expected stderr, in order
	}{
		{"ok", nil, exitOK, nil},
		{"usage", &usageError{"bad flag", "run with --help for usage"}, exitUsage,
			[]string{"error: bad flag", "hint: run with --help for usage"}},
		{"interrupted", fmt.Errorf("extracting: %w", context.Canceled), exitInterrupted,
			[]string{"error: extracting: context canceled", "interrupted: nothing was changed"}},
		{"checksum", &payload.ChecksumError{}, exitDamaged,
			[]string{"error: ", "hint: download or copy the installer again and compare its SHA-256 with the published one"}},
		{"size", &payload.SizeError{Expected: 10, Actual: 5}, exitDamaged,
			[]string{"error: ", "hint: download or copy the installer again"}},
		{"format", &payload.FormatError{Msg: "no manifest"}, exitDamaged,
			[]string{"error: ", "hint: the installer is malformed"}},
		{"unsafe entry", fmt.Errorf("extracting: %w", &payload.EntryError{Name: "esc", Msg: "leads outside"}), exitDamaged,
			[]string{`error: extracting: refusing payload entry "esc": leads outside`, "hint: the installer is malformed or holds an unsafe entry"}},
		{"refused with hint", &refusal{msg: "target exists", hint: "use --force"}, exitRefused,
			[]string{"error: target exists", "hint: use --force"}},
		{"refused wrapped", fmt.Errorf("preflight: %w", &refusal{msg: "no space"}), exitRefused,
			[]string{"error: preflight: no space"}},
		{"unsigned", &payload.SignatureError{Kind: payload.Unsigned}, exitDamaged,
			[]string{"error: the installer is not signed", "hint: nothing was installed; ask the publisher for a signed installer, or leave out --verify-key (and " + verifyKeyEnv + ")"}},
		{"untrusted", fmt.Errorf("checking: %w", &payload.SignatureError{Kind: payload.Untrusted, Signer: "SHA256:x"}), exitDamaged,
			[]string{"error: checking: the installer is signed by a key that is not trusted; signer's key SHA256:x", "hint: nothing was installed; check that the trusted keys hold the publisher's current public key"}},
		{"bad signature", &payload.SignatureError{Kind: payload.BadSignature}, exitDamaged,
			[]string{"error: the installer's signature does not match its contents", "hint: nothing was installed; download or copy the installer again from the publisher"}},
		{"uninstall cut short", &partialError{errors.New("removing bin: permission denied")}, exitFailed,
			[]string{"error: removing bin: permission denied", "hint: part of the install was removed and the rest is back in place; run --uninstall again to finish"}},
		// Interrupted part-way, the rest put back: not "nothing was changed".
		{"uninstall interrupted", &partialError{fmt.Errorf("removing: %w", context.Canceled)}, exitInterrupted,
			[]string{"error: removing: context canceled", "hint: part of the install was removed and the rest is back in place; run --uninstall again to finish"}},
		{"hook", &hookError{errors.New("exit status 7")}, exitHookFailed,
			[]string{"error: exit status 7"}},
		{"other", errors.New("disk on fire"), exitFailed, []string{"error: disk on fire"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			res := newResult()
			if got := report(&buf, c.err, res); got != c.code {
				t.Errorf("exit %d, want %d", got, c.code)
			}
			got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if len(c.lines) == 0 {
				if buf.Len() != 0 {
					t.Errorf("printed %q for no error", buf.String())
				}
				return
			}
			if len(got) != len(c.lines) {
				t.Fatalf("stderr %q, want %d lines like %q", buf.String(), len(c.lines), c.lines)
			}
			for i, want := range c.lines {
				if !strings.HasPrefix(got[i], want) {
					t.Errorf("line %d %q, want %q...", i, got[i], want)
				}
			}
			if _, hint := classify(c.err); res.Hint != hint {
				t.Errorf("--json hint %q, want %q", res.Hint, hint)
			}
		})
	}
}

// TestUsageErrors: bad command lines exit 2 with error: and hint: lines,
// before the installer reads anything of itself.
func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args      []string
		msg, hint string
	}{
		{[]string{"--bogus"}, "flag provided but not defined: -bogus", "run with --help for usage"},
		{[]string{"/opt/app"}, `unexpected argument "/opt/app" (the target folder goes after --to`, "run with --help"},
		{[]string{"--list", "--info"}, "choose one of --list, --info", "run with --help"},
		{[]string{"--purge"}, "--purge goes with --uninstall", "run with --help"},
		{[]string{"--check", "--dry-run"}, "--dry-run and --json go with an install", "run with --help"},
		{[]string{"--repair", "--force"}, "--repair puts back the files", "run with --help"},
		{[]string{"--nox11"}, "--nox11 is a makeself option this installer does not have", "drop it: this installer never opens a terminal window"},
		{[]string{"--tar", "xvf"}, "--tar is a makeself option", "use --list to see the contents"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, stdout, stderr := runInProcess(t, c.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if !strings.HasPrefix(stderr, "error: "+c.msg) || !strings.Contains(stderr, "\nhint: "+c.hint) {
				t.Errorf("stderr %q, want error: %s / hint: %s", stderr, c.msg, c.hint)
			}
		})
	}
}

// TestUsageErrorJSON: with --json the result goes to stdout as JSON, with
// the exit code and the hint.
func TestUsageErrorJSON(t *testing.T) {
	code, stdout, _ := runInProcess(t, "--json", "--purge")
	if code != exitUsage {
		t.Fatalf("exit %d", code)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	if !strings.Contains(stdout, "run with --help for usage") || !strings.Contains(stdout, "--purge goes with --uninstall") {
		t.Errorf("JSON lacks the error or hint:\n%s", stdout)
	}
}

// TestBareStub: run as a program that carries no payload (this test binary,
// like the stub before the builder appends one), the installer says what it
// is and how to make an installer, exit 1, on stderr only.
func TestBareStub(t *testing.T) {
	code, stdout, stderr := runInProcess(t, "--info")
	if code != exitFailed || stdout != "" ||
		stderr != "error: this is a bare terrapack stub with no payload; build an installer with `terrapack build`\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestResolveTarget: --to becomes a clean absolute path; the empty path,
// / and a newline are refused with a hint.
func TestResolveTarget(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	wd, _ := os.Getwd()
	for in, want := range map[string]string{
		"/opt/app":       "/opt/app",
		"/opt/app/":      "/opt/app",
		"/opt//x/../app": "/opt/app",
		"~":              home,
		"~/apps/x":       filepath.Join(home, "apps/x"),
		"rel/dir":        filepath.Join(wd, "rel/dir"),
		"~user":          filepath.Join(wd, "~user"), // not expanded, like sh would not for an unknown user
	} {
		if got, err := resolveTarget(in); err != nil || got != want {
			t.Errorf("resolveTarget(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, hint := range map[string]string{
		"":          "use --to DIR",
		"/":         "choose a folder of its own, such as /opt/APP",
		"/..":       "choose a folder of its own",
		"/opt/a\nb": "choose a path without a newline",
	} {
		_, err := resolveTarget(in)
		var ref *refusal
		if !errors.As(err, &ref) || ref.hint != hint && !strings.HasPrefix(ref.hint, hint) {
			t.Errorf("resolveTarget(%q): %v (hint %q), want a refusal with hint %q", in, err, hintOf(err), hint)
		}
		if code, _ := classify(err); code != exitRefused {
			t.Errorf("resolveTarget(%q): exit %d, want %d", in, code, exitRefused)
		}
	}
}

func hintOf(err error) string {
	_, h := classify(err)
	return h
}

// TestInspectTarget: what is at the target decides between a fresh
// install, an upgrade and a refusal.
func TestInspectTarget(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	other := filepath.Join(dir, "other")
	os.MkdirAll(filepath.Join(other, "x"), 0o755)
	ours := filepath.Join(dir, "ours")
	os.MkdirAll(filepath.Join(ours, payload.MetaDir), 0o755)
	os.WriteFile(filepath.Join(ours, payload.MetaDir, "manifest.json"), []byte("{}"), 0o644)
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(empty, link)
	for p, want := range map[string]targetState{
		filepath.Join(dir, "missing"): targetMissing, empty: targetEmpty, other: targetOther, ours: targetOurs,
	} {
		if got, err := inspectTarget(p); err != nil || got != want {
			t.Errorf("inspectTarget(%s) = %v, %v; want %v", filepath.Base(p), got, err, want)
		}
	}
	for p, hint := range map[string]string{file: "remove it or choose another --to", link: "give the real folder, e.g. --to " + empty} {
		_, err := inspectTarget(p)
		if code, h := classify(err); code != exitRefused || h != hint {
			t.Errorf("inspectTarget(%s): exit %d hint %q, want %d %q", filepath.Base(p), code, h, exitRefused, hint)
		}
	}
}
