package iso

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/kdomanski/iso9660"
)

// This file reads images, with github.com/kdomanski/iso9660 rather than
// with the writer's own code, so that what a check or a test reads back
// does not share the writer's mistakes.

// ReadFiles lists every regular file of the image f by slash path, read
// with github.com/kdomanski/iso9660 (Rock Ridge names where present).
func ReadFiles(f *os.File) (map[string]*File, error) {
	img, err := iso9660.OpenImage(f)
	if err != nil {
		return nil, fmt.Errorf("failed to read image %q: %w", f.Name(), err)
	}
	root, err := img.RootDir()
	if err != nil {
		return nil, fmt.Errorf("failed to read root folder of %q: %w", f.Name(), err)
	}
	files := map[string]*File{}
	if err := collect(root, "", files); err != nil {
		return nil, err
	}
	return files, nil
}

// File is a regular file on the disc: one extent, or the consecutive
// records of a multi-extent file (4 GiB and more), which the reader lists
// as files of the same name.
type File struct {
	parts []*io.SectionReader
	size  int64
}

// Size is the file's length in bytes.
func (d *File) Size() int64 { return d.size }

// Reader reads the whole file, across its extents.
func (d *File) Reader() *io.SectionReader {
	if len(d.parts) == 1 {
		return d.parts[0]
	}
	return io.NewSectionReader(extents(d.parts), 0, d.size)
}

// extents reads consecutive parts as one.
type extents []*io.SectionReader

func (e extents) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for _, part := range e {
		if len(p) == 0 {
			break
		}
		if off >= part.Size() {
			off -= part.Size()
			continue
		}
		k, err := part.ReadAt(p[:min(int64(len(p)), part.Size()-off)], off)
		n += k
		if err != nil && err != io.EOF {
			return n, err
		}
		p, off = p[k:], 0
	}
	if len(p) > 0 {
		return n, io.EOF
	}
	return n, nil
}

// collect maps the slash paths of every regular file below dir.
func collect(dir *iso9660.File, prefix string, out map[string]*File) error {
	children, err := dir.GetChildren()
	if err != nil {
		return fmt.Errorf("failed to list %q on the disc: %w", prefix+"/", err)
	}
	last := ""
	for _, c := range children {
		name := prefix + c.Name()
		switch {
		case c.IsDir():
			if err := collect(c, name+"/", out); err != nil {
				return err
			}
		case c.Mode().IsRegular():
			part, ok := c.Reader().(*io.SectionReader)
			if !ok {
				return fmt.Errorf("cannot read %s on the disc at random offsets", name)
			}
			if d := out[name]; d != nil {
				if name != last {
					return errors.New("duplicate file " + name + " on the disc")
				}
				d.parts = append(d.parts, part)
				d.size += part.Size()
				continue
			}
			out[name] = &File{parts: []*io.SectionReader{part}, size: part.Size()}
		}
		last = name
	}
	return nil
}
