package bundle

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

func (b *bundler) mtime(info fs.FileInfo) time.Time {
	if b.epoch != nil {
		return *b.epoch
	}
	if t := info.ModTime(); t.After(b.newest) {
		b.newest = t
	}
	return info.ModTime()
}

// copyFile copies src's bytes (dereferenced) to the new file dst.
func (b *bundler) copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("failed to open %q: %w", src, err)
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return fmt.Errorf("failed to stat %q: %w", src, err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("failed to create %q: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("failed to copy %q to %q: %w", src, dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("failed to write %q: %w", dst, err)
	}
	// The umask may have narrowed mode.
	if err := os.Chmod(dst, mode); err != nil {
		return fmt.Errorf("failed to set mode of %q: %w", dst, err)
	}
	b.times[dst] = b.mtime(info)
	return nil
}

// setTimes fixes every mtime after all writing (patchelf included) is done.
func (b *bundler) setTimes() error {
	for p, t := range b.times {
		if err := lchtimes(p, t); err != nil {
			return fmt.Errorf("failed to set the time of %q: %w", p, err)
		}
	}
	dirTime := b.newest
	if b.epoch != nil {
		dirTime = *b.epoch
	}
	return filepath.WalkDir(b.out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if err := os.Chtimes(p, dirTime, dirTime); err != nil {
			return fmt.Errorf("failed to set the time of %q: %w", p, err)
		}
		return nil
	})
}

func (b *bundler) run(args ...string) error {
	out, err := exec.Command(b.patchelf, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("patchelf %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
