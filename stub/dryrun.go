package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/terrapack/terrapack/meter"
	"github.com/terrapack/terrapack/payload"
	"github.com/terrapack/terrapack/relocate"
	"golang.org/x/sys/unix"
)

// dryRun makes the checks of an install that need the file system or the
// payload, writing nothing: integrity of the whole file (and the relocation
// plan against it), write permission, the lock, free space; then prints the
// plan. It fails as the install would.
func dryRun(ctx context.Context, in *payload.Installer, target string, reloc *relocate.Applier, up *upgrade, res *result, p *progress) error {
	m := in.Manifest
	parent := filepath.Dir(target)
	existing := parent
	for {
		if _, err := os.Stat(existing); err == nil {
			break
		}
		existing = filepath.Dir(existing)
	}
	if err := unix.Access(existing, unix.W_OK|unix.X_OK); err != nil {
		return writeRefusal(existing, err)
	}
	if l, err := lockDir(filepath.Join(parent, "."+filepath.Base(target)+".terrapack-new")); err == nil {
		l.Close()
	} else if !os.IsNotExist(err) {
		return &refusal{msg: fmt.Sprintf("another install into %q is running", target), hint: "wait for it to finish"}
	}
	if err := checkSpace(existing, m.UnpackedSize+4096*m.Entries()); err != nil {
		return err
	}
	p.linef("dry run: verifying %s %s (%d files, %s) for %s; nothing is written", m.Name, m.Version, m.Files, meter.Bytes(m.UnpackedSize), target)
	p.begin("verifying", m.UnpackedSize, m.Files)
	nw := up.newEntries()
	x := in.NewExtractor("", rewriter(reloc))
	x.OnEntry = func(r payload.Record) {
		nw.add(r)
		p.entry(r)
	}
	err := in.Stream(ctx, func(tr *payload.TarReader) error { return x.Extract(ctx, tr) })
	p.end()
	if err != nil {
		return err
	}
	if reloc != nil {
		if err := reloc.CheckComplete(); err != nil {
			return err
		}
	}
	countNew(m, nw, res)
	if up.prev != nil {
		if _, err := up.plan(nw.tree, res); err != nil {
			return err
		}
		if len(res.Added.SetAside) > 0 {
			res.Added.AsideFolder = freeAsideName(target)
		}
	}
	printOutcome(p, res)
	p.linef("dry run: all checks passed; the %s would succeed (nothing was written)", res.Action)
	return nil
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
