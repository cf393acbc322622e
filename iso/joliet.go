package iso

import (
	"encoding/binary"
	"strings"
	"unicode/utf16"
)

// Joliet: a second directory tree with UCS-2 (here UTF-16) names, read
// by Windows, 7-Zip and others that ignore Rock Ridge.

const (
	// jolietEscape selects UCS-2 level 3 in the supplementary descriptor.
	jolietEscape = "%/E"

	// jolietMaxIdent is the Joliet limit of 64 UCS-2 units, not counting
	// the ";1" version of files.
	jolietMaxIdent = 64
	jolietMaxExt   = 16
)

// jolietCandidate sanitises a real name for Joliet and shortens it to
// 64 units, keeping a short extension of files.
func jolietCandidate(name string, isDir bool) (base, ext string) {
	base = strings.Map(func(r rune) rune {
		if r < 0x20 || strings.ContainsRune(`*/:;?\`, r) {
			return '_'
		}
		return r
	}, strings.ToValidUTF8(name, "\uFFFD"))
	if !isDir {
		if i := strings.LastIndexByte(base, '.'); i > 0 && units(base[i:]) <= jolietMaxExt {
			base, ext = base[:i], base[i:]
		}
	}
	return truncateUnits(base, jolietMaxIdent-units(ext)), ext
}

// jolietName is the Joliet identifier without version, for sorting.
func jolietName(n *node) string { return strings.TrimSuffix(n.jolietID, ";1") }

// ucs2 encodes s as UTF-16 big-endian, the Joliet identifier encoding.
func ucs2(s string) []byte {
	units := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(units))
	for i, u := range units {
		binary.BigEndian.PutUint16(b[2*i:], u)
	}
	return b
}

// putUCS2 writes s as UCS-2 big-endian padded with U+0020, as Joliet
// descriptor text fields are. Characters that do not fit are dropped.
func putUCS2(b []byte, s string) {
	units := utf16.Encode([]rune(truncateUnits(s, len(b)/2)))
	for i := 0; i+1 < len(b); i += 2 {
		u := uint16(' ')
		if i/2 < len(units) {
			u = units[i/2]
		}
		binary.BigEndian.PutUint16(b[i:], u)
	}
	if len(b)%2 == 1 {
		b[len(b)-1] = 0
	}
}
