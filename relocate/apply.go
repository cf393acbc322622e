package relocate

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/terrapack/terrapack/payload"
)

// Vars are the values of an installation, the fields templates can use.
type Vars struct {
	Prefix      string // the final install folder (absolute)
	Name        string
	Version     string
	BuildPrefix string // filled in from the plan when empty
}

// Applier applies a plan at install time.
type Applier struct {
	plan     *Plan
	vars     Vars
	files    map[string]*FilePlan
	shebangs map[string]*shebangRewrite
	links    map[string]string // name → planned target
	seen     map[string]bool
	// checkOnly: a dry run's checker, which checks each entry and rewrites
	// nothing (it has no install path to write).
	checkOnly bool
}

var _ payload.Rewriter = (*Applier)(nil)

// NewApplier checks that pl can be applied for vars, before anything is
// written: the plan must be valid (else a *payload.FormatError) and the
// install path must fit every fixed-size string.
func NewApplier(pl *Plan, vars Vars) (*Applier, error) {
	a, err := newApplier(pl)
	if err != nil {
		return nil, err
	}
	if err := checkTargetChars(vars.Prefix); err != nil {
		return nil, err
	}
	if err := CheckPrefix(vars.Prefix); err != nil {
		return nil, fmt.Errorf("invalid install path: %w", err)
	}
	switch vars.BuildPrefix {
	case "":
		vars.BuildPrefix = pl.BuildPrefix
	case pl.BuildPrefix:
	default:
		return nil, fmt.Errorf("build prefix %q does not match the plan's %q", vars.BuildPrefix, pl.BuildPrefix)
	}
	if l, ok := pl.tightest(); ok && len(vars.Prefix) > l.Max {
		return nil, tooLong(vars.Prefix, pl.BuildPrefix, l)
	}
	if err := pl.checkPython2(vars.Prefix); err != nil {
		return nil, err
	}
	a.vars = vars
	for i := range pl.Files {
		f := &pl.Files[i]
		if f.Kind == KindShebang {
			rw, err := newShebangRewrite(f.Shebang, pl.Prefixes(), vars.Prefix)
			if err != nil {
				return nil, fmt.Errorf("cannot relocate %q: %w", f.Name, err)
			}
			a.shebangs[f.Name] = rw
		}
	}
	return a, nil
}

// NewChecker returns an Applier for a dry run of the extractor (--check,
// verify): it checks the plan and every planned entry against the payload
// as an install does, and needs no install path since it rewrites nothing.
func NewChecker(pl *Plan) (*Applier, error) {
	a, err := newApplier(pl)
	if a != nil {
		a.checkOnly = true
	}
	return a, err
}

func newApplier(pl *Plan) (*Applier, error) {
	if err := pl.validate(); err != nil {
		return nil, err
	}
	a := &Applier{
		plan:     pl,
		files:    map[string]*FilePlan{},
		shebangs: map[string]*shebangRewrite{},
		links:    map[string]string{},
		seen:     map[string]bool{},
	}
	for i := range pl.Files {
		a.files[pl.Files[i].Name] = &pl.Files[i]
	}
	for _, l := range pl.Symlinks {
		a.links[l.Name] = l.Target
	}
	return a, nil
}

// tooLong explains why an install path is refused and what to do about it.
func tooLong(prefix, buildPrefix string, l Limit) error {
	fix := "install to a shorter path, or build the package under a longer prefix (it was built under %q, %d bytes)"
	if l.script {
		fix = "install to a shorter path (it was built under %q, %d bytes)"
	}
	return &TargetError{
		Msg: fmt.Sprintf("install path %q is %d bytes long, but this package allows at most %d: in %q, %s; "+fix,
			prefix, len(prefix), l.Max, l.Name, l.Why, buildPrefix, len(buildPrefix)),
		Hint: "choose a shorter --to; the message above says how long it may be",
	}
}

