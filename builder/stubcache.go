package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/terrapack/terrapack/internal/atomicfile"
)

const modulePath = "github.com/terrapack/terrapack"

// cachedStub builds the stub for linux/arch from this builder's own module
// source, the way `make stubs` does (static, -trimpath, no build ID), and
// keeps it in the user's cache under a key of the source's content and the
// Go version, so it is built once per source and toolchain. The source is
// where the Go toolchain compiled this file from: the checkout for
// `go build`, the module cache for `go install ...@VERSION`.
func cachedStub(arch string, log io.Writer) ([]byte, error) {
	src, err := moduleSource()
	if err != nil {
		return nil, err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("this terrapack has no installer stubs embedded and needs the go command to build them, which is not in PATH: install Go, or build terrapack with `make build`")
	}
	key, err := sourceKey(src, arch)
	if err != nil {
		return nil, err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return nil, fmt.Errorf("no cache folder for the installer stubs: %w", err)
	}
	p := filepath.Join(cache, "terrapack", "stubs", key, "linux-"+arch)
	if b, err := os.ReadFile(p); err == nil {
		return b, nil
	}
	if log != nil {
		fmt.Fprintf(log, "this terrapack has no installer stubs embedded: building the linux/%s stub from %s with %s into %s (once)\n", arch, src, runtime.Version(), p)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, fmt.Errorf("failed to create the stub cache: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(p), ".build-*")
	if err != nil {
		return nil, fmt.Errorf("failed to create the stub cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "stub")
	cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags", "-s -w -buildid= -X main.version="+moduleVersion(), "-o", out, "./stub")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS=-mod=readonly")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("failed to build the linux/%s installer stub in %s: %w\n%s", arch, src, err, strings.TrimSpace(string(msg)))
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(p, 0o755, func(f *os.File) error { _, err := f.Write(b); return err }); err != nil {
		return nil, err
	}
	return b, nil
}

// moduleSource is the root of the module this file was compiled from.
func moduleSource() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	if ok && filepath.IsAbs(file) {
		if b, err := os.ReadFile(filepath.Join(root, "go.mod")); err == nil && strings.HasPrefix(string(b), "module "+modulePath+"\n") {
			return root, nil
		}
	}
	return "", fmt.Errorf("this terrapack has no installer stubs embedded and its source is not at hand to build them (built with -trimpath, or the source moved): build it with `make build`, or with `go install %s/cmd/terrapack@VERSION` (no -trimpath)", modulePath)
}

// moduleVersion is this builder's module version, as the stub reports it.
func moduleVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "dev"
}

// sourceKey hashes what a stub is built from: the Go version, the target,
// go.mod, go.sum and every non-test Go file of the module.
func sourceKey(root, arch string) (string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		name := d.Name()
		if d.Type().IsRegular() && (strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") || name == "go.mod" || name == "go.sum") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("failed to read the module source in %s: %w", root, err)
	}
	sort.Strings(files)
	h := sha256.New()
	fmt.Fprintf(h, "%s linux/%s %s\n", runtime.Version(), arch, moduleVersion())
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(h, "%s %d\n", rel, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}
