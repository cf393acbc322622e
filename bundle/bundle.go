// Package bundle builds terrariums: folders holding programs together with
// every library they load and their own dynamic loader, so they need only
// the kernel of the machine they run on.
//
// Layout: lib64/ holds the libraries and ld-linux-x86-64.so.2, pbin/ the
// programs (PT_INTERP pointing into lib64/, DT_RPATH $ORIGIN/../lib64) and
// ebin/ one POSIX sh launcher per program.
package bundle

import (
	"cmp"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/terrapack/terrapack/relocate"
	"github.com/terrapack/terrapack/relocate/planner"
)

// PlaceholderLen is the minimum length of the PT_INTERP written into pbin
// programs: the bundle's lib64/ padded with slashes, so the installer can
// later write any install target of reasonable length in place.
const PlaceholderLen = 255

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

// Options configures Bundle.
type Options struct {
	Executables []string // names looked up in PATH, or paths
	Output      string   // folder to create (must be absent or empty)
	Includes    []Include
	// Env lists NAME=VALUE pairs every launcher exports, in order. VALUE is
	// expanded by sh at run time; $TERRARIUM is the terrarium's folder, e.g.
	// MAGICK_CODER_MODULE_PATH=$TERRARIUM/lib/ImageMagick/coders.
	Env   []string
	Epoch *time.Time // SOURCE_DATE_EPOCH: every mtime; nil keeps the sources' mtimes
	Log   io.Writer  // progress; nil for none
}

// bundler holds the state of one Bundle call.
type bundler struct {
	env      []string
	out      string // absolute real path of the output folder
	r        *resolver
	patchelf string
	epoch    *time.Time
	log      io.Writer

	libSrc   map[string]string    // lib64 file name → source file
	libAlias map[string]string    // lib64 symlink name → lib64 file name
	loaders  map[string]bool      // lib64 names of loaders: never patched
	rpaths   map[string][]string  // DT_RPATH → included shared objects to get it
	times    map[string]time.Time // created path → mtime to set at the end
	newest   time.Time
}

type exe struct{ name, path string }

// Bundle writes a terrarium for o.Executables into o.Output.
func Bundle(o Options) (err error) {
	if len(o.Executables) == 0 {
		return errors.New("no executable to bundle")
	}
	if o.Output == "" {
		return errors.New("no output folder given")
	}
	pe, err := exec.LookPath("patchelf")
	if err != nil {
		return errors.New(`patchelf is needed to bundle but was not found in PATH: install the Debian package "patchelf"`)
	}
	if err := checkEnv(o.Env); err != nil {
		return err
	}
	exes, err := resolveExes(o.Executables)
	if err != nil {
		return err
	}
	r, err := newResolver("/etc/ld.so.cache")
	if err != nil {
		return err
	}
	out, created, err := prepareOutput(o.Output)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil && created {
			os.RemoveAll(out)
		}
	}()
	b := &bundler{
		out: out, r: r, patchelf: pe, epoch: o.Epoch, log: o.Log, env: o.Env,
		libSrc: map[string]string{}, libAlias: map[string]string{}, loaders: map[string]bool{},
		rpaths: map[string][]string{}, times: map[string]time.Time{},
	}
	if b.log == nil {
		b.log = io.Discard
	}
	for _, d := range []string{"lib64", "pbin", "ebin"} {
		if err := os.Mkdir(filepath.Join(out, d), 0o755); err != nil {
			return fmt.Errorf("failed to create %q: %w", filepath.Join(out, d), err)
		}
	}
	for _, e := range exes {
		if err := b.program(e); err != nil {
			return err
		}
	}
	for _, inc := range o.Includes {
		if err := b.include(inc); err != nil {
			return err
		}
	}
	if err := b.writeLibs(); err != nil {
		return err
	}
	return b.setTimes()
}

