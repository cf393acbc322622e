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
	"regexp"
	"strings"

	"github.com/mholt/archives"

	"github.com/terrapack/terrapack/internal/paths"
)

// InputError is a source the builder refuses, with what to do about it.
type InputError struct{ Msg, Hint string }

func (e *InputError) Error() string { return e.Msg }

const archiveHint = "fix the archive (tar -C DIR . packs DIR's tree as it is), or build from the unpacked folder"

// unpacked is an archive extracted into a work folder.
type unpacked struct {
	root string // the folder that holds the tree
	// prefix is the absolute path the archive records for its tree ("" if
	// none): `tar czf x.tgz /home/ourapp/root` stores home/ourapp/root/….
	prefix string
}

// unpackArchive extracts the archive file src (tar.gz, tar.xz, tar.zst, zip…)
// into a new folder in workDir, refusing entries that would leave it.
func unpackArchive(ctx context.Context, src, workDir string) (unpacked, error) {
	f, err := os.Open(src)
	if err != nil {
		return unpacked{}, fmt.Errorf("failed to open %q: %w", src, err)
	}
	defer f.Close()
	format, stream, err := archives.Identify(ctx, filepath.Base(src), f)
	if err != nil {
		return unpacked{}, fmt.Errorf("%q is neither a folder nor a known archive (tar.gz, tar.xz, tar.zst, zip): %w", src, err)
	}
	ex, ok := format.(archives.Extractor)
	if !ok {
		return unpacked{}, fmt.Errorf("%q: cannot extract %s archives", src, format.Extension())
	}
	var names, links []string
	tree := linkTree{}
	relative := false // names as `tar -C DIR .` writes them: ./bin/…
	err = ex.Extract(ctx, stream, func(ctx context.Context, info archives.FileInfo) error {
		raw := info.NameInArchive
		relative = relative || raw == "." || strings.HasPrefix(raw, "./")
		name, err := unpackEntry(workDir, info)
		if err != nil {
			var ie *InputError
			if errors.As(err, &ie) {
				ie.Msg = fmt.Sprintf("archive %q: %s", src, ie.Msg)
				return ie
			}
			return fmt.Errorf("archive %q: %w", src, err)
		}
		switch {
		case name == "":
			return nil
		case info.IsDir():
			names = append(names, name)
		default:
			names = append(names, path.Dir(name))
			if info.Mode()&fs.ModeSymlink != 0 {
				links = append(links, name)
			}
		}
		tree.add(name, info.Mode(), info.LinkTarget, info.LinkTarget)
		return nil
	})
	if err != nil {
		return unpacked{}, err
	}
	// Absolute targets are left to the planner, which knows the prefix.
	for _, l := range links {
		if out, msg := tree.escape(l, "the archive"); out == paths.Outside || out == paths.TooManyLinks {
			return unpacked{}, &InputError{Msg: fmt.Sprintf("archive %q: %s", src, msg), Hint: archiveHint}
		}
	}
	common := commonDir(names)
	if relative || strings.Count(common, "/") < 1 || systemFolders[common] {
		// No full path recorded (`tar -C DIR .`, or one folder such as
		// bin/): the archive's root is the tree.
		return unpacked{root: workDir}, nil
	}
	return unpacked{root: filepath.Join(workDir, filepath.FromSlash(common)), prefix: "/" + common}, nil
}

// systemFolders are never taken as a build prefix from a guess: rewriting
// them would rewrite every mention of the system's own programs.
var systemFolders = map[string]bool{
	"usr/bin": true, "usr/sbin": true, "usr/lib": true, "usr/lib64": true, "usr/libexec": true,
	"usr/share": true, "usr/include": true, "usr/local/bin": true, "usr/local/lib": true,
	"var/lib": true, "var/log": true,
}

