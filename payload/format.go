// Package payload defines the terrapack installer file format and reads and
// writes its parts: the stub information block, the compressed tar payload,
// the JSON manifest and the fixed-size trailer.
//
// An installer is laid out as
//
//	[static stub ELF][payload: compressed tar][manifest JSON][signature][trailer, 128 bytes]
//
// The trailer's SHA-256 covers every byte before the signature, stub
// included; the optional signature (an armored SSHSIG, namespace
// "terrapack", hash sha256) covers those bytes and the trailer.
// docs/FORMAT.md describes the layout for people who want to extract by hand.
package payload

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// TrailerSize is the fixed length of the trailer at the end of every installer.
const TrailerSize = 128

// FormatVersion is the version of the layout described here.
const FormatVersion = 1

// Magic starts and ends the trailer so that `tail -c 8 app.run` shows it.
var Magic = [8]byte{'T', 'E', 'R', 'R', 'A', 'P', 'A', 'K'}

// Layout locates the parts of an installer. It is stored twice: in the trailer
// and in the stub information block patched into the stub, so that a truncated
// file can still say how long it should have been.
type Layout struct {
	PayloadOffset  int64
	PayloadLength  int64
	ManifestOffset int64
	ManifestLength int64
	// SignatureLength is 0 for an unsigned installer; the signature
	// starts where the manifest ends.
	SignatureLength int64
	TotalSize       int64 // the whole file, trailer included
}

// TrailerOffset is where the trailer starts.
func (l Layout) TrailerOffset() int64 { return l.TotalSize - TrailerSize }

// SignatureOffset is where the signature starts (or would): the end of the
// manifest and of the bytes the checksum covers.
func (l Layout) SignatureOffset() int64 { return l.ManifestOffset + l.ManifestLength }

// Validate checks that the parts follow each other without gaps or overlaps.
func (l Layout) Validate() error {
	switch {
	case l.PayloadOffset <= 0 || l.PayloadLength < 0 || l.ManifestLength < 0 || l.SignatureLength < 0:
		return &FormatError{Offset: 0, Msg: "negative or zero offsets in layout"}
	case l.ManifestOffset != l.PayloadOffset+l.PayloadLength:
		return &FormatError{Offset: l.ManifestOffset, Msg: "manifest does not follow payload"}
	case l.SignatureLength > MaxSignatureSize:
		return &FormatError{Offset: l.SignatureOffset(), Msg: fmt.Sprintf("signature length %d exceeds the %d limit", l.SignatureLength, MaxSignatureSize)}
	case l.TotalSize != l.SignatureOffset()+l.SignatureLength+TrailerSize:
		return &FormatError{Offset: l.TotalSize, Msg: "total size does not match parts"}
	}
	return nil
}

// MaxSignatureSize bounds the signature block; an ed25519 SSHSIG is 302 bytes.
const MaxSignatureSize = 4096

// Trailer flags. Every other bit must be zero.
const (
	FlagSigned uint32 = 1 << 0 // a signature precedes the trailer
	knownFlags        = FlagSigned
)

// Trailer is the decoded last TrailerSize bytes of an installer.
type Trailer struct {
	Version uint32
	Flags   uint32
	Layout  Layout
	SHA256  [32]byte // over bytes [0, Layout.SignatureOffset())
}

// Signed tells whether the installer carries a signature.
func (t Trailer) Signed() bool { return t.Flags&FlagSigned != 0 }

// Checksum returns the SHA-256 as lowercase hex, as sha256sum prints it.
func (t Trailer) Checksum() string { return hex.EncodeToString(t.SHA256[:]) }

// Trailer byte layout, little-endian:
//
//	0   magic "TERRAPAK"
//	8   format version (u32), 12 flags (u32: bit 0 signed, others zero)
//	16  payload offset, 24 payload length
//	32  manifest offset, 40 manifest length
//	48  total size (u64 each)
//	56  SHA-256 (32 bytes)
//	88  signature length (u64; 0 unless signed)
//	96  reserved (24 bytes, zero)
//	120 magic "TERRAPAK"
//
// A reader refuses unknown flags and non-zero reserved bytes, so that no
// byte of the trailer can change unnoticed.
func (t Trailer) MarshalBinary() []byte {
	b := make([]byte, TrailerSize)
	copy(b[0:], Magic[:])
	binary.LittleEndian.PutUint32(b[8:], t.Version)
	binary.LittleEndian.PutUint32(b[12:], t.Flags)
	putLayout(b[16:], t.Layout)
	copy(b[56:], t.SHA256[:])
	binary.LittleEndian.PutUint64(b[88:], uint64(t.Layout.SignatureLength))
	copy(b[120:], Magic[:])
	return b
}

