package planner

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/terrapack/terrapack/internal/elftest"
	"github.com/terrapack/terrapack/payload"
	"github.com/terrapack/terrapack/relocate"
)

const binPrefix = "/home/ourapp/root"

func planOne(t *testing.T, name string, data []byte, mode os.FileMode) (*relocate.Plan, Packed) {
	t.Helper()
	p, err := New(binPrefix)
	if err != nil {
		t.Fatal(err)
	}
	p.Name, p.Version = "app", "1.2"
	pk, err := p.File(name, bytes.NewReader(data), int64(len(data)), mode)
	if err != nil {
		t.Fatal(err)
	}
	return roundTrip(t, p.Plan()), pk
}

func TestNewPlannerRefuses(t *testing.T) {
	for _, p := range []string{"", "relative/x", "/", "/a/", "/a//b", "/a/../b", "/a\nb", "/" + strings.Repeat("x", 5000)} {
		if _, err := New(p); err == nil {
			t.Errorf("New(%q) accepted", p)
		}
	}
}

func TestPlanKinds(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		kind          string // "" when nothing is planned
	}{
		{"etc/a.conf", "root=" + binPrefix + "\n", 0o644, relocate.KindText},
		{"etc/other.conf", "root=" + binPrefix + "fs\n", 0o644, ""},
		{"bin/x", "#!" + binPrefix + "/bin/sh\n", 0o755, relocate.KindShebang},
		{"bin/y", "#!/bin/sh\nexec " + binPrefix + "/bin/z\n", 0o755, relocate.KindText},
		{"lib/data.bin", "\x01\x02" + binPrefix + "/share\x00", 0o644, relocate.KindBinary},
		{"lib/late-nul", strings.Repeat("text ", 3000) + binPrefix + "/x\x00", 0o644, relocate.KindBinary},
		{"share/empty", "", 0o644, ""},
	} {
		pl, _ := planOne(t, tc.name, []byte(tc.content), tc.mode)
		got := ""
		if len(pl.Files) > 0 {
			got = pl.Files[0].Kind
		}
		if got != tc.kind {
			t.Errorf("%s: kind %q, want %q", tc.name, got, tc.kind)
		}
	}
}

func TestBinaryStrings(t *testing.T) {
	P := binPrefix
	data := []byte("\x7fXYZ\x00junk\x00" +
		P + "/share/app\x00" + // a C string
		"\x01\x02PATH=" + P + "/bin:" + P + "/lib\x00" + // twice in one, after binary bytes
		P + "fs/other\x00" + // another path
		"\x05" + P + "/loose\x05\x00" + // not NUL-terminated: kept
		"\xff\xfe" + "caf\xc3\xa9/" + P + "/x\x00") // UTF-8 text before it, invalid bytes before that
	pl, pk := planOne(t, "lib/blob", data, 0o644)
	if len(pk.Patches) != 0 {
		t.Fatalf("patches for a non-ELF file: %v", pk.Patches)
	}
	off := func(s string) int64 { return int64(bytes.Index(data, []byte(s))) }
	want := []relocate.BinString{
		{Offset: off(P + "/share"), Capacity: len(P + "/share/app"), Value: P + "/share/app"},
		{Offset: off("PATH="), Capacity: len("PATH=" + P + "/bin:" + P + "/lib"), Value: "PATH=" + P + "/bin:" + P + "/lib"},
		{Offset: off("caf"), Capacity: len("café/" + P + "/x"), Value: "café/" + P + "/x"},
	}
	if len(pl.Files) != 1 || !reflect.DeepEqual(pl.Files[0].Strings, want) {
		t.Fatalf("plan %+v\nwant strings %+v", pl.Files, want)
	}
	if len(pl.Kept) != 1 || pl.Kept[0].Name != "lib/blob" || !strings.Contains(pl.Kept[0].Reason, "1 occurrence") {
		t.Fatalf("kept %+v", pl.Kept)
	}
	if got := pl.MaxTargetLen(); got != len(P) {
		t.Fatalf("MaxTargetLen = %d, want %d", got, len(P))
	}

	a, err := relocate.NewApplier(pl, relocate.Vars{Prefix: "/opt/app"})
	if err != nil {
		t.Fatal(err)
	}
	path, err := extract(t, a, t.TempDir(), "lib/blob", data, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	// Rewritten strings keep their length: the install path is padded with
	// slashes before its last component, every byte after it stays.
	T := relocate.PadPath("/opt/app", len(P))
	if T != "/opt"+strings.Repeat("/", len(P)-len("/opt/app"))+"/app" {
		t.Fatalf("PadPath = %q", T)
	}
	wantData := []byte("\x7fXYZ\x00junk\x00" +
		T + "/share/app\x00" +
		"\x01\x02" + "PATH=" + T + "/bin:" + T + "/lib\x00" +
		P + "fs/other\x00" +
		"\x05" + P + "/loose\x05\x00" +
		"\xff\xfe" + "café/" + T + "/x\x00")
	if !bytes.Equal(got, wantData) {
		t.Fatalf("installed\n%q\nwant\n%q", got, wantData)
	}

	// The same length is the longest allowed; one more byte is refused.
	if _, err := relocate.NewApplier(pl, relocate.Vars{Prefix: "/" + strings.Repeat("x", len(P)-1)}); err != nil {
		t.Fatal(err)
	}
	_, err = relocate.NewApplier(pl, relocate.Vars{Prefix: "/" + strings.Repeat("x", len(P))})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("at most %d", len(P))) || !strings.Contains(err.Error(), "build the package under a longer prefix") {
		t.Fatalf("error %v", err)
	}

	// A payload that differs from the plan is refused.
	a, _ = relocate.NewApplier(pl, relocate.Vars{Prefix: "/opt/app"})
	changed := bytes.Replace(data, []byte("/share/app"), []byte("/share/xyz"), 1)
	if _, err := extract(t, a, t.TempDir(), "lib/blob", changed, 0o644); err == nil || !strings.Contains(err.Error(), "not \"") {
		t.Fatalf("error %v, want a mismatch", err)
	}
}

