package iso

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The media checksum of Red Hat's isomd5sum (implantisomd5, checkisomd5,
// the installers' "media check"): an MD5 of the image, less its last
// mediaSkipSectors and with the primary volume descriptor's application-use
// area read as spaces, plus 20 fragment sums that let a checker stop at the
// first damaged stretch, written as text into that area.
const (
	appUseOffset     = 883 // in the primary volume descriptor
	appUseSize       = 512
	mediaSkipSectors = 15
	fragmentCount    = 20
	fragmentSumChars = 60 // 3 per fragment
	md5ChunkSize     = 16 * sectorSize
	pvdOffset        = systemAreaSectors * sectorSize
)

// ImplantMD5 writes the media checksum into the image f, as implantisomd5
// would on an image whose application-use area holds spaces (Write's
// images do): checkisomd5 then accepts it, and rejects a damaged copy.
func ImplantMD5(f interface {
	io.ReaderAt
	io.WriterAt
}) error {
	size, err := volumeSize(f)
	if err != nil {
		return err
	}
	sum, frags, err := mediaSums(f, size, mediaSkipSectors, fragmentCount)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("ISO MD5SUM = %s;SKIPSECTORS = %d;RHLISOSTATUS=0;FRAGMENT SUMS = %s;FRAGMENT COUNT = %d;THIS IS NOT THE SAME AS RUNNING MD5SUM ON THIS ISO!!",
		sum, mediaSkipSectors, frags, fragmentCount)
	area := bytes.Repeat([]byte{' '}, appUseSize)
	copy(area, text)
	if _, err := f.WriteAt(area, pvdOffset+appUseOffset); err != nil {
		return fmt.Errorf("failed to write the media checksum: %w", err)
	}
	return nil
}

// CheckMD5 checks the media checksum in the image r as checkisomd5 does,
// returning the MD5 it found.
func CheckMD5(r io.ReaderAt) (string, error) {
	size, err := volumeSize(r)
	if err != nil {
		return "", err
	}
	area := make([]byte, appUseSize)
	if _, err := r.ReadAt(area, pvdOffset+appUseOffset); err != nil {
		return "", fmt.Errorf("failed to read the volume descriptor: %w", err)
	}
	fields := map[string]string{}
	for _, f := range strings.Split(string(area), ";") {
		if k, v, ok := strings.Cut(f, "="); ok {
			fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	want := fields["ISO MD5SUM"]
	skip, err1 := strconv.Atoi(fields["SKIPSECTORS"])
	count, err2 := strconv.Atoi(fields["FRAGMENT COUNT"])
	if want == "" || err1 != nil || err2 != nil || count <= 0 || skip < 0 || int64(skip) > size/sectorSize {
		return "", errors.New("the image has no media checksum (implantisomd5 format)")
	}
	sum, frags, err := mediaSums(r, size, int64(skip), count)
	if err != nil {
		return "", err
	}
	if sum != want {
		for i := 0; i < len(frags) && i < len(fields["FRAGMENT SUMS"]); i += fragmentSumChars / count {
			if frags[i:i+fragmentSumChars/count] != fields["FRAGMENT SUMS"][i:min(i+fragmentSumChars/count, len(fields["FRAGMENT SUMS"]))] {
				return "", fmt.Errorf("media checksum mismatch: the image is damaged in its fragment %d of %d (MD5 %s, recorded %s)", i/(fragmentSumChars/count)+1, count+1, sum, want)
			}
		}
		return "", fmt.Errorf("media checksum mismatch: MD5 %s, recorded %s", sum, want)
	}
	return sum, nil
}

// volumeSize reads the image size from the primary volume descriptor.
func volumeSize(r io.ReaderAt) (int64, error) {
	pvd := make([]byte, sectorSize)
	if _, err := r.ReadAt(pvd, pvdOffset); err != nil {
		return 0, fmt.Errorf("failed to read the primary volume descriptor: %w", err)
	}
	if pvd[0] != vdPrimary || string(pvd[1:6]) != "CD001" {
		return 0, errors.New("no primary volume descriptor at sector 16")
	}
	return int64(binary.BigEndian.Uint32(pvd[84:])) * sectorSize, nil
}

// mediaSums computes the MD5 and the fragment sums as isomd5sum does:
// reading in 32 KiB chunks, a fragment's sum is taken from the running
// MD5 after the chunk that starts in a new fragment, and is the first hex
// digit of each of its first three bytes (printed without a leading zero).
func mediaSums(r io.ReaderAt, size, skip int64, count int) (sum, frags string, err error) {
	total := size - skip*sectorSize
	fragSize := total / int64(count+1)
	if fragSize <= 0 {
		return "", "", errors.New("image too small for a media checksum")
	}
	per := fragmentSumChars / count
	h := md5.New()
	fs := bytes.Repeat([]byte{'0'}, per*count)
	buf := make([]byte, md5ChunkSize)
	appUse := int64(pvdOffset + appUseOffset)
	prev := int64(0)
	for off := int64(0); off < total; {
		chunk := buf[:min(total-off, md5ChunkSize)]
		if _, err := r.ReadAt(chunk, off); err != nil {
			return "", "", fmt.Errorf("failed to read the image at %d: %w", off, err)
		}
		// The application-use area counts as spaces: it holds the result.
		for i := max(appUse, off); i < min(appUse+appUseSize, off+int64(len(chunk))); i++ {
			chunk[i-off] = ' '
		}
		h.Write(chunk)
		if cur := off / fragSize; cur != prev && cur <= int64(count) {
			d := h.Sum(nil)
			for i := 0; i < per; i++ {
				x := d[i]
				if x >= 16 {
					x >>= 4
				}
				fs[(cur-1)*int64(per)+int64(i)] = "0123456789abcdef"[x]
			}
			prev = cur
		}
		off += int64(len(chunk))
	}
	return hex.EncodeToString(h.Sum(nil)), string(fs), nil
}
