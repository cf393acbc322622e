// Package elftest builds small ELF programs with the host's gcc for the
// tests of the packages that read and rewrite ELF files.
package elftest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// LongPrefix is the RPATH the fixtures are linked with.
const LongPrefix = "/some/long/absolute/prefix/lib"

// GreetLibC and GreetMainC are the sources of the fixtures.
const GreetLibC = "int greet(void) { return 42; }\n"

const GreetMainC = `#include <stdio.h>
int greet(void);
int main(void) { printf("greet=%d\n", greet()); return 0; }
`

// RequireTool skips the test when an external build tool is missing.
func RequireTool(tb testing.TB, name string) {
	tb.Helper()
	if _, err := exec.LookPath(name); err != nil {
		tb.Skipf("skipping: %s not found in PATH (%v); it is needed to build ELF fixtures", name, err)
	}
}

// BuildGreet compiles root/lib/libgreet.so and root/bin/prog linked against
// it with the given rpath and dtags flag ("--enable-new-dtags" for RUNPATH,
// "--disable-new-dtags" for RPATH).
func BuildGreet(tb testing.TB, root, rpath, dtags string) (prog, lib string) {
	tb.Helper()
	RequireTool(tb, "gcc")
	src := tb.TempDir()
	for name, text := range map[string]string{"greet.c": GreetLibC, "main.c": GreetMainC} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	for _, d := range []string{"bin", "lib"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	lib = filepath.Join(root, "lib", "libgreet.so")
	prog = filepath.Join(root, "bin", "prog")
	Run(tb, "gcc", "-shared", "-fPIC", "-Wl,-soname,libgreet.so", "-Wl,-rpath,"+LongPrefix, "-Wl,"+dtags,
		"-o", lib, filepath.Join(src, "greet.c"))
	Run(tb, "gcc", "-o", prog, filepath.Join(src, "main.c"), "-L"+filepath.Dir(lib), "-lgreet",
		"-Wl,-rpath,"+rpath, "-Wl,"+dtags)
	return prog, lib
}

// Run runs a tool and fails the test when it fails.
func Run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// RunClean executes prog without LD_LIBRARY_PATH so only its own paths count.
func RunClean(prog string) (string, error) {
	cmd := exec.Command(prog)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LD_LIBRARY_PATH=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}
