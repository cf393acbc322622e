package testvm

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// Hooks for tests.
var (
	lookPathFunc       = exec.LookPath
	findStaticBusyboxF = findStaticBusybox
)

// lookTool finds a program in $PATH or in the sbin folders (which a normal
// user's $PATH may lack).
func lookTool(name string) (string, error) {
	if p, err := lookPathFunc(name); err == nil {
		return p, nil
	}
	if filepath.Base(name) != name {
		return "", fmt.Errorf("%s not found", name)
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(d, name)
		if _, err := lookPathFunc(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

type tool struct{ name, pkg string }

// Rootfs kinds.
const (
	RootfsMinimal  = "minimal"
	RootfsBullseye = "bullseye"
)

func toolsFor(rootfs string) []tool {
	tools := []tool{
		{"qemu-system-x86_64", "qemu-system-x86"},
		{"xz", "xz-utils"},
	}
	switch rootfs {
	case "", RootfsMinimal:
		tools = append(tools, tool{"apt-get", "apt"}, tool{"dpkg-deb", "dpkg"})
	case RootfsBullseye:
		tools = append(tools, tool{"debootstrap", "debootstrap"}, tool{"mkfs.ext4", "e2fsprogs"},
			tool{"chroot", "coreutils"}, tool{"dpkg-deb", "dpkg"})
	default:
		tools = append(tools, tool{"mkfs.ext4", "e2fsprogs"})
		if isTarball(rootfs) {
			tools = append(tools, tool{"tar", "tar"})
			if strings.HasSuffix(rootfs, ".xz") {
				tools = append(tools, tool{"xz", "xz-utils"})
			}
		}
	}
	return tools
}

// CheckPrerequisites reports the host programs missing to run a guest with
// the given rootfs ("minimal", "bullseye" or a path), each with the Debian
// package that provides it.
func CheckPrerequisites(rootfs string) error {
	var errs []error
	seen := map[string]bool{}
	for _, t := range toolsFor(rootfs) {
		if seen[t.name] {
			continue
		}
		seen[t.name] = true
		if _, err := lookTool(t.name); err != nil {
			errs = append(errs, fmt.Errorf("%s not found: apt-get install %s", t.name, t.pkg))
		}
	}
	if _, err := findStaticBusyboxF(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func isTarball(p string) bool {
	for _, ext := range []string{".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.zst", ".tar.bz2"} {
		if strings.HasSuffix(p, ext) {
			return true
		}
	}
	return false
}
