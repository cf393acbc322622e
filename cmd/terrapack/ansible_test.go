package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The Ansible example (examples/ansible) run for real against this machine:
// check mode installs nothing, the first run installs, the second reports
// no change, an upgrade reports one.
func TestAnsibleExampleIsIdempotent(t *testing.T) {
	t.Parallel()
	playbook, err := exec.LookPath("ansible-playbook")
	if err != nil {
		t.Skipf("ansible-playbook not found (Debian package ansible): %v", err)
	}
	src := filepath.Join(t.TempDir(), "app")
	appVersion(t, src, "1.0", nil)
	run1 := build(t, src)
	appVersion(t, src, "2.0", nil)
	run2 := build(t, src)
	dir := t.TempDir()
	target := filepath.Join(dir, "opt", "app")
	example, err := filepath.Abs("../../examples/ansible")
	must(t, err)
	env := []string{
		"ANSIBLE_NOCOLOR=1", "ANSIBLE_LOCAL_TEMP=" + filepath.Join(dir, "ansible-local"),
		"ANSIBLE_REMOTE_TEMP=" + filepath.Join(dir, "ansible-remote"), "ANSIBLE_RETRY_FILES_ENABLED=0",
		"ANSIBLE_HOME=" + filepath.Join(dir, "ansible-home"),
	}
	recap := regexp.MustCompile(`localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)`)
	play := func(installer string, extra ...string) (changed string, out string) {
		t.Helper()
		args := append([]string{"-i", filepath.Join(example, "hosts"), filepath.Join(example, "install.yml"),
			"-e", "installer=" + installer, "-e", "target=" + target, "-e", "stage=" + filepath.Join(dir, "stage"),
			"-e", `{"hook_args": ["one arg", "it's; $(x)"]}`}, extra...)
		r := runCmd(t, env, playbook, args...)
		m := recap.FindStringSubmatch(r.stdout)
		if r.code != 0 || m == nil || m[3] != "0" {
			t.Fatalf("ansible-playbook failed:\n%s", r)
		}
		return m[2], r.stdout
	}
	// Check mode: the installer is staged (2 changes), its --dry-run says it
	// would change (1), nothing is installed.
	if changed, out := play(run1, "--check"); changed != "3" || exists(target) || !strings.Contains(out, "install app  -> 1.0") {
		t.Fatalf("check mode: changed=%s, installed=%v:\n%s", changed, exists(target), out)
	}
	if changed, out := play(run1); changed != "1" || readText(t, filepath.Join(target, "share/version")) != "1.0\n" {
		t.Fatalf("first run: changed=%s:\n%s", changed, out)
	}
	if log := readText(t, filepath.Join(target, "var/hook.log")); !strings.HasPrefix(log, "arg=[one arg]\narg=[it's; $(x)]\n") {
		t.Errorf("hook arguments through Ansible:\n%s", log)
	}
	if changed, out := play(run1); changed != "0" || !strings.Contains(out, "none app 1.0 -> 1.0") {
		t.Fatalf("second run reports a change: changed=%s:\n%s", changed, out)
	}
	must(t, os.WriteFile(filepath.Join(target, "etc/app.conf"), []byte("port=1\n"), 0o644))
	if changed, out := play(run2); changed != "2" || !strings.Contains(out, "upgrade app 1.0 -> 2.0") || !strings.Contains(out, "config kept: etc/app.conf") {
		t.Fatalf("upgrade: changed=%s:\n%s", changed, out)
	}
}
