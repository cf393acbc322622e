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
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/terrapack/terrapack/meter"
)

// PlaceholderLen is the minimum length of the PT_INTERP written into pbin
// programs: the bundle's lib64/ padded with slashes, so the installer can
// later write any install target of reasonable length in place.
const PlaceholderLen = 255

// Options configures Bundle.
type Options struct {
	Executables []string // names looked up in PATH, or paths
	Output      string   // folder to create (must be absent or empty)
	Includes    []Include
	// Env lists NAME=VALUE pairs every launcher exports, in order. VALUE is
	// expanded by sh at run time; $TERRARIUM is the terrarium's folder, e.g.
	// MAGICK_CODER_MODULE_PATH=$TERRARIUM/lib/ImageMagick/coders.
	Env   []string
	Epoch *time.Time    // SOURCE_DATE_EPOCH: every mtime; nil keeps the sources' mtimes
	Log   io.Writer     // progress; nil for none
	Meter meter.Starter // progress of copying; nil for none
}

// bundler holds the state of one Bundle call.
type bundler struct {
	env      []string
	out      string // absolute real path of the output folder
	r        *resolver
	patchelf string
	epoch    *time.Time
	log      io.Writer
	meter    meter.Starter

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
		out: out, r: r, patchelf: pe, epoch: o.Epoch, log: o.Log, meter: o.Meter, env: o.Env,
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
	if err := b.setTimes(); err != nil {
		return err
	}
	libs, err := os.ReadDir(filepath.Join(out, "lib64"))
	if err != nil {
		return err
	}
	fmt.Fprintf(b.log, "wrote %s: %d programs; %d files in lib64 (build an installer with: terrapack build %s)\n", out, len(exes), len(libs), o.Output)
	return nil
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
