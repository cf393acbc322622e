package testvm

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/terrapack/terrapack/internal/shell"
)

const defaultMirror = "http://deb.debian.org/debian"

// debianMirror returns the Debian archive the host's apt uses
// ($TERRAPACK_TESTVM_MIRROR overrides it).
func debianMirror() string {
	if m := os.Getenv("TERRAPACK_TESTVM_MIRROR"); m != "" {
		return m
	}
	var files []string
	files = append(files, "/etc/apt/sources.list")
	if more, _ := filepath.Glob("/etc/apt/sources.list.d/*"); len(more) > 0 {
		files = append(files, more...)
	}
	for _, f := range files {
		if m := mirrorFromSources(f); m != "" {
			return m
		}
	}
	return defaultMirror
}

// mirrorFromSources finds the first URI ending in "/debian" in a one-line
// (.list) or deb822 (.sources) apt source file.
func mirrorFromSources(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var uris []string
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "URIs:"):
			uris = f[1:]
		case f[0] == "deb":
			for _, w := range f[1:] {
				if strings.Contains(w, "://") {
					uris = append(uris, w)
					break
				}
			}
		}
		for _, u := range uris {
			u = strings.TrimRight(u, "/")
			if strings.HasSuffix(u, "/debian") && (strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) {
				return u
			}
		}
	}
	return ""
}

// aptKernelPackage returns the versioned kernel package linux-image-amd64
// depends on, and its version, as seen by apt (in chroot when not empty).
func aptKernelPackage(ctx context.Context, chroot string) (pkg, version string, err error) {
	run := func(args ...string) (string, error) {
		if chroot != "" {
			return runCmd(ctx, "", "chroot", append([]string{chroot}, args...)...)
		}
		return runCmd(ctx, "", args[0], args[1:]...)
	}
	out, err := run("apt-cache", "depends", "linux-image-amd64")
	if err != nil {
		return "", "", err
	}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "Depends: "); ok && strings.HasPrefix(rest, "linux-image-") {
			pkg = strings.TrimSpace(rest)
			break
		}
	}
	if pkg == "" {
		return "", "", errors.New("apt knows no kernel package linux-image-amd64 depends on (run apt-get update)")
	}
	out, err = run("apt-cache", "show", "--no-all-versions", pkg)
	if err != nil {
		return "", "", err
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Version: "); ok {
			version = strings.TrimSpace(v)
			break
		}
	}
	if version == "" {
		return "", "", fmt.Errorf("apt shows no version of %s", pkg)
	}
	return pkg, version, nil
}

// unpackKernelDeb extracts a kernel .deb into dir/x and prepares the bundle
// in dir (vmlinux, modules/, release).
func unpackKernelDeb(ctx context.Context, deb, dir string) error {
	x := filepath.Join(dir, "x")
	defer removeAll(x)
	if _, err := runCmd(ctx, "", "dpkg-deb", "-x", deb, x); err != nil {
		return err
	}
	kernels, _ := filepath.Glob(filepath.Join(x, "boot", "vmlinuz-*"))
	if len(kernels) != 1 {
		return fmt.Errorf("expected one boot/vmlinuz-* in %q, found %d", deb, len(kernels))
	}
	rel := strings.TrimPrefix(filepath.Base(kernels[0]), "vmlinuz-")
	tree := findModuleTree(rel, x)
	if tree == "" {
		return fmt.Errorf("no lib/modules/%s in %q", rel, deb)
	}
	_, err := prepareKernelFiles(ctx, kernels[0], tree, dir)
	return err
}