// TestBinaryWindows puts strings across the 1 MiB search windows.
func TestBinaryWindows(t *testing.T) {
	data := bytes.Repeat([]byte{0xAA}, 3*window)
	at := []int{window - 3, 2*window - 10, 2*window + 100}
	var want []relocate.BinString
	for _, o := range at {
		s := "lead/" + binPrefix + "/tail"
		data[o-6] = 0
		copy(data[o-5:], s+"\x00")
		want = append(want, relocate.BinString{Offset: int64(o - 5), Capacity: len(s), Value: s})
	}
	// A string longer than the margin is not taken for a C string.
	long := bytes.Repeat([]byte("x"), margin+10)
	copy(long[10:], binPrefix+"/")
	copy(data[window+100:], append(long, 0))
	pl, _ := planOne(t, "big", data, 0o644)
	if len(pl.Files) != 1 || !reflect.DeepEqual(pl.Files[0].Strings, want) {
		t.Fatalf("strings %+v, want %+v", pl.Files, want)
	}
	if len(pl.Kept) != 1 {
		t.Fatalf("kept %+v, want the over-long string", pl.Kept)
	}
}

func TestMaxTargetLen(t *testing.T) {
	P := binPrefix
	pl := &relocate.Plan{BuildPrefix: P, Files: []relocate.FilePlan{
		{Name: "a", Kind: relocate.KindText},
		{Name: "bin/x", Kind: relocate.KindELF, Interp: &relocate.BinString{Offset: 0x318, Capacity: len(P+"/ld.so") + 10, Value: P + "/ld.so"}},
		// A padded string allows the prefix's length.
		{Name: "lib/z", Kind: relocate.KindELF, Strings: []relocate.BinString{{Offset: 8, Capacity: len(P + "/x"), Value: P + "/x"}}},
		// Twice in one string, and another string starts at byte 5 of the
		// second prefix: both copies and the colon must end before it.
		{Name: "lib/y", Kind: relocate.KindELF, Strings: []relocate.BinString{{Offset: 8, Capacity: len(P) + 5, Value: P + ":" + P, Inner: len(P) + 6}}},
	}}
	if got, want := pl.MaxTargetLen(), (len(P)+5-len(P+":"+P)+2*len(P))/2; got != want {
		t.Fatalf("MaxTargetLen = %d, want %d", got, want)
	}
	if l := pl.Limits()[0]; l.Name != "lib/y" || !strings.Contains(l.Why, fmt.Sprintf("another string starts at byte %d of this one", len(P)+6)) {
		t.Errorf("tightest limit %+v", l)
	}
	pl.Files = pl.Files[:3]
	if got, want := pl.MaxTargetLen(), len(P); got != want {
		t.Fatalf("MaxTargetLen = %d, want %d", got, want)
	}
	pl.Files = pl.Files[:2]
	if got, want := pl.MaxTargetLen(), len(P)+10; got != want {
		t.Fatalf("MaxTargetLen = %d, want %d", got, want)
	}
	pl.Files = pl.Files[:1]
	if got := pl.MaxTargetLen(); got != -1 {
		t.Fatalf("MaxTargetLen = %d, want -1 for text only", got)
	}
}