// File says how to write regular file name.
func (a *Applier) File(name string) (payload.FileRewrite, error) {
	f, ok := a.files[name]
	if !ok {
		return payload.FileRewrite{}, nil
	}
	a.seen[name] = true
	var rw payload.FileRewrite
	if !a.checkOnly {
		rw = a.rewrite(f)
	}
	rw.Check, rw.Expect = f.check, f.expect()
	return rw, nil
}

// check refuses a plan entry whose strings do not lie inside the file.
func (f *FilePlan) check(size int64) error {
	fits := func(field string, s BinString) error {
		if end := s.end(); end > size {
			return payload.Malformed("manifest relocation "+field, "%q: offset %d + capacity %d + its NUL end at byte %d, past the end of the %d-byte file", f.Name, s.Offset, max(s.Capacity, len(s.Value)), end, size)
		}
		return nil
	}
	for i, s := range f.Strings {
		if err := fits(fmt.Sprintf("strings[%d]", i), s); err != nil {
			return err
		}
	}
	if f.Interp != nil {
		return fits("interp", *f.Interp)
	}
	return nil
}

// expect lists the bytes of the file as built that the rewrite assumes.
func (f *FilePlan) expect() []payload.Expect {
	var out []payload.Expect
	for _, s := range f.Strings {
		out = append(out, payload.Expect{Offset: s.Offset, Bytes: append([]byte(s.Value), 0)})
	}
	if in := f.Interp; in != nil {
		out = append(out, payload.Expect{Offset: in.Offset, Bytes: append([]byte(in.Value), 0)})
	}
	if f.Shebang != nil {
		out = append(out, payload.Expect{Offset: 0, Bytes: []byte(f.Shebang.Line)})
	}
	return out
}

// rewrite says how the content of f is rewritten.
func (a *Applier) rewrite(f *FilePlan) payload.FileRewrite {
	old, prefix := a.plan.Prefixes(), a.vars.Prefix
	switch f.Kind {
	case KindText:
		return payload.FileRewrite{Wrap: func(w io.Writer) io.WriteCloser { return newReplacer(w, old, prefix) }}
	case KindShebang:
		rw := a.shebangs[f.Name]
		return payload.FileRewrite{Wrap: func(w io.Writer) io.WriteCloser { return newShebangWriter(w, rw, old, prefix) }}
	case KindTemplate:
		// Rendered at build; the placeholder alone is left.
		return payload.FileRewrite{Wrap: func(w io.Writer) io.WriteCloser { return newExactReplacer(w, PrefixPlaceholder, prefix) }}
	}
	return payload.FileRewrite{Patch: func(file *os.File, written string) error {
		for _, s := range f.Strings {
			if err := patchString(file, s, old, prefix); err != nil {
				return fmt.Errorf("failed to relocate %q: %w", written, err)
			}
		}
		if f.Interp != nil {
			in := f.Interp
			if err := in.WriteNULPadded(file, interpPath(in.Value, old, prefix)); err != nil {
				return fmt.Errorf("failed to set the ELF interpreter of %q: %w", written, err)
			}
		}
		return nil
	}}
}

// interpPath is the installed loader's path: cleaned, so that the extra
// slashes of a bundle's reserved placeholder are dropped.
func interpPath(v string, old Prefixes, prefix string) string {
	return path.Clean(old.replace(v, prefix))
}

// patchString rewrites one planned string in place after checking that the
// file holds what was planned.
func patchString(f *os.File, s BinString, old Prefixes, prefix string) error {
	buf := make([]byte, len(s.Value)+1)
	if _, err := f.ReadAt(buf, s.Offset); err != nil {
		return fmt.Errorf("failed to read the string at offset %d: %w", s.Offset, err)
	}
	if string(buf[:len(s.Value)]) != s.Value || buf[len(s.Value)] != 0 {
		return fmt.Errorf("the string at offset %d is not %q as planned: the payload was changed after planning", s.Offset, s.Value)
	}
	b, err := s.rewrite(old, prefix)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(b, s.Offset); err != nil {
		return fmt.Errorf("failed to write the string at offset %d: %w", s.Offset, err)
	}
	return nil
}

