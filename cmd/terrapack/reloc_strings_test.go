package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// keptLengthC keeps its prefix as nginx does, {sizeof(PREFIX)-1, data}, and
// copies that many bytes: a NUL-shortened rewrite would cut the path.
const keptLengthC = `#include <stdio.h>
#include <string.h>
/* Global and writable, so that gcc cannot fold the copy into immediates. */
struct { size_t len; const char *data; } prefix = { sizeof(PREFIX) - 1, PREFIX };
int main(void) {
	char path[4096];
	memcpy(path, prefix.data, prefix.len);
	strcpy(path + prefix.len, "/etc/app.conf");
	FILE *f = fopen(path, "r");
	if (!f) { perror(path); return 1; }
	char buf[64] = {0};
	fread(buf, 1, sizeof buf - 1, f);
	printf("%s", buf);
	return 0;
}
`

// mergedTailC has a version literal that ld stores as the tail of the
// prefix string (.rodata.str1.1, SHF_MERGE): referenced from code (the
// printf argument) and from data (the pointer, a RELATIVE relocation).
//
// aarch64 gcc aligns string literals to 8 bytes (.rodata.str1.8), so ld
// does not merge them there; with POINTER_INTO_PREFIX the program points
// into the prefix itself, which is what the merge produces.
const mergedTailC = `#include <stdio.h>
#ifdef POINTER_INTO_PREFIX
#undef VERSION
#define VERSION (PREFIX + sizeof(PREFIX) - sizeof("3.1.4"))
#endif
const char *version = VERSION;
const char *prefix = PREFIX;
int main(void) {
	char path[4096];
	snprintf(path, sizeof path, "%s/etc/app.conf", prefix);
	FILE *f = fopen(path, "r");
	if (!f) { perror(path); return 1; }
	char buf[64] = {0};
	fread(buf, 1, sizeof buf - 1, f);
	printf("code %s data %s conf %s", VERSION, version, buf);
	return 0;
}
`

// cTarget is how the test compiles and runs programs for one machine.
type cTarget struct {
	arch, cc string
	run      []string // the emulator, if any
	flags    []string
}

func cTargets(t *testing.T) []cTarget {
	var out []cTarget
	if _, err := exec.LookPath("gcc"); err == nil {
		out = append(out, cTarget{arch: "amd64", cc: "gcc"})
	} else {
		t.Log("gcc not found: amd64 programs not tested")
	}
	cross, err1 := exec.LookPath("aarch64-linux-gnu-gcc")
	qemu, err2 := exec.LookPath("qemu-aarch64-static")
	if err1 == nil && err2 == nil {
		out = append(out, cTarget{arch: "arm64", cc: cross, run: []string{qemu, "-L", "/usr/aarch64-linux-gnu"}, flags: []string{"-DPOINTER_INTO_PREFIX"}})
	} else {
		t.Log("aarch64-linux-gnu-gcc or qemu-aarch64-static not found (apt-get install gcc-aarch64-linux-gnu qemu-user-static): arm64 programs not tested")
	}
	return out
}

var longestTarget = regexp.MustCompile(`longest target:  (\d+) bytes`)

// printedLimit is the longest target inspect prints for an installer.
func printedLimit(t *testing.T, run string) (int, string) {
	t.Helper()
	insp := mustOK(t, terrapack(t, "inspect", "--relocations", run)).stdout
	m := longestTarget.FindStringSubmatch(insp)
	if m == nil {
		t.Fatalf("inspect prints no longest target:\n%s", insp)
	}
	n, _ := strconv.Atoi(m[1])
	return n, insp
}

// targetOfLength returns a fresh absolute path of exactly n bytes (n >= 7),
// removed at the end of the test. A short path in /tmp is claimed by
// creating "PATH.claimed" exclusively, so that test runs at the same time
// never pick the same one; the path itself stays absent.
func targetOfLength(t *testing.T, base string, n int) string {
	t.Helper()
	var p string
	if n >= len(base)+2 {
		p = base + "/" + strings.Repeat("t", n-len(base)-1)
		t.Cleanup(func() { os.RemoveAll(p) })
		return p
	}
	for i := 0; ; i++ {
		name := fmt.Sprintf("%0*d", n-len("/tmp/"), i)
		if p = "/tmp/" + name; len(p) != n || exists(p) {
			continue
		}
		claim, err := os.OpenFile(p+".claimed", os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			continue
		}
		claim.Close()
		break
	}
	t.Cleanup(func() { os.RemoveAll(p); os.Remove(p + ".claimed") })
	return p
}

