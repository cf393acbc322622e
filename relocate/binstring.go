package relocate

import (
	"fmt"
	"io"
	"strings"
)

// WriteNULPadded overwrites s in place with value, NUL-padding the whole
// slot (Capacity+1 bytes) so that no stale tail of the old value is left.
// It suits fields that nothing else points into: PT_INTERP, an unshared
// RPATH. Strings in a program's data are written by the Applier instead.
func (s BinString) WriteNULPadded(w io.WriterAt, value string) error {
	switch {
	case len(value) > s.Capacity:
		return fmt.Errorf("refusing to write %q at offset %d: %d bytes exceed capacity %d", value, s.Offset, len(value), s.Capacity)
	case strings.IndexByte(value, 0) >= 0:
		return fmt.Errorf("refusing to write %q at offset %d: value contains a NUL byte", value, s.Offset)
	case s.Offset < 0:
		return fmt.Errorf("invalid string offset %d", s.Offset)
	}
	buf := make([]byte, s.Capacity+1)
	copy(buf, value)
	if _, err := w.WriteAt(buf, s.Offset); err != nil {
		return fmt.Errorf("failed to write string at offset %d: %w", s.Offset, err)
	}
	return nil
}
