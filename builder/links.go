package builder

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/terrapack/terrapack/internal/paths"
	"github.com/terrapack/terrapack/relocate"
)

// linkTree models a source tree by name, to resolve its links the way the
// installer will before anything is packed.
type linkTree map[string]linkNode

type linkNode struct {
	kind   paths.Kind
	target string // a link's target as packed
	given  string // and as the source holds it
}

// add records name; target is a link's packed target, given its own.
func (t linkTree) add(name string, mode fs.FileMode, target, given string) {
	switch {
	case mode.IsDir():
		t[name] = linkNode{kind: paths.Dir}
	case mode&fs.ModeSymlink != 0:
		t[name] = linkNode{kind: paths.Link, target: target, given: given}
	default:
		t[name] = linkNode{kind: paths.Other}
	}
}

func (t linkTree) lookup(name string) (paths.Kind, string) {
	n, ok := t[name]
	if !ok {
		return paths.Missing, ""
	}
	return n.kind, n.target
}

// escape resolves the link l through t and, when that ends outside the
// tree or in a loop, says so: its target and the links it goes through.
// where names the tree. Absolute targets are left to the planner, which
// knows the prefixes.
func (t linkTree) escape(l, where string) (paths.Outcome, string) {
	var through []string
	out, _ := paths.ResolveLink(l, func(name string) (paths.Kind, string) {
		kind, target := t.lookup(name)
		if kind == paths.Link && name != l {
			through = append(through, fmt.Sprintf("%q -> %q", name, t[name].given))
		}
		return kind, target
	})
	switch out {
	case paths.Outside:
		if leaves(path.Join(path.Dir(l), t[l].target)) {
			return out, fmt.Sprintf("symlink %q points to %q, which leaves %s", l, t[l].given, where)
		}
		return out, fmt.Sprintf("symlink %q points to %q, which resolves outside %s through %s", l, t[l].given, where, strings.Join(through, ", "))
	case paths.TooManyLinks:
		return out, fmt.Sprintf("symlink %q: too many levels of links", l)
	}
	return out, ""
}

// checkLinks refuses a symlink of the tree to pack that the installer
// would refuse for leading outside the install, naming it now. Links are
// taken as packed (in-tree absolute ones made relative), the tree by its
// source names.
func checkLinks(entries []entry, prefixes relocate.Prefixes) error {
	t := make(linkTree, len(entries))
	var links []string
	for _, e := range entries {
		t.add(e.name, e.info.Mode(), packedLink(e, prefixes), e.link)
		if e.info.Mode()&fs.ModeSymlink != 0 {
			links = append(links, e.name)
		}
	}
	for _, l := range links {
		// A loop fails inside the install, as it does here.
		if out, msg := t.escape(l, "the folder"); out == paths.Outside {
			return &InputError{Msg: msg + ": the installer refuses links that leave the install",
				Hint: "make the link relative and pointing inside the folder, or remove it from the source"}
		}
	}
	return nil
}

// packedLink is the target the payload holds for the symlink e: a link
// into the tree is packed relative, the one form that stays inside
// wherever the tree is installed or checked.
func packedLink(e entry, prefixes relocate.Prefixes) string {
	if rel, ok := prefixes.RelativeLink(e.name, e.link); ok {
		return rel
	}
	return e.link
}
