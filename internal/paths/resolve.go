package paths

import (
	"path"
	"strings"
)

// Kind is what a name holds in a tree, as a Lookup reports it.
type Kind uint8

const (
	// Missing: nothing by that name (yet). It is resolved as a folder that
	// may be made later, the reading that lets the most links climb out.
	Missing Kind = iota
	Dir
	Link
	// Other is a file or anything else that is not a folder: a lookup that
	// goes on through it fails with ENOTDIR, inside the tree.
	Other
)

// Lookup reports what the clean, relative slash path name is in a tree and,
// for a link, its target. It lets the builder resolve against an archive's
// entries or a folder, and the installer against its model of the payload.
type Lookup func(name string) (kind Kind, target string)

// MaxFollows is the kernel's limit on the symlinks one lookup follows,
// counting the first (MAXSYMLINKS); one more fails with ELOOP.
const MaxFollows = 40

// Outcome is how resolving a link ends.
type Outcome uint8

const (
	// Inside: it names something beneath the root, or its lookup fails
	// there (a file followed by more components, a name never made).
	Inside Outcome = iota
	// Outside: a ".." climbs above the root.
	Outside
	// Absolute: a link on the way names an absolute path.
	Absolute
	// TooManyLinks: more than MaxFollows links; the lookup fails (ELOOP)
	// before it can leave.
	TooManyLinks
)

// ResolveLink follows the symlink name through look the way the kernel
// resolves a path: component by component, a link's target spliced in
// where it stands, ".." taken from the folder a link resolved to (so
// `d/up -> ..` then `esc -> d/up/..` climbs out, though it reads fine
// lexically). name's parent folders are taken as real folders: both callers
// refuse anything written through a link. For Outside and Absolute, via is
// the link whose own target took it there: name or one reached from it.
func ResolveLink(name string, look Lookup) (out Outcome, via string) {
	kind, target := look(name)
	if kind != Link {
		return Inside, ""
	}
	if path.IsAbs(target) {
		return Absolute, name
	}
	dir := path.Dir(name) // the folder being resolved in; "" is the root
	if dir == "." {
		dir = ""
	}
	// One frame per link being followed: what is left of its target.
	type frame struct{ todo, link string }
	stack := []frame{{target, name}}
	for follows := 1; len(stack) > 0; {
		f := &stack[len(stack)-1]
		if f.todo == "" {
			stack = stack[:len(stack)-1]
			continue
		}
		var c string
		c, f.todo, _ = strings.Cut(f.todo, "/")
		switch c {
		case "", ".":
			continue
		case "..":
			if dir == "" {
				return Outside, f.link
			}
			dir = dir[:max(strings.LastIndexByte(dir, '/'), 0)]
			continue
		}
		p := c
		if dir != "" {
			p = dir + "/" + c
		}
		switch kind, target := look(p); kind {
		case Missing, Dir:
			dir = p
		case Link:
			if follows++; follows > MaxFollows {
				return TooManyLinks, ""
			}
			if path.IsAbs(target) {
				return Absolute, p
			}
			// Resolved in the link's folder, dir, before what follows it.
			stack = append(stack, frame{target, p})
		default:
			return Inside, "" // a file: ENOTDIR if anything follows
		}
	}
	return Inside, ""
}
