//go:build goinstall

// Behind the goinstall tag (make test-goinstall): the go command compiles
// the builder and all its dependencies afresh, minutes on a busy machine.

package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// proxyVersion is the version the test proxy serves the work tree as.
const proxyVersion = "v0.1.0-gotest"

// TestGoInstallFromProxy: `go install github.com/terrapack/terrapack/cmd/terrapack@VERSION`,
// as a Go user runs it, from a module proxy (a file:// one in GOPROXY's
// layout) that serves this work tree as VERSION and the dependencies from
// this machine's module cache, into an empty module cache and GOBIN. The
// module zip is made and checked with golang.org/x/mod/zip, the code the
// go command and proxy.golang.org use: nothing the build needs may be left
// out (size limits, folders with a go.mod of their own, vendor). The builder
// it installs builds its stub into the user's cache, says so, and makes an
// installer that installs the tree and reports VERSION.
func TestGoInstallFromProxy(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not in PATH")
	}
	root, names := moduleFiles(t)
	tmp := t.TempDir()

	// The proxy: list, .info, .mod and .zip under the module's path.
	m := module.Version{Path: "github.com/terrapack/terrapack", Version: proxyVersion}
	proxy := filepath.Join(tmp, "proxy")
	at := filepath.Join(proxy, m.Path, "@v")
	must(t, os.MkdirAll(at, 0o755))
	var files []modzip.File
	for _, n := range names {
		files = append(files, workFile{root, n})
	}
	checked, err := modzip.CheckFiles(files)
	must(t, err)
	for _, o := range checked.Omitted {
		t.Errorf("the module zip leaves out %s: %v", o.Path, o.Err)
	}
	for _, o := range checked.Invalid {
		t.Errorf("the module zip cannot hold %s: %v", o.Path, o.Err)
	}
	if checked.SizeError != nil {
		t.Errorf("the module is too large for a module zip: %v", checked.SizeError)
	}
	if t.Failed() {
		t.FailNow()
	}
	z, err := os.Create(filepath.Join(at, m.Version+".zip"))
	must(t, err)
	must(t, modzip.Create(z, m, files))
	must(t, z.Close())
	if _, err := modzip.CheckZip(m, z.Name()); err != nil {
		t.Fatalf("the module zip does not check: %v", err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(at, m.Version+".mod"), gomod, 0o644))
	info, _ := json.Marshal(map[string]string{"Version": m.Version, "Time": "2026-12-02T00:00:00Z"})
	must(t, os.WriteFile(filepath.Join(at, m.Version+".info"), info, 0o644))
	must(t, os.WriteFile(filepath.Join(at, "list"), []byte(m.Version+"\n"), 0o644))

	out, err := exec.Command(goTool, "env", "GOMODCACHE").Output()
	must(t, err)
	machineCache := filepath.Join(strings.TrimSpace(string(out)), "cache", "download")
	modcache, gobin := filepath.Join(tmp, "modcache"), filepath.Join(tmp, "gobin")
	env := []string{
		"GOPROXY=file://" + proxy + ",file://" + machineCache,
		"GOMODCACHE=" + modcache, // empty: everything comes through the proxy
		"GOBIN=" + gobin,
		"GOSUMDB=off",       // VERSION is in no checksum database; go.sum checks the rest
		"GOTOOLCHAIN=local", // never fetch a toolchain
		"GOFLAGS=-modcacherw",
		// As in TestPlainGoBuildBuildsInstallers: without cgo the builder
		// uses the pure-Go zstd encoder, and the test skips compiling the C
		// library again; how stubs are found and built is the same.
		"CGO_ENABLED=0",
		"XDG_CACHE_HOME=" + filepath.Join(tmp, "cache"),
	}
	start := time.Now()
	r := runCmd(t, env, goTool, "install", m.Path+"/cmd/terrapack@"+m.Version)
	if r.code != 0 {
		t.Fatalf("go install failed:\n%s", r)
	}
	t.Logf("go install %s@%s: %.0f s", m.Path+"/cmd/terrapack", m.Version, time.Since(start).Seconds())
	if entries, _ := os.ReadDir(filepath.Join(modcache, "cache", "download", "github.com", "terrapack", "terrapack", "@v")); len(entries) == 0 {
		t.Fatal("go install did not take the module from the test proxy")
	}
	bin := filepath.Join(gobin, "terrapack")
	if r := mustOK(t, runCmd(t, env, bin, "--version")); !strings.Contains(r.stdout, m.Version) {
		t.Errorf("terrapack --version does not say %s: %q", m.Version, r.stdout)
	}

	app := sampleTree(t)
	run := filepath.Join(tmp, "app.run")
	start = time.Now()
	r = mustOK(t, runCmd(t, env, bin, "build", app, "-o", run, "--name", "app", "--version", "1.0"))
	t.Logf("first build, the stub built into the user's cache: %.0f s", time.Since(start).Seconds())
	src := filepath.Join(modcache, m.Path+"@"+m.Version)
	want := "this terrapack has no installer stubs embedded: building the linux/amd64 stub from " + src
	if !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, filepath.Join(tmp, "cache", "terrapack", "stubs")) {
		t.Fatalf("the builder did not say it builds the stub from the module cache into the user's cache:\n%s", r.stderr)
	}
	target := filepath.Join(tmp, "opt", "app")
	mustOK(t, runCmd(t, nil, run, "--to", target))
	compareTrees(t, app, target)
	if r := mustOK(t, runCmd(t, nil, run, "--version")); !strings.HasPrefix(r.stdout, "app 1.0 (terrapack installer "+m.Version+")") {
		t.Errorf("installer --version: %q, want the stub built from %s", r.stdout, m.Version)
	}
}

// workFile is a file of the work tree, as golang.org/x/mod/zip takes it.
type workFile struct{ root, name string }

func (f workFile) Path() string                 { return f.name }
func (f workFile) Lstat() (os.FileInfo, error)  { return os.Lstat(filepath.Join(f.root, f.name)) }
func (f workFile) Open() (io.ReadCloser, error) { return os.Open(filepath.Join(f.root, f.name)) }