// TestCompiledStringsEveryLength compiles, at a prefix, a program that keeps
// its prefix's compiled length (as nginx) and one whose version literal the
// linker merged into the prefix string's tail, for amd64 and arm64; hides
// the build folder; and installs and runs each at every length from 7 bytes
// up to the limit the installer prints, which must also be refused one byte
// past it.
func TestCompiledStringsEveryLength(t *testing.T) {
	t.Parallel()
	for _, ct := range cTargets(t) {
		t.Run(ct.arch, func(t *testing.T) {
			base, err := os.MkdirTemp("/tmp", "cs")
			must(t, err)
			t.Cleanup(func() { os.RemoveAll(base) })
			const version = "3.1.4"
			p := base + "/app/" + version // under 32 bytes, ends with the version
			programs := map[string]struct {
				src       string
				wantLimit int
				wantOut   string
			}{
				"keptlen": {keptLengthC, len(p), "conf found\n"},
				// Nothing may be written from the version's first byte on.
				"merged": {mergedTailC, len(p) - len(version) - 1, "code 3.1.4 data 3.1.4 conf conf found\n"},
			}
			for name, prog := range programs {
				t.Run(name, func(t *testing.T) {
					must(t, os.RemoveAll(p))
					for _, d := range []string{"bin", "etc", "src"} {
						must(t, os.MkdirAll(filepath.Join(p, d), 0o755))
					}
					must(t, os.WriteFile(filepath.Join(p, "etc/app.conf"), []byte("conf found\n"), 0o644))
					src := filepath.Join(p, "src", name+".c")
					must(t, os.WriteFile(src, []byte(prog.src), 0o644))
					bin := filepath.Join(p, "bin", name)
					mustOK(t, runCmd(t, nil, ct.cc, append([]string{"-O2", "-o", bin, src, `-DPREFIX="` + p + `"`, `-DVERSION="` + version + `"`}, ct.flags...)...))
					must(t, os.Remove(src))
					if name == "merged" && ct.flags == nil {
						data, err := os.ReadFile(bin)
						must(t, err)
						if !bytes.Contains(data, []byte("\x00"+p+"\x00")) || bytes.Contains(data, []byte("\x00"+version+"\x00")) {
							t.Skipf("the %s linker did not merge %q into the tail of %q", ct.arch, version, p)
						}
					}
					runArgs := append(append([]string{}, ct.run...), bin)
					if r := mustOK(t, runCmd(t, nil, runArgs[0], runArgs[1:]...)); r.stdout != prog.wantOut {
						t.Fatalf("the build itself prints %q, want %q", r.stdout, prog.wantOut)
					}
					run := filepath.Join(t.TempDir(), name+".run")
					mustOK(t, terrapack(t, "build", p, "-o", run, "--prefix", p, "--compression", "none", "-q"))
					limit, insp := printedLimit(t, run)
					if limit != prog.wantLimit {
						t.Fatalf("printed limit %d, want %d:\n%s", limit, prog.wantLimit, insp)
					}
					if name == "merged" && !strings.Contains(insp, fmt.Sprintf("another string starts at byte %d of this one", len(p)-len(version))) {
						t.Errorf("inspect does not say why the limit is lowered:\n%s", insp)
					}
					must(t, os.RemoveAll(p)) // the build folder is gone, as on a customer's machine

					for n := 7; n <= limit; n++ {
						target := targetOfLength(t, base, n)
						mustOK(t, runCmd(t, nil, run, "--to", target, "-q"))
						args := append(append([]string{}, ct.run...), filepath.Join(target, "bin", name))
						if r := runCmd(t, nil, args[0], args[1:]...); r.code != 0 || r.stdout != prog.wantOut {
							t.Errorf("installed at a %d-byte path %s:\n%s", n, target, r)
						}
						if grep := runCmd(t, nil, "grep", "-rlF", "--exclude-dir=.terrapack", p, target); grep.code != 1 {
							t.Errorf("installed at %s, files still name %s:\n%s", target, p, grep.stdout)
						}
						must(t, os.RemoveAll(target))
					}
					over := targetOfLength(t, base, limit+1)
					mustFail(t, runCmd(t, nil, run, "--to", over), 4, fmt.Sprintf("allows at most %d", limit), "hint:")
					if exists(over) {
						t.Error("a refused install created its target")
					}
				})
			}
		})
	}
}
