// Package relocate holds the relocation plan (the rewrites that move a tree
// built at a fixed absolute prefix to the folder the customer installs it to)
// and applies it at install time. Package relocate/planner makes the plan at
// build time; it is kept apart so that the installer links none of its ELF,
// template and script analysis. See docs/RELOCATION.md.
package relocate

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"slices"
	"strings"

	"github.com/terrapack/terrapack/payload"
)

// Kinds of FilePlan.
const (
	KindText     = "text"
	KindShebang  = "shebang"
	KindBinary   = "binary"
	KindELF      = "elf"
	KindTemplate = "template"
)

// Trampoline styles of Shebang.Style.
const (
	StylePython = "python"
	StyleShell  = "shell"
	StylePerl   = "perl"
	StyleRuby   = "ruby"
	StyleTcl    = "tcl"
)

// PrefixPlaceholder stands for the install path in rendered templates.
const PrefixPlaceholder = "/@terrapack-install-prefix@"

// MaxShebang is the longest "#!" line, without its newline, that every Linux
// kernel runs: BINPRM_BUF_SIZE was 128 bytes, NUL included, before 5.1.
const MaxShebang = 127

// maxPrefix is PATH_MAX: no longer path can be opened anyway.
const maxPrefix = 4096

// TemplateMax caps a template's size: templates are buffered whole to render.
const TemplateMax = 1 << 20

// Plan is everything the installer must rewrite; stored as JSON in the manifest.
type Plan struct {
	BuildPrefix   string     `json:"build_prefix"`             // absolute, clean, no trailing slash
	OtherPrefixes []string   `json:"other_prefixes,omitempty"` // also rewritten to the install path
	Files         []FilePlan `json:"files,omitempty"`          // sorted by Name
	Symlinks      []LinkPlan `json:"symlinks,omitempty"`       // sorted by Name
	Kept          []Kept     `json:"kept,omitempty"`           // sorted by Name
	// Omitted are source files left out of the payload (stale caches), for
	// inspect; the installer does not read them.
	Omitted []Kept `json:"omitted,omitempty"` // sorted by Name
}

// FilePlan says how to rewrite one regular file.
type FilePlan struct {
	Name    string      `json:"name"`
	Kind    string      `json:"kind"`              // one of the Kind constants
	Strings []BinString `json:"strings,omitempty"` // binary, elf: C strings naming the prefix, by offset
	Interp  *BinString  `json:"interp,omitempty"`  // elf: PT_INTERP naming the prefix
	Shebang *Shebang    `json:"shebang,omitempty"` // shebang: the first line as built
	// Python2 marks Python 2 source without an encoding declaration, which
	// Python 2 reads as ASCII: a non-ASCII install path would break it.
	Python2 bool `json:"python2,omitempty"`
	// Unscanned (elf) names the machine whose code the builder could not
	// read for references into Strings: only data relocations and absolute
	// pointers were looked at, so the limits assume no code points inside a
	// build prefix. Information for people; the installer does not use it.
	Unscanned string `json:"unscanned,omitempty"`
}

// BinString is a NUL-terminated string at a fixed file offset, rewritten in
// place. How it is rewritten (see docs/RELOCATION.md):
//
//   - Inner is 0: every build prefix in Value is replaced by the install path
//     padded with '/' to the prefix's length (PadPath), so the string keeps
//     its length and every byte after a prefix stays where it was: code that
//     kept the compiled length (nginx's {sizeof(NGX_PREFIX)-1, data}) and
//     strings merged into the tail keep working.
//   - Inner > 0: another string the file refers to starts at byte Inner of
//     Value, inside a build prefix (ld merged PY_VERSION "3.13.0" into the
//     tail of "/root/.pyenv/versions/3.13.0"). Padding would overwrite it,
//     so the new string is NUL-terminated and nothing is written at or after
//     Inner: Capacity is at most Inner-1.
type BinString struct {
	Offset   int64  `json:"offset"`
	Capacity int    `json:"capacity"` // bytes that may be written, not counting the NUL
	Value    string `json:"value"`    // the original string
	Inner    int    `json:"inner,omitempty"`
}

// Shebang describes the "#!" line of an executable script naming the prefix.
type Shebang struct {
	Line string `json:"line"` // the first line as built, without its newline
	// Style is how the script is started when the rewritten line is longer
	// than MaxShebang; "" when no trampoline is safe for it, which limits the
	// install path instead (see MaxTargetLen).
	Style string `json:"style,omitempty"`
}

