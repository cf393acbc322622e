package iso

import (
	"io/fs"
	"strings"
	"time"
)

// System Use Sharing Protocol (SUSP 1.12) and Rock Ridge (RRIP 1991A)
// entries carried in the System Use area of primary directory records.

const (
	ceLen = 28 // length of a CE (continuation area) entry

	// maxEntryPayload is what fits in one entry after its 4-byte header
	// and the 1-byte flags of NM and SL.
	maxEntryPayload = 255 - 5

	rrIdentifier = "RRIP_1991A"
	rrDescriptor = "THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS"
	rrSource     = "PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION."
)

// rrEntries describes n for Rock Ridge. name is "" in "." and ".."
// records, which have no NM. The root's "." record also starts SUSP (SP)
// and declares Rock Ridge (ER).
func rrEntries(n *node, name string, t time.Time, rootDot bool) [][]byte {
	var entries [][]byte
	if rootDot {
		entries = append(entries, spEntry())
	}
	entries = append(entries, pxEntry(n.mode, n.nlink()), tfEntry(t))
	if name != "" {
		entries = append(entries, nmEntries(name)...)
	}
	if n.mode&fs.ModeSymlink != 0 {
		entries = append(entries, slEntries(n.target)...)
	}
	if rootDot {
		entries = append(entries, erEntry())
	}
	return entries
}

// suEntry starts a SUSP entry: signature, length and version 1.
func suEntry(sig string, length int) []byte {
	b := make([]byte, length)
	copy(b, sig)
	b[2] = byte(length)
	b[3] = 1
	return b
}

// spEntry marks the volume as using SUSP; it must open the System Use
// area of the root's "." record.
func spEntry() []byte {
	b := suEntry("SP", 7)
	b[4], b[5] = 0xBE, 0xEF
	return b
}

// erEntry declares the Rock Ridge extension, once, in the root's "." record.
func erEntry() []byte {
	b := suEntry("ER", 8+len(rrIdentifier)+len(rrDescriptor)+len(rrSource))
	b[4] = byte(len(rrIdentifier))
	b[5] = byte(len(rrDescriptor))
	b[6] = byte(len(rrSource))
	b[7] = 1 // extension version
	copy(b[8:], rrIdentifier+rrDescriptor+rrSource)
	return b
}

// pxEntry holds POSIX mode and link count; 36 bytes as in RRIP 1991A
// (no inode number). Owner and group are root.
func pxEntry(mode fs.FileMode, nlink uint32) []byte {
	b := suEntry("PX", 36)
	putBoth32(b[4:], posixMode(mode))
	putBoth32(b[12:], nlink)
	return b
}

// posixMode converts a Go file mode to st_mode bits.
func posixMode(m fs.FileMode) uint32 {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	switch {
	case m.IsDir():
		v |= 0o040000
	case m&fs.ModeSymlink != 0:
		v |= 0o120000
	default:
		v |= 0o100000
	}
	return v
}

// tfEntry records modification, access and attribute-change times.
func tfEntry(t time.Time) []byte {
	b := suEntry("TF", 5+3*7)
	b[4] = 0x02 | 0x04 | 0x08
	for i := range 3 {
		putRecordDate(b[5+7*i:], t)
	}
	return b
}

// nmEntries holds the real name, split over several NM entries with the
// CONTINUE flag when it exceeds one entry.
func nmEntries(name string) [][]byte {
	var out [][]byte
	for {
		part := name[:min(len(name), maxEntryPayload)]
		name = name[len(part):]
		b := suEntry("NM", 5+len(part))
		if name != "" {
			b[4] = 0x01 // CONTINUE
		}
		copy(b[5:], part)
		out = append(out, b)
		if name == "" {
			return out
		}
	}
}

// slEntries encodes a symlink target as SL component records, packed
// into as many SL entries as needed.
func slEntries(target string) [][]byte {
	const maxComponent = maxEntryPayload - 2
	var comps [][]byte
	if strings.HasPrefix(target, "/") {
		comps = append(comps, []byte{0x08, 0}) // ROOT
	}
	for _, c := range strings.Split(target, "/") {
		switch c {
		case "":
			continue // leading, trailing or doubled slash
		case ".":
			comps = append(comps, []byte{0x02, 0}) // CURRENT
		case "..":
			comps = append(comps, []byte{0x04, 0}) // PARENT
		default:
			for len(c) > maxComponent {
				comps = append(comps, append([]byte{0x01, maxComponent}, c[:maxComponent]...))
				c = c[maxComponent:]
			}
			comps = append(comps, append([]byte{0, byte(len(c))}, c...))
		}
	}
	var out [][]byte
	var cur []byte
	flush := func(more bool) {
		b := suEntry("SL", 5+len(cur))
		if more {
			b[4] = 0x01 // CONTINUE: the link goes on in the next SL
		}
		copy(b[5:], cur)
		out = append(out, b)
		cur = nil
	}
	for _, c := range comps {
		if len(cur)+len(c) > maxEntryPayload {
			flush(true)
		}
		cur = append(cur, c...)
	}
	flush(false)
	return out
}

// ceEntry points to a continuation area.
func ceEntry(a *ceArea) []byte {
	b := suEntry("CE", ceLen)
	putBoth32(b[4:], a.lba)
	putBoth32(b[12:], a.offset)
	putBoth32(b[20:], uint32(len(a.data)))
	return b
}

// systemUse is the System Use area of one directory record: the entries
// that fit in the record, then a chain of continuation areas.
type systemUse struct {
	inline []byte
	areas  []*ceArea
}

// ceArea is one continuation area. Its data already has room reserved
// for the CE entry chaining to the next area; lba and offset are set
// during layout.
type ceArea struct {
	data        []byte
	lba, offset uint32
}

// splitSystemUse keeps entries in the record while they fit in avail
// bytes and moves the rest, in order, to continuation areas of at most
// one sector each.
func splitSystemUse(entries [][]byte, avail int) *systemUse {
	total := 0
	for _, e := range entries {
		total += len(e)
	}
	su := &systemUse{}
	i := 0
	limit := avail
	if total > avail {
		limit -= ceLen
	}
	for ; i < len(entries) && len(su.inline)+len(entries[i]) <= limit; i++ {
		su.inline = append(su.inline, entries[i]...)
		total -= len(entries[i])
	}
	for i < len(entries) {
		a := &ceArea{}
		limit := sectorSize
		if total > sectorSize {
			limit -= ceLen
		}
		for ; i < len(entries) && len(a.data)+len(entries[i]) <= limit; i++ {
			a.data = append(a.data, entries[i]...)
			total -= len(entries[i])
		}
		if i < len(entries) {
			a.data = append(a.data, make([]byte, ceLen)...)
		}
		su.areas = append(su.areas, a)
	}
	return su
}

// size is the number of bytes the area takes in the directory record.
func (s *systemUse) size() int {
	if len(s.areas) > 0 {
		return len(s.inline) + ceLen
	}
	return len(s.inline)
}

// encode returns the bytes stored in the directory record.
func (s *systemUse) encode() []byte {
	if len(s.areas) == 0 {
		return s.inline
	}
	return append(s.inline[:len(s.inline):len(s.inline)], ceEntry(s.areas[0])...)
}

// encodeArea returns continuation area i with its CE entry filled in.
func (s *systemUse) encodeArea(i int) []byte {
	a := s.areas[i]
	if i+1 < len(s.areas) {
		copy(a.data[len(a.data)-ceLen:], ceEntry(s.areas[i+1]))
	}
	return a.data
}
