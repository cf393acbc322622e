package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestInstallerImports keeps out of the installer what it must not link:
// build-time planning and ELF reading, and packages that cost size for nothing it needs
// (net and net/http, which github.com/schollz/progressbar/v3 brings from v3.18: 2.0 MB).
// regexp is allowed: every v3 release of the bar links it.
func TestInstallerImports(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("no go command to list the installer's imports: %v", err)
	}
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{
		"github.com/terrapack/terrapack/relocate/planner", "github.com/terrapack/terrapack/elfscan",
		"text/template", "html/template", "debug/elf", "net",
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list gave %d packages; the check would prove nothing", len(deps))
	}
	for _, d := range deps {
		if slices.ContainsFunc(forbidden, func(f string) bool { return d == f || strings.HasPrefix(d, f+"/") }) {
			t.Errorf("the installer links %s", d)
		}
	}
}