// rewrite returns the bytes to write at s.Offset for install path prefix.
func (s BinString) rewrite(old Prefixes, prefix string) ([]byte, error) {
	if s.Inner == 0 {
		// Same length: each prefix becomes the install path padded with '/'.
		var b []byte
		last := 0
		for i, n := old.Index(s.Value, 0); i >= 0; i, n = old.Index(s.Value, i+n) {
			if len(prefix) > n {
				return nil, fmt.Errorf("%q does not fit the %d bytes of the prefix at offset %d", prefix, n, s.Offset+int64(i))
			}
			b = append(append(b, s.Value[last:i]...), PadPath(prefix, n)...)
			last = i + n
		}
		return append(b, s.Value[last:]...), nil
	}
	// Shortened: the new string and its NUL end before Inner, and the old
	// bytes from there on stay, for the string that starts at Inner. Up to
	// the first byte of the last prefix occurrence is cleared when it lies
	// before Inner, so no whole copy of the old prefix is left behind.
	value := old.replace(s.Value, prefix)
	if len(value) > s.Capacity {
		return nil, fmt.Errorf("%q does not fit the %d bytes at offset %d", value, s.Capacity, s.Offset)
	}
	b := append([]byte(value), 0)
	last := -1
	for i, n := old.Index(s.Value, 0); i >= 0; i, n = old.Index(s.Value, i+n) {
		last = i
	}
	if last >= len(b) && last < s.Inner {
		b = append(b, make([]byte, last+1-len(b))...)
	}
	return b, nil
}

// PadPath returns path t made n bytes long (n >= len(t)) by repeating the
// slash before its last component: "/opt//////app". The result names the
// same folder, and both dirname and basename (C's and Python's) still give
// "/opt" and "app", which trailing slashes would not (Python's basename of
// "/opt/app/" is ""). A one-component t becomes "//////app"; exactly two
// leading slashes ("//x", n = len(t)+1) are implementation-defined in POSIX
// but the same folder on Linux.
func PadPath(t string, n int) string {
	if n <= len(t) {
		return t
	}
	j := strings.LastIndexByte(t, '/')
	return t[:j] + strings.Repeat("/", n-len(t)) + t[j:]
}

// Symlink returns the target to write for symlink name: a planned absolute
// target into the build prefix becomes relative, so it stays inside the
// install wherever that is moved.
func (a *Applier) Symlink(name, target string) (string, error) {
	planned, ok := a.links[name]
	if !ok {
		return target, nil
	}
	a.seen[name] = true
	if target != planned {
		return "", payload.Malformed("manifest relocation", "symlink %q points to %q, not %q as planned: the payload was changed after planning", name, target, planned)
	}
	rel, _ := a.plan.Prefixes().RelativeLink(name, target)
	return rel, nil
}

// RelativeLink returns the relative form of symlink name's absolute target
// into one of the prefixes, seen from the link's folder; ok is false when
// target is not an absolute path equal to or under a prefix.
func (ps Prefixes) RelativeLink(name, target string) (rel string, ok bool) {
	q, ok := ps.Under(path.Clean(target))
	if !ok || !path.IsAbs(target) {
		return "", false
	}
	inside := path.Clean("." + strings.TrimPrefix(path.Clean(target), q))
	// Both are clean relative paths, so Rel cannot fail.
	rel, _ = filepath.Rel(path.Dir(name), inside)
	return filepath.ToSlash(rel), true
}

// Remaining lists the planned entries that were never extracted.
func (a *Applier) Remaining() []string {
	var out []string
	for name := range a.files {
		if !a.seen[name] {
			out = append(out, name)
		}
	}
	for name := range a.links {
		if !a.seen[name] {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// CheckComplete refuses a plan that names entries the payload did not hold.
func (a *Applier) CheckComplete() error {
	if missed := a.Remaining(); len(missed) > 0 {
		return payload.Malformed("manifest relocation", "the plan names entries missing from the payload: %s", strings.Join(missed, ", "))
	}
	return nil
}
