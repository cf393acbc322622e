package bundle

import (
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/terrapack/terrapack/elfscan"
)

// Localize writes the real path of DIR/lib64's loader into the PT_INTERP of
// every DIR/pbin program, so the terrarium runs where it lies without an
// installer. Mtimes are kept so a localized tree stays reproducible.
func Localize(dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		return fmt.Errorf("failed to resolve bundle %q: %w", dir, err)
	}
	pbin := filepath.Join(real, "pbin")
	entries, err := os.ReadDir(pbin)
	if err != nil {
		return fmt.Errorf("failed to list %q: %w", pbin, err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			if err := localizeFile(filepath.Join(pbin, e.Name()), filepath.Join(real, "lib64")); err != nil {
				return err
			}
		}
	}
	return nil
}

func localizeFile(p, lib64 string) error {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("failed to open %q: %w", p, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("failed to stat %q: %w", p, err)
	}
	facts, err := elfscan.ReadFacts(f)
	if err != nil {
		return fmt.Errorf("failed to read ELF %q: %w", p, err)
	}
	if facts == nil || facts.Interp == nil {
		return nil // static: nothing to point at
	}
	if err := facts.Interp.WriteNULPadded(f, filepath.Join(lib64, path.Base(facts.Interp.Value))); err != nil {
		return fmt.Errorf("failed to localize %q: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("failed to write %q: %w", p, err)
	}
	return os.Chtimes(p, info.ModTime(), info.ModTime())
}
