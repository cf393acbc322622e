package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestInstallerImports keeps out of the installer what it must not link:
// build-time planning, and packages that cost size for nothing it needs
// (regexp: 240 KB; net and net/http, which github.com/schollz/progressbar/v3
// from v3.18 brings: 2.0 MB).
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
	forbidden := map[string]bool{
		"github.com/terrapack/terrapack/relocate/planner": true,
		"text/template": true, "debug/elf": true, "regexp": true, "net": true, "net/http": true,
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list gave %d packages; the check would prove nothing", len(deps))
	}
	for _, d := range deps {
		if forbidden[d] {
			t.Errorf("the installer links %s", d)
		}
	}
}
