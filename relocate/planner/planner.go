// Package planner makes the relocation plan at build time: it finds where
// files name the build prefix (text, C strings, ELF interpreter and RPATH,
// "#!" lines, symlinks), renders terrapack templates, and returns a
// relocate.Plan for the installer to apply.
package planner

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/terrapack/terrapack/elfscan"
	"github.com/terrapack/terrapack/internal/elfmagic"
	"github.com/terrapack/terrapack/relocate"
)

const (
	// window is how much of a file is searched at a time.
	window = 1 << 20
	// margin is read on both sides of a window. A C string must end within
	// this many bytes of a match of the prefix; its start is looked for as
	// far back.
	margin = 64 << 10
	// shebangMax bounds the first line read to plan a shebang.
	shebangMax = 4 << 10
	// pythonHead is how much of a Python script is read to pick its trampoline.
	pythonHead = 64 << 10
)

// Patch is a change the builder applies to a file's content before packing
// it; it never changes the file's size.
type Patch struct {
	Offset int64
	Data   []byte // includes NUL padding
}

// Planner scans files at build time.
type Planner struct {
	// Name and Version are what templates see as .Name and .Version.
	Name, Version string

	prefix  string   // the build prefix, as templates see it
	others  []string // more relocate.Prefixes naming the same tree
	ps      relocate.Prefixes
	files   []relocate.FilePlan
	links   []relocate.LinkPlan
	kept    []relocate.Kept
	omitted []relocate.Kept
	pyc     int               // compiled Python files naming the prefix, all kept
	outputs map[string]string // installed name → planned source name, to catch clashes
	// warnings are what the build ships that may not be what was meant.
	warnings []string
	buf      []byte
}

// New plans the relocation of a tree built under buildPrefix; paths
// under any of others (the same tree seen from elsewhere, e.g. where it was
// staged) are rewritten to the install path too.
func New(buildPrefix string, others ...string) (*Planner, error) {
	for _, p := range append([]string{buildPrefix}, others...) {
		if err := relocate.CheckPrefix(p); err != nil {
			return nil, fmt.Errorf("invalid build prefix: %w", err)
		}
	}
	ps := relocate.NewPrefixes(buildPrefix, others...)
	others = slices.DeleteFunc(slices.Clone(ps), func(p string) bool { return p == buildPrefix })
	return &Planner{prefix: buildPrefix, others: others, ps: ps, outputs: map[string]string{}}, nil
}

// plan returns an empty plan with the planner's relocate.Prefixes.
func (p *Planner) plan() relocate.Plan {
	pl := relocate.Plan{BuildPrefix: p.prefix}
	if len(p.others) > 0 {
		pl.OtherPrefixes = p.others
	}
	return pl
}

// Packed says how the builder packs one file.
type Packed struct {
	Name    string  // name in the payload: a template's drops ".tmpl"
	Content []byte  // when set, packed instead of the file's bytes (a rendered template)
	Patches []Patch // otherwise applied to the file's bytes; they never change its size
}

// File plans regular file name (a slash path relative to the source root,
// which the build prefix names), read from r, and says how to pack it:
// templates are rendered, RPATH and RUNPATH entries under the prefix become
// $ORIGIN-relative.
func (p *Planner) File(name string, r io.ReaderAt, size int64, mode fs.FileMode) (Packed, error) {
	packed := Packed{Name: name}
	if err := relocate.CheckName(name); err != nil {
		return packed, err
	}
	if strings.HasSuffix(name, ".tmpl") {
		content, err := p.template(name, r, size)
		if err != nil {
			return packed, err
		}
		if content != nil {
			packed.Name, packed.Content = strings.TrimSuffix(name, ".tmpl"), content
		}
	}
	if prev, ok := p.outputs[packed.Name]; ok {
		return packed, fmt.Errorf("cannot plan %q: it installs as %q, like %q", name, packed.Name, prev)
	}
	p.outputs[packed.Name] = name
	if packed.Content != nil {
		return packed, nil
	}
	patches, err := p.plainFile(name, r, size, mode)
	packed.Patches = patches
	return packed, err
}

