package bundle

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/terrapack/terrapack/elfscan"
)

// systemDirs is Debian's x86-64 ld.so system search path, as printed by
// LD_DEBUG=libs: /lib64 is not in it, only the loader lives there.
var systemDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib"}

// resolver finds DT_NEEDED libraries the way glibc's ld.so does (LD_LIBRARY_PATH excluded).
type resolver struct {
	cache      ldCache
	systemDirs []string
	lib        string // $LIB
	platform   string // $PLATFORM (AT_PLATFORM)
}

func newResolver(cacheFile string) (*resolver, error) {
	c, err := loadLDCache(cacheFile)
	if err != nil {
		return nil, err
	}
	// Debian's ld.so expands $LIB to its multiarch slibdir (measured).
	return &resolver{cache: c, systemDirs: systemDirs, lib: "lib/x86_64-linux-gnu", platform: "x86_64"}, nil
}

// object is one loaded ELF file.
type object struct {
	path       string   // where the loader opens it; its directory is $ORIGIN
	real       string   // symlinks resolved: the bytes to copy
	names      []string // names it was loaded under, first one first
	soname     string
	interp     string
	class      elf.Class
	machine    elf.Machine
	typ        elf.Type
	needed     []string
	rpath      []string // expanded; nil when DT_RUNPATH exists, as ld.so ignores it then
	runpath    []string
	hasRunpath bool
	loader     *object // the object whose DT_NEEDED loaded this one
}

// openObject reads the ELF at path. origin is its $ORIGIN: the directory of
// the path for libraries, of the real path for executables (ld.so asks
// /proc/self/exe).
func (r *resolver) openObject(path, origin string) (*object, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read ELF %q: %w", path, err)
	}
	defer f.Close()
	facts, err := elfscan.ReadFacts(f)
	if err != nil {
		return nil, fmt.Errorf("failed to read ELF %q: %w (%w)", path, errNotELF, err)
	}
	if facts == nil {
		return nil, fmt.Errorf("%q: %w", path, errNotELF)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("failed to resolve %q: %w", path, err)
	}
	o := &object{path: path, real: real, class: facts.Class, machine: facts.Machine, typ: facts.Type, needed: facts.Needed, soname: facts.Soname}
	if facts.Interp != nil {
		o.interp = facts.Interp.Value
	}
	values := func(strs []elfscan.DynString) []string {
		var v []string
		for _, s := range strs {
			v = append(v, s.Value)
		}
		return v
	}
	// A static executable has no dynamic segment: nothing to load.
	if len(facts.RunPath) > 0 {
		o.hasRunpath = true
		o.runpath = r.expand(values(facts.RunPath), origin)
	} else {
		o.rpath = r.expand(values(facts.RPath), origin)
	}
	return o, nil
}

// errNotELF is returned for a file that is no ELF object ld.so could load:
// no ELF magic (a linker script) or headers that do not parse.
var errNotELF = errors.New("not a loadable ELF file")

// expand splits rpath strings into directories, substituting the dynamic
// string tokens. Empty entries (the build's cwd) are dropped.
func (r *resolver) expand(paths []string, origin string) []string {
	var dirs []string
	rep := strings.NewReplacer(
		"${ORIGIN}", origin, "$ORIGIN", origin,
		"${LIB}", r.lib, "$LIB", r.lib,
		"${PLATFORM}", r.platform, "$PLATFORM", r.platform)
	for _, p := range paths {
		for d := range strings.SplitSeq(p, ":") {
			if d != "" {
				dirs = append(dirs, filepath.Clean(rep.Replace(d)))
			}
		}
	}
	return dirs
}

// compatible reports whether ld.so would accept candidate for req; it
// silently skips files of another class or machine and keeps searching.
func compatible(req, candidate *object) bool {
	return candidate.class == req.class && candidate.machine == req.machine && candidate.typ == elf.ET_DYN
}

// find locates name for req: DT_RPATH of the loading chain (only if req has
// no DT_RUNPATH), DT_RUNPATH, ld.so.cache, then the system directories.
func (r *resolver) find(name string, req *object) (*object, error) {
	try := func(path string) (*object, error) {
		if _, err := os.Stat(path); err != nil {
			return nil, nil
		}
		o, err := r.openObject(path, filepath.Dir(path))
		if errors.Is(err, errNotELF) {
			return nil, nil // not ELF (e.g. a linker script) or broken: ld.so skips it too
		}
		if err != nil || !compatible(req, o) {
			return nil, err
		}
		return o, nil
	}
	if strings.Contains(name, "/") {
		o, err := try(name)
		if o == nil && err == nil {
			err = fmt.Errorf("library %q needed by %q not found", name, req.path)
		}
		return o, err
	}
	var dirs []string
	if !req.hasRunpath {
		for l := req; l != nil; l = l.loader {
			dirs = append(dirs, l.rpath...)
		}
	}
	dirs = append(dirs, req.runpath...)
	for _, d := range dirs {
		if o, err := try(filepath.Join(d, name)); o != nil || err != nil {
			return o, err
		}
	}
	for _, p := range r.cache[name] {
		if o, err := try(p); o != nil || err != nil {
			return o, err
		}
	}
	for _, d := range r.systemDirs {
		if o, err := try(filepath.Join(d, name)); o != nil || err != nil {
			return o, err
		}
	}
	tried := append(dirs, "/etc/ld.so.cache")
	tried = append(tried, r.systemDirs...)
	return nil, fmt.Errorf("library %q needed by %q not found (searched %s)", name, req.path, strings.Join(tried, ":"))
}

// closure returns the libraries root loads, breadth first like ld.so.
// preloaded objects (the dynamic loader) satisfy names without a search.
func (r *resolver) closure(root *object, preloaded ...*object) ([]*object, error) {
	byName := map[string]*object{}
	byFile := map[string]*object{}
	add := func(o *object) {
		for _, n := range o.names {
			byName[n] = o
		}
		if o.soname != "" {
			byName[o.soname] = o
		}
		byFile[o.real] = o
	}
	for _, p := range preloaded {
		add(p)
	}
	var libs []*object
	queue := []*object{root}
	for len(queue) > 0 {
		req := queue[0]
		queue = queue[1:]
		for _, name := range req.needed {
			if _, ok := byName[name]; ok {
				continue
			}
			o, err := r.find(name, req)
			if err != nil {
				return nil, err
			}
			// The same file under another name is the same object to ld.so.
			if prev, ok := byFile[o.real]; ok {
				prev.names = append(prev.names, name)
				byName[name] = prev
				continue
			}
			o.names = []string{name}
			o.loader = req
			add(o)
			libs = append(libs, o)
			queue = append(queue, o)
		}
	}
	return libs, nil
}
