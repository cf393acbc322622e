package bundle

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
)

// CacheEntry is one library of /etc/ld.so.cache.
type CacheEntry struct {
	Name  string // the key ld.so matches DT_NEEDED against, e.g. "libz.so.1"
	Path  string
	Flags int32  // FLAG_* of glibc's ldconfig: type in the low byte, ABI in the next
	HWCap uint64 // non-zero for hwcaps variants (e.g. glibc-hwcaps/x86-64-v3)
}

const (
	cacheMagicNew = "glibc-ld.so.cache1.1"
	cacheMagicOld = "ld.so-1.7.0"
	// header: magic[17] version[3] nlibs len_strings flags pad[3] extension_offset unused[3]
	cacheHeaderSize = 48
	cacheEntrySize  = 24 // flags key value osversion hwcap
	flagTypeMask    = 0x00ff
	flagELFLibc6    = 0x0003
)

// ParseLDCache decodes the "glibc-ld.so.cache1.1" format (optionally behind
// the old "ld.so-1.7.0" table that glibc < 2.32 also wrote). Entries keep the
// file's order, which is the order ld.so prefers them in.
func ParseLDCache(data []byte) ([]CacheEntry, error) {
	start := 0
	if bytes.HasPrefix(data, []byte(cacheMagicOld)) {
		// The old table is followed by the new one, 8-byte aligned; locating
		// it by magic avoids re-deriving the old layout's padding.
		i := bytes.Index(data, []byte(cacheMagicNew))
		if i < 0 {
			return nil, fmt.Errorf("old-format ld.so.cache without a %q section is not supported", cacheMagicNew)
		}
		start = i
	}
	d := data[start:]
	if !bytes.HasPrefix(d, []byte(cacheMagicNew)) {
		return nil, fmt.Errorf("not an ld.so.cache: missing %q magic", cacheMagicNew)
	}
	if len(d) < cacheHeaderSize {
		return nil, fmt.Errorf("truncated ld.so.cache header: %d bytes", len(d))
	}
	// ldconfig writes in host byte order; the flags' low bits say which
	// (0 unset, 2 little, 3 big).
	var bo binary.ByteOrder = binary.LittleEndian
	if d[28]&3 == 3 {
		bo = binary.BigEndian
	}
	nlibs := uint64(bo.Uint32(d[20:]))
	if cacheHeaderSize+nlibs*cacheEntrySize > uint64(len(d)) {
		return nil, fmt.Errorf("ld.so.cache claims %d entries but has only %d bytes", nlibs, len(d))
	}
	// String offsets are relative to the start of the new-format header.
	str := func(off uint32) (string, error) {
		if uint64(off) >= uint64(len(d)) {
			return "", fmt.Errorf("ld.so.cache string offset %d out of range", off)
		}
		s := d[off:]
		end := bytes.IndexByte(s, 0)
		if end < 0 {
			return "", fmt.Errorf("ld.so.cache string at offset %d is not terminated", off)
		}
		return string(s[:end]), nil
	}
	entries := make([]CacheEntry, 0, nlibs)
	for i := range nlibs {
		e := d[cacheHeaderSize+i*cacheEntrySize:]
		name, err := str(bo.Uint32(e[4:]))
		if err != nil {
			return nil, err
		}
		path, err := str(bo.Uint32(e[8:]))
		if err != nil {
			return nil, err
		}
		entries = append(entries, CacheEntry{Name: name, Path: path, Flags: int32(bo.Uint32(e[0:])), HWCap: bo.Uint64(e[16:])})
	}
	return entries, nil
}

// ldCache maps a library name to its candidate paths, in cache order,
// keeping only baseline glibc entries: hwcaps variants would tie the bundle
// to the build machine's CPU level.
type ldCache map[string][]string

func loadLDCache(file string) (ldCache, error) {
	data, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return ldCache{}, nil // ld.so works without a cache, so do we
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read %q: %w", file, err)
	}
	entries, err := ParseLDCache(data)
	if err != nil {
		return nil, fmt.Errorf("failed to parse %q: %w", file, err)
	}
	c := ldCache{}
	for _, e := range entries {
		// The ABI byte (x86-64, x32, ...) is checked on the file itself later.
		if e.Flags&flagTypeMask == flagELFLibc6 && e.HWCap == 0 {
			c[e.Name] = append(c[e.Name], e.Path)
		}
	}
	return c, nil
}
