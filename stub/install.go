package main

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/terrapack/terrapack/payload"
	"github.com/terrapack/terrapack/relocate"
	"golang.org/x/sys/unix"
)

// install runs the whole transaction: preflight, extract into a sibling
// temporary folder while verifying, commit by rename, run the hook.
func install(ctx context.Context, in *payload.Installer, o options) (err error) {
	m := in.Manifest
	p := newProgress(o.quiet)
	dir := o.to
	if dir == "" {
		dir = m.DefaultTarget
		p.linef("no --to given: installing to the default %s", dir)
	}
	target, err := resolveTarget(dir)
	if err != nil {
		return err
	}
	state, err := inspectTarget(target)
	if err != nil {
		return err
	}
	switch {
	case state == targetOther:
		return &refusal{
			msg:  fmt.Sprintf("target %q is not empty and was not made by a terrapack installer", target),
			hint: "choose a new or empty folder; --force only replaces earlier terrapack installs",
		}
	case state == targetOurs && !o.force:
		return &refusal{
			msg:  fmt.Sprintf("target %q already holds an install", target),
			hint: "use --force to replace it (atomically: the old tree comes back if anything fails), or choose another --to",
		}
	}

	reloc, err := newRelocation(m, target)
	if err != nil {
		return err
	}
	if err := checkNotMountPoint(target, state); err != nil {
		return err
	}
	createdParents, err := makeParents(target)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			removeDirs(createdParents)
		}
	}()
	parent := filepath.Dir(target)
	// Files are created with exactly the payload's modes; the hook gets the
	// user's umask back.
	umask := unix.Umask(0)
	tx, err := begin(parent, filepath.Base(target))
	if err != nil {
		return err
	}
	defer tx.close()
	if err := checkSpace(parent, m.UnpackedSize+4096*m.Entries()); err != nil {
		return err
	}

	p.linef("verifying and installing %s %s (%d files, %s) into %s", m.Name, m.Version, m.Files, human(m.UnpackedSize), target)
	in.Progress = p.begin(in.Trailer.Layout.PayloadLength, "installing")
	recs, err := newRecordWriter(tx.tmp)
	if err != nil {
		return err
	}
	x := &payload.Extractor{Root: tx.tmp, FinalRoot: target, OnEntry: recs.add}
	if reloc != nil {
		x.Rewrite = reloc
	}
	err = in.Stream(ctx, func(tr *tar.Reader) error { return x.Extract(ctx, tr) })
	if err == nil && reloc != nil {
		if missed := reloc.Remaining(); len(missed) > 0 {
			err = fmt.Errorf("relocation plan names entries missing from the payload: %s", strings.Join(missed, ", "))
		}
	}
	p.end()
	if err == nil {
		err = recs.close()
	} else {
		recs.close()
	}
	if err == nil {
		err = writeMeta(tx.tmp, in, target)
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
		if herr := runHook(ctx, target, m); herr != nil {
			if rerr := tx.rollback(target, state); rerr != nil {
				return fmt.Errorf("post-install hook failed (%v) and restoring the previous state failed too: %w", herr, rerr)
			}
			return &hookError{fmt.Errorf("post-install hook %q failed: %w; the install was undone", m.PostInstall, herr)}
		}
	}
	tx.finish()
	p.linef("installed %s %s into %s in %s", m.Name, m.Version, target, p.elapsed())
	return nil
}

// newRelocation prepares the manifest's relocation plan for target, or
// refuses, before anything is written, when target cannot hold it.
func newRelocation(m *payload.Manifest, target string) (*relocate.Applier, error) {
	if len(m.Relocation) == 0 {
		return nil, nil
	}
	var plan relocate.Plan
	if err := json.Unmarshal(m.Relocation, &plan); err != nil {
		return nil, &payload.FormatError{Msg: fmt.Sprintf("unreadable relocation plan: %v", err)}
	}
	a, err := relocate.NewApplier(&plan, relocate.Vars{Prefix: target, Name: m.Name, Version: m.Version})
	var te *relocate.TargetError
	if errors.As(err, &te) {
		return nil, &refusal{msg: err.Error(), hint: te.Hint}
	}
	if err != nil {
		return nil, &refusal{msg: err.Error()}
	}
	return a, nil
}