// unpackEntry writes one archive entry below root and returns its clean name.
func unpackEntry(root string, info archives.FileInfo) (string, error) {
	name := path.Clean(strings.TrimPrefix(strings.TrimPrefix(info.NameInArchive, "./"), "/"))
	if name == "." {
		return "", nil
	}
	if leaves(name) {
		return "", &InputError{Msg: fmt.Sprintf("entry %q leaves the archive's folder", info.NameInArchive), Hint: archiveHint}
	}
	dst := filepath.Join(root, filepath.FromSlash(name))
	if err := realParents(root, name, true); err != nil {
		return "", err
	}
	mode := info.Mode()
	hdr, _ := info.Header.(*tar.Header)
	switch {
	case info.IsDir():
		if st, err := os.Lstat(dst); err == nil && !st.IsDir() {
			return "", &InputError{Msg: fmt.Sprintf("folder entry %q would be written through %q, which is not a folder", name, name), Hint: archiveHint}
		}
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return "", err
		}
		return name, os.Chmod(dst, mode.Perm()|0o700)
	case hdr != nil && hdr.Typeflag == tar.TypeLink:
		return name, hardLink(root, name, hdr.Linkname, dst)
	case mode&fs.ModeSymlink != 0:
		if t := info.LinkTarget; !path.IsAbs(t) && leaves(path.Join(path.Dir(name), t)) {
			return "", &InputError{Msg: fmt.Sprintf("symlink %q points to %q, which leaves the archive", name, t), Hint: archiveHint}
		}
		return name, os.Symlink(info.LinkTarget, dst)
	case mode.IsRegular():
		r, err := info.Open()
		if err != nil {
			return "", fmt.Errorf("failed to read %q: %w", name, err)
		}
		defer r.Close()
		// O_EXCL: never through a symlink an earlier entry made.
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
	return "", &InputError{Msg: fmt.Sprintf("entry %q is a %s: only files, folders and links can be packed", name, kindOf(mode)), Hint: "remove it from the archive"}
}

// leaves reports whether the clean relative path p climbs out of its root.
func leaves(p string) bool { return p == ".." || strings.HasPrefix(p, "../") }

// hardLink makes dst a hard link to the file an earlier entry unpacked as
// linkname; anything else (a path out of the archive, through a symlink,
// to a folder or a link) would copy a file of this machine into the tree.
func hardLink(root, name, linkname, dst string) error {
	target := path.Clean(strings.TrimPrefix(strings.TrimPrefix(linkname, "./"), "/"))
	refuse := func(why string) error {
		return &InputError{Msg: fmt.Sprintf("hard link %q names %q, %s", name, linkname, why), Hint: archiveHint}
	}
	if target == "." || leaves(target) {
		return refuse("which leaves the archive")
	}
	if err := realParents(root, target, false); err != nil {
		return refuse("which is reached through a symlink or is not in the archive")
	}
	st, err := os.Lstat(filepath.Join(root, filepath.FromSlash(target)))
	if err != nil || !st.Mode().IsRegular() {
		return refuse("which is not a file unpacked before it")
	}
	return os.Link(filepath.Join(root, filepath.FromSlash(target)), dst)
}

// realParents checks that the parents of name below root are folders, not
// symlinks an earlier entry made; with create it makes the missing ones.
func realParents(root, name string, create bool) error {
	p := root
	for _, part := range strings.Split(path.Dir(name), "/") {
		if part == "." {
			break
		}
		p = filepath.Join(p, part)
		st, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist) && create:
			if err := os.Mkdir(p, 0o755); err != nil {
				return err
			}
		case err != nil:
			return err
		case !st.IsDir():
			return &InputError{Msg: fmt.Sprintf("entry %q would be written through %q, which is not a folder", name, part), Hint: archiveHint}
		}
	}
	return nil
}

// commonDir is the longest folder path that every one of dirs lies in.
func commonDir(dirs []string) string {
	var common []string
	for i, n := range dirs {
		parts := strings.Split(n, "/")
		if i == 0 {
			common = parts
			continue
		}
		k := 0
		for k < len(common) && k < len(parts) && common[k] == parts[k] {
			k++
		}
		common = common[:k]
	}
	return strings.Join(common, "/")
}

// archiveName is the application name and version an archive's file name
// gives: ourapp-system.tar.gz → ourapp-system; ourapp-1.2.3.tar.gz →
// ourapp, 1.2.3.
func archiveName(file string) (name, version string) {
	base := filepath.Base(file)
	for _, ext := range []string{".tar.gz", ".tar.xz", ".tar.zst", ".tar.bz2", ".tgz", ".txz", ".tzst", ".tbz2", ".tar", ".zip"} {
		if b, ok := strings.CutSuffix(base, ext); ok {
			base = b
			break
		}
	}
	if m := versioned.FindStringSubmatch(base); m != nil {
		return m[1], m[2]
	}
	return base, ""
}

// versioned splits NAME-VERSION where VERSION starts with a digit (or v and a digit).
var versioned = regexp.MustCompile(`^(.+?)-(v?[0-9][0-9A-Za-z.+~_-]*)$`)
