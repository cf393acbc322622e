package main

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
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
	if err != nil {
		return nil, &refusal{msg: err.Error(), hint: "choose a shorter --to; the message above says how long it may be"}
	}
	return a, nil
}

// transaction owns the temporary sibling folder of a target and the lock
// that keeps a second installer of the same target out.
type transaction struct {
	tmp, old string
	lock     *os.File
	swapped  bool // RENAME_EXCHANGE put the previous tree at tmp
}

// begin creates parent/.NAME.terrapack-new, locked; a leftover one from a
// killed installer is removed, a locked one means another install is running.
func begin(parent, base string) (*transaction, error) {
	pd, err := os.Open(parent)
	if err != nil {
		return nil, writeRefusal(parent, err)
	}
	defer pd.Close()
	// Held only while the temporary folder is claimed.
	if err := unix.Flock(int(pd.Fd()), unix.LOCK_EX); err != nil {
		return nil, fmt.Errorf("failed to lock %q: %w", parent, err)
	}
	defer unix.Flock(int(pd.Fd()), unix.LOCK_UN)
	tx := &transaction{
		tmp: filepath.Join(parent, "."+base+".terrapack-new"),
		old: filepath.Join(parent, "."+base+".terrapack-old"),
	}
	if err := os.Mkdir(tx.tmp, 0o700); err != nil {
		if !os.IsExist(err) {
			return nil, writeRefusal(parent, err)
		}
		if l, err := lockDir(tx.tmp); err != nil {
			return nil, &refusal{
				msg:  fmt.Sprintf("another install into %q is running (it holds %q)", filepath.Join(parent, base), tx.tmp),
				hint: "wait for it to finish",
			}
		} else {
			l.Close()
		}
		if err := os.RemoveAll(tx.tmp); err != nil {
			return nil, fmt.Errorf("failed to remove leftover %q: %w", tx.tmp, err)
		}
		if err := os.Mkdir(tx.tmp, 0o700); err != nil {
			return nil, writeRefusal(parent, err)
		}
	}
	if tx.lock, err = lockDir(tx.tmp); err != nil {
		os.Remove(tx.tmp)
		return nil, fmt.Errorf("failed to lock %q: %w", tx.tmp, err)
	}
	os.RemoveAll(tx.old) // a leftover of a killed --force install
	return tx, nil
}

func lockDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// commit puts the new tree at target. An existing tree is exchanged
// atomically where the file system allows it, else moved aside first.
func (tx *transaction) commit(target string, state targetState) error {
	if err := os.Chmod(tx.tmp, 0o755); err != nil {
		return fmt.Errorf("failed to set mode of %q: %w", tx.tmp, err)
	}
	if state == targetMissing || state == targetEmpty {
		// rename(2) replaces an empty folder atomically (os.Rename refuses to).
		if err := unix.Rename(tx.tmp, target); err != nil {
			return fmt.Errorf("failed to move the new tree into %q: %w", target, err)
		}
		return nil
	}
	if err := unix.Renameat2(unix.AT_FDCWD, tx.tmp, unix.AT_FDCWD, target, unix.RENAME_EXCHANGE); err == nil {
		tx.swapped = true
		return nil
	}
	if err := os.Rename(target, tx.old); err != nil {
		return fmt.Errorf("failed to move the previous install %q aside: %w", target, err)
	}
	if err := os.Rename(tx.tmp, target); err != nil {
		if rerr := os.Rename(tx.old, target); rerr != nil {
			return fmt.Errorf("failed to move the new tree into %q (%v) and to restore the previous one from %q: %w", target, err, tx.old, rerr)
		}
		return fmt.Errorf("failed to move the new tree into %q: %w; the previous install is back", target, err)
	}
	return nil
}

// rollback undoes commit: the previous tree, if any, returns to target and
// the new one goes back to tmp, to be removed by close.
func (tx *transaction) rollback(target string, state targetState) error {
	switch {
	case tx.swapped:
		if err := unix.Renameat2(unix.AT_FDCWD, tx.tmp, unix.AT_FDCWD, target, unix.RENAME_EXCHANGE); err != nil {
			return fmt.Errorf("failed to swap the previous install back into %q: %w", target, err)
		}
		tx.swapped = false
		return nil
	case state == targetOurs:
		if err := os.Rename(target, tx.tmp); err != nil {
			return fmt.Errorf("failed to move the new tree out of %q: %w", target, err)
		}
		return os.Rename(tx.old, target)
	}
	if err := os.Rename(target, tx.tmp); err != nil {
		return fmt.Errorf("failed to move the new tree out of %q: %w", target, err)
	}
	if state == targetEmpty {
		return os.Mkdir(target, 0o755)
	}
	return nil
}

// finish drops the previous tree after a successful commit.
func (tx *transaction) finish() {
	if tx.swapped {
		return // close removes tmp, which now holds the previous tree
	}
	os.RemoveAll(tx.old)
}

// close removes whatever is left at tmp and releases the lock.
func (tx *transaction) close() {
	makeWritable(tx.tmp)
	os.RemoveAll(tx.tmp)
	if tx.lock != nil {
		tx.lock.Close()
	}
}

