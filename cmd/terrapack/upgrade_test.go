package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// appVersion writes the source tree of version v of a small app with config
// files, data under var/ and a hook that logs its argv and environment.
func appVersion(t *testing.T, src, v string, extra map[string]string) {
	t.Helper()
	must(t, os.RemoveAll(src))
	files := map[string]string{
		"bin/app":        "#!/bin/sh\necho app " + v + "\n",
		"bin/post":       "#!/bin/sh\nlog=\"$TERRAPACK_TARGET/var/hook.log\"\nfor a in \"$@\"; do printf 'arg=[%s]\\n' \"$a\" >>\"$log\"; done\nenv | grep '^TERRAPACK_' | sort >>\"$log\"\n",
		"etc/app.conf":   "port=80 # " + v + "\n",
		"etc/other.conf": "level=1 # " + v + "\n",
		"share/version":  v + "\n",
		"var/README":     "data lives here\n",
		"terrapack.yaml": "name: app\nversion: \"" + v + "\"\nconfig: [\"etc/*.conf\"]\nkeep: [\"var/**\"]\npost_install: bin/post\n",
	}
	for k, c := range extra {
		files[k] = c
	}
	for name, content := range files {
		p := filepath.Join(src, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		mode := os.FileMode(0o644)
		if strings.HasPrefix(name, "bin/") {
			mode = 0o755
		}
		if content == "" {
			continue // a name given as "" is dropped from this version
		}
		must(t, os.WriteFile(p, []byte(content), mode))
	}
}

func readText(t *testing.T, p string) string {
	t.Helper()
	return string(readFile(t, p))
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	st, err := os.Lstat(p)
	must(t, err)
	return st.Sys().(*syscall.Stat_t).Ino
}

// parseResult decodes the one JSON object --json prints on stdout.
func parseResult(t *testing.T, r result) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || strings.Count(strings.TrimSpace(r.stdout), "\n") != 0 {
		t.Fatalf("stdout is not one JSON object (%v):\n%s", err, r)
	}
	return v
}

