package relocate

import (
	"fmt"
	"io"
	"strings"
)

// ELFString is one NUL-terminated string stored at a fixed file offset.
type ELFString struct {
	Offset int64 // file offset of the first byte
	// Capacity is the number of bytes available for the string, not counting
	// the terminating NUL: p_filesz-1 for PT_INTERP, the current length for a
	// .dynstr string (trailing NULs may belong to strings we cannot see).
	Capacity int
	Value    string
	// Shared is true when another string (DT_NEEDED, DT_SONAME, a .dynsym
	// name, a version name, ...) overlaps this string's bytes, so rewriting it
	// in place would corrupt the other one.
	Shared bool
}

// WriteELFString overwrites s in place with value, NUL-padding to s.Capacity+1 bytes.
func WriteELFString(w io.WriterAt, s ELFString, value string) error {
	switch {
	case s.Shared:
		return fmt.Errorf("refusing to rewrite %q at offset %d: its bytes are shared with another string", s.Value, s.Offset)
	case len(value) > s.Capacity:
		return fmt.Errorf("refusing to write %q at offset %d: %d bytes exceed capacity %d", value, s.Offset, len(value), s.Capacity)
	case strings.IndexByte(value, 0) >= 0:
		return fmt.Errorf("refusing to write %q at offset %d: value contains a NUL byte", value, s.Offset)
	case s.Offset < 0:
		return fmt.Errorf("invalid string offset %d", s.Offset)
	}
	// Padding the whole slot keeps no stale tail of the old value behind.
	buf := make([]byte, s.Capacity+1)
	copy(buf, value)
	if _, err := w.WriteAt(buf, s.Offset); err != nil {
		return fmt.Errorf("failed to write string at offset %d: %w", s.Offset, err)
	}
	return nil
}
