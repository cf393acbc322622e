package main

import (
	"fmt"
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