func resolveExes(args []string) ([]exe, error) {
	var exes []exe
	seen := map[string]string{}
	for _, a := range args {
		p := a
		if !strings.Contains(a, "/") {
			var err error
			if p, err = exec.LookPath(a); err != nil {
				return nil, fmt.Errorf("executable %q not found in PATH: %w", a, err)
			}
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil, fmt.Errorf("failed to resolve executable %q: %w", a, err)
		}
		if real, err = filepath.Abs(real); err != nil {
			return nil, fmt.Errorf("failed to resolve executable %q: %w", a, err)
		}
		name := filepath.Base(a)
		if prev, ok := seen[name]; ok {
			return nil, fmt.Errorf("executables %q and %q would both be named %q", prev, a, name)
		}
		seen[name] = a
		exes = append(exes, exe{name: name, path: real})
	}
	// Sorted work keeps logs and conflict errors independent of argument order.
	slices.SortFunc(exes, func(x, y exe) int { return cmp.Compare(x.name, y.name) })
	return exes, nil
}

// prepareOutput creates dir (or accepts it empty) and returns its real path.
func prepareOutput(dir string) (out string, created bool, err error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", false, fmt.Errorf("failed to create output %q: %w", dir, err)
		}
		created = true
	case err != nil:
		return "", false, fmt.Errorf("failed to read output %q: %w", dir, err)
	case len(entries) > 0:
		return "", false, fmt.Errorf("output %q exists and is not empty", dir)
	}
	// The installer's build prefix is the real path: the placeholder must lie under it.
	if out, err = filepath.EvalSymlinks(dir); err == nil {
		out, err = filepath.Abs(out)
	}
	if err != nil {
		return "", false, fmt.Errorf("failed to resolve output %q: %w", dir, err)
	}
	return out, created, nil
}

// program adds one executable: its libraries, pbin/NAME and ebin/NAME.
func (b *bundler) program(e exe) error {
	root, err := b.r.openObject(e.path, filepath.Dir(e.path))
	if err != nil {
		return err
	}
	dst := filepath.Join(b.out, "pbin", e.name)
	if err := b.copyFile(e.path, dst, 0o755); err != nil {
		return err
	}
	if err := b.writeLauncher(e.name, b.times[dst]); err != nil {
		return err
	}
	if root.interp == "" {
		fmt.Fprintf(b.log, "%s: static, copied as is\n", e.name)
		return nil
	}
	loader, err := b.r.openObject(root.interp, filepath.Dir(root.interp))
	if err != nil {
		return fmt.Errorf("failed to read the loader of %q: %w", e.path, err)
	}
	loaderName := path.Base(root.interp)
	loader.names = []string{loaderName}
	if err := b.addLib(loader); err != nil {
		return err
	}
	b.loaders[loaderName] = true
	libs, err := b.r.closure(root, loader)
	if err != nil {
		return err
	}
	for _, l := range libs {
		if err := b.addLib(l); err != nil {
			return err
		}
	}
	ph := placeholder(b.out, loaderName)
	if err := b.run("--set-interpreter", ph, "--force-rpath", "--set-rpath", "$ORIGIN/../lib64", dst); err != nil {
		return err
	}
	fmt.Fprintf(b.log, "%s: %d libraries\n", e.name, len(libs))
	return nil
}

// placeholder is the PT_INTERP of a pbin program before install.
func placeholder(out, loader string) string {
	head := out + "/lib64/"
	pad := max(PlaceholderLen-len(head)-len(loader), 0)
	return head + strings.Repeat("/", pad) + loader
}

// addLib plans lib64/NAME for every name o was loaded under; two different
// files wanting one name would make one program load the other's library.
func (b *bundler) addLib(o *object) error {
	primary := o.names[0]
	if prev, ok := b.libSrc[primary]; ok && prev != o.real {
		return fmt.Errorf("lib64/%s would be both %q and %q", primary, prev, o.real)
	}
	b.libSrc[primary] = o.real
	for _, n := range o.names[1:] {
		if prev, ok := b.libSrc[n]; ok && prev != o.real {
			return fmt.Errorf("lib64/%s would be both %q and %q", n, prev, o.real)
		}
		b.libAlias[n] = primary
	}
	return nil
}

