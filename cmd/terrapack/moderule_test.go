package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func modeOf(t *testing.T, p string) os.FileMode {
	t.Helper()
	st, err := os.Lstat(p)
	must(t, err)
	return st.Mode().Perm()
}

// TestChmodIsACustomerChange: a chmod alone, the content untouched, is a
// change of the customer's — for upgrades, --repair and --uninstall alike.
func TestChmodIsACustomerChange(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "app")
	appVersion(t, src, "1.0", nil)
	run1 := build(t, src)
	target := filepath.Join(t.TempDir(), "opt", "app")
	mustOK(t, runCmd(t, nil, run1, "--to", target, "--quiet"))
	// The customer locks down a program and the config file that holds a secret.
	must(t, os.Chmod(filepath.Join(target, "bin/app"), 0o700))
	must(t, os.Chmod(filepath.Join(target, "etc/app.conf"), 0o600))
	appVersion(t, src, "2.0", nil)
	run2 := build(t, src)

	// The identical installer does not call the install intact.
	mustFail(t, runCmd(t, nil, run1, "--to", target, "--force"), 4, "you changed 1 installed file(s) the new version would replace: bin/app", "--repair")

	// An upgrade refuses as for an edit, and changes nothing.
	r := runCmd(t, nil, run2, "--to", target, "--force", "--json")
	mustFail(t, r, 4, "you changed 1 installed file(s) the new version would replace: bin/app", "--discard-changes")
	if got := strList(parseResult(t, r)["conflicts"]); !slices.Equal(got, []string{"bin/app"}) {
		t.Errorf("conflicts: %v", got)
	}
	if modeOf(t, filepath.Join(target, "bin/app")) != 0o700 || readText(t, filepath.Join(target, "share/version")) != "1.0\n" {
		t.Fatal("the refused upgrade changed the tree")
	}

	// --discard-changes: the program is the new version with the vendor's
	// mode; the config file stays the customer's, mode and all, with the
	// new version beside it.
	res := parseResult(t, mustOK(t, runCmd(t, nil, run2, "--to", target, "--force", "--discard-changes", "--json")))
	if got := modeOf(t, filepath.Join(target, "bin/app")); got != 0o755 || readText(t, filepath.Join(target, "bin/app")) != "#!/bin/sh\necho app 2.0\n" {
		t.Errorf("bin/app not replaced: mode %04o", got)
	}
	conf := filepath.Join(target, "etc/app.conf")
	if got := modeOf(t, conf); got != 0o600 || readText(t, conf) != "port=80 # 1.0\n" {
		t.Errorf("the chmod'ed config was not kept: mode %04o, %q", got, readText(t, conf))
	}
	if got := readText(t, conf+".terrapack-new"); got != "port=80 # 2.0\n" {
		t.Errorf("new config not beside: %q", got)
	}
	cfg := res["config"].(map[string]any)
	if !slices.Equal(strList(cfg["kept"]), []string{"etc/app.conf"}) || !slices.Equal(strList(cfg["beside"]), []string{"etc/app.conf"}) ||
		!slices.Equal(strList(cfg["replaced"]), []string{"etc/other.conf"}) {
		t.Errorf("config: %v", cfg)
	}

	// The identical installer: still intact with the customer's config
	// mode (config is theirs); a chmod of a program is put back by --repair
	// and the customer's version goes aside.
	mustOK(t, runCmd(t, nil, run2, "--to", target, "--force", "--quiet"))
	must(t, os.Chmod(filepath.Join(target, "bin/app"), 0o700))
	mustFail(t, runCmd(t, nil, run2, "--to", target, "--force"), 4, "bin/app", "--repair")
	res = parseResult(t, mustOK(t, runCmd(t, nil, run2, "--to", target, "--repair", "--json", "--noexec")))
	if got := modeOf(t, filepath.Join(target, "bin/app")); got != 0o755 || !slices.Equal(strList(res["repaired"]), []string{"bin/app"}) {
		t.Errorf("--repair: mode %04o, repaired %v", got, res["repaired"])
	}
	if got := modeOf(t, filepath.Join(res["added"].(map[string]any)["aside_folder"].(string), "bin/app")); got != 0o700 {
		t.Errorf("the customer's chmod'ed version aside has mode %04o", got)
	}

	// --uninstall keeps a chmod'ed file and lists it.
	must(t, os.Chmod(filepath.Join(target, "share/version"), 0o600))
	r = mustOK(t, runCmd(t, nil, run2, "--uninstall", "--to", target))
	for _, k := range []string{"share/version", "etc/app.conf"} {
		if !strings.Contains(r.stderr, "kept "+target+"/"+k+"\n") || !exists(filepath.Join(target, k)) {
			t.Errorf("%s not kept and listed:\n%s", k, r)
		}
	}
	if exists(filepath.Join(target, "bin/app")) {
		t.Error("--uninstall left an unchanged file")
	}
}