// prepareBookwormKernel downloads Debian 12's current kernel with the host's
// apt and caches its vmlinux and the guest's modules.
func prepareBookwormKernel(ctx context.Context, cache string, logf func(string, ...any)) (kernelBundle, error) {
	pkg, ver, err := aptKernelPackage(ctx, "")
	if err != nil && os.Geteuid() == 0 {
		logf("apt knows no kernel package; running apt-get update")
		if _, uerr := runCmd(ctx, "", "apt-get", "update", "-q"); uerr != nil {
			return kernelBundle{}, fmt.Errorf("apt-get update: %w", uerr)
		}
		pkg, ver, err = aptKernelPackage(ctx, "")
	}
	if err != nil {
		return kernelBundle{}, fmt.Errorf("find the bookworm kernel package: %w", err)
	}
	name := "kernel-" + sanitize(pkg+"_"+ver) + "-" + cacheKey(recipeVersion, pkg, ver)[:8]
	dir, err := ensureCached(ctx, cache, name, logf, fmt.Sprintf("kernel %s %s", pkg, ver), func(tmp string) error {
		dl := filepath.Join(tmp, "dl")
		if err := os.MkdirAll(dl, 0o755); err != nil {
			return err
		}
		defer removeAll(dl)
		logf("downloading %s=%s", pkg, ver)
		if _, err := runCmd(ctx, dl, "apt-get", "download", "-q", pkg+"="+ver); err != nil {
			return err
		}
		debs, _ := filepath.Glob(filepath.Join(dl, "*.deb"))
		if len(debs) != 1 {
			return fmt.Errorf("apt-get download left %d .deb files", len(debs))
		}
		return unpackKernelDeb(ctx, debs[0], tmp)
	})
	if err != nil {
		return kernelBundle{}, err
	}
	return loadKernelBundle(dir)
}

// prepareBullseye debootstraps a minbase Debian 11, fetches Debian 11's
// kernel from inside it, and caches an ext4 image of the userland plus the
// kernel bundle (in kernel/).
func prepareBullseye(ctx context.Context, cache string, logf func(string, ...any)) (string, kernelBundle, error) {
	mirror := debianMirror()
	name := "bullseye-" + cacheKey(recipeVersion, "bullseye", "minbase", mirror)
	dir, err := ensureCached(ctx, cache, name, logf, "bullseye rootfs", func(tmp string) error {
		if os.Geteuid() != 0 {
			return errors.New("debootstrap needs root to build the bullseye rootfs")
		}
		debootstrap, err := lookTool("debootstrap")
		if err != nil {
			return fmt.Errorf("debootstrap not found: apt-get install debootstrap")
		}
		root := filepath.Join(tmp, "root")
		defer removeAll(root)
		logf("debootstrap --variant=minbase bullseye from %s", mirror)
		if _, err := runCmd(ctx, "", debootstrap, "--variant=minbase", "bullseye", root, mirror); err != nil {
			return err
		}
		logf("fetching the bullseye kernel inside the chroot")
		if _, err := runCmd(ctx, "", "chroot", root, "apt-get", "update", "-q"); err != nil {
			return err
		}
		pkg, ver, err := aptKernelPackage(ctx, root)
		if err != nil {
			return fmt.Errorf("find the bullseye kernel package: %w", err)
		}
		logf("downloading %s=%s", pkg, ver)
		if _, err := runCmd(ctx, "", "chroot", root, "sh", "-c",
			"mkdir -p /tmp/testvm-kernel && cd /tmp/testvm-kernel && apt-get download -q "+shell.Quote(pkg+"="+ver)); err != nil {
			return err
		}
		debs, _ := filepath.Glob(filepath.Join(root, "tmp", "testvm-kernel", "*.deb"))
		if len(debs) != 1 {
			return fmt.Errorf("apt-get download left %d .deb files", len(debs))
		}
		kdir := filepath.Join(tmp, "kernel")
		if err := os.MkdirAll(kdir, 0o755); err != nil {
			return err
		}
		if err := unpackKernelDeb(ctx, debs[0], kdir); err != nil {
			return err
		}
		// Keep the image lean: no package lists, caches or downloads.
		for _, g := range []string{"tmp/testvm-kernel", "var/lib/apt/lists/*", "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb"} {
			ms, _ := filepath.Glob(filepath.Join(root, g))
			for _, m := range ms {
				if fi, err := os.Lstat(m); err == nil && fi.Name() != "lock" && fi.Name() != "partial" {
					removeAll(m)
				}
			}
		}
		for _, d := range []string{"media/cdrom", "opt"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				return err
			}
		}
		logf("building the bullseye ext4 image")
		if err := makeExt4(ctx, root, filepath.Join(tmp, "rootfs.img")); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(tmp, "info"), []byte(fmt.Sprintf("debian bullseye minbase from %s\nkernel %s %s\n", mirror, pkg, ver)), 0o644)
	})
	if err != nil {
		return "", kernelBundle{}, err
	}
	kb, err := loadKernelBundle(filepath.Join(dir, "kernel"))
	if err != nil {
		return "", kernelBundle{}, err
	}
	return filepath.Join(dir, "rootfs.img"), kb, nil
}

