package bundle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/terrapack/terrapack/internal/paths"
)

// Include copies the tree Src into the terrarium at the relative path Dest.
type Include struct{ Src, Dest string }

// ParseInclude parses SRC[:DEST]; DEST defaults to SRC's base name.
func ParseInclude(spec string) (Include, error) {
	src, dest, ok := strings.Cut(spec, ":")
	if !ok {
		dest = filepath.Base(filepath.Clean(src))
	}
	dest = filepath.Clean(dest)
	first, _, _ := strings.Cut(dest, "/")
	switch {
	case src == "":
		return Include{}, fmt.Errorf("bad include %q: empty source", spec)
	case filepath.IsAbs(dest) || first == "." || first == "..":
		return Include{}, fmt.Errorf("bad include %q: destination must be a relative path inside the bundle", spec)
	case first == "lib64" || first == "pbin" || first == "ebin":
		return Include{}, fmt.Errorf("bad include %q: %q is managed by the bundler", spec, first+"/")
	}
	return Include{Src: src, Dest: dest}, nil
}

// include copies inc.Src to inc.Dest, keeping symlinks, and adds the closure
// of every shared object in it.
func (b *bundler) include(inc Include) error {
	src, err := filepath.EvalSymlinks(inc.Src)
	if err != nil {
		return fmt.Errorf("failed to resolve include %q: %w", inc.Src, err)
	}
	dstRoot := filepath.Join(b.out, inc.Dest)
	if err := os.MkdirAll(filepath.Dir(dstRoot), 0o755); err != nil {
		return fmt.Errorf("failed to create %q: %w", filepath.Dir(dstRoot), err)
	}
	n := 0
	copied := b.meter.Start("copying "+inc.Dest, 0, false)
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dstRoot, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			// Owner-writable so the tree can be filled and removed again.
			if err := os.Mkdir(dst, info.Mode().Perm()|0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("failed to create %q: %w", dst, err)
			}
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("failed to read link %q: %w", p, err)
			}
			if !filepath.IsAbs(target) && paths.Within(src, filepath.Join(filepath.Dir(p), target)) {
				if err := os.Symlink(target, dst); err != nil {
					return fmt.Errorf("failed to create link %q: %w", dst, err)
				}
				b.times[dst] = b.mtime(info)
				return nil
			}
			// A link out of the tree (Debian's sitecustomize.py -> /etc/…)
			// would dangle once installed, and installers refuse it: copy
			// what it points to instead.
			st, err := os.Stat(p)
			if err != nil || !st.Mode().IsRegular() {
				fmt.Fprintf(b.log, "skipping %q: a link to %q outside the included tree, not to a file\n", p, target)
				return nil
			}
			if err := b.copyFile(p, dst, st.Mode().Perm()); err != nil {
				return err
			}
			n++
			copied.Add(1)
			return b.sharedObject(p, dst)
		case info.Mode().IsRegular():
			if err := b.copyFile(p, dst, info.Mode().Perm()); err != nil {
				return err
			}
			n++
			copied.Add(1)
			return b.sharedObject(p, dst)
		default:
			fmt.Fprintf(b.log, "skipping special file %q\n", p)
		}
		return nil
	})
	copied.Done()
	if err != nil {
		return fmt.Errorf("failed to include %q: %w", inc.Src, err)
	}
	fmt.Fprintf(b.log, "%s: %d files\n", inc.Dest, n)
	return nil
}