// makeWritable lets RemoveAll into read-only folders of a payload.
func makeWritable(root string) {
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
}

// recordWriter streams the installed-file list to .terrapack/files.
type recordWriter struct {
	f *os.File
	w *bufio.Writer
}

func newRecordWriter(root string) (*recordWriter, error) {
	meta := filepath.Join(root, payload.MetaDir)
	if err := os.Mkdir(meta, 0o755); err != nil {
		return nil, fmt.Errorf("failed to create %q: %w", meta, err)
	}
	f, err := os.OpenFile(filepath.Join(meta, "files"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("failed to create installed-file list: %w", err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "# sha256\ttype\tmode\tsize\tpath[\t-> link]")
	return &recordWriter{f: f, w: w}, nil
}

func (r *recordWriter) add(rec payload.Record) {
	sum := "-"
	if rec.SHA256 != nil {
		sum = hex.EncodeToString(rec.SHA256)
	}
	fmt.Fprintf(r.w, "%s\t%c\t%04o\t%d\t%s", sum, typeChar(rec.Type), rec.Mode, rec.Size, escape(rec.Name))
	if rec.Link != "" {
		fmt.Fprintf(r.w, "\t-> %s", escape(rec.Link))
	}
	r.w.WriteByte('\n')
}

func (r *recordWriter) close() error {
	err := r.w.Flush()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("failed to write installed-file list: %w", err)
	}
	return nil
}

func typeChar(t byte) byte {
	switch t {
	case tar.TypeDir:
		return 'd'
	case tar.TypeSymlink:
		return 'l'
	case tar.TypeLink:
		return 'h'
	}
	return '-'
}

// escape keeps one record per line whatever the name holds.
func escape(s string) string {
	return strings.NewReplacer("\\", `\\`, "\n", `\n`, "\t", `\t`).Replace(s)
}

// writeMeta stores the manifest and where the install came from.
func writeMeta(root string, in *payload.Installer, target string) error {
	meta := filepath.Join(root, payload.MetaDir)
	if err := os.WriteFile(filepath.Join(meta, "manifest.json"), in.ManifestBytes, 0o644); err != nil {
		return fmt.Errorf("failed to write manifest: %w", err)
	}
	info := fmt.Sprintf("{\n  \"target\": %q,\n  \"installer_sha256\": %q\n}\n", target, in.Trailer.Checksum())
	if err := os.WriteFile(filepath.Join(meta, "install.json"), []byte(info), 0o644); err != nil {
		return fmt.Errorf("failed to write install record: %w", err)
	}
	return nil
}

// runHook runs the post-install hook from inside the committed tree.
func runHook(ctx context.Context, target string, m *payload.Manifest) error {
	cmd := exec.CommandContext(ctx, filepath.Join(target, filepath.FromSlash(m.PostInstall)))
	cmd.Dir = target
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.Env = append(os.Environ(), "TERRAPACK_PREFIX="+target, "TERRAPACK_NAME="+m.Name, "TERRAPACK_VERSION="+m.Version)
	return cmd.Run()
}

// uninstall removes a tree that .terrapack/ marks as an install of this name.
func uninstall(in *payload.Installer, o options) error {
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
	if installed.Name != in.Manifest.Name {
		return &refusal{msg: fmt.Sprintf("%q holds %s, not %s; nothing removed", target, installed.Name, in.Manifest.Name), hint: "use that program's own installer to remove it"}
	}
	tx := &transaction{tmp: filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".terrapack-old")}
	if err := os.Rename(target, tx.tmp); err != nil {
		return fmt.Errorf("failed to remove %q: %w", target, err)
	}
	tx.close()
	if !o.quiet {
		fmt.Fprintf(os.Stderr, "removed %s %s from %s\n", installed.Name, installed.Version, target)
	}
	return nil
}

// list prints the payload's entries, verifying the file on the way.
func list(ctx context.Context, in *payload.Installer, w io.Writer) error {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	return in.Stream(ctx, func(tr *tar.Reader) error {
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("failed to read payload: %w", err)
			}
			perm := hdr.FileInfo().Mode().Perm().String()[1:]
			line := fmt.Sprintf("%c%s %12d %s", typeChar(hdr.Typeflag), perm, hdr.Size, hdr.Name)
			switch hdr.Typeflag {
			case tar.TypeSymlink:
				line += " -> " + hdr.Linkname
			case tar.TypeLink:
				line += " link to " + hdr.Linkname
			}
			fmt.Fprintln(bw, line)
		}
	})
}

// check verifies the checksum and every entry without writing anything.
func check(ctx context.Context, in *payload.Installer, w io.Writer, quiet bool) error {
	if err := in.Check(ctx); err != nil {
		return err
	}
	if !quiet {
		fmt.Fprintf(w, "ok: %s %s, %d entries, sha256 %s\n", in.Manifest.Name, in.Manifest.Version, in.Manifest.Entries(), in.Trailer.Checksum())
	}
	return nil
}