func strList(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// upgradeFixture installs v1, then does what a customer does: tunes one
// config file, leaves the other, writes data, adds files (one in a folder
// that version 2 drops).
func upgradeFixture(t *testing.T) (src, target, run2 string) {
	t.Helper()
	src = filepath.Join(t.TempDir(), "app")
	appVersion(t, src, "1.0", map[string]string{"lib/old/plugin.so": "v1 plugin\n"})
	run1 := build(t, src)
	target = filepath.Join(t.TempDir(), "opt", "app")
	mustOK(t, runCmd(t, nil, run1, "--to", target, "--quiet"))
	must(t, os.WriteFile(filepath.Join(target, "etc/app.conf"), []byte("port=8080 # mine\n"), 0o644))
	must(t, os.MkdirAll(filepath.Join(target, "var/db"), 0o755))
	must(t, os.WriteFile(filepath.Join(target, "var/db/big.db"), []byte(strings.Repeat("data", 1000)), 0o600))
	must(t, os.WriteFile(filepath.Join(target, "share/notes.txt"), []byte("my notes\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(target, "lib/old/local.cfg"), []byte("mine too\n"), 0o644))
	appVersion(t, src, "2.0", map[string]string{"share/new-in-2": "new\n"})
	run2 = build(t, src)
	return src, target, run2
}

func TestUpgradeKeepsConfigDataAndAddedFiles(t *testing.T) {
	t.Parallel()
	_, target, run2 := upgradeFixture(t)
	dbInode := inode(t, filepath.Join(target, "var/db/big.db"))
	r := mustOK(t, runCmd(t, nil, run2, "--to", target, "--force", "--json"))
	res := parseResult(t, r)

	if got := readText(t, filepath.Join(target, "etc/app.conf")); got != "port=8080 # mine\n" {
		t.Errorf("changed config not kept: %q", got)
	}
	if got := readText(t, filepath.Join(target, "etc/app.conf.terrapack-new")); got != "port=80 # 2.0\n" {
		t.Errorf("new config not written beside: %q", got)
	}
	if got := readText(t, filepath.Join(target, "etc/other.conf")); got != "level=1 # 2.0\n" {
		t.Errorf("unchanged config not replaced: %q", got)
	}
	if got := readText(t, filepath.Join(target, "share/version")); got != "2.0\n" {
		t.Errorf("not upgraded: %q", got)
	}
	// Data moved without a copy: the same inode.
	if inode(t, filepath.Join(target, "var/db/big.db")) != dbInode {
		t.Error("kept data was copied, not moved")
	}
	if got := readText(t, filepath.Join(target, "share/notes.txt")); got != "my notes\n" {
		t.Errorf("added file not carried: %q", got)
	}
	if exists(filepath.Join(target, "lib/old")) {
		t.Error("folder dropped by version 2 is still in the tree")
	}
	aside := target + ".terrapack-kept"
	if got := readText(t, filepath.Join(aside, "lib/old/local.cfg")); got != "mine too\n" {
		t.Errorf("added file in a dropped folder not set aside: %q", got)
	}
	assertClean(t, filepath.Dir(target), "app", "app.terrapack-kept")
	log := readText(t, filepath.Join(target, "var/hook.log"))
	for _, want := range []string{"TERRAPACK_PREVIOUS_VERSION=1.0", "TERRAPACK_UPGRADE=1", "TERRAPACK_VERSION=2.0", "TERRAPACK_TARGET=" + target} {
		if !strings.Contains(log, want) {
			t.Errorf("hook environment lacks %s:\n%s", want, log)
		}
	}

	if res["action"] != "upgrade" || res["previous_version"] != "1.0" || res["version"] != "2.0" || res["changed"] != true {
		t.Errorf("result: %v", res)
	}
	cfg := res["config"].(map[string]any)
	if k := strList(cfg["kept"]); len(k) != 1 || k[0] != "etc/app.conf" {
		t.Errorf("config kept: %v", k)
	}
	if k := strList(cfg["replaced"]); len(k) != 1 || k[0] != "etc/other.conf" {
		t.Errorf("config replaced: %v", k)
	}
	// var/hook.log is what version 1's hook wrote: data too.
	if got := strList(res["data"].(map[string]any)["moved"]); strings.Join(got, " ") != "var/db var/hook.log" {
		t.Errorf("data moved: %v", got)
	}
	added := res["added"].(map[string]any)
	if got := strList(added["carried"]); len(got) != 1 || got[0] != "share/notes.txt" {
		t.Errorf("carried: %v", got)
	}
	if got := strList(added["set_aside"]); len(got) != 1 || got[0] != "lib/old/local.cfg" || added["aside_folder"] != aside {
		t.Errorf("set aside: %v", added)
	}
	for _, line := range []string{"config kept as you changed it: etc/app.conf (new version beside as etc/app.conf.terrapack-new)", "data moved into the new tree: var/db", "set aside in " + aside} {
		if !strings.Contains(r.stderr, line) {
			t.Errorf("closing lines lack %q:\n%s", line, r.stderr)
		}
	}

	// The next upgrade sees the customer's config as changed still, and
	// the file they chose to keep beside the old one as theirs.
	_, _ = os.Stat(target)
}

func TestUpgradeRefusesToLoseChangedInstalledFiles(t *testing.T) {
	t.Parallel()
	_, target, run2 := upgradeFixture(t)
	must(t, os.WriteFile(filepath.Join(target, "bin/app"), []byte("#!/bin/sh\necho patched\n"), 0o755))
	r := runCmd(t, nil, run2, "--to", target, "--force", "--json")
	mustFail(t, r, 4, "you changed 1 installed file(s)", "bin/app", "hint: ", "--discard-changes")
	if res := parseResult(t, r); strList(res["conflicts"])[0] != "bin/app" || res["status"] != "refused" {
		t.Errorf("result: %v", res)
	}
	if got := readText(t, filepath.Join(target, "share/version")); got != "1.0\n" {
		t.Fatal("refused upgrade changed the tree")
	}
	assertClean(t, filepath.Dir(target), "app")

	mustOK(t, runCmd(t, nil, run2, "--to", target, "--force", "--discard-changes", "--quiet"))
	if got := readText(t, filepath.Join(target, "bin/app")); got != "#!/bin/sh\necho app 2.0\n" {
		t.Errorf("--discard-changes did not replace the change: %q", got)
	}
	if got := readText(t, filepath.Join(target, "etc/app.conf")); got != "port=8080 # mine\n" {
		t.Errorf("--discard-changes lost changed config: %q", got)
	}
}

func TestSameInstallerIsIdempotentAndRepairs(t *testing.T) {
	t.Parallel()
	_, target, run2 := upgradeFixture(t)
	mustOK(t, runCmd(t, nil, run2, "--to", target, "--force", "--quiet"))
	record := filepath.Join(target, ".terrapack/install.json")
	before := inode(t, record)

	r := mustOK(t, runCmd(t, nil, run2, "--to", target, "--force", "--json"))
	if !strings.Contains(r.stderr, "already installed: app 2.0 in "+target+" is intact; nothing rewritten") {
		t.Errorf("no 'already installed':\n%s", r)
	}
	if res := parseResult(t, r); res["changed"] != false || res["action"] != "none" {
		t.Errorf("result: %v", res)
	}
	if inode(t, record) != before || exists(filepath.Join(target, "var/hook.log.2")) {
		t.Error("an identical re-run rewrote the tree")
	}

	// Break the install: one file changed, one deleted, config tuned.
	must(t, os.WriteFile(filepath.Join(target, "share/version"), []byte("broken\n"), 0o644))
	must(t, os.Remove(filepath.Join(target, "bin/app")))
	mustFail(t, runCmd(t, nil, run2, "--to", target, "--force"), 4, "share/version", "--repair")
	r = mustOK(t, runCmd(t, nil, run2, "--to", target, "--repair", "--json", "--noexec"))
	res := parseResult(t, r)
	if got := strList(res["repaired"]); strings.Join(got, " ") != "share/version bin/app" {
		t.Errorf("repaired: %v", got)
	}
	if readText(t, filepath.Join(target, "share/version")) != "2.0\n" || !exists(filepath.Join(target, "bin/app")) {
		t.Error("--repair did not put the files back")
	}
	if got := readText(t, filepath.Join(target, "etc/app.conf")); got != "port=8080 # mine\n" {
		t.Errorf("--repair lost changed config: %q", got)
	}
	if !exists(filepath.Join(target, "var/db/big.db")) {
		t.Error("--repair lost data")
	}
	if got := readText(t, filepath.Join(res["added"].(map[string]any)["aside_folder"].(string), "share/version")); got != "broken\n" {
		t.Errorf("the customer's version of a repaired file is not kept aside: %q", got)
	}
	r = mustOK(t, runCmd(t, nil, run2, "--to", target, "--repair"))
	if !strings.Contains(r.stderr, "nothing to repair") {
		t.Errorf("second --repair:\n%s", r)
	}
}

func TestDryRunWritesNothingAndFailsAsInstallWould(t *testing.T) {
	t.Parallel()
	_, target, run2 := upgradeFixture(t)
	snapshot := treeListing(t, filepath.Dir(target))

	mustFail(t, runCmd(t, nil, run2, "--to", target, "--dry-run"), 4, "already holds an install", "hint: use --force")
	r := mustOK(t, runCmd(t, nil, run2, "--to", target, "--force", "--dry-run", "--json"))
	for _, line := range []string{"from 1.0 to 2.0:", "config kept as you changed it: etc/app.conf", "data moved into the new tree: var/db", "your files carried into the new tree: share/notes.txt", "dry run: all checks passed; the upgrade would succeed"} {
		if !strings.Contains(r.stderr, line) {
			t.Errorf("plan lacks %q:\n%s", line, r.stderr)
		}
	}
	res := parseResult(t, r)
	if res["dry_run"] != true || res["changed"] != true || res["action"] != "upgrade" {
		t.Errorf("result: %v", res)
	}
	if got := treeListing(t, filepath.Dir(target)); got != snapshot {
		t.Errorf("dry run changed the file system:\nbefore:\n%s\nafter:\n%s", snapshot, got)
	}

	fresh := filepath.Join(t.TempDir(), "new", "deeper", "app")
	mustOK(t, runCmd(t, nil, run2, "--to", fresh, "--dry-run"))
	if exists(filepath.Dir(filepath.Dir(fresh))) {
		t.Error("dry run created the target's parents")
	}

	// A damaged installer fails its dry run as its install would.
	b, err := os.ReadFile(run2)
	must(t, err)
	b[len(b)-700] ^= 1
	bad := filepath.Join(t.TempDir(), "bad.run")
	must(t, os.WriteFile(bad, b, 0o755))
	mustFail(t, runCmd(t, nil, bad, "--to", fresh, "--dry-run"), 3)
}

// treeListing is every path below dir with its size and inode, to see that
// nothing was written.
func treeListing(t *testing.T, dir string) string {
	t.Helper()
	var sb strings.Builder
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil {
			sb.WriteString(p + " " + info.Mode().String() + " " + itoa(int(info.Size())) + " " + itoa(int(info.Sys().(*syscall.Stat_t).Ino)) + " " + info.ModTime().String() + "\n")
		}
		return nil
	})
	return sb.String()
}

func TestHookArgumentsArePassedAsIs(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "app")
	appVersion(t, src, "1.0", nil)
	run := build(t, src)
	target := filepath.Join(t.TempDir(), "app")
	marker := filepath.Join(t.TempDir(), "pwned")
	args := []string{"two words", `it's "quoted"`, "; touch " + marker, "$(touch " + marker + ")", "", "--force", "*"}
	mustOK(t, runCmd(t, nil, run, append([]string{"--to", target, "--quiet", "--"}, args...)...))
	var want strings.Builder
	for _, a := range args {
		want.WriteString("arg=[" + a + "]\n")
	}
	log := readText(t, filepath.Join(target, "var/hook.log"))
	if !strings.HasPrefix(log, want.String()) {
		t.Errorf("hook argv:\n%s\nwant:\n%s", log, want.String())
	}
	for _, w := range []string{"TERRAPACK_UPGRADE=0", "TERRAPACK_PREVIOUS_VERSION=\n", "TERRAPACK_VERSION=1.0"} {
		if !strings.Contains(log, w) {
			t.Errorf("hook environment lacks %q:\n%s", w, log)
		}
	}
	if exists(marker) {
		t.Fatal("a hook argument was run by a shell")
	}
}

// An upgrade killed at any point leaves the old tree, with the customer's
// config and data, or the new one: never a loss. strace kills it right
// before the commit rename and in the middle of carrying files over.
func TestUpgradeKilledMidwayLosesNothing(t *testing.T) {
	t.Parallel()
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skipf("strace not found, cannot kill at a chosen system call: %v", err)
	}
	// strace counts calls per thread, so each kill point but the one
	// renameat2 (the commit) is named by the path the call touches.
	for name, inject := range map[string]func(target string) []string{
		"before commit": func(string) []string { return []string{"-e", "trace=renameat2", "-e", "inject=renameat2:signal=KILL"} },
		"while carrying": func(target string) []string {
			return []string{"-P", filepath.Join(filepath.Dir(target), ".app.terrapack-new/share/notes.txt"), "-e", "inject=linkat:signal=KILL"}
		},
		"while extracting": func(string) []string {
			// The extractor opens every entry with openat2 relative to the
			// new tree's descriptor (strace -P does not join the two): the
			// third entry is well inside the extraction.
			return []string{"-e", "trace=openat2", "-e", "inject=openat2:signal=KILL:when=3"}
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, target, run2 := upgradeFixture(t)
			dbInode := inode(t, filepath.Join(target, "var/db/big.db"))
			r := runCmd(t, nil, strace, append(append([]string{"-f", "-o", "/dev/null"}, inject(target)...), run2, "--to", target, "--force", "--quiet")...)
			if r.code == 0 {
				t.Fatalf("the kill did not happen:\n%s", r)
			}
			// The old tree, whole, with the customer's work.
			if got := readText(t, filepath.Join(target, "share/version")); got != "1.0\n" {
				t.Fatalf("target holds %q after the kill", got)
			}
			if readText(t, filepath.Join(target, "etc/app.conf")) != "port=8080 # mine\n" ||
				inode(t, filepath.Join(target, "var/db/big.db")) != dbInode ||
				readText(t, filepath.Join(target, "share/notes.txt")) != "my notes\n" ||
				readText(t, filepath.Join(target, "lib/old/local.cfg")) != "mine too\n" {
				t.Fatal("the killed upgrade lost some of the customer's work")
			}
			// The next run cleans up and upgrades.
			mustOK(t, runCmd(t, nil, run2, "--to", target, "--force", "--quiet"))
			if readText(t, filepath.Join(target, "share/version")) != "2.0\n" || inode(t, filepath.Join(target, "var/db/big.db")) != dbInode {
				t.Fatal("upgrade after the kill failed")
			}
			assertClean(t, filepath.Dir(target), "app", "app.terrapack-kept")
		})
	}
}

