package payload

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/terrapack/terrapack/internal/paths"

	"golang.org/x/sys/unix"
)

// MetaDir is the folder inside an install that terrapack owns.
const MetaDir = ".terrapack"

// Rewriter changes entries while they are extracted (relocation).
type Rewriter interface {
	// File says how to write regular file name; the zero FileRewrite keeps it as is.
	File(name string) (FileRewrite, error)
	// Symlink returns the target to write for symlink name.
	Symlink(name, target string) (string, error)
}

// FileRewrite changes one regular file.
type FileRewrite struct {
	Wrap  func(w io.Writer) io.WriteCloser    // rewrites the stream; Close flushes
	Patch func(f *os.File, name string) error // in-place edits after writing
}

// Record describes one extracted entry, for the installed-file list.
type Record struct {
	Name   string
	Type   byte // tar type flag
	Mode   fs.FileMode
	Size   int64
	SHA256 []byte // regular files
	Link   string // symlink target or hard link source
}

// Extractor writes a tar stream into Root, refusing anything that could land
// outside it. Entries are checked against what was already extracted, never
// against the file system, so a symlink in the payload can never redirect a
// later write.
type Extractor struct {
	Root      string       // the (temporary) folder to fill; must exist and be empty
	FinalRoot string       // where Root will be renamed to; absolute symlinks may point inside it
	DryRun    bool         // validate and hash only, write nothing
	Rewrite   Rewriter     // may be nil
	OnEntry   func(Record) // called after each entry, may be nil

	kinds map[string]byte // entry name → tar type flag of what is there
	dirs  []dirMeta
	buf   []byte
	hash  hash.Hash
}

type dirMeta struct {
	name  string
	mode  fs.FileMode
	mtime time.Time
}

// EntryError reports a payload entry that is refused.
type EntryError struct {
	Name string
	Msg  string
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("refusing payload entry %q: %s", e.Name, e.Msg)
}

// Extract reads every entry of tr. On error the caller removes Root.
func (x *Extractor) Extract(ctx context.Context, tr *tar.Reader) error {
	x.kinds = map[string]byte{".": tar.TypeDir}
	x.buf = make([]byte, 1<<20)
	x.hash = sha256.New()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("failed to read payload: %w", err)
		}
		if err := x.entry(ctx, tr, hdr); err != nil {
			return err
		}
	}
	return x.finishDirs()
}

func (x *Extractor) entry(ctx context.Context, tr *tar.Reader, hdr *tar.Header) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil // the root's own entry: the target keeps its own mode
	}
	if _, dup := x.kinds[name]; dup && !(hdr.Typeflag == tar.TypeDir && x.kinds[name] == tar.TypeDir) {
		return &EntryError{name, "appears twice"}
	}
	if err := x.parents(name); err != nil {
		return err
	}
	mode := fs.FileMode(hdr.Mode) & fs.ModePerm
	rec := Record{Name: name, Type: hdr.Typeflag, Mode: mode}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := x.mkdir(name); err != nil {
			return err
		}
		x.dirs = append(x.dirs, dirMeta{name, mode, hdr.ModTime})
	case tar.TypeReg:
		if err := x.file(ctx, tr, hdr, &rec); err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := x.symlink(hdr, &rec); err != nil {
			return err
		}
	case tar.TypeLink:
		if err := x.hardlink(hdr, &rec); err != nil {
			return err
		}
	case tar.TypeChar, tar.TypeBlock:
		return &EntryError{name, "device nodes are never installed"}
	default:
		return &EntryError{name, fmt.Sprintf("unsupported entry type %q (only files, directories, symlinks and hard links)", hdr.Typeflag)}
	}
	if x.OnEntry != nil {
		x.OnEntry(rec)
	}
	return nil
}

// cleanName turns a tar name into a clean relative path, refusing absolute
// paths, "..", and aliases such as "a//b" or "a/./b".
func cleanName(raw string) (string, error) {
	n := strings.TrimPrefix(raw, "./")
	n = strings.TrimSuffix(n, "/")
	if n == "" || n == "." {
		return ".", nil
	}
	switch {
	case strings.HasPrefix(n, "/"):
		return "", &EntryError{raw, "absolute path"}
	case n == ".." || strings.HasPrefix(n, "../") || strings.Contains(n, "/../") || strings.HasSuffix(n, "/.."):
		return "", &EntryError{raw, `path contains ".."`}
	case path.Clean(n) != n:
		return "", &EntryError{raw, "path is not clean"}
	case n == MetaDir || strings.HasPrefix(n, MetaDir+"/"):
		return "", &EntryError{raw, MetaDir + "/ is reserved for terrapack's own records"}
	}
	return n, nil
}

// parents makes sure every parent of name is a real directory of the payload,
// creating missing ones.
func (x *Extractor) parents(name string) error {
	dir := path.Dir(name)
	if x.kinds[dir] == tar.TypeDir {
		return nil
	}
	if k, ok := x.kinds[dir]; ok {
		what := "a file"
		if k == tar.TypeSymlink {
			what = "a symlink"
		}
		return &EntryError{name, fmt.Sprintf("its parent %q is %s", dir, what)}
	}
	if err := x.parents(dir); err != nil {
		return err
	}
	return x.mkdir(dir)
}

func (x *Extractor) mkdir(name string) error {
	if x.kinds[name] == tar.TypeDir {
		return nil
	}
	x.kinds[name] = tar.TypeDir
	if x.DryRun {
		return nil
	}
	// Owner-writable while filling; the payload's mode is applied at the end.
	if err := os.Mkdir(x.path(name), 0o755); err != nil {
		return fmt.Errorf("failed to create directory %q: %w", name, err)
	}
	return nil
}

