package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

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
	p.linef("dry run: verifying %s (%d files, %s) for %s; nothing is written", m.Title(), m.Files, meter.Bytes(m.UnpackedSize), target)
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
