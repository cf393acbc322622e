// Package iso writes ISO 9660 images with Rock Ridge and Joliet
// extensions, streaming file data straight from its source.
//
// The caller lists every entry with its size up front; Write computes the
// whole layout, then writes the image in one pass, opening each file only
// when its data is due and copying it through a 1 MiB buffer. Memory use
// depends on the number of entries, not on file sizes.
//
// The image holds:
//
//   - a primary volume descriptor with level 2 style identifiers
//     (uppercase d-characters, made unique per directory) and Rock Ridge
//     (RRIP 1991A) entries carrying real names, POSIX modes, times and
//     symlinks;
//
//   - a Joliet supplementary volume descriptor (UCS-2 level 3) whose tree
//     holds the real names, shortened to 64 characters where needed;
//     symlinks exist only in the Rock Ridge view;
//
//   - L and M path tables for both trees;
//
//   - files of 4 GiB and more as multi-extent files (interchange level 3).
//
//   - 15 sectors of padding at the end and spaces in the primary
//     descriptor's application-use area, where ImplantMD5 then writes the
//     media checksum of isomd5sum (checkisomd5).
//
// Output is deterministic: entries are sorted, the only date recorded
// is Options.ModTime, and equal inputs give byte-identical images.
// Directories deeper than 8 levels are recorded as they are, without
// Rock Ridge relocation; Linux, libisofs and 7-Zip read them.
package iso

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// Options controls image-wide settings.
type Options struct {
	// Label is the volume label. The primary descriptor records it as up
	// to 32 uppercase d-characters, Joliet as up to 16 characters as
	// given. "" means "CDROM".
	Label string
	// ModTime is recorded as every date in the image; the zero value
	// means 1980-01-01 00:00:00 UTC. Sub-second precision is dropped.
	ModTime time.Time
	// ExtentSize is the largest extent of one file, a multiple of 2048;
	// larger files become multi-extent files. 0 means the ISO 9660 maximum,
	// 4 GiB - 2 KiB; smaller values let readers' multi-extent support be
	// tested with small files.
	ExtentSize int64
}

// Entry is one item to place in the image.
type Entry struct {
	// Path is the location in the image, '/'-separated and without a
	// leading '/'. Missing parent directories are created with mode 0755.
	Path string
	// Mode selects the type (fs.ModeDir, fs.ModeSymlink or none for a
	// regular file); permission, setuid, setgid and sticky bits are
	// recorded in Rock Ridge.
	Mode fs.FileMode
	// Size is the exact length of a regular file.
	Size int64
	// Target is the destination of a symlink.
	Target string
	// Open returns the content of a regular file; it is called once,
	// when the file's data is written, and must deliver exactly Size
	// bytes. It may be nil for empty files.
	Open func() (io.ReadCloser, error)
}

// FromFile returns an Entry at imagePath for the host regular file,
// symlink or directory at hostPath (not followed if it is a symlink).
// A regular file is opened only when Write reaches its data.
func FromFile(imagePath, hostPath string) (Entry, error) {
	fi, err := os.Lstat(hostPath)
	if err != nil {
		return Entry{}, fmt.Errorf("failed to stat %q: %w", hostPath, err)
	}
	e := Entry{Path: imagePath, Mode: fi.Mode()}
	switch {
	case fi.Mode().IsRegular():
		e.Size = fi.Size()
		e.Open = func() (io.ReadCloser, error) { return os.Open(hostPath) }
	case fi.Mode()&fs.ModeSymlink != 0:
		if e.Target, err = os.Readlink(hostPath); err != nil {
			return Entry{}, fmt.Errorf("failed to read symlink %q: %w", hostPath, err)
		}
	case fi.IsDir():
	default:
		return Entry{}, fmt.Errorf("unsupported file type %v of %q", fi.Mode().Type(), hostPath)
	}
	return e, nil
}

// copyBufferSize is the write buffer; large so that file data moves in
// big chunks.
const copyBufferSize = 1 << 20

// Write lays out the image of entries and streams it to w.
func Write(w io.Writer, opts Options, entries []Entry) error {
	l, err := newLayout(opts, entries)
	if err != nil {
		return err
	}
	iw := &imageWriter{w: bufio.NewWriterSize(w, copyBufferSize)}
	if err := l.write(iw); err != nil {
		return err
	}
	if err := iw.w.Flush(); err != nil {
		return fmt.Errorf("failed to write image: %w", err)
	}
	return nil
}

