package builder

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/terrapack/terrapack/elfscan"
	"github.com/terrapack/terrapack/internal/elfmagic"
)

// detectHead is how much of each file is read for evidence of a prefix.
const detectHead = 64 << 10

// absPath matches an absolute path of two components or more in text.
var absPath = regexp.MustCompile(`(?:^|[^A-Za-z0-9._/+-])(/[A-Za-z0-9._+-]+(?:/[A-Za-z0-9._+-]+)+)`)

// detectPrefix finds the build prefix of a tree that records none, from
// what names it: ELF RPATH/RUNPATH entries, "#!" interpreters and absolute
// paths in text files. A path Q/R is evidence for Q when R's first folder
// or file is in the tree (…/root/lib/libx.so with lib/ here); the Q with
// the most evidence wins. Q is never the root, one folder (/bin, /usr) or
// a system folder. It returns nil when nothing points anywhere.
func (o *Options) detectPrefix(root string) ([]string, error) {
	votes := map[string]int{}
	example := map[string]string{}
	top := map[string]bool{}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		top[e.Name()] = true
	}
	vote := func(p, where string) {
		p = path.Clean(p)
		parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
		// Q has at least two components, R at least one, whose first is here.
		for i := 2; i < len(parts); i++ {
			q := "/" + strings.Join(parts[:i], "/")
			if top[parts[i]] && !systemFolders[q[1:]] {
				votes[q]++
				if example[q] == "" {
					example[q] = where + " names " + p
				}
				return
			}
		}
	}
	buf := make([]byte, detectHead)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("failed to open %q: %w", p, err)
		}
		defer f.Close()
		n, _ := io.ReadFull(f, buf)
		head := buf[:n]
		switch {
		case elfmagic.Is(head):
			// A broken ELF file is no evidence either way.
			if facts, err := elfscan.ReadFacts(f); err == nil && facts != nil {
				for _, s := range append(facts.RPath, facts.RunPath...) {
					for _, e := range strings.Split(s.Value, ":") {
						if path.IsAbs(e) {
							vote(e, rel)
						}
					}
				}
			}
		case bytes.IndexByte(head, 0) < 0:
			for _, m := range absPath.FindAllSubmatch(head, 1000) {
				vote(string(m[1]), rel)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(votes) == 0 {
		o.logf("no build prefix recorded in the archive nor named in its files: nothing is relocated (give --prefix if the tree was built elsewhere)")
		return nil, nil
	}
	cands := make([]string, 0, len(votes))
	for q := range votes {
		cands = append(cands, q)
	}
	slices.SortFunc(cands, func(a, b string) int {
		if votes[a] != votes[b] {
			return votes[b] - votes[a]
		}
		return strings.Compare(a, b)
	})
	best := cands[0]
	o.logf("build prefix %s detected from %d mentions in the tree (e.g. %s); set --prefix to choose another", best, votes[best], example[best])
	return []string{best}, nil
}