func (x *Extractor) file(ctx context.Context, tr *tar.Reader, hdr *tar.Header, rec *Record) error {
	var rw FileRewrite
	if x.Rewrite != nil {
		var err error
		if rw, err = x.Rewrite.File(rec.Name); err != nil {
			return err
		}
	}
	x.kinds[rec.Name] = tar.TypeReg
	x.hash.Reset()
	var dst io.Writer = x.hash
	var f *os.File
	if !x.DryRun {
		var err error
		flags := os.O_WRONLY
		if rw.Patch != nil {
			flags = os.O_RDWR // patched files are read back to hash them
		}
		f, err = os.OpenFile(x.path(rec.Name), flags|os.O_CREATE|os.O_EXCL, rec.Mode)
		if err != nil {
			return fmt.Errorf("failed to create %q: %w", rec.Name, err)
		}
		defer f.Close()
		dst = io.MultiWriter(f, x.hash)
	}
	counted := &CountingWriter{W: dst}
	var w io.Writer = counted
	var wc io.WriteCloser
	if rw.Wrap != nil { // also in a dry run: the hash is of what would be written
		wc = rw.Wrap(counted)
		w = wc
	}
	if err := copyCtx(ctx, w, tr, x.buf); err != nil {
		return fmt.Errorf("failed to extract %q: %w", rec.Name, err)
	}
	if wc != nil {
		if err := wc.Close(); err != nil {
			return fmt.Errorf("failed to rewrite %q: %w", rec.Name, err)
		}
	}
	rec.Size = counted.N
	if f != nil {
		if rw.Patch != nil {
			if err := rw.Patch(f, rec.Name); err != nil {
				return err
			}
			if err := rehash(f, x.hash, x.buf); err != nil {
				return fmt.Errorf("failed to read back %q: %w", rec.Name, err)
			}
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("failed to write %q: %w", rec.Name, err)
		}
		// By path: unix.Futimes goes through /proc, which may not be mounted.
		if err := setTime(x.path(rec.Name), hdr.ModTime, 0); err != nil {
			return fmt.Errorf("failed to set time of %q: %w", rec.Name, err)
		}
	}
	rec.SHA256 = x.hash.Sum(nil)
	return nil
}

func (x *Extractor) symlink(hdr *tar.Header, rec *Record) error {
	target := hdr.Linkname
	if x.Rewrite != nil {
		var err error
		if target, err = x.Rewrite.Symlink(rec.Name, target); err != nil {
			return err
		}
	}
	if target == "" {
		return &EntryError{rec.Name, "symlink with an empty target"}
	}
	if path.IsAbs(target) {
		if x.FinalRoot == "" || !paths.Within(x.FinalRoot, target) {
			return &EntryError{rec.Name, fmt.Sprintf("symlink to %q points outside the install", target)}
		}
	} else if !paths.Within(".", path.Join(path.Dir(rec.Name), target)) {
		return &EntryError{rec.Name, fmt.Sprintf("symlink to %q leaves the install", target)}
	}
	x.kinds[rec.Name] = tar.TypeSymlink
	rec.Link = target
	if x.DryRun {
		return nil
	}
	p := x.path(rec.Name)
	if err := os.Symlink(target, p); err != nil {
		return fmt.Errorf("failed to create symlink %q: %w", rec.Name, err)
	}
	if err := setTime(p, hdr.ModTime, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("failed to set time of symlink %q: %w", rec.Name, err)
	}
	return nil
}

func (x *Extractor) hardlink(hdr *tar.Header, rec *Record) error {
	src, err := cleanName(hdr.Linkname)
	if err != nil {
		return &EntryError{rec.Name, fmt.Sprintf("hard link source: %v", err)}
	}
	if x.kinds[src] != tar.TypeReg {
		return &EntryError{rec.Name, fmt.Sprintf("hard link to %q, which is not a file extracted before it", hdr.Linkname)}
	}
	x.kinds[rec.Name] = tar.TypeLink
	rec.Link = src
	if x.DryRun {
		return nil
	}
	if err := os.Link(x.path(src), x.path(rec.Name)); err != nil {
		return fmt.Errorf("failed to create hard link %q: %w", rec.Name, err)
	}
	return nil
}

// finishDirs applies directory modes and times, deepest first, once nothing
// more will be written into them.
func (x *Extractor) finishDirs() error {
	if x.DryRun {
		return nil
	}
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		p := x.path(d.name)
		if err := os.Chmod(p, d.mode); err != nil {
			return fmt.Errorf("failed to set mode of %q: %w", d.name, err)
		}
		if err := os.Chtimes(p, d.mtime, d.mtime); err != nil {
			return fmt.Errorf("failed to set time of %q: %w", d.name, err)
		}
	}
	return nil
}

func (x *Extractor) path(name string) string { return filepath.Join(x.Root, filepath.FromSlash(name)) }

func copyCtx(ctx context.Context, w io.Writer, r io.Reader, buf []byte) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func setTime(p string, t time.Time, flags int) error {
	ts := unix.NsecToTimespec(t.UnixNano())
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, flags)
}

func rehash(f *os.File, h hash.Hash, buf []byte) error {
	h.Reset()
	_, err := io.CopyBuffer(h, io.NewSectionReader(f, 0, 1<<62), buf)
	return err
}

// CountingWriter passes writes to W and counts the bytes written in N.
type CountingWriter struct {
	W io.Writer
	N int64
}

func (c *CountingWriter) Write(p []byte) (int, error) {
	n, err := c.W.Write(p)
	c.N += int64(n)
	return n, err
}

// IsRefusal reports whether err is a refused payload entry.
func IsRefusal(err error) bool {
	var e *EntryError
	return errors.As(err, &e)
}