// plainFile plans a file that is not a template.
func (p *Planner) plainFile(name string, r io.ReaderAt, size int64, mode fs.FileMode) ([]Patch, error) {
	hits, hasNUL, err := p.survey(r, size)
	if err != nil || hits == 0 {
		return nil, wrapName(name, err)
	}
	head := make([]byte, min(size, shebangMax))
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("failed to read %q: %w", name, err)
	}
	if elfmagic.Is(head) {
		// A broken ELF is no program the loader would run: it falls back to
		// the plain binary rules.
		if facts, err := elfscan.ReadFacts(io.NewSectionReader(r, 0, size)); err == nil && facts != nil {
			return p.elf(name, r, size, facts)
		}
	}
	if hasNUL || elfmagic.Is(head) {
		return nil, p.binary(name, relocate.KindBinary, r, size, nil, nil)
	}
	if line, ok := shebangLine(head, p.ps); ok && mode&0o111 != 0 {
		return nil, p.shebang(name, line, r, size)
	}
	p.files = append(p.files, relocate.FilePlan{Name: name, Kind: relocate.KindText, Python2: isPython2Source(name, head)})
	return nil, nil
}

func wrapName(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("failed to read %q: %w", name, err)
}

// scan calls fn for each window of r, with whole-path matches of the prefix
// starting inside it. buf holds the file from off; matches index buf.
func (p *Planner) scan(r io.ReaderAt, size int64, fn func(buf []byte, off int64, core []byte, matches []match) error) error {
	if p.buf == nil {
		p.buf = make([]byte, window+2*margin)
	}
	var matches []match
	for start := int64(0); start < size; start += window {
		off := max(0, start-margin)
		end := min(size, start+window+margin)
		buf := p.buf[:end-off]
		if _, err := r.ReadAt(buf, off); err != nil && !(errors.Is(err, io.EOF) && end == size) {
			return err
		}
		lo, hi := int(start-off), int(min(size, start+window)-off)
		// The margin is longer than any prefix, so a match starting before
		// hi ends, with the byte that decides it, inside buf or at the end
		// of the file.
		text := string(buf)
		matches = matches[:0]
		for i, n := p.ps.Index(text, lo); i >= 0 && i < hi; i, n = p.ps.Index(text, i+1) {
			matches = append(matches, match{i, n})
		}
		if err := fn(buf, off, buf[lo:hi], matches); err != nil {
			return err
		}
	}
	return nil
}

// survey counts the matches of the prefix and reports whether r has a NUL
// byte anywhere: unlike grep we look at the whole file, since a length
// changing rewrite of a script with a binary payload would corrupt it.
func (p *Planner) survey(r io.ReaderAt, size int64) (hits int, hasNUL bool, err error) {
	err = p.scan(r, size, func(_ []byte, _ int64, core []byte, matches []match) error {
		hits += len(matches)
		hasNUL = hasNUL || bytes.IndexByte(core, 0) >= 0
		return nil
	})
	return hits, hasNUL, err
}

// match is a whole-path occurrence of a prefix: where, and how long.
type match struct{ at, n int }

// shebangLine returns the first line of head when it is a "#!" line naming a prefix.
func shebangLine(head []byte, ps relocate.Prefixes) (string, bool) {
	line, _, found := bytes.Cut(head, []byte("\n"))
	if !found && len(head) == shebangMax {
		return "", false // too long to be a real one
	}
	s := string(line)
	// The line is stored in the JSON plan, which only holds UTF-8 intact.
	return s, strings.HasPrefix(s, "#!") && utf8.ValidString(s) && ps.Names(s)
}

