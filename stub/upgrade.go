package main

// Upgrades: what install knows and refuses about the earlier install at the
// target, before anything is written; then, against the extracted new tree,
// the plan (merge.go) carried out (carry.go).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/terrapack/terrapack/payload"
)

// previous is the install found at the target, as its .terrapack/ records
// it, and its tree as the customer left it.
type previous struct {
	root     string
	manifest *payload.Manifest
	sha256   string // of the installer that made it
	records  recordSet
	license  string // SHA-256 of the license text accepted there, if any
	tree     *installedTree
}

func readPrevious(target string) (*previous, error) {
	meta := filepath.Join(target, payload.MetaDir)
	mb, err := os.ReadFile(filepath.Join(meta, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("failed to read the install record of %q: %w", target, err)
	}
	m, err := payload.ParseManifest(mb)
	if err != nil {
		return nil, fmt.Errorf("install record of %q is unreadable: %w", target, err)
	}
	prev := &previous{root: target, manifest: m}
	var info struct {
		SHA256 string `json:"installer_sha256"`
	}
	if b, err := os.ReadFile(filepath.Join(meta, "install.json")); err == nil {
		json.Unmarshal(b, &info) // an unreadable one only means "not the same installer"
	}
	prev.sha256 = info.SHA256
	prev.license = readAcceptance(meta)
	recs, err := readRecords(target)
	if err != nil {
		return nil, err
	}
	prev.records = newRecordSet(recs)
	return prev, nil
}

// upgrade is what install knows about the earlier install at the target.
type upgrade struct {
	prev       *previous // nil for a fresh install
	rules      rules
	m          *payload.Manifest
	noneReason string // why nothing is to be done (res.Action "none")
}

// prepareUpgrade reads the earlier install, refuses what would lose the
// customer's work, and sets res.Action: install, upgrade, repair, or none
// when the identical installer finds its own install intact. The previous
// tree is walked once; its files are read only once the cheap refusals
// are behind.
func prepareUpgrade(ctx context.Context, in *payload.Installer, o options, target string, state targetState, res *result) (*upgrade, error) {
	m := in.Manifest
	up := &upgrade{m: m}
	res.Action = "install"
	switch {
	case state == targetOther:
		prev, err := keptDataOnly(ctx, target, m)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil || prev == nil {
			return nil, &refusal{
				msg:  fmt.Sprintf("target %q is not empty and was not made by a terrapack installer", target),
				hint: "choose a new or empty folder; --force only replaces earlier terrapack installs",
			}
		}
		if err := refuseMounts(target, prev.tree.mounts); err != nil {
			return nil, err
		}
		// What an earlier --uninstall left of the vendor's keep: data moves
		// into this install.
		fmt.Fprintf(o.stderr, "%s holds only data an earlier install kept (%s): it moves into this install\n", target, strings.Join(m.Keep, " "))
		up.prev, up.rules = prev, rules{config: m.Config, keep: m.Keep}
		return up, nil
	case state != targetOurs && o.repair:
		return nil, &refusal{msg: fmt.Sprintf("nothing to repair: %q holds no install", target), hint: "install it first (without --repair)"}
	case state != targetOurs:
		return up, nil
	}
	if _, _, err := verifyOwnership(target, target, m.Name); err != nil {
		return nil, err
	}
	prev, err := readPrevious(target)
	if err != nil {
		return nil, err
	}
	up.prev = prev
	up.rules = newRules(m, prev, o)
	if prev.tree, err = scanInstalled(ctx, target, prev.records, up.rules.keep, true); err != nil {
		return nil, err
	}
	// An upgrade or a replacement would have to carry or delete what is
	// mounted inside.
	if err := refuseMounts(target, prev.tree.mounts); err != nil {
		return nil, err
	}
	if p, err := recoverAside(target); err != nil {
		return nil, err
	} else if p != "" {
		fmt.Fprintf(o.stderr, "moved the files an interrupted upgrade set aside to %s\n", p)
	}
	res.PreviousVersion = prev.manifest.Version
	res.Action = "upgrade"
	if o.repair {
		res.Action = "repair"
	}
	same := prev.sha256 == in.Trailer.Checksum()
	switch {
	case prev.manifest.Name != m.Name:
		return nil, &refusal{
			msg:  fmt.Sprintf("target %q holds %s, not %s", target, prev.manifest.Name, m.Name),
			hint: "choose another --to; an install is only upgraded by an installer of the same name",
		}
	case !o.force && !o.repair:
		return nil, &refusal{
			msg:  fmt.Sprintf("target %q already holds an install (%s)", target, prev.manifest.Title()),
			hint: "use --force to upgrade or replace it (atomically; config you changed, kept data and files you added are carried over), or choose another --to",
		}
	case o.repair && !same:
		return nil, &refusal{
			msg:  fmt.Sprintf("--repair needs the installer that made the install in %q (sha256 %s)", target, prev.sha256),
			hint: "run that installer with --repair, or this one with --force to upgrade",
		}
	}
	if err := prev.tree.compare(ctx); err != nil {
		return nil, err
	}
	if same {
		// The identical payload installs exactly what the records say.
		scratch := newResult()
		if _, err := up.rules.plan(prev, newTree(prev.records), true, scratch); err != nil {
			return nil, err
		}
		if len(scratch.Repaired) == 0 && len(up.rules.conflicts(prev.tree)) == 0 {
			res.Action = "none"
			up.noneReason = fmt.Sprintf("already installed: %s in %s is intact; nothing rewritten", m.Title(), target)
			if o.repair {
				up.noneReason = fmt.Sprintf("nothing to repair: %s in %s is intact", m.Title(), target)
			}
			return up, nil
		}
	}
	if c := up.rules.conflicts(prev.tree); len(c) > 0 && !o.repair && !o.discard {
		res.Conflicts = c
		hint := "move your changes elsewhere and run again, or add --discard-changes to replace them with the new version"
		if same {
			hint = "--repair puts the installed versions back (yours go to a folder beside the install), or --discard-changes replaces them"
		}
		return nil, &refusal{
			msg:  fmt.Sprintf("you changed %d installed file(s) the new version would replace: %s", len(c), strings.Join(c, ", ")),
			hint: hint,
		}
	}
	return up, nil
}

// keptDataOnly returns the folder target as a previous install with nothing
// installed when all its files lie under m's keep: globs (what --uninstall
// leaves), else nil. The walk stops at the first other file.
func keptDataOnly(ctx context.Context, target string, m *payload.Manifest) (*previous, error) {
	if len(m.Keep) == 0 {
		return nil, nil
	}
	t, err := scanKeptData(ctx, target, m.Keep)
	if errors.Is(err, errNotOnlyData) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &previous{root: target, manifest: &payload.Manifest{Name: m.Name}, records: recordSet{}, tree: t}, nil
}

// carryOver plans against the extracted new tree and carries what the
// customer keeps into it; besides records the new versions moved beside.
func (up *upgrade) carryOver(newRoot string, aside *asideFolder, nw *newEntries, besides func(payload.Record), res *result) error {
	countNew(up.m, nw, res)
	if up.prev == nil {
		return nil
	}
	pl, err := up.plan(nw.tree, res)
	if err != nil {
		return err
	}
	return pl.apply(up.prev.root, newRoot, aside, nw.tree, besides)
}

func (up *upgrade) plan(nw newTree, res *result) (*upgradePlan, error) {
	same := up.prev.sha256 == res.InstallerSHA256
	pl, err := up.rules.plan(up.prev, nw, same, res)
	if err != nil {
		return nil, err
	}
	res.Counts.New = 0
	countChanges(up.prev, nw, res)
	var fresh []string
	for _, name := range res.Config.New {
		if _, ok := up.prev.records[name]; !ok {
			fresh = append(fresh, name)
		}
	}
	res.Config.New = fresh
	if res.Config.New == nil {
		res.Config.New = []string{}
	}
	return pl, nil
}

// hookEnv is what the post-install hook gets besides the environment.
func (up *upgrade) hookEnv(o options) hookInput {
	h := hookInput{args: o.hookArgs, output: o.stderr}
	if up.prev != nil {
		h.previousVersion, h.upgrade = up.prev.manifest.Version, true
	}
	return h
}
