package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/terrapack/terrapack/meter"
	"github.com/terrapack/terrapack/payload"
	"github.com/terrapack/terrapack/relocate"
	"golang.org/x/sys/unix"
)

// install runs the whole transaction: preflight, extract into a sibling
// temporary folder while verifying, carry over what the customer keeps from
// an earlier install, commit by rename, run the hook. res receives what was
// done for --json and the closing lines.
func install(ctx context.Context, in *payload.Installer, o options, res *result) (err error) {
	m := in.Manifest
	p := newProgress(o.stderr, o.quiet)
	p.noBar = o.noProgress
	res.DryRun = o.dryRun
	dir := o.to
	if dir == "" {
		dir = m.DefaultTarget
		p.linef("no --to given: installing to the default %s", dir)
	}
	target, err := resolveTarget(dir)
	if err != nil {
		return err
	}
	res.Target = target
	// A target that cannot be used at all is refused before anything is
	// created; what it holds is looked at once begin has put back what an
	// interrupted run may have moved aside.
	if _, err := inspectTarget(target); err != nil {
		return err
	}
	var createdParents []string
	defer func() {
		if err != nil {
			removeDirs(createdParents)
		}
	}()
	var tx *transaction
	if !o.dryRun {
		if createdParents, err = makeParents(target); err != nil {
			return err
		}
		if tx, err = begin(filepath.Dir(target), target, m.Name, p.linef); err != nil {
			return err
		}
		defer tx.close()
	}
	state, err := inspectTarget(target)
	if err != nil {
		return err
	}
	up, err := prepareUpgrade(ctx, in, o, target, state, res)
	if err != nil || res.Action == "none" {
		if err == nil {
			p.linef("%s", up.noneReason)
		}
		return err
	}
	if up.prev != nil {
		state = targetOurs // kept data alone is replaced like an install
	}
	accepted, err := acceptLicense(m, o, up.prev)
	if err != nil {
		return err
	}
	reloc, err := newRelocation(m, target)
	if err != nil {
		return err
	}
	if err := checkNotMountPoint(target, state); err != nil {
		return err
	}
	if o.dryRun {
		return dryRun(ctx, in, target, reloc, up, res, p)
	}
	parent := filepath.Dir(target)
	// Files are created with exactly the payload's modes; the hook gets the
	// user's umask back.
	umask := unix.Umask(0)
	if err := checkSpace(parent, m.UnpackedSize+4096*m.Entries()); err != nil {
		return err
	}
	aside := newAsideFolder(tx.tmp, target)

	p.linef("verifying and installing %s (%d files, %s) into %s", m.Title(), m.Files, meter.Bytes(m.UnpackedSize), target)
	p.begin("installing", m.UnpackedSize, m.Files)
	recs, err := newRecordWriter(tx.tmp)
	if err != nil {
		return err
	}
	nw := up.newEntries()
	x := in.NewExtractor(tx.tmp, rewriter(reloc))
	x.OnEntry = func(r payload.Record) {
		recs.add(r)
		nw.add(r)
		p.entry(r)
	}
	err = in.Stream(ctx, func(tr *payload.TarReader) error { return x.Extract(ctx, tr) })
	if err == nil && reloc != nil {
		err = reloc.CheckComplete()
	}
	p.end()
	if err == nil {
		err = up.carryOver(tx.tmp, aside, nw, recs.add, res)
	}
	if err == nil {
		err = recs.close()
	} else {
		recs.close()
	}
	if err == nil {
		err = writeMeta(tx.tmp, in, target)
	}
	if err == nil {
		err = recordAcceptance(tx.tmp, m, accepted)
	}
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if o.sync {
		if err := unix.Syncfs(int(tx.lock.Fd())); err != nil {
			return fmt.Errorf("failed to flush %q to disk: %w", tx.tmp, err)
		}
	}
	if err := tx.commit(target, state); err != nil {
		return err
	}
	if m.PostInstall != "" && !o.noHook {
		p.linef("running post-install hook %s", m.PostInstall)
		unix.Umask(umask)
		if herr := runHook(ctx, target, m, up.hookEnv(o)); herr != nil {
			if rerr := tx.rollback(target, state); rerr != nil {
				return fmt.Errorf("post-install hook failed (%v) and restoring the previous state failed too: %w", herr, rerr)
			}
			return &hookError{fmt.Errorf("post-install hook %q failed: %w; the install was undone", m.PostInstall, herr)}
		}
	}
	tx.finish(p.linef)
	if err := aside.publish(target); err != nil {
		return fmt.Errorf("%s is installed, but %w", m.Title(), err)
	}
	res.Added.AsideFolder = aside.path
	printOutcome(p, res)
	p.linef("%s %s into %s in %s", pastTense[res.Action], m.Title(), target, p.elapsed())
	return nil
}

var pastTense = map[string]string{"install": "installed", "upgrade": "upgraded", "repair": "repaired"}

// newRelocation prepares the manifest's relocation plan for target, or
// refuses, before anything is written, when the plan is invalid (the file is
// at fault: a *payload.FormatError) or target cannot hold it.
func newRelocation(m *payload.Manifest, target string) (*relocate.Applier, error) {
	plan, err := relocate.ManifestPlan(m)
	if err != nil || plan == nil {
		return nil, err
	}
	a, err := relocate.NewApplier(plan, relocate.Vars{Prefix: target, Name: m.Name, Version: m.Version})
	var (
		fe *payload.FormatError
		te *relocate.TargetError
	)
	switch {
	case errors.As(err, &fe):
		return nil, err
	case errors.As(err, &te):
		return nil, &refusal{msg: err.Error(), hint: te.Hint}
	case err != nil:
		return nil, &refusal{msg: err.Error()}
	}
	return a, nil
}

// rewriter is reloc as the extractor takes it: no interface around a nil.
func rewriter(reloc *relocate.Applier) payload.Rewriter {
	if reloc == nil {
		return nil
	}
	return reloc
}
