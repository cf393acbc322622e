// Package elfmagic tells ELF files by their first four bytes, for the code
// that needs to know no more (the planner's sorting, the bundler, testvm)
// without linking the ELF reader, elfscan, and the relocation model it
// returns.
package elfmagic

import (
	"bytes"
	"io"
	"os"
)

// Magic is what every ELF file starts with (ELFMAG).
const Magic = "\x7fELF"

// Is reports whether head starts with the ELF magic.
func Is(head []byte) bool { return bytes.HasPrefix(head, []byte(Magic)) }

// IsFile reports whether the file at p starts with the ELF magic; an
// unreadable file is not ELF.
func IsFile(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len(Magic))
	n, _ := io.ReadFull(f, head)
	return Is(head[:n])
}
