package testvm

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/terrapack/terrapack/internal/elfmagic"
)

// kernelBundle is a prepared kernel: the image handed to qemu's -kernel and a
// flat folder of the (decompressed) modules the guest needs.
type kernelBundle struct {
	Image   string // vmlinux (PVH ELF) when possible, else the bzImage
	Modules string // folder of NAME.ko files; may be empty
	Release string
}

// kernelRelease reads the release ("6.1.0-56-amd64") of a bzImage (from its
// setup header) or of an ELF vmlinux (from its "Linux version" banner).
func kernelRelease(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read kernel: %w", err)
	}
	if len(data) > 0x210 && string(data[0x202:0x206]) == "HdrS" {
		off := int(binary.LittleEndian.Uint16(data[0x20E:])) + 0x200
		if off > 0x200 && off < len(data) {
			if rel := firstWord(data[off:]); rel != "" {
				return rel, nil
			}
		}
	}
	if i := bytes.Index(data, []byte("Linux version ")); i >= 0 {
		if rel := firstWord(data[i+len("Linux version "):]); rel != "" {
			return rel, nil
		}
	}
	return "", fmt.Errorf("no kernel release found in %q", path)
}

func firstWord(b []byte) string {
	end := bytes.IndexAny(b, " \x00\n")
	if end <= 0 || end > 128 {
		return ""
	}
	return string(b[:end])
}

// prepareKernelFiles fills dir with a bootable image and the guest's modules
// from a kernel image and (optionally) its modules tree.
func prepareKernelFiles(ctx context.Context, kernel, modTree, dir string) (kernelBundle, error) {
	b := kernelBundle{}
	rel, err := kernelRelease(kernel)
	if err != nil {
		return b, err
	}
	b.Release = rel
	switch {
	case elfmagic.IsFile(kernel):
		if !hasPVHNote(kernel) {
			return b, fmt.Errorf("kernel %q is an ELF image without a PVH entry note; pass its bzImage instead", kernel)
		}
		b.Image = filepath.Join(dir, "vmlinux")
		if err := copyFile(kernel, b.Image, 0o644); err != nil {
			return b, err
		}
	default:
		b.Image = filepath.Join(dir, "vmlinux")
		ok, err := extractVmlinux(ctx, kernel, b.Image)
		if err != nil {
			return b, fmt.Errorf("extract vmlinux from %q: %w", kernel, err)
		}
		if !ok {
			b.Image = filepath.Join(dir, "bzImage")
			if err := copyFile(kernel, b.Image, 0o644); err != nil {
				return b, err
			}
		}
	}
	if modTree != "" {
		b.Modules = filepath.Join(dir, "modules")
		targets := append(append([]string{}, cdModules...), diskModules...)
		if _, err := collectModules(ctx, modTree, b.Modules, targets); err != nil {
			return b, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "release"), []byte(rel+"\n"), 0o644); err != nil {
		return b, err
	}
	return b, nil
}

// loadKernelBundle reads a bundle written by prepareKernelFiles.
func loadKernelBundle(dir string) (kernelBundle, error) {
	b := kernelBundle{}
	rel, err := os.ReadFile(filepath.Join(dir, "release"))
	if err != nil {
		return b, fmt.Errorf("read prepared kernel: %w", err)
	}
	b.Release = strings.TrimSpace(string(rel))
	for _, n := range []string{"vmlinux", "bzImage"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			b.Image = filepath.Join(dir, n)
			break
		}
	}
	if b.Image == "" {
		return b, fmt.Errorf("prepared kernel in %q has no image", dir)
	}
	if st, err := os.Stat(filepath.Join(dir, "modules")); err == nil && st.IsDir() {
		b.Modules = filepath.Join(dir, "modules")
	}
	return b, nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %q: %w", src, err)
	}
	return out.Close()
}

// prepareUserKernel prepares Config.Kernel with the modules found for it.
func prepareUserKernel(ctx context.Context, cfg Config, modRoot, dir string, logf func(string, ...any)) (kernelBundle, error) {
	if _, err := os.Stat(cfg.Kernel); err != nil {
		return kernelBundle{}, fmt.Errorf("kernel: %w", err)
	}
	rel, err := kernelRelease(cfg.Kernel)
	if err != nil {
		return kernelBundle{}, err
	}
	tree := cfg.Modules
	if tree == "" {
		var kernelRoot string
		if abs, err := filepath.Abs(cfg.Kernel); err == nil && filepath.Base(filepath.Dir(abs)) == "boot" {
			kernelRoot = filepath.Dir(filepath.Dir(abs))
		}
		tree = findModuleTree(rel, modRoot, kernelRoot, "/")
	}
	if tree == "" {
		logf("no modules found for kernel %s; assuming its CD, virtio and ext4 drivers are built in", rel)
	} else {
		logf("preparing kernel %s with modules from %q", rel, tree)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return kernelBundle{}, err
	}
	return prepareKernelFiles(ctx, cfg.Kernel, tree, dir)
}
