package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// installRecord reads a target's .terrapack/install.json with encoding/json.
func installRecord(t *testing.T, target string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(target, ".terrapack/install.json"))
	must(t, err)
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("install.json is not valid JSON: %v\n%s", err, b)
	}
	return rec
}

func TestUninstallKeepsChangedAndAddedFiles(t *testing.T) {
	t.Parallel()
	run := build(t, sampleTree(t), "--name", "sample")
	base := t.TempDir()
	target := filepath.Join(base, "app")
	mustOK(t, runCmd(t, nil, run, "--to", target))
	// Edited in place (its hard link share/README.hardlink changes with it),
	// chmod'ed, replaced by a symlink, and added: a file, a folder, a file in
	// a read-only folder of the payload.
	must(t, os.WriteFile(filepath.Join(target, "share/doc/README"), []byte("my notes\n"), 0o644))
	must(t, os.Chmod(filepath.Join(target, "share/secret.key"), 0o640))
	must(t, os.Remove(filepath.Join(target, "share/readonly.txt")))
	must(t, os.Symlink("/etc/passwd", filepath.Join(target, "share/readonly.txt")))
	must(t, os.WriteFile(filepath.Join(target, "var/empty/mine.txt"), []byte("mine"), 0o644))
	must(t, os.MkdirAll(filepath.Join(target, "mydata/sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(target, "mydata/sub/x"), []byte("x"), 0o644))
	must(t, os.Remove(filepath.Join(target, "bin/readme-link"))) // deleted: nothing to keep

	r := mustOK(t, runCmd(t, nil, run, "--uninstall", "--to", target))
	for _, k := range []string{"share/doc/README", "share/README.hardlink", "share/secret.key", "share/readonly.txt", "var/empty/mine.txt", "mydata/"} {
		if !strings.Contains(r.stderr, "kept "+target+"/"+k+"\n") {
			t.Errorf("%s not listed as kept:\n%s", k, r)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(target, "share/doc/README")); string(got) != "my notes\n" {
		t.Errorf("edited file: %q", got)
	}
	for _, k := range []string{"share/README.hardlink", "share/secret.key", "share/readonly.txt", "var/empty/mine.txt", "mydata/sub/x"} {
		if !exists(filepath.Join(target, k)) {
			t.Errorf("%s was deleted", k)
		}
	}
	// Unchanged entries went, with the folders they left empty (the
	// read-only one included) and the installer's records.
	for _, g := range []string{"bin", "lib", "locked", "share/dangling", "var/empty/deeper", ".terrapack"} {
		if exists(filepath.Join(target, g)) {
			t.Errorf("%s was not removed", g)
		}
	}
	assertClean(t, base, "app")
	mustFail(t, runCmd(t, nil, run, "--uninstall", "--to", target), 4, "is not a terrapack install")

	// Nothing changed: the whole folder goes.
	mustOK(t, runCmd(t, nil, run, "--to", filepath.Join(base, "clean")))
	mustOK(t, runCmd(t, nil, run, "--uninstall", "--to", filepath.Join(base, "clean")))
	assertClean(t, base, "app")
}

// TestUninstallRefusesMarkersOfOtherFolders: a forged, copied, moved or
// foreign .terrapack/ removes nothing.
func TestUninstallRefusesMarkersOfOtherFolders(t *testing.T) {
	t.Parallel()
	run := build(t, sampleTree(t), "--name", "sample")
	base := t.TempDir()
	target := filepath.Join(base, "app")
	mustOK(t, runCmd(t, nil, run, "--to", target))

	forged := filepath.Join(base, "someones-files")
	must(t, os.MkdirAll(filepath.Join(forged, ".terrapack"), 0o755))
	must(t, os.WriteFile(filepath.Join(forged, "thesis.tex"), []byte("years of work"), 0o644))
	must(t, os.WriteFile(filepath.Join(forged, ".terrapack/manifest.json"), []byte(`{"format":1,"name":"sample"}`), 0o644))
	mustFail(t, runCmd(t, nil, run, "--uninstall", "--to", forged), 4, "install record cannot be read")
	mustFail(t, runCmd(t, nil, run, "--to", forged, "--force"), 4, "install record cannot be read")

	// A complete install record, copied from the real install.
	must(t, exec.Command("cp", "-a", target+"/.terrapack/.", forged+"/.terrapack").Run())
	mustFail(t, runCmd(t, nil, run, "--uninstall", "--to", forged), 4, "it was installed into "+`"`+target+`"`)

	// The whole install copied (same files, other folder), then copied back
	// over a removed original: the inode tells.
	copied := filepath.Join(base, "copy")
	must(t, exec.Command("cp", "-a", target, copied).Run())
	mustFail(t, runCmd(t, nil, run, "--uninstall", "--to", copied), 4, "it was installed into")
	must(t, exec.Command("rm", "-rf", target).Run())
	must(t, os.Rename(copied, target))
	mustFail(t, runCmd(t, nil, run, "--uninstall", "--to", target), 4, "copied or restored here")
	mustFail(t, runCmd(t, nil, run, "--to", target, "--force"), 4, "copied or restored here")

	// Another product's install.
	other := build(t, sampleTree(t), "--name", "other")
	mustOK(t, runCmd(t, nil, other, "--to", filepath.Join(base, "other")))
	mustFail(t, runCmd(t, nil, run, "--uninstall", "--to", filepath.Join(base, "other")), 4, "holds other, not sample")

	if got, _ := os.ReadFile(filepath.Join(forged, "thesis.tex")); string(got) != "years of work" {
		t.Fatal("a forged marker's folder was touched")
	}
	if !exists(filepath.Join(target, "bin/hello")) || !exists(filepath.Join(base, "other/bin/hello")) {
		t.Fatal("a refused folder was touched")
	}
	assertClean(t, base, "app", "someones-files", "other")
}

// TestInstallRecordIsJSONForAnyTargetBytes: quotes, backslashes, control
// characters and bytes that are not UTF-8 in the target path.
func TestInstallRecordIsJSONForAnyTargetBytes(t *testing.T) {
	t.Parallel()
	run := build(t, sampleTree(t), "--name", "sample")
	base := t.TempDir()
	for _, name := range []string{"quote\"back\\slash", "latin1-\xe9t\xe9", "ctl\x01\x7f-\xff\xfe"} {
		target := filepath.Join(base, name)
		mustOK(t, runCmd(t, nil, run, "--to", target))
		rec := installRecord(t, target)
		got, _ := rec["target"].(string)
		if b64, ok := rec["target_base64"].(string); ok {
			raw, err := base64.StdEncoding.DecodeString(b64)
			must(t, err)
			got = string(raw)
		}
		if got != target {
			t.Errorf("install.json keeps target %q, want %q", got, target)
		}
		mustOK(t, runCmd(t, nil, run, "--uninstall", "--to", target))
	}
	assertClean(t, base)
}

// TestClosedOutputIsHarmless: `./app.run ... 2>&1 | head -c 20` closes the
// pipe early; every operation still completes and says so by its exit code.
func TestClosedOutputIsHarmless(t *testing.T) {
	t.Parallel()
	src := sampleTree(t)
	must(t, os.WriteFile(filepath.Join(src, "hook.sh"), []byte("#!/bin/sh\nfor i in 1 2 3 4 5 6 7 8 9; do echo hook line $i; done\n"), 0o755))
	run := build(t, src, "--name", "sample", "--post-install", "hook.sh")
	base := t.TempDir()
	target := filepath.Join(base, "app")
	closed := func(args ...string) int {
		rd, wr, err := os.Pipe()
		must(t, err)
		rd.Close()
		defer wr.Close()
		cmd := exec.Command(run, args...)
		cmd.Stdout, cmd.Stderr = wr, wr
		err = cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0
	}
	for _, args := range [][]string{{"--to", target}, {"--to", target, "--force"}, {"--check"}, {"--list"}, {"--uninstall", "--to", target}} {
		if code := closed(args...); code != 0 {
			t.Fatalf("%v with a closed stdout and stderr: exit %d", args, code)
		}
		assertClean(t, base, "app")
	}
	if exists(target) {
		t.Fatal("uninstall with a closed pipe did not remove the install")
	}
	if code := closed("--to", filepath.Join(base, "app"), "--force", "--bogus"); code != 2 {
		t.Fatalf("a usage error with a closed pipe: exit %d, want 2", code)
	}
}

// asNobody runs cmd as user nobody (the test runs as root).
func asNobody(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return cmd
}

// nobodyDir makes a folder user nobody can use, with the installer run
// copied into it; it skips unless the test runs as root.
func nobodyDir(t *testing.T, run string) (dir, runCopy string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to run the installer as user nobody")
	}
	dir = t.TempDir()
	for p := dir; p != os.TempDir() && p != "/"; p = filepath.Dir(p) {
		must(t, os.Chmod(p, 0o755))
	}
	must(t, os.Chmod(dir, 0o777))
	b, err := os.ReadFile(run)
	must(t, err)
	runCopy = filepath.Join(dir, "app.run")
	must(t, os.WriteFile(runCopy, b, 0o755))
	return dir, runCopy
}
