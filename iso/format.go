package iso

import (
	"encoding/binary"
	"fmt"
	"time"
)

// On-disk encodings of ECMA-119 (ISO 9660) structures.

const (
	sectorSize = 2048

	// systemAreaSectors is the unused area in front of the volume descriptors.
	systemAreaSectors = 16

	// maxRecordLen is the largest even directory record length; records
	// are kept even so that every record starts on an even offset.
	maxRecordLen = 254

	flagDirectory   = 0x02
	flagMultiExtent = 0x80 // "not final" record of a file split into extents

	vdPrimary       = 1
	vdSupplementary = 2
	vdTerminator    = 255
)

// maxExtentSize is the largest extent recorded for one directory record:
// the 32-bit data length rounded down to whole sectors (4 GiB - 2 KiB).
// Larger files become multi-extent files (Options.ExtentSize lowers it).
const maxExtentSize int64 = 0xFFFFF800

// putBoth32 writes v in ECMA-119 7.3.3 both-byte order (LE then BE).
func putBoth32(b []byte, v uint32) {
	binary.LittleEndian.PutUint32(b, v)
	binary.BigEndian.PutUint32(b[4:], v)
}

// putBoth16 writes v in ECMA-119 7.2.3 both-byte order (LE then BE).
func putBoth16(b []byte, v uint16) {
	binary.LittleEndian.PutUint16(b, v)
	binary.BigEndian.PutUint16(b[2:], v)
}

// putRecordDate writes the 7-byte date of directory records (ECMA-119
// 9.1.5), also used by Rock Ridge TF entries. t must be UTC.
func putRecordDate(b []byte, t time.Time) {
	b[0] = byte(t.Year() - 1900)
	b[1] = byte(t.Month())
	b[2] = byte(t.Day())
	b[3] = byte(t.Hour())
	b[4] = byte(t.Minute())
	b[5] = byte(t.Second())
	b[6] = 0 // offset from GMT in 15 minute units
}

// putVolumeDate writes the 17-byte date of volume descriptors (ECMA-119
// 8.4.26.1). The zero time writes the "not specified" value.
func putVolumeDate(b []byte, t time.Time) {
	if t.IsZero() {
		copy(b, "0000000000000000")
		b[16] = 0
		return
	}
	copy(b, fmt.Sprintf("%04d%02d%02d%02d%02d%02d00",
		t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second()))
	b[16] = 0
}

// putASCII writes s space-padded, as a- and d-character fields are.
func putASCII(b []byte, s string) {
	n := copy(b, s)
	for i := n; i < len(b); i++ {
		b[i] = ' '
	}
}

// recordLen is the length of a directory record (ECMA-119 9.1) with an
// identifier of identLen bytes and suLen bytes of System Use area.
func recordLen(identLen, suLen int) int {
	n := 33 + identLen
	if identLen%2 == 0 {
		n++ // padding field after even-length identifiers
	}
	n += suLen
	return n + n%2
}

// putDirRecord encodes a directory record into the zeroed b and returns
// its length.
func putDirRecord(b []byte, lba, length uint32, flags byte, ident, su []byte, t time.Time) int {
	n := recordLen(len(ident), len(su))
	b[0] = byte(n)
	putBoth32(b[2:], lba)
	putBoth32(b[10:], length)
	putRecordDate(b[18:], t)
	b[25] = flags
	putBoth16(b[28:], 1) // volume sequence number
	b[32] = byte(len(ident))
	copy(b[33:], ident)
	copy(b[33+len(ident)+(1-len(ident)%2):], su)
	return n
}

// pathRecordLen is the length of a path table record (ECMA-119 9.4).
func pathRecordLen(identLen int) int {
	return 8 + identLen + identLen%2
}

// putPathRecord encodes a path table record into the zeroed b, in type L
// (little-endian) or type M (big-endian) byte order.
func putPathRecord(b []byte, ident []byte, lba uint32, parent uint16, order binary.ByteOrder) int {
	b[0] = byte(len(ident))
	order.PutUint32(b[2:], lba)
	order.PutUint16(b[6:], parent)
	copy(b[8:], ident)
	return pathRecordLen(len(ident))
}

// descriptor holds what differs between the primary and the Joliet
// supplementary volume descriptor.
type descriptor struct {
	kind     byte
	text     func(b []byte, s string) // encoder of text fields
	label    string
	escape   string // escape sequences field (Joliet level)
	tree     *tree
	sectors  uint32 // volume space size
	recorded time.Time
}

// encode returns the 2048-byte volume descriptor (ECMA-119 8.4, Joliet
// reuses the layout for its supplementary descriptor).
func (d *descriptor) encode() []byte {
	b := make([]byte, sectorSize)
	b[0] = d.kind
	copy(b[1:6], "CD001")
	b[6] = 1
	d.text(b[8:40], "LINUX")
	d.text(b[40:72], d.label)
	putBoth32(b[80:], d.sectors)
	copy(b[88:120], d.escape)
	putBoth16(b[120:], 1)          // volume set size
	putBoth16(b[124:], 1)          // volume sequence number
	putBoth16(b[128:], sectorSize) // logical block size
	putBoth32(b[132:], d.tree.pathTableSize)
	binary.LittleEndian.PutUint32(b[140:], d.tree.lPathLBA)
	binary.BigEndian.PutUint32(b[148:], d.tree.mPathLBA)
	root := d.tree.dirs[0]
	putDirRecord(b[156:190], root.lba, root.size, flagDirectory, []byte{0}, nil, d.recorded)
	d.text(b[190:318], "")              // volume set
	d.text(b[318:446], "")              // publisher
	d.text(b[446:574], "")              // data preparer
	d.text(b[574:702], "TERRAPACK")     // application
	d.text(b[702:739], "")              // copyright file
	d.text(b[739:776], "")              // abstract file
	d.text(b[776:813], "")              // bibliographic file
	putVolumeDate(b[813:], d.recorded)  // creation
	putVolumeDate(b[830:], d.recorded)  // modification
	putVolumeDate(b[847:], time.Time{}) // expiration
	putVolumeDate(b[864:], time.Time{}) // effective
	b[881] = 1                          // file structure version
	// Application use: spaces, as media-check tools (implantisomd5) want
	// before they write their checksum there; ImplantMD5 fills it.
	putASCII(b[appUseOffset:appUseOffset+appUseSize], "")
	return b
}

// terminator returns the volume descriptor set terminator (ECMA-119 8.3).
func terminator() []byte {
	b := make([]byte, sectorSize)
	b[0] = vdTerminator
	copy(b[1:6], "CD001")
	b[6] = 1
	return b
}
