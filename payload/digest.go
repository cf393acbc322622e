package payload

import (
	"archive/tar"
	"encoding/hex"
	"fmt"
	"strings"
)

// The builder stores the SHA-256 of each regular file's content, as packed,
// in the file's PAX "comment" record, which tar programs ignore without a
// word (GNU tar warns about every unknown keyword). The installer copies it
// into .terrapack/files instead of hashing every file again: the whole-file
// checksum, checked before the install commits, vouches for it. Only files
// that relocation changes are hashed at install.
const (
	paxComment   = "comment"
	sha256Prefix = "terrapack.sha256="
)

// SetRecordedSHA256 stores sum in hdr's PAX records.
func SetRecordedSHA256(hdr *tar.Header, sum []byte) {
	if hdr.PAXRecords == nil {
		hdr.PAXRecords = map[string]string{}
	}
	hdr.PAXRecords[paxComment] = sha256Prefix + hex.EncodeToString(sum)
}

// recordedSHA256 returns the hash the builder recorded for hdr, or nil for a
// payload made without one.
func recordedSHA256(hdr *tar.Header) ([]byte, error) {
	v, ok := strings.CutPrefix(hdr.PAXRecords[paxComment], sha256Prefix)
	if !ok {
		return nil, nil
	}
	sum, err := hex.DecodeString(v)
	if err != nil || len(sum) != 32 {
		return nil, &EntryError{hdr.Name, fmt.Sprintf("malformed SHA-256 record %q", v)}
	}
	return sum, nil
}
