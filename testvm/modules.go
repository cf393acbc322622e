package testvm

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Modules the guest loads. Their dependencies (depends= and softdep=pre: in
// each module's .modinfo) are resolved and loaded first; modules that are not
// found are assumed to be built into the kernel.
var (
	// cdModules reads the disc from qemu's IDE "-cdrom" drive.
	cdModules = []string{"ata_piix", "sr_mod", "isofs"}
	// diskModules mount the ext4 root disk attached with if=virtio.
	diskModules = []string{"virtio_pci", "virtio_blk", "crc32c_generic", "ext4"}
)

// modInfo reads the .modinfo section of a kernel module.
func modInfo(path string) (map[string][]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read module %q: %w", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("module %q has no .modinfo section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read module %q: %w", path, err)
	}
	info := map[string][]string{}
	for _, kv := range bytes.Split(data, []byte{0}) {
		k, v, ok := strings.Cut(string(kv), "=")
		if ok {
			info[k] = append(info[k], v)
		}
	}
	return info, nil
}

// moduleDeps returns the modules that must be loaded before the module at
// path: its depends= list, then its softdep "pre:" modules.
func moduleDeps(path string) ([]string, error) {
	info, err := modInfo(path)
	if err != nil {
		return nil, err
	}
	var deps []string
	for _, d := range info["depends"] {
		for _, n := range strings.Split(d, ",") {
			if n = strings.TrimSpace(n); n != "" {
				deps = append(deps, modName(n))
			}
		}
	}
	for _, sd := range info["softdep"] {
		for _, part := range strings.Split(sd, "post:")[:1] {
			part = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(part), "pre:"))
			for _, n := range strings.Fields(part) {
				deps = append(deps, "?"+n) // optional, may be an alias
			}
		}
	}
	return deps, nil
}

// modName normalises a module name the way the kernel does ('-' → '_').
func modName(n string) string { return strings.ReplaceAll(n, "-", "_") }

// moduleIndex maps module names to files below a modules tree
// (lib/modules/RELEASE), accepting .ko, .ko.xz, .ko.gz and .ko.zst.
func moduleIndex(root string) (map[string]string, error) {
	idx := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		name := d.Name()
		for _, ext := range []string{".ko", ".ko.xz", ".ko.gz", ".ko.zst"} {
			if strings.HasSuffix(name, ext) {
				n := modName(strings.TrimSuffix(name, ext))
				if _, dup := idx[n]; !dup {
					idx[n] = p
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan modules in %q: %w", root, err)
	}
	return idx, nil
}

// resolveSoft maps a softdep name (which may be an alias such as
// "crypto-crc32c") to a module name present in have.
func resolveSoft(n string, have func(string) bool) string {
	cands := []string{n}
	base := strings.TrimPrefix(n, "crypto-")
	cands = append(cands, base, base+"_generic", base+"-generic")
	for _, c := range cands {
		if have(modName(c)) {
			return modName(c)
		}
	}
	return ""
}

// moduleOrder returns targets plus their dependencies, dependencies first.
// deps gives each module's dependencies ("?name" marks an optional softdep
// that may be an alias); modules missing from deps are skipped (assumed
// built in).
func moduleOrder(deps map[string][]string, targets []string) []string {
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	have := func(n string) bool { _, ok := deps[n]; return ok }
	var visit func(n string)
	visit = func(n string) {
		if strings.HasPrefix(n, "?") {
			n = resolveSoft(n[1:], have)
			if n == "" {
				return
			}
		}
		n = modName(n)
		if !have(n) || state[n] != 0 {
			return
		}
		state[n] = 1
		for _, d := range deps[n] {
			visit(d)
		}
		state[n] = 2
		order = append(order, n)
	}
	for _, t := range targets {
		visit(t)
	}
	return order
}

// collectModules copies targets and their dependencies from the modules tree
// at root into dst as decompressed NAME.ko files.
func collectModules(ctx context.Context, root, dst string, targets []string) ([]string, error) {
	idx, err := moduleIndex(root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, err
	}
	// Copy lazily while walking the dependency graph: only modules that are
	// reachable get read.
	deps := map[string][]string{}
	var queue []string
	queue = append(queue, targets...)
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if strings.HasPrefix(n, "?") {
			n = resolveSoft(n[1:], func(s string) bool { _, ok := idx[s]; return ok })
			if n == "" {
				continue
			}
		}
		n = modName(n)
		if _, done := deps[n]; done {
			continue
		}
		src, ok := idx[n]
		if !ok {
			continue
		}
		out := filepath.Join(dst, n+".ko")
		if err := decompressModule(ctx, src, out); err != nil {
			return nil, err
		}
		d, err := moduleDeps(out)
		if err != nil {
			return nil, err
		}
		deps[n] = d
		queue = append(queue, d...)
	}
	return moduleOrder(deps, targets), nil
}

func decompressModule(ctx context.Context, src, dst string) error {
	var tool []string
	switch {
	case strings.HasSuffix(src, ".ko"):
		return copyFile(src, dst, 0o644)
	case strings.HasSuffix(src, ".xz"):
		tool = []string{"xz", "-dc"}
	case strings.HasSuffix(src, ".gz"):
		tool = []string{"gzip", "-dc"}
	case strings.HasSuffix(src, ".zst"):
		tool = []string{"zstd", "-dcq"}
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, tool[0], append(tool[1:], src)...)
	cmd.Stdout = out
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("decompress module %q: %w: %s", src, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// loadModuleDeps reads the dependency lists of the flat NAME.ko files in dir.
func loadModuleDeps(dir string) (map[string][]string, error) {
	deps := map[string][]string{}
	if dir == "" {
		return deps, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read modules: %w", err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".ko") {
			continue
		}
		d, err := moduleDeps(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		deps[strings.TrimSuffix(e.Name(), ".ko")] = d
	}
	return deps, nil
}

// findModuleTree looks for lib/modules/RELEASE in the given roots.
func findModuleTree(release string, roots ...string) string {
	for _, r := range roots {
		if r == "" {
			continue
		}
		for _, sub := range []string{"lib/modules", "usr/lib/modules"} {
			p := filepath.Join(r, sub, release)
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				return p
			}
		}
	}
	return ""
}
