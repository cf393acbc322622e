package main

// What became of the previous install and the new tree: counted into the
// result (--json) and listed on stderr at the end of a run or a dry run.

import (
	"slices"
	"sort"
	"strings"

	"github.com/terrapack/terrapack/payload"
)

// countNew fills the counts of the new tree and lists its config files as new.
func countNew(m *payload.Manifest, nw *newEntries, res *result) {
	res.Counts.Files, res.Counts.Dirs, res.Counts.Symlinks, res.Counts.Hardlinks = m.Files, m.Dirs, m.Symlinks, m.Hardlinks
	res.Counts.Bytes = m.UnpackedSize
	res.Counts.New = nw.count
	res.Config.New = append(res.Config.New, nw.config...)
	sort.Strings(res.Config.New)
}

// countChanges fills res.Counts' new, replaced and removed entries.
func countChanges(prev *previous, nw newTree, res *result) {
	for name := range nw {
		if _, ok := prev.records[name]; ok {
			res.Counts.Replaced++
		} else {
			res.Counts.New++
		}
	}
	for name := range prev.records {
		if _, ok := nw[name]; !ok {
			res.Counts.Removed++
		}
	}
}

// printOutcome lists, on stderr, what became (or would become) of config
// files, kept data and the customer's files.
func printOutcome(p *progress, res *result) {
	list := func(what string, names []string) {
		if len(names) > 0 {
			p.linef("%s: %s", what, strings.Join(names, ", "))
		}
	}
	if res.Action == "upgrade" || res.Action == "repair" {
		p.linef("from %s to %s: %d entries new, %d replaced, %d removed", orNone(res.PreviousVersion), orNone(res.Version), res.Counts.New, res.Counts.Replaced, res.Counts.Removed)
	}
	var kept []string
	for _, k := range res.Config.Kept {
		if slices.Contains(res.Config.Beside, k) {
			k += " (new version beside as " + k + besideSuffix + ")"
		}
		kept = append(kept, k)
	}
	list("config kept as you changed it", kept)
	list("config replaced by the new version (you had not changed it)", res.Config.Replaced)
	list("config new", res.Config.New)
	list("config removed (unchanged, dropped by the new version)", res.Config.Removed)
	if len(res.Data.Moved) > 0 {
		p.linef("data moved into the new tree: %s (%d file(s))", strings.Join(res.Data.Moved, ", "), res.Data.Files)
	}
	list("your files carried into the new tree", res.Added.Carried)
	if len(res.Added.SetAside) > 0 {
		p.linef("set aside in %s (yours, with no place in the new tree or replaced by --repair): %s", res.Added.AsideFolder, strings.Join(res.Added.SetAside, ", "))
	}
	list("put back as installed", res.Repaired)
	list("your changes replaced (--discard-changes)", res.Conflicts)
}

func orNone(v string) string {
	if v == "" {
		return "(no version)"
	}
	return v
}
