package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/terrapack/terrapack/payload"
)

// uninstall removes, from a folder this installer's kind installed into, the
// entries that are still as installed; changed and added files stay, with
// their folders, and are listed (--purge removes them too). Mounted file
// systems are never entered. The tree is first moved aside, so that it
// disappears at once and comes back if anything fails or is interrupted; a
// run killed meanwhile leaves it at .NAME.terrapack-old, which the next run
// puts back.
func uninstall(ctx context.Context, in *payload.Installer, o options, res *result) error {
	res.Action = "uninstall"
	if o.to == "" {
		return &refusal{msg: "--uninstall needs --to DIR", hint: "name the folder to remove"}
	}
	target, err := resolveTarget(o.to)
	if err != nil {
		return err
	}
	res.Target = target
	say := newProgress(o.stderr, o.quiet).linef
	notInstall := &refusal{msg: fmt.Sprintf("%q is not a terrapack install (no %s/manifest.json); nothing removed", target, payload.MetaDir)}
	parent := filepath.Dir(target)
	if _, err := os.Stat(parent); err != nil {
		return notInstall
	}
	var tx *transaction
	if !o.dryRun {
		if tx, err = begin(parent, target, in.Manifest.Name, say); err != nil {
			return err
		}
		defer tx.close()
	}
	state, err := inspectTarget(target)
	if err != nil {
		return err
	}
	if state != targetOurs {
		return notInstall
	}
	rec, installed, err := verifyOwnership(target, target, in.Manifest.Name)
	if err != nil {
		return err
	}
	// The vendor's keep: data stays too, under the globs of either version.
	keep := append(append([]string{}, installed.Keep...), in.Manifest.Keep...)
	res.PreviousVersion = rec.Version
	title := payload.Title(rec.Name, rec.Version)
	if o.dryRun {
		tree, err := classifyInstall(ctx, target, keep)
		if err != nil {
			return err
		}
		plan := removalOf(tree)
		res.Counts.Removed = wouldRemove(tree, plan, o.purge)
		res.Kept = append(res.Kept, keptBy(plan, o.purge)...)
		say("dry run: would remove %s from %s (nothing was removed)", title, target)
		for _, k := range res.Kept {
			say("  would keep %s/%s", target, k)
		}
		return nil
	}
	// tmp stays claimed (locked) throughout: no other run takes old for
	// a leftover meanwhile.
	if err := os.Rename(target, tx.old); err != nil {
		return fmt.Errorf("failed to move %q aside to remove it: %w", target, err)
	}
	putBack := func(cause error) error {
		if err := os.Rename(tx.old, target); err != nil {
			if cause == nil {
				return fmt.Errorf("failed to put the kept files back from %q: %w", tx.old, err)
			}
			return fmt.Errorf("%v, and putting the rest back from %q failed too: %w", cause, tx.old, err)
		}
		return cause
	}
	tree, err := classifyInstall(ctx, tx.old, keep)
	if err != nil {
		return putBack(err)
	}
	plan := removalOf(tree)
	var gone bool
	if o.purge {
		gone, err = purgeTree(ctx, tx.old)
	} else {
		gone, err = removePlanned(ctx, plan)
	}
	if err != nil {
		return putBack(&partialError{fmt.Errorf("removing %s from %q stopped: %w", title, target, err)})
	}
	res.Counts.Removed = removedCount(tree, gone)
	res.Kept = append(res.Kept, keptBy(plan, o.purge)...)
	if gone {
		say("removed %s from %s", title, target)
		return nil
	}
	if err := putBack(nil); err != nil {
		return err
	}
	say("removed %s from %s, keeping %d entries:", title, target, len(res.Kept))
	for _, k := range res.Kept {
		say("  kept %s/%s", target, k)
	}
	return nil
}

// keptBy lists what an uninstall leaves; with --purge, only mount points.
func keptBy(plan *removal, purge bool) []string {
	if !purge {
		return plan.kept
	}
	var k []string
	for _, m := range plan.mounts {
		k = append(k, m+" (mount point)")
	}
	return k
}

// wouldRemove counts the installed entries an uninstall would take away:
// those the plan removes, or with --purge all but the folders that hold a
// mount point.
func wouldRemove(t *installedTree, plan *removal, purge bool) int {
	if !purge {
		return len(plan.remove)
	}
	n := 0
	for _, e := range t.entries {
		if e.installed() && !slices.ContainsFunc(t.mounts, func(m string) bool { return strings.HasPrefix(m, e.rel+"/") }) {
			n++
		}
	}
	return n
}

// removedCount counts the installed entries that a removal took away: all of
// them when the folder went, else those no longer there.
func removedCount(t *installedTree, rootGone bool) int {
	n := 0
	for _, e := range t.entries {
		if e.installed() && (rootGone || !exists(filepath.Join(t.root, filepath.FromSlash(e.rel)))) {
			n++
		}
	}
	return n
}
