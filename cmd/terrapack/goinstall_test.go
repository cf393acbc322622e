package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlainGoBuildBuildsInstallers: a builder compiled with plain `go build`
// (as `go install ...@VERSION` compiles it: no make, so no stubs embedded)
// builds the installer stub once from its own source into the user's cache,
// says so, and makes installers that install and run. The module's files
// are copied first, without the build products make put in the checkout.
func TestPlainGoBuildBuildsInstallers(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not in PATH")
	}
	root, files := moduleFiles(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "terrapack")
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		must(t, err)
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(src, f)), 0o755))
		must(t, os.WriteFile(filepath.Join(src, f), b, 0o644))
	}
	if exists(filepath.Join(src, "builder/stubs/linux-amd64")) {
		t.Fatal("the copy holds a built stub")
	}
	// CGO_ENABLED=0 keeps the test from compiling the zstd C library again;
	// it changes only the builder's compressor, not how stubs are found.
	bin := filepath.Join(tmp, "terrapack-plain")
	gb := exec.Command(goTool, "build", "-o", bin, "./cmd/terrapack")
	gb.Dir = src
	gb.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := gb.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	env := []string{"XDG_CACHE_HOME=" + filepath.Join(tmp, "cache")}
	app := sampleTree(t)
	run1 := filepath.Join(tmp, "one.run")
	r := mustOK(t, runCmd(t, env, bin, "build", app, "-o", run1, "--name", "app", "--version", "1.0"))
	want := "this terrapack has no installer stubs embedded: building the linux/amd64 stub from " + src
	if !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, filepath.Join(tmp, "cache", "terrapack", "stubs")) {
		t.Fatalf("the builder did not say it builds the stub:\n%s", r.stderr)
	}
	// Built once: the second build takes it from the cache, byte for byte
	// the same installer.
	run2 := filepath.Join(tmp, "two.run")
	r = mustOK(t, runCmd(t, env, bin, "build", app, "-o", run2, "--name", "app", "--version", "1.0"))
	if strings.Contains(r.stderr, "building the linux/amd64 stub") {
		t.Errorf("the stub was built again:\n%s", r.stderr)
	}
	if !bytes.Equal(readFile(t, run1), readFile(t, run2)) {
		t.Error("two builds from the cached stub differ")
	}
	target := filepath.Join(tmp, "opt", "app")
	mustOK(t, runCmd(t, nil, run1, "--to", target))
	compareTrees(t, app, target)
	if r := mustOK(t, runCmd(t, nil, run1, "--version")); !strings.HasPrefix(r.stdout, "app 1.0 (terrapack installer ") {
		t.Errorf("--version: %q", r.stdout)
	}
}

// moduleFiles lists the module's files as a commit of the work tree would
// hold them (git's tracked and untracked files, not the ignored build
// products such as bin/ and the embedded stubs), relative to its root.
func moduleFiles(t *testing.T) (root string, files []string) {
	t.Helper()
	root, _ = filepath.Abs("../..")
	ls := exec.Command("git", "ls-files", "-co", "--exclude-standard")
	ls.Dir = root
	list, err := ls.Output()
	if err != nil {
		t.Skipf("cannot list the module's files with git: %v", err)
	}
	for _, f := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		if st, err := os.Lstat(filepath.Join(root, f)); err != nil || !st.Mode().IsRegular() {
			continue // deleted in the work tree, or a symlink
		}
		files = append(files, f)
	}
	return root, files
}
