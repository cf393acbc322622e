package payload

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/terrapack/terrapack/internal/paths"
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
	// Check, if set, validates the rewrite against the entry's size before
	// anything of the file is written (a plan's offsets must lie inside it).
	Check func(size int64) error
	// Expect lists bytes the file must hold as packed: what Wrap and Patch
	// assume. They are compared as the file streams in, dry runs included.
	Expect []Expect
	Wrap   func(w io.Writer) io.WriteCloser    // rewrites the stream; Close flushes
	Patch  func(f *os.File, name string) error // in-place edits after writing
}

// Expect is a run of bytes at an offset of a file.
type Expect struct {
	Offset int64
	Bytes  []byte
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

// Extractor writes a tar stream into Root and refuses anything that could
// land, or point, outside it.
//
// Two guards hold. Entries are checked against a model of what was already
// extracted, never against the file system: a name whose parent is not a
// folder of the payload, a duplicate, a hard link to anything but an earlier
// file are refused. And every write goes through a descriptor that the kernel
// resolved beneath Root with symlinks forbidden (see beneath), so even a
// mistake in the model cannot write elsewhere.
//
// Symlinks are checked once the whole tree is known, since a later entry
// can change where an earlier link leads: every link is followed through the
// model as the kernel would follow it in the installed tree, and one that
// climbs above the root at any step, or is absolute, is refused. A component
// that the payload does not hold is taken as a folder the software may create
// later, so a dangling link is accepted only when it would stay inside even
// then ("missing/../x" is inside, "missing/../../x" is not). A loop of links
// inside the tree cannot leave it and is accepted.
type Extractor struct {
	Root    string       // the (temporary) folder to fill; must exist and be empty
	DryRun  bool         // validate and hash only, write nothing
	Rewrite Rewriter     // may be nil
	OnEntry func(Record) // called after each entry, may be nil
	// Hook, if set, must name a regular executable file of the payload.
	Hook string
	// Announced, if set, is the manifest: the payload may not hold more
	// entries or bytes of regular files than it says (the space check counted
	// them).
	Announced *Manifest

	nodes   map[string]node // entry name → what is there
	links   []string        // symlink names, in payload order
	dirs    []dirMeta
	buf     []byte
	hash    hash.Hash
	fs      *beneath
	entries int64
	bytes   int64
	// forceFallback makes the extractor use os.Root as on kernels without
	// openat2 (tests).
	forceFallback bool
}

type node struct {
	kind byte // tar type flag: TypeDir, TypeReg, TypeSymlink, TypeLink
	mode fs.FileMode
	link string // symlink target; hard link source
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
func (x *Extractor) Extract(ctx context.Context, tr *TarReader) error {
	x.nodes = map[string]node{".": {kind: tar.TypeDir}}
	x.buf = make([]byte, 1<<20)
	x.hash = sha256.New()
	if !x.DryRun {
		b, err := openBeneath(x.Root, x.forceFallback)
		if err != nil {
			return fmt.Errorf("failed to open %q: %w", x.Root, err)
		}
		x.fs = b
		defer b.close()
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return payloadError(err)
		}
		if err := x.entry(ctx, tr, hdr); err != nil {
			return err
		}
	}
	if err := x.checkLinks(); err != nil {
		return err
	}
	if err := x.checkHook(); err != nil {
		return err
	}
	return x.finishDirs()
}

// payloadError reports a payload that cannot be read as a tar stream:
// damaged compression or tar structure.
func payloadError(err error) error {
	return Malformed("payload", "not a readable tar stream: %v", err)
}

func (x *Extractor) entry(ctx context.Context, tr *TarReader, hdr *tar.Header) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil // the root's own entry: the target keeps its own mode
	}
	if err := x.count(name, hdr); err != nil {
		return err
	}
	if n, dup := x.nodes[name]; dup && !(hdr.Typeflag == tar.TypeDir && n.kind == tar.TypeDir) {
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

// count refuses entries beyond what the manifest announced, and sparse files
// (their holes would write more than the payload holds).
func (x *Extractor) count(name string, hdr *tar.Header) error {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return &EntryError{name, "sparse files are not part of the format"}
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return &EntryError{name, "sparse files are not part of the format"}
		}
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size < 0 {
		return &EntryError{name, fmt.Sprintf("negative size %d", hdr.Size)}
	}
	m := x.Announced
	if m == nil {
		return nil
	}
	x.entries++
	if x.entries > m.Entries() {
		return Malformed("payload", "holds more entries than the manifest's %d (at %q)", m.Entries(), name)
	}
	if hdr.Typeflag == tar.TypeReg {
		x.bytes += hdr.Size
		if x.bytes > m.UnpackedSize || x.bytes < 0 {
			return Malformed("payload", "holds more than the manifest's unpacked_size of %d bytes (at %q, %d bytes)", m.UnpackedSize, name, hdr.Size)
		}
	}
	return nil
}

