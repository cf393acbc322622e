package elfscan

import (
	"io"
	"os"
)

// IsELFFile reports whether the file at p starts with the ELF magic; an
// unreadable file is not ELF.
func IsELFFile(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	return IsELF(head[:n])
}
