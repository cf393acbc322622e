package planner

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/terrapack/terrapack/relocate"
)

// template plans name as a terrapack template when it is one: a *.tmpl file
// whose actions name terrapack's fields (.Prefix .Name .Version
// .BuildPrefix) or a near miss of one (.Verison), and no field of its own.
// Such a template must parse and render, or the build fails with its file,
// line and field. Trees carry *.tmpl files of their own (setuptools'
// script.tmpl, Go's test data): those are ordinary files, and the content
// returned is nil; one that also reads one of our fields (or a near miss)
// is shipped so with a warning (Warnings).
func (p *Planner) template(name string, r io.ReaderAt, size int64) ([]byte, error) {
	if path.Base(name) == ".tmpl" || size > relocate.TemplateMax {
		return nil, nil
	}
	text := make([]byte, size)
	if _, err := r.ReadAt(text, 0); err != nil && !(errors.Is(err, io.EOF) && size == 0) {
		return nil, fmt.Errorf("failed to read template %q: %w", name, err)
	}
	if !bytes.Contains(text, []byte("{{")) {
		return nil, nil
	}
	t, err := template.New(name).Option("missingkey=error").Parse(string(text))
	if err != nil {
		if f, ok := lexicalOurField(text); ok {
			return nil, fmt.Errorf("template %q names .%s but does not parse: %w", name, f, err)
		}
		return nil, nil
	}
	var uses fieldUses
	for _, tt := range t.Templates() {
		uses.tree = tt.Tree
		uses.walk(tt.Tree.Root, true)
	}
	if uses.ours == 0 && len(uses.near) == 0 {
		return nil, nil
	}
	if len(uses.foreign) > 0 {
		// A field of its own: another program's template, silently so
		// unless it also reads one of ours (or a near miss) from its data.
		// Then it may be ours with a field that is no typo of one of ours,
		// or another program's that reads .Name: neither guess is safe to
		// act on, so it ships as it is, and the build says so.
		if uses.first.name != "" || len(uses.near) > 0 {
			p.warnings = append(p.warnings, foreignFieldWarning(uses))
		}
		return nil, nil
	}
	if len(uses.near) > 0 {
		f := uses.near[0]
		return nil, fmt.Errorf("template %s: unknown field .%s (did you mean .%s? terrapack's fields are .Prefix .Name .Version .BuildPrefix)", f.where, f.name, nearField(f.name))
	}
	// Rendered now; only the install path is left for the installer, which
	// writes it where the placeholder stands. It can only be printed.
	if uses.printed != uses.prefix {
		return nil, fmt.Errorf("template %q uses .Prefix in an expression: the install path is known only at install, so only {{.Prefix}} itself is supported", name)
	}
	var out bytes.Buffer
	vars := relocate.Vars{Prefix: relocate.PrefixPlaceholder, Name: p.Name, Version: p.Version, BuildPrefix: p.prefix}
	if err := t.Execute(&out, vars); err != nil {
		return nil, fmt.Errorf("template %q does not render: %w", name, err)
	}
	installed := strings.TrimSuffix(name, ".tmpl")
	p.files = append(p.files, relocate.FilePlan{Name: installed, Kind: relocate.KindTemplate})
	if p.ps.Names(out.String()) {
		p.kept = append(p.kept, relocate.Kept{Name: installed, Reason: "rendered template: it names the build prefix itself, templates are not relocated"})
	}
	return out.Bytes(), nil
}

// foreignFieldWarning says where a template reads a field of its own beside
// one of terrapack's (or a near miss), and that it is shipped as it is.
func foreignFieldWarning(uses fieldUses) string {
	f := uses.foreign[0]
	beside := fmt.Sprintf(".%s (at %s), one of terrapack's", uses.first.name, uses.first.where)
	if uses.first.name == "" {
		n := uses.near[0]
		beside = fmt.Sprintf(".%s (at %s), close to terrapack's .%s", n.name, n.where, nearField(n.name))
	}
	return fmt.Sprintf("template %s: reads .%s, a field terrapack does not provide, beside %s: shipped as it is, not rendered "+
		"(terrapack's fields are .Prefix .Name .Version .BuildPrefix; if the file is not meant for terrapack, nothing is wrong)", f.where, f.name, beside)
}

