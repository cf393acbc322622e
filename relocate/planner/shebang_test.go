package planner

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/terrapack/terrapack/relocate"
)

const scriptPrefix = "/build/prefix"

// installScript plans script bin/tool built under scriptPrefix, installs it
// into target with links bin/NAME → real interpreter, and returns its path.
func installScript(t *testing.T, target, script string, interps map[string]string) string {
	t.Helper()
	p, _ := New(scriptPrefix)
	if _, err := p.File("bin/tool", strings.NewReader(script), int64(len(script)), 0o755); err != nil {
		t.Fatal(err)
	}
	a, err := relocate.NewApplier(roundTrip(t, p.Plan()), relocate.Vars{Prefix: target})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(target, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, real := range interps {
		if err := os.Symlink(real, filepath.Join(target, "bin", name)); err != nil {
			t.Fatal(err)
		}
	}
	tool, err := extract(t, a, target, "bin/tool", []byte(script), 0o755)
	if err != nil {
		t.Fatal(err)
	}
	return tool
}

// realInterp finds an interpreter binary (not a wrapper script such as a
// pyenv shim), "" if there is none.
func realInterp(names ...string) string {
	for _, n := range names {
		for _, dir := range []string{"/usr/bin", "/bin", "/usr/local/bin"} {
			if p := filepath.Join(dir, n); isExecutable(p) {
				return p
			}
		}
	}
	return ""
}

// pyenvPython returns the python binary of a pyenv-built CPython of the
// version prefix, "" if there is none.
func pyenvPython(version string) string {
	root := os.Getenv("PYENV_ROOT")
	if root == "" {
		root = filepath.Join(os.Getenv("HOME"), ".pyenv")
	}
	found, _ := filepath.Glob(filepath.Join(root, "versions", version+"*", "bin", "python"+version))
	if len(found) == 0 || !isExecutable(found[0]) {
		return ""
	}
	return found[0]
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// longTarget returns an install path that pushes any "#!" line naming it
// over the kernel's limit.
func longTarget(t *testing.T) string {
	return filepath.Join(t.TempDir(), strings.Repeat("a-long-install-folder-", 6))
}

func runScript(t *testing.T, tool string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(tool, args...)
	cmd.Env = []string{"LC_ALL=C"}
	for _, kv := range os.Environ() {
		// The interpreter's options must come from the script alone.
		if !strings.HasPrefix(kv, "PYTHON") && !strings.HasPrefix(kv, "PERL") && !strings.HasPrefix(kv, "RUBY") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// args are passed through every trampoline untouched, with sh's special characters.
var trickyArgs = []string{"a b", "c'd", `"e"`, "$HOME", "*", ""}

func TestShebangTrampolines(t *testing.T) {
	type tc struct {
		name    string
		interps map[string]string
		script  string
		fails   bool // the script's own exit status
		want    func(target, tool string, tramp bool) []string
	}
	argLines := func(prefix string) []string {
		var l []string
		for _, a := range trickyArgs {
			l = append(l, prefix+a)
		}
		return l
	}
	cases := []tc{{
		name:    "python with an option",
		interps: map[string]string{"python3": realInterp("python3")},
		script: "#!" + scriptPrefix + "/bin/python3 -u\n" +
			"import sys\n" +
			"print('exe=' + sys.executable)\n" +
			"print('argv0=' + sys.argv[0])\n" +
			"for a in sys.argv[1:]: print('arg=' + a)\n" +
			"print('unbuffered=%s' % sys.stdout.write_through)\n" +
			"print('line=%d' % sys._getframe().f_lineno)\n",
		want: func(target, tool string, tramp bool) []string {
			line := "line=7"
			if tramp {
				line = "line=9" // the trampoline adds two lines
			}
			return append(append([]string{"exe=" + target + "/bin/python3", "argv0=" + tool}, argLines("arg=")...),
				"unbuffered=True", line)
		},
	}, {
		// Python 2 reads a source without an encoding declaration as ASCII:
		// the trampoline must stay ASCII whatever the install path holds.
		name:    "python 2",
		interps: map[string]string{"python2": pyenvPython("2.7")},
		script: "#!" + scriptPrefix + "/bin/python2 -u\n" +
			"import sys\n" +
			"print('argv0=' + sys.argv[0])\n" +
			"for a in sys.argv[1:]: print('arg=' + a)\n",
		want: func(_, tool string, _ bool) []string { return append([]string{"argv0=" + tool}, argLines("arg=")...) },
	}, {
		name:    "python with an encoding declaration",
		interps: map[string]string{"python3": realInterp("python3")},
		script: "#!" + scriptPrefix + "/bin/python3\n" +
			"# -*- coding: latin-1 -*-\n" +
			"print(ascii('caf\xe9'))\n",
		want: func(_, _ string, _ bool) []string { return []string{`'caf\xe9'`} },
	}, {
		name:    "sh -e, started again from itself",
		interps: map[string]string{"sh": realInterp("bash")}, // bash tells its path in $BASH, dash nothing
		script: "#!" + scriptPrefix + "/bin/sh -e\n" +
			"echo \"shell=$BASH\"\n" +
			"echo \"0=$0\"\n" +
			"for a in \"$@\"; do echo \"arg=$a\"; done\n" +
			"echo \"guard=${TERRAPACK_SHEBANG-unset}\"\n" +
			"case $- in *e*) echo errexit ;; esac\n" +
			"if [ \"$1\" = again ]; then exit 0; fi\n" +
			"\"$0\" again\n" +
			"false\n" +
			"echo not reached\n",
		fails: true,
		want: func(target, tool string, _ bool) []string {
			once := func(args ...string) []string {
				return append(append([]string{"shell=" + target + "/bin/sh", "0=" + tool}, args...), "guard=unset", "errexit")
			}
			return append(once(argLines("arg=")...), once("arg=again")...)
		},
	}, {
		name:    "bash",
		interps: map[string]string{"bash": realInterp("bash")},
		script: "#!" + scriptPrefix + "/bin/bash\n" +
			"words=(\"$@\")\n" +
			"echo \"shell=$BASH n=${#words[@]} last=${words[-2]} 0=$0\"\n",
		want: func(target, tool string, _ bool) []string {
			return []string{fmt.Sprintf("shell=%s/bin/bash n=%d last=* 0=%s", target, len(trickyArgs), tool)}
		},
	}, {
		name:    "perl -w",
		interps: map[string]string{"perl": realInterp("perl")},
		script: "#!" + scriptPrefix + "/bin/perl -w\n" +
			"print \"warn=$^W 0=$0\\n\";\n" +
			"print \"arg=$_\\n\" for @ARGV;\n",
		want: func(_, tool string, _ bool) []string {
			return append([]string{"warn=1 0=" + tool}, argLines("arg=")...)
		},
	}, {
		name:    "ruby -w",
		interps: map[string]string{"ruby": realInterp("ruby")},
		script: "#!" + scriptPrefix + "/bin/ruby -w\n" +
			"puts \"verbose=#{$VERBOSE} 0=#{$0}\"\n" +
			"ARGV.each { |a| puts \"arg=#{a}\" }\n",
		want: func(_, tool string, _ bool) []string {
			return append([]string{"verbose=true 0=" + tool}, argLines("arg=")...)
		},
	}, {
		name:    "tclsh",
		interps: map[string]string{"tclsh": realInterp("tclsh")},
		script: "#!" + scriptPrefix + "/bin/tclsh\n" +
			"puts \"0=$argv0\"\n" +
			"foreach a $argv { puts \"arg=$a\" }\n",
		want: func(_, tool string, _ bool) []string { return append([]string{"0=" + tool}, argLines("arg=")...) },
	}}
	for _, c := range cases {
		for _, tg := range trickyTargets {
			t.Run(c.name+"/"+tg.name, func(t *testing.T) {
				for _, real := range c.interps {
					if real == "" {
						t.Skip("interpreter not installed")
					}
				}
				target := filepath.Join(t.TempDir(), tg.dir)
				tool := installScript(t, target, c.script, c.interps)
				installed, err := os.ReadFile(tool)
				if err != nil {
					t.Fatal(err)
				}
				line, _, _ := strings.Cut(c.script, "\n")
				newLine := strings.ReplaceAll(line, scriptPrefix, target)
				tramp := len(newLine) > relocate.MaxShebang || strings.ContainsAny(target, " \t") ||
					strings.HasPrefix(c.name, "python") && strings.ContainsFunc(target, func(r rune) bool { return r >= 0x80 })
				if got := bytes.HasPrefix(installed, []byte("#!/bin/sh\n")); got != tramp {
					t.Fatalf("trampoline %v, want %v:\n%s", got, tramp, installed)
				}
				if bytes.Contains(installed, []byte(scriptPrefix)) {
					t.Errorf("the build prefix is left in:\n%s", installed)
				}
				out, err := runScript(t, tool, trickyArgs...)
				var exit *exec.ExitError
				if c.fails && !errors.As(err, &exit) || !c.fails && err != nil {
					t.Fatalf("exit status %v, want failure %v; output:\n%s\nscript:\n%s", err, c.fails, out, installed)
				}
				want := strings.Join(c.want(target, tool, tramp), "\n") + "\n"
				if out != want {
					t.Errorf("output:\n%s\nwant:\n%s\nscript:\n%s", out, want, installed)
				}
			})
		}
	}
}

// trickyTargets are install folders (below a test's temporary folder) that
// the kernel, sh, Python, Perl, Ruby or Tcl could misread.
var trickyTargets = []struct{ name, dir string }{
	{"long", strings.Repeat("a-long-install-folder-", 6)},
	{"space", "my apps/tool box"},
	{"tab", "tab\there"},
	{"quote", "it's"},
	{"double quote", `say "hi"`},
	{"dollar", "$HOME${x}$(id)`id`"},
	{"backslash", `back\slash\`},
	{"utf-8", "ünïcødé/数据"},
	{"all, long", "a b\tc'd\"e$f\\g ünï " + strings.Repeat("x", 80) + ` '''"""\`},
}

// TestShebangShort checks that a line that fits is only rewritten.
func TestShebangShort(t *testing.T) {
	target := t.TempDir()
	script := "#!" + scriptPrefix + "/bin/sh -e\necho \"$0 $1 " + scriptPrefix + "/x\"\n"
	sh := realInterp("dash", "sh")
	if sh == "" {
		t.Skip("no sh")
	}
	tool := installScript(t, target, script, map[string]string{"sh": sh})
	installed, _ := os.ReadFile(tool)
	if want := "#!" + target + "/bin/sh -e\necho \"$0 $1 " + target + "/x\"\n"; string(installed) != want {
		t.Fatalf("installed:\n%s\nwant:\n%s", installed, want)
	}
	if out, err := runScript(t, tool, "one"); err != nil || out != tool+" one "+target+"/x\n" {
		t.Fatalf("output %q, %v", out, err)
	}
}

// TestShebangNoTrampoline checks that scripts no trampoline can start limit
// the install path instead, with a clear refusal.
func TestShebangNoTrampoline(t *testing.T) {
	for _, tc := range []struct{ name, script string }{
		{"unknown interpreter", "#!" + scriptPrefix + "/bin/node --harmony\nconsole.log(1)\n"},
		{"python docstring before __future__", "#!" + scriptPrefix + "/bin/python3\n\"\"\"Doc.\"\"\"\nfrom __future__ import annotations\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := New(scriptPrefix)
			if _, err := p.File("bin/tool", strings.NewReader(tc.script), int64(len(tc.script)), 0o755); err != nil {
				t.Fatal(err)
			}
			pl := p.Plan()
			if pl.Files[0].Shebang.Style != "" {
				t.Fatalf("style %q, want none", pl.Files[0].Shebang.Style)
			}
			line, _, _ := strings.Cut(tc.script, "\n")
			want := len(scriptPrefix) + relocate.MaxShebang - len(line)
			if got := pl.MaxTargetLen(); got != want {
				t.Fatalf("MaxTargetLen = %d, want %d", got, want)
			}
			if _, err := relocate.NewApplier(pl, relocate.Vars{Prefix: "/" + strings.Repeat("x", want-1)}); err != nil {
				t.Fatalf("a path of exactly %d bytes is refused: %v", want, err)
			}
			_, err := relocate.NewApplier(pl, relocate.Vars{Prefix: "/" + strings.Repeat("x", want)})
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("at most %d", want)) || !strings.Contains(err.Error(), `"bin/tool"`) {
				t.Fatalf("error %v, want a refusal naming %d and the file", err, want)
			}
			// A blank would split the line however short it is: refused
			// for what it is, not for its length.
			for _, blank := range []string{"/opt/my app", "/opt/tab\tapp"} {
				_, err = relocate.NewApplier(pl, relocate.Vars{Prefix: blank})
				var te *relocate.TargetError
				if !errors.As(err, &te) || !strings.Contains(err.Error(), "contains a space or tab") || !strings.Contains(err.Error(), `"bin/tool"`) || te.Hint != "choose a path without spaces or tabs" {
					t.Errorf("install path %q: error %v, want a refusal for its blank", blank, err)
				}
			}
		})
	}
}

// TestShebangNotExecutable checks that a file nobody executes is plain text.
func TestShebangNotExecutable(t *testing.T) {
	p, _ := New(scriptPrefix)
	script := "#!" + scriptPrefix + "/bin/python3\nimport os\n"
	if _, err := p.File("lib/mod.py", strings.NewReader(script), int64(len(script)), 0o644); err != nil {
		t.Fatal(err)
	}
	if f := p.Plan().Files[0]; f.Kind != relocate.KindText {
		t.Fatalf("kind %q, want text", f.Kind)
	}
}

// TestShebangPayloadMismatch checks that a first line other than planned is an error.
func TestShebangPayloadMismatch(t *testing.T) {
	script := "#!" + scriptPrefix + "/bin/sh\necho\n"
	p, _ := New(scriptPrefix)
	if _, err := p.File("bin/tool", strings.NewReader(script), int64(len(script)), 0o755); err != nil {
		t.Fatal(err)
	}
	a, err := relocate.NewApplier(p.Plan(), relocate.Vars{Prefix: "/opt/x"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := extract(t, a, dir, "bin/tool", []byte("#!"+scriptPrefix+"/bin/shx\necho\n"), 0o755); err == nil || !strings.Contains(err.Error(), "does not match the plan") {
		t.Fatalf("error %v, want a mismatch", err)
	}
}

// TestPythonMatchersAgreeWithRegexps checks the written-out matchers
// against the regexps they stand for (kept out of the installer for size).
func TestPythonMatchersAgreeWithRegexps(t *testing.T) {
	str := regexp.MustCompile(`^(?i:[rbuf]{0,2})["']`)
	fut := regexp.MustCompile(`(?m)^from[ \t]+__future__[ \t]+import\b`)
	cases := []string{"", "'x'", `"""doc"""`, "rb'x'", "Rb\"x\"", "fr'", "bru'", "x = 1", "u", "b'", "from __future__ import annotations", "x\nfrom  __future__\timport x", "from __future__ importx", "from __future__ import", " from __future__ import x", "from__future__ import x", "from __future__  import_x"}
	for _, c := range cases {
		b := []byte(c)
		if a, w := isStringStart(b), str.Match(b); a != w {
			t.Errorf("isStringStart(%q) = %v, regexp %v", c, a, w)
		}
		if a, w := importsFuture(b), fut.Match(b); a != w {
			t.Errorf("importsFuture(%q) = %v, regexp %v", c, a, w)
		}
	}
}
