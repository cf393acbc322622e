//go:build chroot

package bundle

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Run as root: go test -tags chroot -run Chroot ./bundle/
// The bullseye tree is debootstrapped once into bullseyeCache (about 90 s).
const bullseyeCache = "/var/cache/terrapack-test/bullseye"

func requireRootTools(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for chroot and unshare")
	}
	requirePatchelf(t)
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
}

// busyboxRoot makes a libc-less rootfs: static busybox and its applets only.
func busyboxRoot(t *testing.T) string {
	t.Helper()
	bb := "/bin/busybox"
	if out, err := exec.Command("file", "-L", bb).Output(); err == nil && !strings.Contains(string(out), "statically linked") {
		t.Skipf("%s is not static (apt-get install busybox-static)", bb)
	}
	root := filepath.Join(t.TempDir(), "rootfs")
	for _, d := range []string{"bin", "tmp", "proc", "dev", "opt"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("cp", bb, filepath.Join(root, "bin", "busybox")).CombinedOutput(); err != nil {
		t.Fatalf("cp busybox: %v\n%s", err, out)
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Skipf("busybox --list: %v", err)
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet != "busybox" {
			if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

// bullseyeRoot returns the cached Debian 11 tree (glibc 2.31), creating it.
func bullseyeRoot(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(bullseyeCache, "bin", "sh")); err == nil {
		return bullseyeCache
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		t.Skip("debootstrap not installed")
	}
	tmp := bullseyeCache + ".tmp"
	os.RemoveAll(tmp)
	start := time.Now()
	out, err := exec.Command("debootstrap", "--variant=minbase", "bullseye", tmp, debianMirror()).CombinedOutput()
	if err != nil {
		t.Skipf("debootstrap bullseye: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, bullseyeCache); err != nil {
		t.Fatal(err)
	}
	t.Logf("debootstrapped bullseye in %v", time.Since(start))
	return bullseyeCache
}

// debianMirror is the host's first deb.debian.org-style mirror, else the default.
func debianMirror() string {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	for _, f := range append([]string{"/etc/apt/sources.list"}, files...) {
		b, _ := os.ReadFile(f)
		for _, field := range strings.Fields(string(b)) {
			if strings.HasPrefix(field, "http") && strings.HasSuffix(strings.TrimSuffix(field, "/"), "/debian") {
				return field
			}
		}
	}
	return "http://deb.debian.org/debian"
}

// install simulates the installer: copy the bundle to root+at and point
// each pbin program at the loader as seen from inside root.
func install(t *testing.T, bundle, root, at string) {
	t.Helper()
	dst := filepath.Join(root, at)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dst) })
	if out, err := exec.Command("cp", "-a", bundle+"/.", dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v\n%s", err, out)
	}
	entries, err := os.ReadDir(filepath.Join(dst, "pbin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := localizeFile(filepath.Join(dst, "pbin", e.Name()), filepath.Join(at, "lib64")); err != nil {
			t.Fatal(err)
		}
	}
}

// inChroot runs argv in root inside fresh mount and pid namespaces, without /proc.
func inChroot(root string, env []string, argv ...string) (string, error) {
	// chroot lives in /usr/sbin: give unshare the host path, the program a guest PATH.
	chroot, err := exec.LookPath("chroot")
	if err != nil {
		return "", err
	}
	cmd := exec.Command("unshare", append([]string{"--mount", "--pid", "--fork", chroot, root}, argv...)...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin"}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// withProc runs script in root with /proc mounted (private to the namespace).
func withProc(root, script string) (string, error) {
	return inChroot(root, nil, "/bin/sh", "-c", "mount -t proc proc /proc && "+script)
}

func TestChrootTerrarium(t *testing.T) {
	requireRootTools(t, "unshare", "chroot", "cp")
	requireProgram(t, "curl", "curl")
	bundle := filepath.Join(t.TempDir(), "app")
	if err := Bundle(Options{Executables: []string{"curl", "readlink"}, Output: bundle}); err != nil {
		t.Fatal(err)
	}
	roots := map[string]func(*testing.T) string{"busybox": busyboxRoot, "bullseye": bullseyeRoot}
	for _, name := range []string{"busybox", "bullseye"} {
		t.Run(name, func(t *testing.T) {
			root := roots[name](t)
			const at = "/opt/terrapack-test-app"
			install(t, bundle, root, at)

			// Negative controls: the host's curl with the guest's loader and
			// libc (none in busybox, glibc 2.31 in bullseye), even when
			// pointed at our libraries.
			if out, err := exec.Command("cp", "/usr/bin/curl", filepath.Join(root, at, "hostcurl")).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v\n%s", err, out)
			}
			if out, err := inChroot(root, []string{"LD_LIBRARY_PATH=" + at + "/lib64"}, at+"/hostcurl", "--version"); err == nil {
				t.Errorf("host curl ran in %s:\n%s", name, out)
			} else {
				t.Logf("negative control: %v: %s", err, strings.TrimSpace(out))
			}

			out, err := inChroot(root, nil, at+"/ebin/curl", "--version")
			if err != nil || !strings.HasPrefix(out, "curl ") {
				t.Errorf("ebin/curl --version without /proc: %v\n%s", err, out)
			}
			out, err = withProc(root, at+"/pbin/curl --version")
			if err != nil || !strings.HasPrefix(out, "curl ") {
				t.Errorf("pbin/curl --version: %v\n%s", err, out)
			}
			for _, p := range []string{"pbin", "ebin"} {
				out, err = withProc(root, at+"/"+p+"/readlink /proc/self/exe")
				if want := at + "/pbin/readlink"; err != nil || strings.TrimSpace(out) != want {
					t.Errorf("%s/readlink /proc/self/exe = %q, %v; want %q", p, out, err, want)
				}
			}
		})
	}
}