// The --json object of an upgrade, with what varies from run to run
// (paths, checksum, duration) replaced, is the documented one
// (docs/RESULT.md) to the byte.
func TestJSONResultGolden(t *testing.T) {
	t.Parallel()
	_, target, run2 := upgradeFixture(t)
	r := mustOK(t, runCmd(t, nil, run2, "--to", target, "--force", "--json", "--quiet"))
	if r.stderr != "" {
		t.Errorf("--quiet --json printed on stderr:\n%s", r.stderr)
	}
	res := parseResult(t, r)
	out := strings.ReplaceAll(r.stdout, target, "/TARGET")
	out = strings.ReplaceAll(out, res["installer_sha256"].(string), "SHA256")
	out = regexp.MustCompile(`"duration_seconds":[0-9.e-]+`).ReplaceAllString(out, `"duration_seconds":0.1`)
	var pretty bytes.Buffer
	must(t, json.Indent(&pretty, []byte(out), "", "  "))
	golden := filepath.Join("testdata", "upgrade-result.golden.json")
	if *update {
		must(t, os.MkdirAll("testdata", 0o755))
		must(t, os.WriteFile(golden, pretty.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	must(t, err)
	if pretty.String() != string(want) {
		t.Errorf("--json result differs from %s (go test -run TestJSONResultGolden -update rewrites it):\n%s", golden, pretty.String())
	}
}

// dpkg's rule for the other cases: a config file the new version drops is
// kept if the customer changed it, removed if not; one they deleted stays
// deleted, with the new version beside.
func TestUpgradeConfigDroppedOrDeleted(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "app")
	appVersion(t, src, "1.0", map[string]string{"etc/dropped-changed.conf": "x=1\n", "etc/dropped.conf": "y=1\n"})
	run1 := build(t, src)
	target := filepath.Join(t.TempDir(), "app")
	mustOK(t, runCmd(t, nil, run1, "--to", target, "--quiet"))
	must(t, os.WriteFile(filepath.Join(target, "etc/dropped-changed.conf"), []byte("x=2 # mine\n"), 0o644))
	must(t, os.Remove(filepath.Join(target, "etc/other.conf")))
	appVersion(t, src, "2.0", nil)
	res := parseResult(t, mustOK(t, runCmd(t, nil, build(t, src), "--to", target, "--force", "--json")))

	if readText(t, filepath.Join(target, "etc/dropped-changed.conf")) != "x=2 # mine\n" {
		t.Error("changed config dropped by the new version was not kept")
	}
	if exists(filepath.Join(target, "etc/dropped.conf")) {
		t.Error("unchanged config dropped by the new version is still there")
	}
	if exists(filepath.Join(target, "etc/other.conf")) || readText(t, filepath.Join(target, "etc/other.conf.terrapack-new")) != "level=1 # 2.0\n" {
		t.Error("a deleted config file came back, or its new version is not beside")
	}
	cfg := res["config"].(map[string]any)
	if got := strings.Join(strList(cfg["kept"]), " "); got != "etc/dropped-changed.conf etc/other.conf" {
		t.Errorf("config kept: %s", got)
	}
	if got := strings.Join(strList(cfg["removed"]), " "); got != "etc/dropped.conf" {
		t.Errorf("config removed: %s", got)
	}
}

// Killed after the commit, before the files set aside were moved out: the
// new tree holds everything (the set-aside files in its .terrapack/aside),
// and the next run moves them out beside the install.
func TestUpgradeKilledAfterCommitKeepsSetAsideFiles(t *testing.T) {
	t.Parallel()
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skipf("strace not found, cannot kill at a chosen system call: %v", err)
	}
	_, target, run2 := upgradeFixture(t)
	// Killed when it renames .terrapack/aside out.
	r := runCmd(t, nil, strace, "-f", "-o", "/dev/null", "-P", filepath.Join(target, ".terrapack/aside"), "-e", "inject=renameat:signal=KILL",
		run2, "--to", target, "--force", "--quiet")
	if r.code == 0 {
		t.Fatalf("the kill did not happen:\n%s", r)
	}
	if readText(t, filepath.Join(target, "share/version")) != "2.0\n" || readText(t, filepath.Join(target, "etc/app.conf")) != "port=8080 # mine\n" {
		t.Fatal("the commit did not happen before the kill, or lost the customer's config")
	}
	staged := filepath.Join(target, ".terrapack/aside/lib/old/local.cfg")
	if readText(t, staged) != "mine too\n" {
		t.Fatal("the set-aside file is not in the committed tree")
	}
	r = mustOK(t, runCmd(t, nil, run2, "--to", target, "--force"))
	if !strings.Contains(r.stderr, "moved the files an interrupted upgrade set aside to "+target+".terrapack-kept") ||
		readText(t, filepath.Join(target+".terrapack-kept", "lib/old/local.cfg")) != "mine too\n" || exists(staged) {
		t.Fatalf("the next run did not move the set-aside files out:\n%s", r)
	}
}

// --uninstall leaves the vendor's keep: data and the config the customer
// changed; --purge removes them too.
func TestUninstallLeavesDataAndChangedConfigUnlessPurge(t *testing.T) {
	t.Parallel()
	_, target, run2 := upgradeFixture(t)
	mustOK(t, runCmd(t, nil, run2, "--to", target, "--force", "--quiet"))
	res := parseResult(t, mustOK(t, runCmd(t, nil, run2, "--uninstall", "--to", target, "--json")))
	if res["action"] != "uninstall" || res["changed"] != true {
		t.Errorf("result: %v", res)
	}
	if exists(filepath.Join(target, "share/version")) || exists(filepath.Join(target, "bin/app")) {
		t.Error("--uninstall left installed files")
	}
	keptList := fmt.Sprint(res["kept"])
	for _, kept := range []string{"var/db/big.db", "var/README", "etc/app.conf", "share/notes.txt"} {
		if !exists(filepath.Join(target, kept)) {
			t.Errorf("--uninstall removed %s", kept)
		}
	}
	// var/db/, a folder the customer made under the keep: globs, is listed once, whole.
	for _, kept := range []string{"var/db/", "var/README", "etc/app.conf", "share/notes.txt"} {
		if !slices.Contains(res["kept"].([]any), any(kept)) {
			t.Errorf("--json kept %s does not list %s", keptList, kept)
		}
	}
	// counts.removed: the installed entries no longer there.
	if n, _ := res["counts"].(map[string]any)["removed"].(float64); n < 3 {
		t.Errorf("--json counts %v: removed %v after removing share/version, bin/app and more", res["counts"], n)
	}
	if got := readText(t, filepath.Join(target, "etc/app.conf")); got != "port=8080 # mine\n" {
		t.Errorf("changed config after --uninstall: %q", got)
	}
	// Installing again into what is left takes the data back in; the rest
	// of what was kept makes it a folder that is not an install.
	must(t, os.Remove(filepath.Join(target, "etc/app.conf")))
	must(t, os.Remove(filepath.Join(target, "share/notes.txt")))
	dbInode := inode(t, filepath.Join(target, "var/db/big.db"))
	r := mustOK(t, runCmd(t, nil, run2, "--to", target))
	if !strings.Contains(r.stderr, "holds only data an earlier install kept (var/**): it moves into this install") ||
		inode(t, filepath.Join(target, "var/db/big.db")) != dbInode || readText(t, filepath.Join(target, "share/version")) != "2.0\n" {
		t.Errorf("reinstall over kept data:\n%s", r)
	}

	_, target, run2 = upgradeFixture(t)
	mustOK(t, runCmd(t, nil, run2, "--to", target, "--force", "--quiet"))
	mustOK(t, runCmd(t, nil, run2, "--uninstall", "--purge", "--to", target, "--quiet"))
	if exists(target) {
		t.Error("--purge left the install folder")
	}
}