// LinkPlan is an absolute symlink into the prefix.
type LinkPlan struct {
	Name   string `json:"name"`
	Target string `json:"target"` // the original absolute target
}

// Kept is a file that still names the build prefix after installation.
type Kept struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// isPathByte reports whether b can continue a path name, so that the prefix
// followed by it names another path: "/opt/app" must not match "/opt/apps".
func isPathByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '.' || b == '_' || b == '-'
}

// indexPrefix returns the first index at or after from where prefix occurs in s
// as a whole path (not followed by a path byte), or -1.
func indexPrefix(s, prefix string, from int) int {
	for from <= len(s) {
		j := strings.Index(s[from:], prefix)
		if j < 0 {
			return -1
		}
		j += from
		if end := j + len(prefix); end == len(s) || !isPathByte(s[end]) {
			return j
		}
		from = j + 1
	}
	return -1
}

// Prefixes are every build prefix of a plan, longest first, so that where
// two match at one place the longer wins. All become the install path.
type Prefixes []string

func NewPrefixes(primary string, others ...string) Prefixes {
	ps := Prefixes{primary}
	for _, o := range others {
		if !slices.Contains(ps, o) {
			ps = append(ps, o)
		}
	}
	slices.SortStableFunc(ps, func(a, b string) int { return len(b) - len(a) })
	return ps
}

func (pl *Plan) Prefixes() Prefixes { return NewPrefixes(pl.BuildPrefix, pl.OtherPrefixes...) }

// index returns the first whole-path occurrence of any prefix at or after
// from, and its length; -1 when there is none.
func (ps Prefixes) Index(s string, from int) (int, int) {
	best, n := -1, 0
	for _, p := range ps {
		if j := indexPrefix(s, p, from); j >= 0 && (best < 0 || j < best) {
			best, n = j, len(p)
		}
	}
	return best, n
}

// count returns how many occurrences s holds and their total length.
func (ps Prefixes) count(s string) (k, total int) {
	for i, n := ps.Index(s, 0); i >= 0; i, n = ps.Index(s, i+n) {
		k, total = k+1, total+n
	}
	return k, total
}