// ourFields are the template fields terrapack provides (relocate.Vars).
var ourFields = []string{"Prefix", "Name", "Version", "BuildPrefix"}

// nearField returns the field of ours that f is a typo of (same letters in
// another case, or one letter changed, added, dropped or two swapped), "" if none.
func nearField(f string) string {
	for _, o := range ourFields {
		if f != o && osaDistance(strings.ToLower(f), strings.ToLower(o)) <= 1 {
			return o
		}
	}
	return ""
}

// osaDistance is the optimal string alignment distance: edits of one byte
// and swaps of two neighbours.
func osaDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

var (
	action      = regexp.MustCompile(`(?s)\{\{.*?\}\}`)
	actionField = regexp.MustCompile(`(?:^|[^\w)\].])\.([A-Za-z_]\w*)`)
)

// lexicalOurField finds, in a template that does not parse, a field of ours
// or a near miss named inside {{ }}.
func lexicalOurField(text []byte) (string, bool) {
	for _, a := range action.FindAll(text, -1) {
		for _, m := range actionField.FindAllSubmatch(a, -1) {
			if f := string(m[1]); slices.Contains(ourFields, f) || nearField(f) != "" {
				return f, true
			}
		}
	}
	return "", false
}

// fieldRef is a field read from the template's data, and where.
type fieldRef struct{ name, where string }

// fieldUses sorts the fields a template reads from its data (terrapack's
// Vars, where dot has not been rebound by range or with): ours, near
// misses of ours, and others (foreign); it also counts the {{.Prefix}}
// actions and all uses of .Prefix.
type fieldUses struct {
	tree            *parse.Tree
	printed, prefix int
	ours            int
	first           fieldRef // the first of ours read from the data itself
	near, foreign   []fieldRef
}

func (u *fieldUses) field(n parse.Node, ident []string, root bool) {
	if len(ident) == 0 {
		return
	}
	f := ident[0]
	where, _ := u.tree.ErrorContext(n)
	switch {
	case slices.Contains(ourFields, f):
		if root && u.first.name == "" {
			u.first = fieldRef{f, where}
		}
		u.ours++
		if f == "Prefix" {
			u.prefix++
		}
	case !root:
	case nearField(f) != "":
		u.near = append(u.near, fieldRef{f, where})
	default:
		u.foreign = append(u.foreign, fieldRef{f, where})
	}
}

// branch walks an if, range or with: dot is rebound in the body of range
// and with, not in their pipeline or else part.
func (u *fieldUses) branch(b *parse.BranchNode, root, rebinds bool) {
	u.walk(b.Pipe, root)
	u.walk(b.List, root && !rebinds)
	u.walk(b.ElseList, root)
}

func (u *fieldUses) walk(n parse.Node, root bool) {
	if n == nil || reflect.ValueOf(n).IsNil() {
		return
	}
	switch n := n.(type) {
	case *parse.ListNode:
		for _, c := range n.Nodes {
			u.walk(c, root)
		}
	case *parse.ActionNode:
		if c := n.Pipe.Cmds; len(n.Pipe.Decl) == 0 && len(c) == 1 && len(c[0].Args) == 1 {
			if f, ok := c[0].Args[0].(*parse.FieldNode); ok && slices.Equal(f.Ident, []string{"Prefix"}) {
				u.printed++
			}
		}
		u.walk(n.Pipe, root)
	case *parse.PipeNode:
		for _, c := range n.Cmds {
			u.walk(c, root)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			u.walk(a, root)
		}
	case *parse.IfNode:
		u.branch(&n.BranchNode, root, false)
	case *parse.RangeNode:
		u.branch(&n.BranchNode, root, true)
	case *parse.WithNode:
		u.branch(&n.BranchNode, root, true)
	case *parse.TemplateNode:
		u.walk(n.Pipe, root)
	case *parse.ChainNode:
		u.walk(n.Node, root)
	case *parse.FieldNode:
		u.field(n, n.Ident, root)
	case *parse.VariableNode:
		if len(n.Ident) > 1 && n.Ident[0] == "$" {
			u.field(n, n.Ident[1:], true) // $ is the data whatever dot is
		}
	}
}