// ParseTrailer decodes b, which must be the last TrailerSize bytes of a file
// whose first byte is at offset fileOffset of b[0] (used in errors).
func ParseTrailer(b []byte, fileOffset int64) (Trailer, error) {
	if len(b) != TrailerSize {
		return Trailer{}, &FormatError{Offset: fileOffset, Msg: fmt.Sprintf("trailer is %d bytes, want %d", len(b), TrailerSize)}
	}
	if !bytes.Equal(b[0:8], Magic[:]) || !bytes.Equal(b[120:128], Magic[:]) {
		return Trailer{}, &FormatError{Offset: fileOffset, Msg: "no terrapack trailer (file truncated, appended to, or not an installer)"}
	}
	t := Trailer{Version: binary.LittleEndian.Uint32(b[8:])}
	if t.Version != FormatVersion {
		return Trailer{}, &FormatError{Offset: fileOffset + 8, Msg: fmt.Sprintf("format version %d is not supported (this reader knows %d)", t.Version, FormatVersion)}
	}
	t.Flags = binary.LittleEndian.Uint32(b[12:])
	if unknown := t.Flags &^ knownFlags; unknown != 0 {
		return Trailer{}, &FormatError{Offset: fileOffset + 12, Msg: fmt.Sprintf("unknown trailer flags %#x", unknown)}
	}
	t.Layout = getLayout(b[16:])
	copy(t.SHA256[:], b[56:88])
	t.Layout.SignatureLength = int64(binary.LittleEndian.Uint64(b[88:]))
	if t.Signed() != (t.Layout.SignatureLength != 0) {
		return Trailer{}, &FormatError{Offset: fileOffset + 88, Msg: "signature length and the signed flag disagree"}
	}
	for i := 96; i < 120; i++ {
		if b[i] != 0 {
			return Trailer{}, &FormatError{Offset: fileOffset + int64(i), Msg: "reserved trailer byte is not zero"}
		}
	}
	if err := t.Layout.Validate(); err != nil {
		return Trailer{}, err
	}
	return t, nil
}

// putLayout writes the five offsets and lengths that the trailer and the
// stub information block share.
func putLayout(b []byte, l Layout) {
	for i, v := range []int64{l.PayloadOffset, l.PayloadLength, l.ManifestOffset, l.ManifestLength, l.TotalSize} {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
}

func getLayout(b []byte) Layout {
	v := func(i int) int64 { return int64(binary.LittleEndian.Uint64(b[8*i:])) }
	return Layout{PayloadOffset: v(0), PayloadLength: v(1), ManifestOffset: v(2), ManifestLength: v(3), TotalSize: v(4)}
}

// StubInfoMarker opens the 128-byte block that the stub declares as a variable
// and the builder patches with the installer's Layout. The stub reads it to
// know its own expected size before trusting anything at the end of the file.
// It is assembled at run time so that the stub binary holds it only once, in
// that variable (see stub/info.go).
var StubInfoMarker = func() []byte {
	m := []byte("1v-OFNI-BUTS-KCAPARRET")
	for i, j := 0, len(m)-1; i < j; i, j = i+1, j-1 {
		m[i], m[j] = m[j], m[i]
	}
	return append(m, make([]byte, 32-len(m))...)
}()

// StubInfoSize is the size of the block, marker included.
const StubInfoSize = 128

// NewStubInfo returns an unpatched block, the value a stub is compiled with.
func NewStubInfo() [StubInfoSize]byte {
	var b [StubInfoSize]byte
	copy(b[:], StubInfoMarker)
	return b
}

// EncodeStubInfo returns a block carrying l: the five fields of putLayout,
// then the signature length.
func EncodeStubInfo(l Layout) []byte {
	b := NewStubInfo()
	putLayout(b[len(StubInfoMarker):], l)
	binary.LittleEndian.PutUint64(b[len(StubInfoMarker)+40:], uint64(l.SignatureLength))
	return b[:]
}

// DecodeStubInfo returns the layout in block; patched is false for a bare
// stub (the block as compiled). Any other block is damaged: the marker or
// the bytes after the layout altered, or a layout that does not add up.
func DecodeStubInfo(block []byte) (l Layout, patched bool, err error) {
	bare := NewStubInfo()
	if bytes.Equal(block, bare[:]) {
		return Layout{}, false, nil
	}
	const end = 32 + 48 // marker, then six u64 (putLayout and the signature length)
	damaged := func(why string) error {
		return Malformed("stub information block", "%s: the installer is damaged", why)
	}
	switch {
	case len(block) != StubInfoSize || !bytes.HasPrefix(block, StubInfoMarker):
		return Layout{}, false, damaged("its marker is altered")
	case !bytes.Equal(block[end:], bare[end:]):
		return Layout{}, false, damaged("its reserved bytes are not zero")
	}
	l = getLayout(block[len(StubInfoMarker):])
	l.SignatureLength = int64(binary.LittleEndian.Uint64(block[len(StubInfoMarker)+40:]))
	if err := l.Validate(); err != nil {
		return Layout{}, false, damaged("its layout does not add up")
	}
	return l, true, nil
}

// FindStubInfo returns the offset of the single stub information block in a
// stub binary.
func FindStubInfo(stub []byte) (int, error) {
	i := bytes.Index(stub, StubInfoMarker)
	if i < 0 {
		return 0, fmt.Errorf("stub has no information block (was it built from ./stub?)")
	}
	if bytes.Contains(stub[i+1:], StubInfoMarker) {
		return 0, fmt.Errorf("stub has more than one information block")
	}
	return i, nil
}

// FormatError reports a malformed or unsafe installer: what is wrong, in
// which part or field, and at which byte of the file where there is one.
// Every check of the file's content reports one (or an EntryError), so that
// the installer maps them all to one exit code.
type FormatError struct {
	Offset int64  // byte of the installer file, or -1 when the fault has no single place
	Field  string // the part or field at fault ("manifest post_install"), may be empty
	Msg    string
}

// Malformed returns a FormatError about field, with no file offset.
func Malformed(field, format string, args ...any) *FormatError {
	return &FormatError{Offset: -1, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func (e *FormatError) Error() string {
	s := "malformed installer"
	if e.Offset >= 0 {
		s += fmt.Sprintf(" at byte %d", e.Offset)
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Msg
}

// NewHash returns the hash used for the whole-file checksum.
var NewHash = sha256.New
