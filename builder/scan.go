package builder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/terrapack/terrapack/meter"
	"github.com/terrapack/terrapack/payload"
)

// entry is one item of the source tree, in payload order.
type entry struct {
	name     string // slash-separated, relative to the source
	hostPath string
	info     fs.FileInfo
	link     string // symlink target, or the first name of a hard-linked file
	hardlink bool
}

// ConfigFile is the per-source options file; it is never packed.
const ConfigFile = "terrapack.yaml"

// scan walks src in sorted order and refuses what cannot be installed, naming
// the offending path. skip lists host paths to leave out (the output file).
func scan(src string, scanned meter.Meter, skip ...string) ([]entry, error) {
	var entries []entry
	type inode struct{ dev, ino uint64 }
	firstName := map[inode]string{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				return fmt.Errorf("cannot read %q: permission denied (fix its permissions or run as a user who can read it)", p)
			}
			return fmt.Errorf("failed to read %q: %w", p, err)
		}
		if p == src {
			return nil
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		for _, s := range skip {
			if p == s {
				return nil
			}
		}
		if name == ConfigFile {
			return nil
		}
		if name == payload.MetaDir {
			// The record of an earlier install: packing it would make the
			// installer refuse its own payload.
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("failed to stat %q: %w", p, err)
		}
		e := entry{name: name, hostPath: p, info: info}
		switch mode := info.Mode(); {
		case mode.IsDir():
		case mode.IsRegular():
			f, err := os.Open(p)
			if err != nil {
				if errors.Is(err, fs.ErrPermission) {
					return fmt.Errorf("cannot read %q: permission denied (fix its permissions or remove it from the source)", p)
				}
				return fmt.Errorf("failed to open %q: %w", p, err)
			}
			f.Close()
			if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
				key := inode{uint64(st.Dev), st.Ino}
				if first, seen := firstName[key]; seen {
					e.link, e.hardlink = first, true
				} else {
					firstName[key] = name
				}
			}
		case mode&fs.ModeSymlink != 0:
			if e.link, err = os.Readlink(p); err != nil {
				return fmt.Errorf("failed to read symlink %q: %w", p, err)
			}
		default:
			return fmt.Errorf("%q is a %s: only files, directories and symlinks can be packed (remove it from the source)", p, kindOf(mode))
		}
		entries = append(entries, e)
		scanned.Add(1)
		return nil
	})
	return entries, err
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}

// clamp returns t truncated to seconds and no later than epoch, if set.
func clamp(t time.Time, epoch *time.Time) time.Time {
	t = t.Truncate(time.Second)
	if epoch != nil && t.After(*epoch) {
		return *epoch
	}
	return t
}

// contentSize is the sum of the regular files' sizes, what compression reads.
func contentSize(entries []entry) int64 {
	var n int64
	for _, e := range entries {
		if e.info.Mode().IsRegular() && !e.hardlink {
			n += e.info.Size()
		}
	}
	return n
}