// replace replaces every occurrence in s, left to right, by new.
func (ps Prefixes) replace(s, new string) string {
	var b strings.Builder
	last := 0
	for i, n := ps.Index(s, 0); i >= 0; i, n = ps.Index(s, last) {
		b.WriteString(s[last:i])
		b.WriteString(new)
		last = i + n
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// under returns the prefix that the clean absolute path p is or lies below.
// names reports whether s holds any prefix as a whole path.
func (ps Prefixes) Names(s string) bool {
	i, _ := ps.Index(s, 0)
	return i >= 0
}

// leading returns the prefix that the path s starts with.
func (ps Prefixes) leading(s string) (string, bool) {
	for _, q := range ps {
		if indexPrefix(s, q, 0) == 0 {
			return q, true
		}
	}
	return "", false
}

func (ps Prefixes) Under(p string) (string, bool) {
	for _, q := range ps {
		if underPrefix(p, q) {
			return q, true
		}
	}
	return "", false
}

// underPrefix reports whether the clean absolute path p is prefix or below it.
func underPrefix(p, prefix string) bool {
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}

// CheckPrefix validates a build or install prefix.
func CheckPrefix(p string) error {
	switch {
	case !path.IsAbs(p):
		return fmt.Errorf("%q is not an absolute path", p)
	case path.Clean(p) != p:
		return fmt.Errorf("%q is not clean (want %q)", p, path.Clean(p))
	case p == "/":
		return errors.New("the root folder cannot be a prefix")
	case strings.ContainsAny(p, "\x00\n"):
		return fmt.Errorf("%q contains a NUL or newline", p)
	case len(p) > maxPrefix:
		return fmt.Errorf("%q is longer than %d bytes", p, maxPrefix)
	}
	return nil
}

// CheckName validates a slash-separated path relative to the tree's root.
func CheckName(name string) error {
	if !fs.ValidPath(name) || name == "." {
		return fmt.Errorf("%q is not a clean relative path", name)
	}
	return nil
}

// UnscannedWhy says, for an ELF file whose code was not scanned
// (Unscanned set), what its strings' limits then rest on.
func (f *FilePlan) UnscannedWhy() string {
	return f.Unscanned + " code is not scanned for references into strings (terrapack reads x86-64, arm64 and i386 code), only data relocations and pointers: " +
		"its limit assumes no code points inside a build prefix, where the rewrite writes (a string the linker merged into the prefix's tail, such as a version, would be overwritten)"
}

// Limit is the longest install path one plan entry allows, and why.
type Limit struct {
	Max  int
	Name string // the file that imposes it
	Why  string
	// script is true for a "#!" line, which a longer build prefix does not help.
	script bool
}

// Limits lists every entry that bounds the install path's length, tightest first.
func (pl *Plan) Limits() []Limit {
	ps := pl.Prefixes()
	var out []Limit
	for i := range pl.Files {
		f := &pl.Files[i]
		if in := f.Interp; in != nil {
			if q, ok := ps.leading(in.Value); ok {
				// The loader path is written cleaned (interpPath), so a
				// placeholder padded with slashes reserves room.
				out = append(out, Limit{
					Max:  in.Capacity - len(path.Clean(in.Value[len(q):])),
					Name: f.Name,
					Why:  fmt.Sprintf("its ELF interpreter field holds %d bytes", in.Capacity),
				})
			}
		}
		for _, s := range f.Strings {
			if l, ok := s.limit(ps); ok {
				l.Name = f.Name
				if f.Unscanned != "" {
					l.Why += " (assumed: its " + f.Unscanned + " code was not scanned for references into strings)"
				}
				out = append(out, l)
			}
		}
		if f.Shebang != nil && f.Shebang.Style == "" {
			if k, total := ps.count(f.Shebang.Line); k > 0 {
				out = append(out, Limit{
					Max:    floorDiv(MaxShebang-len(f.Shebang.Line)+total, k),
					Name:   f.Name,
					Why:    fmt.Sprintf("the %q line must stay within the kernel's %d-byte limit and its interpreter cannot be started through a trampoline", "#!", MaxShebang),
					script: true,
				})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Limit) int { return a.Max - b.Max })
	return out
}

// limit is the longest install path s allows: a padded string, the
// shortest prefix occurrence in it; a shortened one, what fits before Inner
// with each occurrence replaced.
func (s BinString) limit(ps Prefixes) (Limit, bool) {
	k, total := ps.count(s.Value)
	if k == 0 {
		return Limit{}, false
	}
	if s.Inner > 0 {
		return Limit{
			Max: floorDiv(s.Capacity-len(s.Value)+total, k),
			Why: fmt.Sprintf("the string at offset %d (%q) names the build prefix %s, and another string starts at byte %d of this one (code or data of the file points there), so the rewrite must end before it", s.Offset, s.Value, times(k), s.Inner),
		}, true
	}
	shortest := len(s.Value)
	for i, n := ps.Index(s.Value, 0); i >= 0; i, n = ps.Index(s.Value, i+n) {
		shortest = min(shortest, n)
	}
	return Limit{
		Max: shortest,
		Why: fmt.Sprintf("a fixed-size string at offset %d (%d bytes) names the build prefix %s; it keeps its length", s.Offset, len(s.Value), times(k)),
	}, true
}

func times(k int) string {
	if k == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", k)
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// tightest returns the smallest limit, ok false when there is none.
func (pl *Plan) tightest() (Limit, bool) {
	if ls := pl.Limits(); len(ls) > 0 {
		return ls[0], true
	}
	return Limit{}, false
}

// MaxTargetLen is the longest install path the plan allows (fixed-size
// binary strings, PT_INTERP, shebangs that cannot be trampolined), or -1 for
// no limit.
func (pl *Plan) MaxTargetLen() int {
	if l, ok := pl.tightest(); ok {
		return l.Max
	}
	return -1
}

// MaxString bounds every string a plan names (a binary string's capacity,
// a "#!" line): they drive allocations of the installer.
const MaxString = 1 << 20

// planError reports an invalid plan, naming the field at fault.
func planError(field, format string, args ...any) error {
	return payload.Malformed("manifest relocation "+field, format, args...)
}

// validate checks a plan read from a manifest before anything is written;
// what depends on an entry's size is checked by the Applier's File.
func (pl *Plan) validate() error {
	for i, p := range append([]string{pl.BuildPrefix}, pl.OtherPrefixes...) {
		if err := CheckPrefix(p); err != nil {
			field := "build_prefix"
			if i > 0 {
				field = fmt.Sprintf("other_prefixes[%d]", i-1)
			}
			return planError(field, "invalid build prefix: %v", err)
		}
	}
	seen := map[string]bool{}
	for i := range pl.Files {
		f := &pl.Files[i]
		field := fmt.Sprintf("files[%d]", i)
		if err := CheckName(f.Name); err != nil {
			return planError(field, "%v", err)
		}
		if seen[f.Name] {
			return planError(field, "%q is planned twice", f.Name)
		}
		seen[f.Name] = true
		if err := pl.validateFile(f); err != nil {
			return planError(fmt.Sprintf("%s (%q)", field, f.Name), "%v", err)
		}
	}
	for i, l := range pl.Symlinks {
		field := fmt.Sprintf("symlinks[%d]", i)
		if err := CheckName(l.Name); err != nil {
			return planError(field, "%v", err)
		}
		if seen[l.Name] {
			return planError(field, "%q is planned twice", l.Name)
		}
		seen[l.Name] = true
		if _, ok := pl.Prefixes().Under(path.Clean(l.Target)); !ok || !path.IsAbs(l.Target) {
			return planError(field, "symlink %q: target %q is not under the build prefix", l.Name, l.Target)
		}
	}
	return nil
}

func (pl *Plan) validateFile(f *FilePlan) error {
	if f.Kind != KindShebang && f.Shebang != nil || f.Kind != KindELF && (f.Interp != nil || f.Unscanned != "") ||
		f.Kind != KindBinary && f.Kind != KindELF && len(f.Strings) > 0 {
		return fmt.Errorf("fields that kind %q does not use", f.Kind)
	}
	switch f.Kind {
	case KindText, KindTemplate:
	case KindShebang:
		if f.Shebang == nil || !strings.HasPrefix(f.Shebang.Line, "#!") || strings.Contains(f.Shebang.Line, "\n") || len(f.Shebang.Line) > MaxString {
			return errors.New("shebang entry without a valid first line")
		}
		switch f.Shebang.Style {
		case "", StylePython, StyleShell, StylePerl, StyleRuby, StyleTcl:
		default:
			return fmt.Errorf("unknown trampoline style %q", f.Shebang.Style)
		}
	case KindBinary, KindELF:
		if len(f.Strings) == 0 && f.Interp == nil {
			return errors.New("no strings to rewrite")
		}
		var end int64 // of the previous string: they are sorted and apart
		for i, s := range f.Strings {
			if err := pl.validateString(s); err != nil {
				return fmt.Errorf("strings[%d]: %w", i, err)
			}
			if s.Offset < end {
				return fmt.Errorf("strings[%d] at offset %d overlaps the string before it, or is out of order", i, s.Offset)
			}
			end = s.end()
		}
		if in := f.Interp; in != nil {
			if err := pl.validateString(*in); err != nil {
				return fmt.Errorf("interp: %w", err)
			}
			for i, s := range f.Strings {
				if s.Offset < in.end() && in.Offset < s.end() {
					return fmt.Errorf("interp at offset %d overlaps strings[%d] at offset %d", in.Offset, i, s.Offset)
				}
			}
		}
	default:
		return fmt.Errorf("unknown kind %q", f.Kind)
	}
	return nil
}

// validateString checks what a string entry says of itself; its place in
// the file is checked against the file's size by FilePlan.check.
func (pl *Plan) validateString(s BinString) error {
	switch {
	case s.Offset < 0:
		return fmt.Errorf("negative offset %d", s.Offset)
	case s.Capacity < 0 || s.Capacity > MaxString || len(s.Value) > MaxString:
		return fmt.Errorf("capacity %d at offset %d: at most %d, and the value at most as long", s.Capacity, s.Offset, MaxString)
	case s.Inner < 0 || s.Inner > len(s.Value) || s.Inner == 0 && s.Capacity < len(s.Value) || s.Inner > 0 && s.Capacity >= s.Inner:
		return fmt.Errorf("capacity %d, inner %d at offset %d do not fit the value (%d bytes)", s.Capacity, s.Inner, s.Offset, len(s.Value))
	case s.Offset > math.MaxInt64-2*MaxString-1:
		return fmt.Errorf("offset %d is past any file", s.Offset)
	case strings.IndexByte(s.Value, 0) >= 0 || !pl.Prefixes().Names(s.Value):
		return fmt.Errorf("value %q at offset %d does not name the build prefix", s.Value, s.Offset)
	}
	return nil
}

// end is the offset after the last byte a rewrite of s reads or writes:
// the value and its NUL, or the whole capacity (PT_INTERP is padded).
func (s BinString) end() int64 {
	return s.Offset + int64(max(s.Capacity, len(s.Value))) + 1
}
