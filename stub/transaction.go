package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// transaction owns the temporary sibling folder of a target and the lock
// that keeps a second installer of the same target out.
type transaction struct {
	tmp, old string
	lock     *os.File
	swapped  bool // RENAME_EXCHANGE put the previous tree at tmp
	// parent is flocked while tmp is claimed (begin), renamed (commit,
	// rollback) or removed (close), so that no other installer sees tmp
	// unclaimed meanwhile.
	parent *os.File
	held   bool
}

// begin creates parent/.NAME.terrapack-new, locked, and deals with what an
// installer killed earlier left beside target: a locked temporary folder
// means another install is running; an unlocked one is removed, saying so;
// a previous tree moved aside is put back or, when the commit had finished,
// removed if it holds nothing but what was installed. say reports each.
func begin(parent, target, name string, say func(string, ...any)) (*transaction, error) {
	pd, err := os.Open(parent)
	if err != nil {
		return nil, writeRefusal(parent, err)
	}
	base := filepath.Base(target)
	tx := &transaction{
		tmp:    filepath.Join(parent, "."+base+".terrapack-new"),
		old:    filepath.Join(parent, "."+base+".terrapack-old"),
		parent: pd,
	}
	if err := tx.hold(); err != nil {
		pd.Close()
		return nil, err
	}
	defer tx.release()
	if err := tx.claim(target, name, say); err != nil {
		pd.Close()
		return nil, err
	}
	return tx, nil
}

// hold flocks the parent folder until release or close.
func (tx *transaction) hold() error {
	if tx.held {
		return nil
	}
	if err := unix.Flock(int(tx.parent.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("failed to lock %q: %w", tx.parent.Name(), err)
	}
	tx.held = true
	return nil
}

func (tx *transaction) release() {
	if tx.held {
		unix.Flock(int(tx.parent.Fd()), unix.LOCK_UN)
		tx.held = false
	}
}

func (tx *transaction) claim(target, name string, say func(string, ...any)) error {
	parent := tx.parent.Name()
	var err error
	if err := os.Mkdir(tx.tmp, 0o700); err != nil {
		if !os.IsExist(err) {
			return writeRefusal(parent, err)
		}
		if l, err := lockDir(tx.tmp); err != nil {
			return &refusal{
				msg:  fmt.Sprintf("another install into %q is running (it holds %q)", target, tx.tmp),
				hint: "wait for it to finish",
			}
		} else {
			l.Close()
		}
		say("removing %s, left by an interrupted run", tx.tmp)
		if err := removeTree(tx.tmp); err != nil {
			return fmt.Errorf("failed to remove leftover %q: %w", tx.tmp, err)
		}
		if err := os.Mkdir(tx.tmp, 0o700); err != nil {
			return writeRefusal(parent, err)
		}
	}
	if tx.lock, err = lockDir(tx.tmp); err != nil {
		os.Remove(tx.tmp)
		return fmt.Errorf("failed to lock %q: %w", tx.tmp, err)
	}
	if err := tx.recoverOld(target, name, say); err != nil {
		tx.lock.Close()
		os.Remove(tx.tmp)
		return err
	}
	return nil
}

// recoverOld handles a previous tree that a run killed between two renames
// left at tx.old (a file system without RENAME_EXCHANGE, or --uninstall).
func (tx *transaction) recoverOld(target, name string, say func(string, ...any)) error {
	if _, err := os.Lstat(tx.old); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := os.Lstat(target); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(tx.old, target); err != nil {
			return fmt.Errorf("failed to put back %q, which an interrupted run had moved aside to %q: %w", target, tx.old, err)
		}
		say("put back %s, which an interrupted run had moved aside to %s", target, tx.old)
		return nil
	}
	// The commit had finished: tx.old is the install it replaced.
	keep := func(why string) error {
		return &refusal{
			msg:  fmt.Sprintf("%q, left by an interrupted run beside %q, %s; it was not removed", tx.old, target, why),
			hint: "look into it, move out what you need, remove it, and run the installer again",
		}
	}
	if _, _, err := verifyOwnership(tx.old, target, name); err != nil {
		return keep("is not a previous install of this folder (" + err.Error() + ")")
	}
	tree, err := classifyInstall(context.Background(), tx.old, nil)
	if err != nil {
		return keep(fmt.Sprintf("cannot be checked (%v)", err))
	}
	if kept := removalOf(tree).kept; len(kept) > 0 {
		return keep("holds files that were not installed or were changed: " + listSome(kept))
	}
	say("removing %s, the previous install left by an interrupted run", tx.old)
	return removeTree(tx.old)
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
	if err := tx.hold(); err != nil {
		return err
	}
	defer tx.release()
	if err := tx.renames(target, state); err != nil {
		return err
	}
	tx.guard()
	return nil
}

// guard claims tmp again once the locked folder was renamed to target:
// another installer must not take the previous tree, at tmp or old, for a
// leftover while a failed hook may still need it back.
func (tx *transaction) guard() {
	if !tx.swapped {
		os.Mkdir(tx.tmp, 0o700) // a placeholder; the previous tree is at old
	}
	if l, err := lockDir(tx.tmp); err == nil {
		tx.lock.Close()
		tx.lock = l
	}
}

func (tx *transaction) renames(target string, state targetState) error {
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
	if err := tx.hold(); err != nil { // until close
		return err
	}
	switch {
	case tx.swapped:
		if err := unix.Renameat2(unix.AT_FDCWD, tx.tmp, unix.AT_FDCWD, target, unix.RENAME_EXCHANGE); err != nil {
			return fmt.Errorf("failed to swap the previous install back into %q: %w", target, err)
		}
		tx.swapped = false
		return nil
	case state == targetOurs:
		// unix.Rename replaces guard's empty placeholder (os.Rename refuses to).
		if err := unix.Rename(target, tx.tmp); err != nil {
			return fmt.Errorf("failed to move the new tree out of %q: %w", target, err)
		}
		return os.Rename(tx.old, target)
	}
	if err := unix.Rename(target, tx.tmp); err != nil {
		return fmt.Errorf("failed to move the new tree out of %q: %w", target, err)
	}
	if state == targetEmpty {
		return os.Mkdir(target, 0o755)
	}
	return nil
}

// finish drops the previous tree after a successful commit; one that
// cannot go entirely (a file system was mounted into it since the check)
// stays, and say tells where.
func (tx *transaction) finish(say func(string, ...any)) {
	remove := func() error { return removeTree(tx.old) }
	if tx.swapped {
		// Emptied, not removed: tmp stays claimed until close.
		remove = func() error { return emptyTree(tx.tmp) }
	}
	if err := remove(); err != nil {
		say("warning: the previous install was replaced, but %v", err)
	}
}

// close removes whatever is left at tmp and releases the locks.
func (tx *transaction) close() {
	tx.hold()
	removeTree(tx.tmp)
	if tx.lock != nil {
		tx.lock.Close()
	}
	tx.release()
	tx.parent.Close()
}
