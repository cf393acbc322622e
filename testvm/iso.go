package testvm

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
)

const isoSector = 2048

// isoRootFiles lists the names of the regular files at the root of an
// ISO 9660 image, preferring Rock Ridge names (what Linux shows) over the
// plain ISO names (then lowercased and stripped of ";1", like Linux's
// map=normal).
func isoRootFiles(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open disc image: %w", err)
	}
	defer f.Close()
	pvd := make([]byte, isoSector)
	if _, err := f.ReadAt(pvd, 16*isoSector); err != nil {
		return nil, fmt.Errorf("read disc image %q: %w", path, err)
	}
	if pvd[0] != 1 || string(pvd[1:6]) != "CD001" {
		return nil, fmt.Errorf("%q is not an ISO 9660 image (no primary volume descriptor)", path)
	}
	root := pvd[156 : 156+34]
	lba := binary.LittleEndian.Uint32(root[2:])
	size := binary.LittleEndian.Uint32(root[10:])
	if size > 64<<20 {
		return nil, fmt.Errorf("disc image %q: root directory too large", path)
	}
	dir := make([]byte, size)
	if _, err := f.ReadAt(dir, int64(lba)*isoSector); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read disc image %q root directory: %w", path, err)
	}
	var names []string
	skip := 0 // SUSP skip length from the SP entry of "."
	first := true
	for off := 0; off < len(dir); {
		n := int(dir[off])
		if n == 0 {
			off = (off/isoSector + 1) * isoSector // records don't cross sectors
			continue
		}
		if n < 34 || off+n > len(dir) {
			break
		}
		rec := dir[off : off+n]
		off += n
		nameLen := int(rec[32])
		if 33+nameLen > len(rec) {
			continue
		}
		isoName := string(rec[33 : 33+nameLen])
		suStart := 33 + nameLen
		if nameLen%2 == 0 {
			suStart++
		}
		var su []byte
		if suStart < len(rec) {
			su = rec[suStart:]
		}
		if first {
			first = false
			if len(su) >= 7 && string(su[0:2]) == "SP" {
				skip = int(su[6])
			}
			continue
		}
		if nameLen == 1 && (isoName == "\x00" || isoName == "\x01") {
			continue
		}
		if rec[25]&0x02 != 0 { // directory
			continue
		}
		if skip < len(su) {
			su = su[skip:]
		} else {
			su = nil
		}
		name := rockRidgeName(su)
		if name == "" {
			name = strings.ToLower(isoName)
			if i := strings.IndexByte(name, ';'); i >= 0 {
				name = name[:i]
			}
			name = strings.TrimSuffix(name, ".")
		}
		names = append(names, name)
	}
	return names, nil
}

// rockRidgeName reads the (possibly continued) NM entries of a system use
// area.
func rockRidgeName(su []byte) string {
	var name strings.Builder
	for len(su) >= 4 {
		l := int(su[2])
		if l < 4 || l > len(su) {
			break
		}
		if string(su[0:2]) == "NM" && l >= 5 {
			flags := su[4]
			if flags&0x06 == 0 { // not "." / ".."
				name.Write(su[5:l])
			}
		}
		if string(su[0:2]) == "ST" {
			break
		}
		su = su[l:]
	}
	return name.String()
}

// findInstaller returns the single "*.run" file at the ISO root.
func findInstaller(iso string) (string, error) {
	names, err := isoRootFiles(iso)
	if err != nil {
		return "", err
	}
	var runs []string
	for _, n := range names {
		if strings.HasSuffix(n, ".run") && len(n) > len(".run") {
			runs = append(runs, n)
		}
	}
	switch len(runs) {
	case 0:
		return "", fmt.Errorf("no *.run installer at the root of %q (files: %s)", iso, strings.Join(names, ", "))
	case 1:
		return runs[0], nil
	default:
		return "", fmt.Errorf("several *.run installers at the root of %q: %s", iso, strings.Join(runs, ", "))
	}
}

// defaultTo is the install folder used when Config.To is empty: /opt/NAME for
// the installer NAME.run.
func defaultTo(installer string) string {
	name := strings.TrimSuffix(installer, ".run")
	if name == "" {
		name = "app"
	}
	return "/opt/" + name
}
