// Package atomicfile writes output files so that a failed or interrupted
// write never leaves a partial file at the destination.
package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write writes p through a temporary sibling renamed at the end,
// so that a failed or interrupted write never leaves a partial file at p.
func Write(p string, mode fs.FileMode, write func(*os.File) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-*")
	if err != nil {
		return fmt.Errorf("failed to create output next to %q: %w", p, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("failed to set mode of %q: %w", p, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("failed to write %q: %w", p, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("failed to move %q into place: %w", p, err)
	}
	return nil
}