// imageWriter tracks the output offset so that every structure lands
// where the layout placed it.
type imageWriter struct {
	w   *bufio.Writer
	off int64
}

var zeros [sectorSize]byte

func (iw *imageWriter) write(b []byte) error {
	n, err := iw.w.Write(b)
	iw.off += int64(n)
	if err != nil {
		return fmt.Errorf("failed to write image: %w", err)
	}
	return nil
}

// padTo writes zeros up to offset off.
func (iw *imageWriter) padTo(off int64) error {
	if off < iw.off {
		return fmt.Errorf("internal layout error: offset %d already passed (at %d)", off, iw.off)
	}
	for iw.off < off {
		if err := iw.write(zeros[:min(off-iw.off, sectorSize)]); err != nil {
			return err
		}
	}
	return nil
}

// at pads to sector lba plus offset.
func (iw *imageWriter) at(lba, offset uint32) error {
	return iw.padTo(int64(lba)*sectorSize + int64(offset))
}

func (l *layout) write(iw *imageWriter) error {
	if err := iw.at(systemAreaSectors, 0); err != nil {
		return err
	}
	primary := &descriptor{kind: vdPrimary, text: putASCII, label: isoLabel(l.label),
		tree: l.primary, sectors: l.sectors, recorded: l.time}
	joliet := &descriptor{kind: vdSupplementary, text: putUCS2, label: l.label, escape: jolietEscape,
		tree: l.joliet, sectors: l.sectors, recorded: l.time}
	for _, b := range [][]byte{primary.encode(), joliet.encode(), terminator()} {
		if err := iw.write(b); err != nil {
			return err
		}
	}
	for _, tr := range []*tree{l.primary, l.joliet} {
		if err := iw.at(tr.lPathLBA, 0); err != nil {
			return err
		}
		if err := iw.write(tr.pathTable(binary.LittleEndian)); err != nil {
			return err
		}
		if err := iw.at(tr.mPathLBA, 0); err != nil {
			return err
		}
		if err := iw.write(tr.pathTable(binary.BigEndian)); err != nil {
			return err
		}
	}
	if err := l.writeDirs(iw, l.primary); err != nil {
		return err
	}
	for _, su := range l.ceAreas {
		for i, a := range su.areas {
			if err := iw.at(a.lba, a.offset); err != nil {
				return err
			}
			if err := iw.write(su.encodeArea(i)); err != nil {
				return err
			}
		}
	}
	if err := l.writeDirs(iw, l.joliet); err != nil {
		return err
	}
	for _, f := range l.files {
		if err := iw.at(f.dataLBA, 0); err != nil {
			return err
		}
		if err := iw.copyFile(f); err != nil {
			return err
		}
	}
	return iw.at(l.sectors, 0)
}

func (l *layout) writeDirs(iw *imageWriter, tr *tree) error {
	for _, d := range tr.dirs {
		if err := iw.at(d.lba, 0); err != nil {
			return err
		}
		if err := iw.write(tr.encodeDir(d, l.time)); err != nil {
			return err
		}
	}
	return nil
}

// copyFile streams the data of f and checks that it has exactly the
// declared size.
func (iw *imageWriter) copyFile(f *node) (err error) {
	rc, err := f.open()
	if err != nil {
		return fmt.Errorf("failed to open %q: %w", f.path, err)
	}
	defer func() {
		if cerr := rc.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("failed to close %q: %w", f.path, cerr)
		}
	}()
	n, err := io.Copy(iw.w, io.LimitReader(rc, f.size))
	iw.off += n
	if err != nil {
		return fmt.Errorf("failed to copy %q into the image: %w", f.path, err)
	}
	if n < f.size {
		return fmt.Errorf("failed to read %q: got %d bytes, declared size is %d", f.path, n, f.size)
	}
	var extra [1]byte
	switch _, err := io.ReadFull(rc, extra[:]); {
	case err == nil:
		return fmt.Errorf("failed to read %q: more data than the declared size of %d bytes", f.path, f.size)
	case !errors.Is(err, io.EOF):
		return fmt.Errorf("failed to read %q: %w", f.path, err)
	}
	return nil
}
