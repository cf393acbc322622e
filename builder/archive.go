package builder

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/mholt/archives"
)

// unpackArchive extracts the archive file src (tar.gz, tar.xz, tar.zst, zip…)
// into a new folder in workDir. It returns the folder that holds the
// archive's common leading path, and that path as an absolute prefix: what
// `tar czf out.tar.gz $PREFIX` stored.
func unpackArchive(ctx context.Context, src, workDir string) (root, prefix string, err error) {
	f, err := os.Open(src)
	if err != nil {
		return "", "", fmt.Errorf("failed to open %q: %w", src, err)
	}
	defer f.Close()
	format, stream, err := archives.Identify(ctx, filepath.Base(src), f)
	if err != nil {
		return "", "", fmt.Errorf("%q is neither a folder nor a known archive (tar.gz, tar.xz, tar.zst, zip): %w", src, err)
	}
	ex, ok := format.(archives.Extractor)
	if !ok {
		return "", "", fmt.Errorf("%q: cannot extract %s archives", src, format.Extension())
	}
	var names []string
	err = ex.Extract(ctx, stream, func(ctx context.Context, info archives.FileInfo) error {
		name, err := unpackEntry(workDir, info)
		if err != nil {
			return fmt.Errorf("archive %q: %w", src, err)
		}
		if name != "" && !info.IsDir() {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	common := commonDir(names)
	return filepath.Join(workDir, filepath.FromSlash(common)), "/" + common, nil
}

// unpackEntry writes one archive entry below root and returns its clean name.
func unpackEntry(root string, info archives.FileInfo) (string, error) {
	name := path.Clean(strings.TrimPrefix(strings.TrimPrefix(info.NameInArchive, "./"), "/"))
	if name == "." {
		return "", nil
	}
	if name == ".." || strings.HasPrefix(name, "../") {
		return "", fmt.Errorf("entry %q leaves the archive's folder", info.NameInArchive)
	}
	dst := filepath.Join(root, filepath.FromSlash(name))
	if err := realParents(root, name); err != nil {
		return "", err
	}
	mode := info.Mode()
	hdr, _ := info.Header.(*tar.Header)
	switch {
	case info.IsDir():
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return "", err
		}
		return name, os.Chmod(dst, mode.Perm()|0o700)
	case hdr != nil && hdr.Typeflag == tar.TypeLink:
		return name, os.Link(filepath.Join(root, filepath.FromSlash(path.Clean(strings.TrimPrefix(hdr.Linkname, "/")))), dst)
	case mode&fs.ModeSymlink != 0:
		return name, os.Symlink(info.LinkTarget, dst)
	case mode.IsRegular():
		r, err := info.Open()
		if err != nil {
			return "", fmt.Errorf("failed to read %q: %w", name, err)
		}
		defer r.Close()
		w, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm())
		if err != nil {
			return "", err
		}
		if _, err := io.Copy(w, r); err != nil {
			w.Close()
			return "", fmt.Errorf("failed to unpack %q: %w", name, err)
		}
		if err := w.Close(); err != nil {
			return "", err
		}
		return name, os.Chtimes(dst, info.ModTime(), info.ModTime())
	}
	return "", fmt.Errorf("entry %q is a %s: only files, folders and links can be packed", name, kindOf(mode))
}

// realParents creates the parents of name below root, refusing to go
// through a symlink that an earlier entry made.
func realParents(root, name string) error {
	p := root
	for _, part := range strings.Split(path.Dir(name), "/") {
		if part == "." {
			break
		}
		p = filepath.Join(p, part)
		st, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(p, 0o755); err != nil {
				return err
			}
		case err != nil:
			return err
		case !st.IsDir():
			return fmt.Errorf("entry %q would be written through %q, which is not a folder", name, part)
		}
	}
	return nil
}

// commonDir is the longest folder path that every file name lies in.
func commonDir(files []string) string {
	if len(files) == 0 {
		return ""
	}
	common := strings.Split(path.Dir(files[0]), "/")
	for _, n := range files[1:] {
		parts := strings.Split(path.Dir(n), "/")
		i := 0
		for i < len(common) && i < len(parts) && common[i] == parts[i] {
			i++
		}
		common = common[:i]
	}
	if len(common) == 1 && common[0] == "." {
		return ""
	}
	return strings.Join(common, "/")
}
