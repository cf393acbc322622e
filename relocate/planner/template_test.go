package planner

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/terrapack/terrapack/relocate"
)

// TestTemplatesFailLoudly: a template that names our fields must parse and
// render; the build error gives its file, line and field.
func TestTemplatesFailLoudly(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"#!/bin/sh\necho {{.Verison}}\n", []string{`bin/x.tmpl:2:`, "unknown field .Verison", "did you mean .Version?"}},
		{"{{.Name}}\n\n{{.Prefx}}/bin\n", []string{`bin/x.tmpl:3:`, "unknown field .Prefx", "did you mean .Prefix?"}},
		{"{{.name}}\n", []string{"unknown field .name", "did you mean .Name?"}},
		{"{{.BuildPrefix}} {{with .Name}}{{.Nmae}}{{end}}{{$.Verison}}\n", []string{"unknown field .Verison"}},
		{"{{.Name}}\n{{if .Version}}\n", []string{`template "bin/x.tmpl" names .Name but does not parse`, "bin/x.tmpl:3: unexpected EOF"}},
		{"{{.Name}} {{.Version\n", []string{`names .Name but does not parse`, "bin/x.tmpl:1"}},
		{"{{.Name.Length}}\n", []string{`template "bin/x.tmpl" does not render`, "bin/x.tmpl:1:", "Length"}},
	} {
		p, _ := New(binPrefix)
		_, err := p.File("bin/x.tmpl", strings.NewReader(tc.text), int64(len(tc.text)), 0o755)
		if err == nil {
			t.Errorf("%q: accepted", tc.text)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q lacks %q", tc.text, err, w)
			}
		}
	}
	// Fields of their own, or none near ours: ordinary files.
	for _, text := range []string{"{{.Nope}}", "{{.Name}} {{.Imports}}", "{{if}}", "{{.V}} {{.Vers}", "{{range .Items}}{{.Nmae}}{{end}}"} {
		p, _ := New(binPrefix)
		if pk, err := p.File("x.tmpl", strings.NewReader(text), int64(len(text)), 0o644); err != nil || pk.Content != nil {
			t.Errorf("%q: %v, rendered %v", text, err, pk.Content != nil)
		}
	}
}

// TestTemplatesOfRealTrees: the *.tmpl files of Go's tree and setuptools
// stay ordinary files.
func TestTemplatesOfRealTrees(t *testing.T) {
	var roots []string
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		roots = append(roots, strings.TrimSpace(string(out)))
	}
	pyenv, _ := filepath.Glob(filepath.Join(os.Getenv("HOME"), ".pyenv", "versions", "*", "lib", "python*", "site-packages", "setuptools"))
	roots = append(roots, pyenv...)
	n := 0
	for _, root := range roots {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || !strings.HasSuffix(p, ".tmpl") {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			n++
			pl, _ := New(binPrefix)
			name, _ := filepath.Rel(root, p)
			if pk, err := pl.File(filepath.ToSlash(name), strings.NewReader(string(b)), int64(len(b)), 0o644); err != nil || pk.Content != nil {
				t.Errorf("%s: %v, taken as a template: %v", p, err, pk.Content != nil)
			}
			if k := pl.Plan().Files; len(k) > 0 && k[0].Kind == relocate.KindTemplate {
				t.Errorf("%s planned as a template", p)
			}
			return nil
		})
	}
	if n == 0 {
		t.Skip("no Go tree or setuptools with *.tmpl files on this machine")
	}
	t.Logf("%d *.tmpl files of real trees stay ordinary", n)
}

// TestTemplateForeignFieldWarns: a *.tmpl reading one of terrapack's fields
// beside a field of its own ships as it is, and the planner says so with
// the file, line and both fields; one reading none of ours says nothing.
func TestTemplateForeignFieldWarns(t *testing.T) {
	for _, tc := range []struct {
		text string
		want string // "" for no warning
	}{
		{"{{.Name}} {{.Foo}}\n", `template x.tmpl:1:12: reads .Foo, a field terrapack does not provide, beside .Name (at x.tmpl:1:2), one of terrapack's: shipped as it is, not rendered`},
		{"#!/bin/sh\necho {{.Version}}\n# {{.Imports}}\n", `template x.tmpl:3:4: reads .Imports, a field terrapack does not provide, beside .Version (at x.tmpl:2:7)`},
		{"{{.Verison}}\n{{.Foo}}\n", `template x.tmpl:2:2: reads .Foo, a field terrapack does not provide, beside .Verison (at x.tmpl:1:2), close to terrapack's .Version`},
		{"{{.Nope}} {{.Other}}\n", ""},
		{"{{range .Items}}{{.Name}}{{end}}\n", ""},
	} {
		p, _ := New(binPrefix)
		pk, err := p.File("x.tmpl", strings.NewReader(tc.text), int64(len(tc.text)), 0o644)
		if err != nil || pk.Content != nil {
			t.Errorf("%q: %v, rendered %v", tc.text, err, pk.Content != nil)
		}
		w := p.Warnings()
		switch {
		case tc.want == "" && len(w) > 0:
			t.Errorf("%q: warned %q", tc.text, w)
		case tc.want != "" && (len(w) != 1 || !strings.HasPrefix(w[0], tc.want)):
			t.Errorf("%q: warnings %q, want one starting %q", tc.text, w, tc.want)
		}
	}
}
