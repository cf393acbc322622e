package builder

import (
	"fmt"
	"os"

	"github.com/terrapack/terrapack/relocate/planner"
)

// omitStaleCaches leaves out of entries every compiled Python cache whose
// source names a build prefix: the source is rewritten at install, and
// Python would go on loading the cache (see planner.Planner.Omit).
func omitStaleCaches(entries []entry, pln *planner.Planner) ([]entry, error) {
	byName := map[string]*entry{}
	for i := range entries {
		byName[entries[i].name] = &entries[i]
	}
	relocated := map[string]bool{} // source name → names a prefix
	stale := map[string]string{}   // cache name → its source
	for _, e := range entries {
		src, ok := planner.CacheSource(e.name)
		se := byName[src]
		if !ok || !e.info.Mode().IsRegular() || se == nil || !se.info.Mode().IsRegular() {
			continue
		}
		names, seen := relocated[src]
		if !seen {
			var err error
			if names, err = fileNames(pln, se); err != nil {
				return nil, err
			}
			relocated[src] = names
		}
		if names {
			stale[e.name] = src
		}
	}
	// A cache that another name hard-links to stays: that name needs it.
	for _, e := range entries {
		if e.hardlink && stale[e.name] == "" {
			delete(stale, e.link)
		}
	}
	kept := entries[:0:0]
	for _, e := range entries {
		if src := stale[e.name]; src != "" {
			pln.Omit(e.name, src)
			continue
		}
		kept = append(kept, e)
	}
	return kept, nil
}

func fileNames(pln *planner.Planner, e *entry) (bool, error) {
	f, err := os.Open(e.hostPath)
	if err != nil {
		return false, fmt.Errorf("failed to open %q: %w", e.hostPath, err)
	}
	defer f.Close()
	names, err := pln.Names(f, e.info.Size())
	if err != nil {
		return false, fmt.Errorf("failed to read %q: %w", e.hostPath, err)
	}
	return names, nil
}