func (p *Planner) shebang(name, line string, r io.ReaderAt, size int64) error {
	interp, _, _ := relocate.ParseShebang(line)
	head := make([]byte, min(size, pythonHead))
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("failed to read %q: %w", name, err)
	}
	sb := &relocate.Shebang{Line: line, Style: shebangStyle(interp, head)}
	f := relocate.FilePlan{Name: name, Kind: relocate.KindShebang, Shebang: sb}
	p.files = append(p.files, f)
	if sb.Style == "" {
		// Refuse at build what no install path could satisfy.
		pl := p.plan()
		pl.Files = []relocate.FilePlan{f}
		if m := pl.MaxTargetLen(); m < 2 {
			return fmt.Errorf("cannot plan %q: its %d-byte %q line is over the kernel's %d-byte limit and %q cannot be started through a trampoline", name, len(line), "#!", relocate.MaxShebang, interp)
		}
	}
	return nil
}

// elf plans an ELF file: RPATH/RUNPATH entries under the prefix are patched
// now, PT_INTERP and other strings naming the prefix at install.
func (p *Planner) elf(name string, r io.ReaderAt, size int64, facts *elfscan.Facts) ([]Patch, error) {
	var patches []Patch
	var skip [][2]int64 // byte ranges handled here, not as binary strings
	dynPaths := []struct {
		tag  string
		strs []elfscan.DynString
	}{{"RPATH", facts.RPath}, {"RUNPATH", facts.RunPath}}
	for _, d := range dynPaths {
		for _, s := range d.strs {
			value := p.originPaths(name, s.Value)
			if value == s.Value {
				continue
			}
			if s.Shared {
				return nil, fmt.Errorf("cannot relocate %s %q of %q: its bytes are shared with another string of the file", d.tag, s.Value, name)
			}
			if len(value) > s.Capacity {
				return nil, fmt.Errorf("cannot relocate %s %q of %q: the relative form %q is %d bytes, longer than the %d bytes available", d.tag, s.Value, name, value, len(value), s.Capacity)
			}
			var rec patchRecorder
			if err := s.Write(&rec, value); err != nil {
				return nil, fmt.Errorf("cannot relocate %s of %q: %w", d.tag, name, err)
			}
			patches = append(patches, rec.patch)
			skip = append(skip, [2]int64{s.Offset, s.Offset + int64(s.Capacity) + 1})
		}
	}
	var interp *relocate.BinString
	if in := facts.Interp; in != nil && p.ps.Names(in.Value) {
		if !utf8.ValidString(in.Value) {
			return nil, fmt.Errorf("cannot relocate PT_INTERP %q of %q: it is not valid UTF-8", in.Value, name)
		}
		interp = in
		skip = append(skip, [2]int64{in.Offset, in.Offset + int64(in.Capacity) + 1})
	}
	return patches, p.binary(name, relocate.KindELF, r, size, interp, skip)
}

// originPaths rewrites the entries of a colon-separated search path that
// lie under the prefix relative to $ORIGIN, the folder of file name, whose
// place below the prefix is its place in the tree.
func (p *Planner) originPaths(name, list string) string {
	entries := strings.Split(list, ":")
	for i, e := range entries {
		c := path.Clean(e)
		q, ok := p.ps.Under(c)
		if e == "" || !ok {
			continue
		}
		inside := path.Clean("." + strings.TrimPrefix(c, q))
		// Both are clean relative paths, so Rel cannot fail.
		rel, _ := filepath.Rel(path.Dir(name), inside)
		entries[i] = "$ORIGIN"
		if rel != "." {
			entries[i] += "/" + filepath.ToSlash(rel)
		}
	}
	return strings.Join(entries, ":")
}

// patchRecorder captures what DynString.Write writes.
type patchRecorder struct{ patch Patch }

func (w *patchRecorder) WriteAt(b []byte, off int64) (int, error) {
	w.patch = Patch{Offset: off, Data: slices.Clone(b)}
	return len(b), nil
}

