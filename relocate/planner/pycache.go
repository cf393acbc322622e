package planner

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"

	"github.com/terrapack/terrapack/relocate"
)

// CacheSource returns the Python source that the compiled file name caches:
// "a/__pycache__/m.cpython-311.opt-1.pyc" (Python 3) and "a/m.pyc" or
// "a/m.pyo" (Python 2) cache "a/m.py".
func CacheSource(name string) (string, bool) {
	stem, ok := strings.CutSuffix(name, ".pyc")
	if !ok {
		if stem, ok = strings.CutSuffix(name, ".pyo"); !ok {
			return "", false
		}
	}
	dir, base := path.Split(stem)
	if path.Base(dir) != "__pycache__" {
		return stem + ".py", true
	}
	// MODULE.TAG or MODULE.TAG.opt-N, where TAG (cpython-311) has no dot.
	if i := strings.LastIndex(base, ".opt-"); i >= 0 && !strings.Contains(base[i+1:], ".") {
		base = base[:i]
	}
	i := strings.LastIndexByte(base, '.')
	if i <= 0 {
		return "", false
	}
	return path.Join(path.Dir(strings.TrimSuffix(dir, "/")), base[:i]+".py"), true
}

// Names reports whether the file r of size bytes names a build prefix: its
// content is then rewritten at install, as text or in place.
func (p *Planner) Names(r io.ReaderAt, size int64) (bool, error) {
	hits, _, err := p.survey(r, size)
	return hits > 0, err
}

// Omit records that source file name is left out of the payload: a
// compiled cache whose source names the prefix. Python validates such a
// cache by the source's mtime and size (Python 2 by mtime alone), which the
// rewrite can leave equal, or not at all (unchecked hash-based caches), so
// it would go on serving the build's strings; without it Python compiles
// the relocated source, and writes a new cache where it may.
func (p *Planner) Omit(name, source string) {
	p.omitted = append(p.omitted, relocate.Kept{Name: name, Reason: fmt.Sprintf("compiled cache of %s, which is relocated: Python compiles the relocated source instead", source)})
}

// python2Dir matches the folder of a Python 2 library: lib/python2.7/….
var python2Dir = regexp.MustCompile(`(^|/)python2\.[0-9]+/`)

// isPython2Source reports whether name, whose first bytes are head, is a
// Python 2 module (below a python2.N folder) that declares no encoding on
// its first two lines, so that Python 2 reads it as ASCII.
func isPython2Source(name string, head []byte) bool {
	if !strings.HasSuffix(name, ".py") || !python2Dir.MatchString(name) {
		return false
	}
	lines := bytes.SplitN(head, []byte("\n"), 3)
	for _, l := range lines[:min(2, len(lines))] {
		if relocate.IsCodingLine(l) {
			return false
		}
	}
	return true
}