func TestTemplates(t *testing.T) {
	P := binPrefix
	text := "#!/bin/sh\n# {{.Name}} {{.Version}} built in {{.BuildPrefix}}\nexec {{.Prefix}}/bin/app \"$@\"\n"
	pl, pk := planOne(t, "bin/launch.tmpl", []byte(text), 0o755)
	if pk.Name != "bin/launch" || !strings.Contains(string(pk.Content), "# app 1.2 built in "+P+"\nexec "+relocate.PrefixPlaceholder+"/bin/app") {
		t.Fatalf("packed %q as %q", pk.Content, pk.Name)
	}
	if len(pl.Files) != 1 || pl.Files[0].Kind != relocate.KindTemplate || pl.Files[0].Name != "bin/launch" {
		t.Fatalf("plan %+v", pl)
	}
	if len(pl.Kept) != 1 || pl.Kept[0].Name != "bin/launch" {
		t.Fatalf("kept %+v: the template renders the build prefix", pl.Kept)
	}
	a, err := relocate.NewApplier(pl, relocate.Vars{Prefix: "/opt/app"})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "bin"), 0o755)
	out, err := extract(t, a, root, pk.Name, pk.Content, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(out) != "launch" {
		t.Fatalf("installed as %s", out)
	}
	got, _ := os.ReadFile(out)
	if want := "#!/bin/sh\n# app 1.2 built in " + P + "\nexec /opt/app/bin/app \"$@\"\n"; string(got) != want {
		t.Fatalf("rendered %q, want %q", got, want)
	}

	// *.tmpl files that are not terrapack templates (setuptools' script.tmpl,
	// Go's test data, oversized or nameless ones) are ordinary files: a text
	// file naming the prefix is relocated as text, others are left alone.
	for _, tc := range []struct{ name, text, kind string }{
		{"a.tmpl", "{{.Nope}} " + P, relocate.KindText},
		{"b.tmpl", "{{if}}", ""},
		{"script.tmpl", "# EASY-INSTALL-SCRIPT: %(spec)r\n", ""},
		{"c.tmpl", "{{.Name}}" + strings.Repeat("x", relocate.TemplateMax), ""},
		{"d/.tmpl", "{{.Name}}", ""},
		// Go's text/template test data: renders, but names none of our fields.
		{"file1.tmpl", "{{define \"x\"}}TEXT{{end}}\n{{define \"dotV\"}}{{.V}}{{end}}\n", ""},
	} {
		p, _ := New(P)
		packed, err := p.File(tc.name, strings.NewReader(tc.text), int64(len(tc.text)), 0o644)
		if err != nil || packed.Name != tc.name {
			t.Errorf("%s: packed as %q (%v)", tc.name, packed.Name, err)
		}
		pl := p.Plan()
		kind := ""
		if len(pl.Files) == 1 && pl.Files[0].Name == tc.name {
			kind = pl.Files[0].Kind
		}
		if kind != tc.kind || len(pl.Files) > 1 {
			t.Errorf("%s: planned %+v, want kind %q", tc.name, pl.Files, tc.kind)
		}
	}
	// .Prefix can only be printed: the install path is not known at build.
	for _, text := range []string{`{{if eq .Prefix "/opt"}}x{{end}}`, `{{len .Prefix}}`, `{{.Prefix | printf "%q"}}`, `{{$p := .Prefix}}{{$p}}`} {
		p, _ := New(P)
		if _, err := p.File("t.tmpl", strings.NewReader(text), int64(len(text)), 0o644); err == nil || !strings.Contains(err.Error(), "uses .Prefix in an expression") {
			t.Errorf("%s: error %v", text, err)
		}
	}
	// A template may not install over another file.
	p, _ := New(P)
	p.File("x", strings.NewReader(""), 0, 0o644)
	tmpl := "{{.Prefix}}"
	if _, err := p.File("x.tmpl", strings.NewReader(tmpl), int64(len(tmpl)), 0o644); err == nil || !strings.Contains(err.Error(), `installs as "x"`) {
		t.Errorf("clash not refused: %v", err)
	}
}