// binary plans the NUL-terminated strings naming the prefix; occurrences
// elsewhere cannot be rewritten safely and are reported as kept.
func (p *Planner) binary(name, kind string, r io.ReaderAt, size int64, interp *relocate.BinString, skip [][2]int64) error {
	if isPyc(name) {
		p.pyc++ // listed once, as a count: a Python tree has tens of thousands
		return nil
	}
	var strs []relocate.BinString
	loose := 0
	var covered int64 // end of the last string found: later matches inside it are done
	err := p.scan(r, size, func(buf []byte, off int64, _ []byte, matches []match) error {
		for _, m := range matches {
			if off+int64(m.at) < covered {
				continue
			}
			s, ok := cString(buf, off, size, m.at, m.n)
			if !ok {
				loose++
				continue
			}
			covered = s.Offset + int64(s.Capacity) + 1
			if !overlaps(s, skip) {
				strs = append(strs, s)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("failed to read %q: %w", name, err)
	}
	var unscanned string
	if kind == relocate.KindELF && len(strs) > 0 {
		strs, unscanned = p.innerReferences(name, r, size, strs)
	}
	if len(strs) > 0 || interp != nil {
		p.files = append(p.files, relocate.FilePlan{Name: name, Kind: kind, Strings: strs, Interp: interp, Unscanned: unscanned})
	}
	if loose > 0 {
		p.kept = append(p.kept, relocate.Kept{Name: name, Reason: fmt.Sprintf("%d occurrence(s) of the build prefix are not in NUL-terminated strings and cannot be rewritten in place", loose)})
	}
	return nil
}

// innerReferences sets Inner and lowers Capacity for each string of ELF
// file name that code or data of the file refers into, inside a build
// prefix: padding it would overwrite the string starting there. A string
// the file refers into only outside its prefixes (a merged tail such as
// "/lib" after the prefix) keeps its length and is padded. When the
// references cannot be read, the strings are not rewritten and the file is
// listed as kept: a guess could break the program. For a machine whose
// code elfscan does not read, only data references are known: the machine
// is returned, for the plan to say so.
func (p *Planner) innerReferences(name string, r io.ReaderAt, size int64, strs []relocate.BinString) ([]relocate.BinString, string) {
	spans := make([]elfscan.Span, len(strs))
	for i, s := range strs {
		spans[i] = elfscan.Span{Off: s.Offset, Len: len(s.Value)}
	}
	refs, err := elfscan.InnerReferences(io.NewSectionReader(r, 0, size), spans)
	if err != nil || refs == nil {
		p.kept = append(p.kept, relocate.Kept{Name: name, Reason: fmt.Sprintf("%d string(s) name the build prefix, but what points into them cannot be read (%v), so they are not rewritten", len(strs), err)})
		return nil, ""
	}
	unscanned := ""
	if !refs.CodeScanned {
		unscanned = refs.Machine
	}
	for i := range strs {
		s := &strs[i]
		var occ []match
		for j, n := p.ps.Index(s.Value, 0); j >= 0; j, n = p.ps.Index(s.Value, j+n) {
			occ = append(occ, match{j, n})
		}
		inside := slices.ContainsFunc(refs.Inner[i], func(k int) bool {
			return slices.ContainsFunc(occ, func(m match) bool { return m.at < k && k < m.at+m.n })
		})
		if !inside {
			continue
		}
		// Shortened: the new string must end before the first reference
		// past the first prefix; the bytes before that are written back unchanged.
		for _, k := range refs.Inner[i] {
			if k > occ[0].at {
				s.Inner, s.Capacity = k, k-1
				break
			}
		}
		if occ[len(occ)-1].at >= s.Inner {
			p.kept = append(p.kept, relocate.Kept{Name: name, Reason: fmt.Sprintf("the string at offset %d names the build prefix again after byte %d, where another string starts: that part is not rewritten", s.Offset, s.Inner)})
		}
	}
	return strs, unscanned
}

func isPyc(name string) bool {
	return strings.HasSuffix(name, ".pyc") || strings.HasSuffix(name, ".pyo")
}

// isStrRune reports whether r can be part of a C string holding a path or text.
func isStrRune(r rune, size int) bool {
	if r == utf8.RuneError && size <= 1 {
		return false
	}
	return r >= 0x20 && r != 0x7f || r == '\t' || r == '\n' || r == '\r'
}

// cString finds the NUL-terminated string around the match at buf[m:m+n]
// (buf starts at file offset off). Its start only needs to be plausible:
// bytes before the prefix are written back unchanged. Its end must be a NUL
// reached through text only, since the tail after the prefix moves.
func cString(buf []byte, off, size int64, m, n int) (relocate.BinString, bool) {
	start := m
	for start > 0 {
		r, sz := utf8.DecodeLastRune(buf[:start])
		if !isStrRune(r, sz) {
			break
		}
		start -= sz
	}
	end, limit := m+n, min(len(buf), m+margin)
	for end < limit && buf[end] != 0 {
		r, sz := utf8.DecodeRune(buf[end:])
		if !isStrRune(r, sz) {
			return relocate.BinString{}, false
		}
		end += sz
	}
	if end == limit {
		return relocate.BinString{}, false // no NUL within the margin, or at the end of the file
	}
	return relocate.BinString{Offset: off + int64(start), Capacity: end - start, Value: string(buf[start:end])}, true
}

// overlaps reports whether s shares a byte with one of the ranges.
func overlaps(s relocate.BinString, ranges [][2]int64) bool {
	end := s.Offset + int64(s.Capacity) + 1
	for _, r := range ranges {
		if s.Offset < r[1] && r[0] < end {
			return true
		}
	}
	return false
}

// Symlink records symlink name when its target is an absolute path into the prefix.
func (p *Planner) Symlink(name, target string) error {
	if _, ok := p.ps.Under(path.Clean(target)); path.IsAbs(target) && ok {
		p.links = append(p.links, relocate.LinkPlan{Name: name, Target: target})
		return nil
	}
	// The installer refuses links that leave the install: say so now.
	if path.IsAbs(target) {
		return fmt.Errorf("symlink %q points to %q, outside the build prefix: the installer refuses links that leave the install (make it relative, point it inside, or give its prefix with --prefix)", name, target)
	}
	return nil
}

// Warnings are the lines the build must print about files shipped as they
// are that may not be what was meant (a template reading a field terrapack
// does not provide).
func (p *Planner) Warnings() []string { return slices.Clone(p.warnings) }

// Plan returns the plan so far, sorted so that equal trees give equal plans.
func (p *Planner) Plan() *relocate.Plan {
	pl := p.plan()
	pl.Files, pl.Symlinks, pl.Kept, pl.Omitted = slices.Clone(p.files), slices.Clone(p.links), slices.Clone(p.kept), slices.Clone(p.omitted)
	slices.SortFunc(pl.Files, func(a, b relocate.FilePlan) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(pl.Symlinks, func(a, b relocate.LinkPlan) int { return strings.Compare(a.Name, b.Name) })
	if p.pyc > 0 {
		pl.Kept = append(pl.Kept, relocate.Kept{Name: "*.pyc", Reason: fmt.Sprintf("%d compiled Python files: marshalled strings are length-prefixed and cannot be rewritten in place; Python takes their code's file names from where it finds them, and the caches of relocated sources are omitted (see omitted)", p.pyc)})
	}
	slices.SortStableFunc(pl.Kept, func(a, b relocate.Kept) int { return strings.Compare(a.Name, b.Name) })
	slices.SortStableFunc(pl.Omitted, func(a, b relocate.Kept) int { return strings.Compare(a.Name, b.Name) })
	return &pl
}
