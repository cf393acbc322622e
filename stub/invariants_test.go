package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestInstallerImports: the installer links nothing of the build side: no
// relocation planner, no ELF reading, no templates, no regular expressions,
// no network. Checked on the package graph the Makefile builds the stub
// from (CGO_ENABLED=0, linux).
func TestInstallerImports(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not in PATH")
	}
	cmd := exec.Command(goTool, "list", "-deps", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps gave %d packages: %q", len(deps), out)
	}
	forbidden := []string{
		"github.com/terrapack/terrapack/relocate/planner",
		"github.com/terrapack/terrapack/elfscan",
		"text/template", "html/template", "debug/elf", "regexp", "net",
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("the installer links %s", d)
			}
		}
	}
}