func TestSymlinks(t *testing.T) {
	P := binPrefix
	p, _ := New(P)
	for name, target := range map[string]string{
		"bin/current":    P + "/bin/app",
		"share/root":     P,
		"lib/deep/a/b/c": P + "/lib//libx.so.1",
		"bin/relative":   "app",
		"bin/system":     "/usr/bin/env",
		"bin/sibling":    P + "fs/bin/app",
		"bin/escape":     P + "/../etc/passwd",
	} {
		p.Symlink(name, target)
	}
	pl := roundTrip(t, p.Plan())
	var names []string
	for _, l := range pl.Symlinks {
		names = append(names, l.Name)
	}
	if want := []string{"bin/current", "lib/deep/a/b/c", "share/root"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("planned %q, want %q", names, want)
	}
	a, err := relocate.NewApplier(pl, relocate.Vars{Prefix: "/opt/app"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, target, want string }{
		{"bin/current", P + "/bin/app", "app"},
		{"share/root", P, ".."},
		{"lib/deep/a/b/c", P + "/lib//libx.so.1", "../../../libx.so.1"},
		{"bin/relative", "app", "app"},
		{"bin/system", "/usr/bin/env", "/usr/bin/env"},
	} {
		got, err := a.Symlink(tc.name, tc.target)
		if err != nil || got != tc.want {
			t.Errorf("Symlink(%q, %q) = %q, %v; want %q", tc.name, tc.target, got, err, tc.want)
		}
	}
	if rest := a.Remaining(); len(rest) != 0 {
		t.Fatalf("Remaining = %q", rest)
	}
	b, _ := relocate.NewApplier(pl, relocate.Vars{Prefix: "/opt/app"})
	if _, err := b.Symlink("bin/current", P+"/bin/other"); err == nil {
		t.Error("a symlink other than planned was accepted")
	}
	if rest := b.Remaining(); !reflect.DeepEqual(rest, []string{"lib/deep/a/b/c", "share/root"}) {
		t.Errorf("Remaining = %q", rest)
	}
}

func TestOriginPaths(t *testing.T) {
	P := binPrefix
	p, _ := New(P)
	for _, tc := range []struct{ name, in, want string }{
		{"bin/app", P + "/lib", "$ORIGIN/../lib"},
		{"lib/libx.so", P + "/lib", "$ORIGIN"},
		{"app", P, "$ORIGIN"},
		{"lib/python3/site/m.so", P + "/lib:/usr/lib:" + P + "/lib/../lib64/:$ORIGIN", "$ORIGIN/../..:/usr/lib:$ORIGIN/../../../lib64:$ORIGIN"},
		{"bin/app", P + "fs/lib:" + P + "/../x:", P + "fs/lib:" + P + "/../x:"},
	} {
		if got := p.originPaths(tc.name, tc.in); got != tc.want {
			t.Errorf("originPaths(%q, %q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

// TestRPathTooLong checks the build error when the $ORIGIN form does not fit.
func TestRPathTooLong(t *testing.T) {
	root := filepath.Join(t.TempDir(), "p")
	// Each level adds "../" to the relative form: go deep enough to outgrow the absolute one.
	levels := strings.Repeat("d/", len(root)/3+1)
	prog, _ := elftest.BuildGreet(t, filepath.Join(root, levels), root+"/lib", "--disable-new-dtags")
	data, err := os.ReadFile(prog)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := New(root)
	name := levels + "bin/prog"
	_, err = p.File(name, bytes.NewReader(data), int64(len(data)), 0o755)
	rel := "$ORIGIN/.." + strings.Repeat("/..", strings.Count(levels, "/")) + "/lib"
	want := fmt.Sprintf("is %d bytes, longer than the %d bytes available", len(rel), len(root+"/lib"))
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), fmt.Sprintf("%q", name)) {
		t.Fatalf("error %v, want %q", err, want)
	}
}

func TestPycKept(t *testing.T) {
	data := []byte("\xa7\x0d\x0d\x0a\x00\x00\x00\x00\xe3\x00\x00\x00\xfa\x20" + binPrefix + "/lib/m.py\xda\x08<module>")
	pl, _ := planOne(t, "lib/__pycache__/m.cpython-311.pyc", data, 0o644)
	if len(pl.Files) != 0 || len(pl.Kept) != 1 || !strings.Contains(pl.Kept[0].Reason, "compiled Python") {
		t.Fatalf("plan %+v", pl)
	}
}

func TestPlanDeterministic(t *testing.T) {
	files := map[string]string{"z": binPrefix, "a": binPrefix, "m/x.tmpl": "", "b": "\x00" + binPrefix + "/x\x01"}
	var plans []*relocate.Plan
	for _, order := range [][]string{{"z", "a", "m/x.tmpl", "b"}, {"b", "m/x.tmpl", "a", "z"}} {
		p, _ := New(binPrefix)
		for _, n := range order {
			if _, err := p.File(n, strings.NewReader(files[n]), int64(len(files[n])), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		p.Symlink("l2", binPrefix)
		p.Symlink("l1", binPrefix)
		plans = append(plans, p.Plan())
	}
	if !reflect.DeepEqual(plans[0], plans[1]) {
		t.Fatalf("plans differ:\n%+v\n%+v", plans[0], plans[1])
	}
	if plans[0].Files[0].Name != "a" || plans[0].Symlinks[0].Name != "l1" {
		t.Fatalf("not sorted: %+v", plans[0])
	}
}

func TestNewApplierRefuses(t *testing.T) {
	good := &relocate.Plan{BuildPrefix: binPrefix, Files: []relocate.FilePlan{{Name: "a", Kind: relocate.KindText}}}
	for _, prefix := range []string{"", "opt/x", "/", "/opt/x/", "/opt/\nx"} {
		if _, err := relocate.NewApplier(good, relocate.Vars{Prefix: prefix}); err == nil {
			t.Errorf("install path %q accepted", prefix)
		}
	}
	// Control characters get a reason of their own, not a length.
	for prefix, what := range map[string]string{"/opt/\nx": "contains a newline", "/opt/\x00x": "contains a NUL byte"} {
		_, err := relocate.NewApplier(good, relocate.Vars{Prefix: prefix})
		var te *relocate.TargetError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), what) || strings.Contains(err.Error(), "shorter") {
			t.Errorf("install path %q: error %v, want one saying it %s", prefix, err, what)
		}
	}
	for _, pl := range []*relocate.Plan{
		{BuildPrefix: "rel"},
		{BuildPrefix: binPrefix, Files: []relocate.FilePlan{{Name: "../a", Kind: relocate.KindText}}},
		{BuildPrefix: binPrefix, Files: []relocate.FilePlan{{Name: "a", Kind: "nope"}}},
		{BuildPrefix: binPrefix, Files: []relocate.FilePlan{{Name: "a", Kind: relocate.KindText}, {Name: "a", Kind: relocate.KindText}}},
		{BuildPrefix: binPrefix, Files: []relocate.FilePlan{{Name: "a", Kind: relocate.KindBinary, Strings: []relocate.BinString{{Capacity: 1, Value: binPrefix}}}}},
		{BuildPrefix: binPrefix, Files: []relocate.FilePlan{{Name: "a", Kind: relocate.KindShebang}}},
		{BuildPrefix: binPrefix, Symlinks: []relocate.LinkPlan{{Name: "l", Target: "/elsewhere"}}},
	} {
		var fe *payload.FormatError
		if _, err := relocate.NewApplier(pl, relocate.Vars{Prefix: "/opt/x"}); !errors.As(err, &fe) || !strings.Contains(err.Error(), "manifest relocation") {
			t.Errorf("plan %+v: error %v, want a FormatError naming the plan's field", pl, err)
		}
	}
}