// writeLibs copies the planned libraries and gives them DT_RPATH $ORIGIN
// (DT_RUNPATH would not apply to their own dependencies' lookups).
func (b *bundler) writeLibs() error {
	lib64 := filepath.Join(b.out, "lib64")
	var patch []string
	for _, name := range slices.Sorted(maps.Keys(b.libSrc)) {
		dst := filepath.Join(lib64, name)
		if err := b.copyFile(b.libSrc[name], dst, 0o755); err != nil {
			return err
		}
		if !b.loaders[name] {
			patch = append(patch, dst)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(b.libAlias)) {
		if _, ok := b.libSrc[name]; ok {
			continue
		}
		dst := filepath.Join(lib64, name)
		if err := os.Symlink(b.libAlias[name], dst); err != nil {
			return fmt.Errorf("failed to link %q: %w", dst, err)
		}
		b.times[dst] = b.times[filepath.Join(lib64, b.libAlias[name])]
	}
	if len(patch) > 0 {
		if err := b.run(append([]string{"--force-rpath", "--set-rpath", "$ORIGIN"}, patch...)...); err != nil {
			return err
		}
	}
	for _, rp := range slices.Sorted(maps.Keys(b.rpaths)) {
		if err := b.run(append([]string{"--force-rpath", "--set-rpath", rp}, b.rpaths[rp]...)...); err != nil {
			return err
		}
	}
	return nil
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
			if !filepath.IsAbs(target) && inside(src, filepath.Join(filepath.Dir(p), target)) {
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
			return b.sharedObject(p, dst)
		case info.Mode().IsRegular():
			if err := b.copyFile(p, dst, info.Mode().Perm()); err != nil {
				return err
			}
			n++
			return b.sharedObject(p, dst)
		default:
			fmt.Fprintf(b.log, "skipping special file %q\n", p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("failed to include %q: %w", inc.Src, err)
	}
	fmt.Fprintf(b.log, "%s: %d files\n", inc.Dest, n)
	return nil
}

// inside reports whether p lies in the folder root (both host paths).
func inside(root, p string) bool {
	rel, err := filepath.Rel(root, filepath.Clean(p))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// sharedObject adds the closure of src (copied to dst) when it is an ELF
// shared library, and plans its DT_RPATH to reach lib64/ from dst.
func (b *bundler) sharedObject(src, dst string) error {
	if !isELF(src) {
		return nil
	}
	o, err := b.r.openObject(src, filepath.Dir(src))
	if err != nil {
		return err
	}
	// Executables (PT_INTERP) would need pbin/ treatment; only bundle the programs given.
	if o.typ != elf.ET_DYN || o.interp != "" {
		return nil
	}
	libs, err := b.r.closure(o)
	if err != nil {
		return err
	}
	for _, l := range libs {
		if err := b.addLib(l); err != nil {
			return err
		}
	}
	rel, err := filepath.Rel(filepath.Dir(dst), filepath.Join(b.out, "lib64"))
	if err != nil {
		return err
	}
	rp := "$ORIGIN/" + rel
	b.rpaths[rp] = append(b.rpaths[rp], dst)
	return nil
}

func isELF(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	return planner.IsELF(head[:n])
}

// launcherScript runs pbin/NAME from wherever the terrarium lies, exporting
// env first. It needs only a POSIX sh with dirname and pwd (busybox has
// both), not /proc.
func launcherScript(name string, env []string) string {
	var exports strings.Builder
	if len(env) > 0 {
		exports.WriteString("TERRARIUM=$(cd \"$here/..\" && pwd -P) || exit 127\n")
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			fmt.Fprintf(&exports, "export %s=\"%s\"\n", k, v)
		}
	}
	return `#!/bin/sh
# terrapack terrarium launcher: run the bundled program with its own libraries.
here=$(cd "$(dirname "$0")" && pwd -P) || exit 127
# Without /proc, ld.so cannot expand $ORIGIN for the program; tell it.
[ -r /proc/self/exe ] || export LD_ORIGIN_PATH="$here/../pbin"
` + exports.String() + `exec "$here/../pbin/"` + shellQuote(name) + ` "$@"
`
}

// checkEnv refuses --env entries that would not survive inside sh's double
// quotes as the user wrote them.
func checkEnv(env []string) error {
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		valid := ok && k != "" && !strings.ContainsAny(v, "\"`\\\n")
		for i, c := range k {
			if !(c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9') {
				valid = false
			}
		}
		if !valid {
			return fmt.Errorf("--env %q must be NAME=VALUE, NAME a shell variable name, VALUE without \", `, \\ or newlines", kv)
		}
	}
	return nil
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (b *bundler) writeLauncher(name string, mtime time.Time) error {
	dst := filepath.Join(b.out, "ebin", name)
	if err := os.WriteFile(dst, []byte(launcherScript(name, b.env)), 0o755); err != nil {
		return fmt.Errorf("failed to write launcher %q: %w", dst, err)
	}
	b.times[dst] = mtime
	return nil
}

func (b *bundler) mtime(info fs.FileInfo) time.Time {
	if b.epoch != nil {
		return *b.epoch
	}
	if t := info.ModTime(); t.After(b.newest) {
		b.newest = t
	}
	return info.ModTime()
}

// copyFile copies src's bytes (dereferenced) to the new file dst.
func (b *bundler) copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("failed to open %q: %w", src, err)
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return fmt.Errorf("failed to stat %q: %w", src, err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("failed to create %q: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("failed to copy %q to %q: %w", src, dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("failed to write %q: %w", dst, err)
	}
	// The umask may have narrowed mode.
	if err := os.Chmod(dst, mode); err != nil {
		return fmt.Errorf("failed to set mode of %q: %w", dst, err)
	}
	b.times[dst] = b.mtime(info)
	return nil
}

// setTimes fixes every mtime after all writing (patchelf included) is done.
func (b *bundler) setTimes() error {
	for p, t := range b.times {
		if err := lchtimes(p, t); err != nil {
			return fmt.Errorf("failed to set the time of %q: %w", p, err)
		}
	}
	dirTime := b.newest
	if b.epoch != nil {
		dirTime = *b.epoch
	}
	return filepath.WalkDir(b.out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if err := os.Chtimes(p, dirTime, dirTime); err != nil {
			return fmt.Errorf("failed to set the time of %q: %w", p, err)
		}
		return nil
	})
}

func (b *bundler) run(args ...string) error {
	out, err := exec.Command(b.patchelf, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("patchelf %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Localize writes the real path of DIR/lib64's loader into the PT_INTERP of
// every DIR/pbin program, so the terrarium runs where it lies without an
// installer. Mtimes are kept so a localized tree stays reproducible.
func Localize(dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		return fmt.Errorf("failed to resolve bundle %q: %w", dir, err)
	}
	pbin := filepath.Join(real, "pbin")
	entries, err := os.ReadDir(pbin)
	if err != nil {
		return fmt.Errorf("failed to list %q: %w", pbin, err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			if err := localizeFile(filepath.Join(pbin, e.Name()), filepath.Join(real, "lib64")); err != nil {
				return err
			}
		}
	}
	return nil
}

func localizeFile(p, lib64 string) error {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("failed to open %q: %w", p, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("failed to stat %q: %w", p, err)
	}
	facts, err := planner.ReadELFFacts(f)
	if err != nil {
		return fmt.Errorf("failed to read ELF %q: %w", p, err)
	}
	if facts == nil || facts.Interp == nil {
		return nil // static: nothing to point at
	}
	if err := relocate.WriteELFString(f, *facts.Interp, filepath.Join(lib64, path.Base(facts.Interp.Value))); err != nil {
		return fmt.Errorf("failed to localize %q: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("failed to write %q: %w", p, err)
	}
	return os.Chtimes(p, info.ModTime(), info.ModTime())
}
