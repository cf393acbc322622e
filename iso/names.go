package iso

import (
	"strconv"
	"strings"
	"unicode/utf16"
)

// Identifier rules of the two directory trees. Real names live in Rock
// Ridge NM entries; the identifiers below only need to be valid and unique.
const (
	// isoMaxIdent bounds primary identifiers without the ";1" version:
	// ECMA-119 level 2 allows 30 characters of name and extension plus
	// the '.' separator, and 31 for directories.
	isoMaxIdent = 31
	isoMaxExt   = 8
)

// isoLabel turns a volume label into PVD d-characters.
func isoLabel(label string) string {
	return truncateUnits(dChars(label), 32)
}

// dChars uppercases s and maps everything outside A-Z, 0-9 and '_' to '_',
// one '_' per character.
func dChars(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// isoCandidate splits the mangled primary identifier of a real name into
// base and extension; the extension of a file always starts with the
// mandatory '.' separator.
func isoCandidate(name string, isDir bool) (base, ext string) {
	if isDir {
		return truncateUnits(dChars(name), isoMaxIdent), ""
	}
	base = name
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		base, ext = name[:i], truncateUnits(dChars(name[i+1:]), isoMaxExt)
	}
	ext = "." + ext
	return truncateUnits(dChars(base), isoMaxIdent-len(ext)), ext
}

// units is the length of s in UTF-16 code units (bytes for ASCII).
func units(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// truncateUnits cuts s to at most n UTF-16 code units without splitting
// a character.
func truncateUnits(s string, n int) string {
	used := 0
	for i, r := range s {
		used += utf16.RuneLen(r)
		if used > n {
			return s[:i]
		}
	}
	return s
}

// uniqueName returns base+ext, or base_N+ext with the smallest N that
// makes it unique in taken, shortening base to stay within limit units.
// key maps a name to what readers compare.
func uniqueName(taken map[string]bool, base, ext string, limit int, key func(string) string) string {
	name := base + ext
	for n := 1; taken[key(name)]; n++ {
		suffix := "_" + strconv.Itoa(n)
		name = truncateUnits(base, limit-units(ext)-len(suffix)) + suffix + ext
	}
	taken[key(name)] = true
	return name
}

// isoKey drops the '.' of extension-less files, so that file "FOO." and
// directory "FOO" count as the same name, as they do for most readers.
func isoKey(s string) string { return strings.TrimSuffix(s, ".") }

func exactKey(s string) string { return s }

// assignNames gives the children of a directory unique primary and
// Joliet identifiers. Children must be sorted by real name so that the
// result does not depend on input order.
func assignNames(children []*node) {
	isoIDs := pickNames(children, isoCandidate, isoMaxIdent, isoKey)
	jolietIDs := pickNames(children, jolietCandidate, jolietMaxIdent, exactKey)
	for i, c := range children {
		c.isoID, c.jolietID = isoIDs[i], jolietIDs[i]
	}
}

// pickNames returns unique identifiers made by candidate, with the ";1"
// version for files. Names the candidate leaves as they are go first,
// so that they never get a suffix because of a mangled sibling.
func pickNames(children []*node, candidate func(name string, isDir bool) (base, ext string), limit int, key func(string) string) []string {
	ids := make([]string, len(children))
	taken := map[string]bool{}
	for _, unchanged := range []bool{true, false} {
		for i, c := range children {
			base, ext := candidate(c.name, c.mode.IsDir())
			if (key(base+ext) == c.name) != unchanged {
				continue
			}
			ids[i] = uniqueName(taken, base, ext, limit, key)
			if !c.mode.IsDir() {
				ids[i] += ";1"
			}
		}
	}
	return ids
}

// compareISO orders primary identifiers as ECMA-119 9.3 asks: by name,
// then by extension. d-characters sort after the padding space, so plain
// byte order of each part is the padded order.
func compareISO(a, b string) int {
	an, ae, _ := strings.Cut(strings.TrimSuffix(a, ";1"), ".")
	bn, be, _ := strings.Cut(strings.TrimSuffix(b, ";1"), ".")
	if c := strings.Compare(an, bn); c != 0 {
		return c
	}
	return strings.Compare(ae, be)
}