// prepareUserRootfs turns a user's rootfs folder (per run, into runDir) or
// tarball (cached by content) into an ext4 image. It returns the image and
// a folder that may hold lib/modules/RELEASE for the user's kernel.
func prepareUserRootfs(ctx context.Context, rootfs, cache, runDir string, logf func(string, ...any)) (img, modRoot string, err error) {
	st, err := os.Stat(rootfs)
	if err != nil {
		return "", "", fmt.Errorf("rootfs %q: %w", rootfs, err)
	}
	if st.IsDir() {
		logf("building an ext4 image of %q", rootfs)
		img = filepath.Join(runDir, "rootfs.img")
		if err := makeExt4(ctx, rootfs, img); err != nil {
			return "", "", fmt.Errorf("rootfs %q: %w", rootfs, err)
		}
		return img, rootfs, nil
	}
	if !isTarball(rootfs) {
		return "", "", fmt.Errorf("rootfs %q is neither a folder nor a .tar/.tar.gz/.tar.xz tarball", rootfs)
	}
	sum, err := fileSHA256(rootfs)
	if err != nil {
		return "", "", fmt.Errorf("rootfs %q: %w", rootfs, err)
	}
	name := "rootfs-" + cacheKey(recipeVersion, "tarball", sum)
	dir, err := ensureCached(ctx, cache, name, logf, fmt.Sprintf("rootfs from %q", filepath.Base(rootfs)), func(tmp string) error {
		root := filepath.Join(tmp, "root")
		defer removeAll(root)
		if err := os.MkdirAll(root, 0o755); err != nil {
			return err
		}
		if _, err := runCmd(ctx, "", "tar", "-xpf", rootfs, "-C", root, "--numeric-owner"); err != nil {
			return err
		}
		// Keep the guest's modules of every kernel release the tarball has.
		for _, sub := range []string{"lib/modules", "usr/lib/modules"} {
			rels, _ := os.ReadDir(filepath.Join(root, sub))
			for _, r := range rels {
				if !r.IsDir() {
					continue
				}
				dst := filepath.Join(tmp, "lib", "modules", r.Name())
				targets := append(append([]string{}, cdModules...), diskModules...)
				if _, err := collectModules(ctx, filepath.Join(root, sub, r.Name()), dst, targets); err != nil {
					return err
				}
			}
		}
		if err := os.MkdirAll(filepath.Join(root, "media", "cdrom"), 0o755); err != nil {
			return err
		}
		return makeExt4(ctx, root, filepath.Join(tmp, "rootfs.img"))
	})
	if err != nil {
		return "", "", err
	}
	return filepath.Join(dir, "rootfs.img"), dir, nil
}

// makeExt4 builds an ext4 image from a folder without mounting anything.
// The image is sparse; its size leaves room for the installed app.
func makeExt4(ctx context.Context, dir, img string) error {
	mkfs, err := lookTool("mkfs.ext4")
	if err != nil {
		return fmt.Errorf("mkfs.ext4 not found: apt-get install e2fsprogs")
	}
	var used int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				used += fi.Size() + 4096
			}
		}
		return nil
	})
	size := used*2 + 1<<30
	if size < 2<<30 {
		size = 2 << 30
	}
	sizeArg := fmt.Sprintf("%dM", size>>20)
	// orphan_file (e2fsprogs ≥ 1.47) makes older kernels such as 5.10 mount
	// the disk read-only; older mkfs don't know the feature at all.
	args := []string{"-F", "-q", "-L", "testvm-root", "-O", "^orphan_file", "-d", dir, img, sizeArg}
	if _, err := runCmd(ctx, "", mkfs, args...); err != nil {
		os.Remove(img)
		args = []string{"-F", "-q", "-L", "testvm-root", "-d", dir, img, sizeArg}
		if _, err2 := runCmd(ctx, "", mkfs, args...); err2 != nil {
			return err2
		}
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}
