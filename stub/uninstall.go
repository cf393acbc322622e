package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/terrapack/terrapack/payload"
)

// uninstall removes a tree that .terrapack/ marks as an install of this name.
func uninstall(in *payload.Installer, o options, res *result) error {
	res.Action = "uninstall"
	if o.to == "" {
		return &refusal{msg: "--uninstall needs --to DIR", hint: "name the folder to remove"}
	}
	target, err := resolveTarget(o.to)
	if err != nil {
		return err
	}
	state, err := inspectTarget(target)
	if err != nil {
		return err
	}
	if state != targetOurs {
		return &refusal{msg: fmt.Sprintf("%q is not a terrapack install (no %s/manifest.json); nothing removed", target, payload.MetaDir)}
	}
	mb, err := os.ReadFile(filepath.Join(target, payload.MetaDir, "manifest.json"))
	if err != nil {
		return fmt.Errorf("failed to read install record: %w", err)
	}
	installed, err := payload.ParseManifest(mb)
	if err != nil {
		return fmt.Errorf("install record of %q is unreadable: %w", target, err)
	}
	res.Target, res.PreviousVersion = target, installed.Version
	if installed.Name != in.Manifest.Name {
		return &refusal{msg: fmt.Sprintf("%q holds %s, not %s; nothing removed", target, installed.Name, in.Manifest.Name), hint: "use that program's own installer to remove it"}
	}
	if o.dryRun {
		fmt.Fprintf(o.stderr, "dry run: would remove %s %s from %s (nothing was removed)\n", installed.Name, installed.Version, target)
		return nil
	}
	tx := &transaction{tmp: filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".terrapack-old")}
	if err := os.Rename(target, tx.tmp); err != nil {
		return fmt.Errorf("failed to remove %q: %w", target, err)
	}
	tx.close()
	if !o.quiet {
		fmt.Fprintf(o.stderr, "removed %s %s from %s\n", installed.Name, installed.Version, target)
	}
	return nil
}