// Linux's PATH_MAX and NAME_MAX: the names an install can create whatever
// the target, since every name is opened relative to the root's descriptor.
const (
	maxPath = 4096
	maxName = 255
)

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
	case strings.IndexByte(n, 0) >= 0:
		return "", &EntryError{raw, "name holds a NUL byte"}
	case len(n) >= maxPath:
		return "", &EntryError{raw, fmt.Sprintf("name is %d bytes; no file system opens %d or more", len(n), maxPath)}
	}
	for rest := n; rest != ""; {
		c, after, _ := strings.Cut(rest, "/")
		if len(c) > maxName {
			return "", &EntryError{raw, fmt.Sprintf("a component of %d bytes; file systems allow %d", len(c), maxName)}
		}
		rest = after
	}
	return n, nil
}

// parents makes sure every parent of name is a real directory of the payload,
// creating missing ones.
func (x *Extractor) parents(name string) error {
	dir := path.Dir(name)
	n, ok := x.nodes[dir]
	if ok && n.kind == tar.TypeDir {
		return nil
	}
	if ok {
		what := "a file"
		if n.kind == tar.TypeSymlink {
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
	if x.nodes[name].kind == tar.TypeDir {
		return nil
	}
	x.nodes[name] = node{kind: tar.TypeDir}
	if x.DryRun {
		return nil
	}
	// Owner-writable while filling; the payload's mode is applied at the end.
	if err := x.fs.mkdir(name, 0o755); err != nil {
		return fmt.Errorf("failed to create directory %q: %w", name, err)
	}
	return nil
}

func (x *Extractor) file(ctx context.Context, tr *TarReader, hdr *tar.Header, rec *Record) error {
	var rw FileRewrite
	if x.Rewrite != nil {
		var err error
		if rw, err = x.Rewrite.File(rec.Name); err != nil {
			return err
		}
		if rw.Check != nil {
			if err := rw.Check(hdr.Size); err != nil {
				return err
			}
		}
	}
	x.nodes[rec.Name] = node{kind: tar.TypeReg, mode: rec.Mode}
	recorded, err := recordedSHA256(hdr)
	if err != nil {
		return err
	}
	// The build recorded the hash of what it packed, and the whole-file
	// checksum vouches for it: only a file rewritten here is hashed.
	hashed := recorded == nil || rw.Wrap != nil || rw.Patch != nil
	x.hash.Reset()
	var dst io.Writer = io.Discard
	if hashed {
		dst = x.hash
	}
	fd := -1
	if !x.DryRun {
		flags := unix.O_WRONLY
		if rw.Patch != nil {
			flags = unix.O_RDWR // patched files are read back to hash them
		}
		// The mode is the payload's: the installer runs with umask 0.
		if fd, err = x.fs.open(rec.Name, flags|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, uint32(rec.Mode)); err != nil {
			return fmt.Errorf("failed to create %q: %w", rec.Name, err)
		}
		defer func() {
			if fd >= 0 {
				unix.Close(fd)
			}
		}()
		dst = fdWriter(fd)
		if hashed {
			dst = io.MultiWriter(dst, x.hash)
		}
	}
	counted := &CountingWriter{W: dst}
	var w io.Writer = counted
	var wc io.WriteCloser
	if rw.Wrap != nil { // also in a dry run: the hash is of what would be written
		wc = rw.Wrap(counted)
		w = wc
	}
	var ew *expectWriter
	if len(rw.Expect) > 0 {
		ew = &expectWriter{w: w, expect: rw.Expect, name: rec.Name}
		w = ew
	}
	if err := CopyContext(ctx, w, entryData{tr}, x.buf); err != nil {
		return fmt.Errorf("failed to extract %q: %w", rec.Name, err)
	}
	if ew != nil {
		if err := ew.complete(); err != nil {
			return err
		}
	}
	if wc != nil {
		if err := wc.Close(); err != nil {
			return fmt.Errorf("failed to rewrite %q: %w", rec.Name, err)
		}
	}
	rec.Size = counted.N
	if fd >= 0 {
		if err := x.finishFile(fd, rw.Patch, rec.Name, hdr.ModTime); err != nil {
			return err
		}
		fd = -1
	}
	rec.SHA256 = recorded
	if hashed {
		rec.SHA256 = x.hash.Sum(nil)
	}
	return nil
}

// finishFile applies patch, if any, to the written file fd, sets its time and
// closes it.
func (x *Extractor) finishFile(fd int, patch func(*os.File, string) error, name string, mtime time.Time) error {
	if patch == nil {
		if err := futimens(fd, mtime); err != nil {
			unix.Close(fd)
			return fmt.Errorf("failed to set time of %q: %w", name, err)
		}
		if err := unix.Close(fd); err != nil {
			return fmt.Errorf("failed to write %q: %w", name, err)
		}
		return nil
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if err := patch(f, name); err != nil {
		return err
	}
	if err := rehash(f, x.hash, x.buf); err != nil {
		return fmt.Errorf("failed to read back %q: %w", name, err)
	}
	if err := futimens(fd, mtime); err != nil {
		return fmt.Errorf("failed to set time of %q: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("failed to write %q: %w", name, err)
	}
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
	switch {
	case target == "":
		return &EntryError{rec.Name, "symlink with an empty target"}
	case path.IsAbs(target):
		return &EntryError{rec.Name, fmt.Sprintf("symlink to the absolute path %q (links inside the install are relative)", target)}
	case strings.IndexByte(target, 0) >= 0:
		return &EntryError{rec.Name, "symlink target holds a NUL byte"}
	case len(target) >= maxPath:
		return &EntryError{rec.Name, fmt.Sprintf("symlink target of %d bytes; the kernel takes less than %d", len(target), maxPath)}
	}
	x.nodes[rec.Name] = node{kind: tar.TypeSymlink, link: target}
	x.links = append(x.links, rec.Name)
	rec.Link = target
	if x.DryRun {
		return nil
	}
	if err := x.fs.symlink(target, rec.Name, hdr.ModTime); err != nil {
		return fmt.Errorf("failed to create symlink %q: %w", rec.Name, err)
	}
	return nil
}

func (x *Extractor) hardlink(hdr *tar.Header, rec *Record) error {
	src, err := cleanName(hdr.Linkname)
	if err != nil {
		return &EntryError{rec.Name, fmt.Sprintf("hard link source: %v", err)}
	}
	s := x.nodes[src]
	if s.kind != tar.TypeReg {
		return &EntryError{rec.Name, fmt.Sprintf("hard link to %q, which is not a file extracted before it", hdr.Linkname)}
	}
	x.nodes[rec.Name] = node{kind: tar.TypeLink, mode: s.mode, link: src}
	rec.Link = src
	if x.DryRun {
		return nil
	}
	if err := x.fs.link(src, rec.Name); err != nil {
		return fmt.Errorf("failed to create hard link %q: %w", rec.Name, err)
	}
	return nil
}

// checkLinks refuses any symlink of the finished tree that leads outside it.
func (x *Extractor) checkLinks() error {
	for _, name := range x.links {
		if step, ok := x.staysInside(name); !ok {
			return &EntryError{name, fmt.Sprintf("symlink to %q leads outside the install (through %q)", x.nodes[name].link, step)}
		}
	}
	return nil
}

// staysInside follows symlink name through the model the way the kernel
// resolves a path, and reports whether it stays beneath the root; if not,
// it returns the link whose target climbed out.
func (x *Extractor) staysInside(name string) (string, bool) {
	out, via := paths.ResolveLink(name, func(p string) (paths.Kind, string) {
		n, ok := x.nodes[p]
		switch {
		case !ok:
			return paths.Missing, ""
		case n.kind == tar.TypeDir:
			return paths.Dir, ""
		case n.kind == tar.TypeSymlink:
			return paths.Link, n.link
		}
		return paths.Other, ""
	})
	// Past the link limit the lookup fails (ELOOP) inside the tree.
	return via, out != paths.Outside && out != paths.Absolute
}

// checkHook refuses a post-install hook that is not a regular, executable
// file of the payload (a symlink could lead anywhere).
func (x *Extractor) checkHook() error {
	if x.Hook == "" {
		return nil
	}
	n, ok := x.nodes[x.Hook]
	switch {
	case !ok:
		return Malformed("manifest post_install", "hook %q is not in the payload", x.Hook)
	case n.kind != tar.TypeReg && n.kind != tar.TypeLink:
		return Malformed("manifest post_install", "hook %q is not a regular file of the payload", x.Hook)
	case n.mode&0o111 == 0:
		return Malformed("manifest post_install", "hook %q is not executable (mode %04o)", x.Hook, n.mode)
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
		if err := x.fs.setDir(d.name, uint32(d.mode), d.mtime); err != nil {
			return fmt.Errorf("failed to set mode and time of %q: %w", d.name, err)
		}
	}
	return nil
}

// CopyContext copies r to w through buf until r's end, giving up when ctx
// is done: an install or scan of a large file stops promptly on a signal.
func CopyContext(ctx context.Context, w io.Writer, r io.Reader, buf []byte) error {
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

// entryData reads the current entry's data, reporting a damaged stream as
// the payload's fault.
type entryData struct{ tr *TarReader }

func (d entryData) Read(p []byte) (int, error) {
	n, err := d.tr.Read(p)
	if err != nil && err != io.EOF {
		err = payloadError(err)
	}
	return n, err
}

func rehash(f *os.File, h hash.Hash, buf []byte) error {
	h.Reset()
	_, err := io.CopyBuffer(h, io.NewSectionReader(f, 0, 1<<62), buf)
	return err
}

// expectWriter passes writes to w after comparing them with what is expected.
type expectWriter struct {
	w      io.Writer
	expect []Expect
	name   string
	off    int64
}

func (e *expectWriter) Write(p []byte) (int, error) {
	lo, hi := e.off, e.off+int64(len(p))
	for _, x := range e.expect {
		a, b := max(lo, x.Offset), min(hi, x.Offset+int64(len(x.Bytes)))
		if a < b && !bytes.Equal(p[a-lo:b-lo], x.Bytes[a-x.Offset:b-x.Offset]) {
			return 0, e.mismatch(x)
		}
	}
	e.off = hi
	return e.w.Write(p)
}

// complete reports an expected run that the file was too short to hold.
func (e *expectWriter) complete() error {
	for _, x := range e.expect {
		if x.Offset+int64(len(x.Bytes)) > e.off {
			return e.mismatch(x)
		}
	}
	return nil
}

func (e *expectWriter) mismatch(x Expect) error {
	return Malformed("manifest relocation", "%q does not hold %q at offset %d as planned: the payload was changed after planning", e.name, x.Bytes, x.Offset)
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
