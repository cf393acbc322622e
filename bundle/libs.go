package bundle

import (
	"debug/elf"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/terrapack/terrapack/internal/elfmagic"
)

// program adds one executable: its libraries, pbin/NAME and ebin/NAME.
func (b *bundler) program(e exe) error {
	root, err := b.r.openObject(e.path, filepath.Dir(e.path))
	if err != nil {
		return err
	}
	dst := filepath.Join(b.out, "pbin", e.name)
	if err := b.copyFile(e.path, dst, 0o755); err != nil {
		return err
	}
	if err := b.writeLauncher(e.name, b.times[dst]); err != nil {
		return err
	}
	if root.interp == "" {
		fmt.Fprintf(b.log, "%s: static, copied as is\n", e.name)
		return nil
	}
	loader, err := b.r.openObject(root.interp, filepath.Dir(root.interp))
	if err != nil {
		return fmt.Errorf("failed to read the loader of %q: %w", e.path, err)
	}
	loaderName := path.Base(root.interp)
	loader.names = []string{loaderName}
	if err := b.addLib(loader); err != nil {
		return err
	}
	b.loaders[loaderName] = true
	libs, err := b.r.closure(root, loader)
	if err != nil {
		return err
	}
	for _, l := range libs {
		if err := b.addLib(l); err != nil {
			return err
		}
	}
	ph := placeholder(b.out, loaderName)
	if err := b.run("--set-interpreter", ph, "--force-rpath", "--set-rpath", "$ORIGIN/../lib64", dst); err != nil {
		return err
	}
	fmt.Fprintf(b.log, "%s: %d libraries\n", e.name, len(libs))
	return nil
}

// placeholder is the PT_INTERP of a pbin program before install.
func placeholder(out, loader string) string {
	head := out + "/lib64/"
	pad := max(PlaceholderLen-len(head)-len(loader), 0)
	return head + strings.Repeat("/", pad) + loader
}

// addLib plans lib64/NAME for every name o was loaded under; two different
// files wanting one name would make one program load the other's library.
func (b *bundler) addLib(o *object) error {
	primary := o.names[0]
	if prev, ok := b.libSrc[primary]; ok && prev != o.real {
		return fmt.Errorf("lib64/%s would be both %q and %q", primary, prev, o.real)
	}
	b.libSrc[primary] = o.real
	for _, n := range o.names[1:] {
		if prev, ok := b.libSrc[n]; ok && prev != o.real {
			return fmt.Errorf("lib64/%s would be both %q and %q", n, prev, o.real)
		}
		b.libAlias[n] = primary
	}
	return nil
}

// writeLibs copies the planned libraries and gives them DT_RPATH $ORIGIN
// (DT_RUNPATH would not apply to their own dependencies' lookups).
func (b *bundler) writeLibs() error {
	lib64 := filepath.Join(b.out, "lib64")
	var patch []string
	copied := b.meter.Start("copying libraries", int64(len(b.libSrc)), false)
	for _, name := range slices.Sorted(maps.Keys(b.libSrc)) {
		dst := filepath.Join(lib64, name)
		if err := b.copyFile(b.libSrc[name], dst, 0o755); err != nil {
			copied.Done()
			return err
		}
		if !b.loaders[name] {
			patch = append(patch, dst)
		}
		copied.Add(1)
	}
	copied.Done()
	for _, name := range slices.Sorted(maps.Keys(b.libAlias)) {
		if _, ok := b.libSrc[name]; ok {
			continue
		}
		dst := filepath.Join(lib64, name)
		if err := os.Symlink(b.libAlias[name], dst); err != nil {
			return fmt.Errorf("failed to link %q: %w", dst, err)
		}
		b.times[dst] = b.times[filepath.Join(lib64, b.libAlias[name])]
	}
	if len(patch) > 0 {
		if err := b.run(append([]string{"--force-rpath", "--set-rpath", "$ORIGIN"}, patch...)...); err != nil {
			return err
		}
	}
	for _, rp := range slices.Sorted(maps.Keys(b.rpaths)) {
		if err := b.run(append([]string{"--force-rpath", "--set-rpath", rp}, b.rpaths[rp]...)...); err != nil {
			return err
		}
	}
	return nil
}

// sharedObject adds the closure of src (copied to dst) when it is an ELF
// shared library, and plans its DT_RPATH to reach lib64/ from dst.
func (b *bundler) sharedObject(src, dst string) error {
	if !elfmagic.IsFile(src) {
		return nil
	}
	o, err := b.r.openObject(src, filepath.Dir(src))
	if err != nil {
		return err
	}
	// Executables (PT_INTERP) would need pbin/ treatment; only bundle the programs given.
	if o.typ != elf.ET_DYN || o.interp != "" {
		return nil
	}
	libs, err := b.r.closure(o)
	if err != nil {
		return err
	}
	for _, l := range libs {
		if err := b.addLib(l); err != nil {
			return err
		}
	}
	rel, err := filepath.Rel(filepath.Dir(dst), filepath.Join(b.out, "lib64"))
	if err != nil {
		return err
	}
	rp := "$ORIGIN/" + rel
	b.rpaths[rp] = append(b.rpaths[rp], dst)
	return nil
}
