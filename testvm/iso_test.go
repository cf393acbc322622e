package testvm

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/terrapack/terrapack/builder"
	"github.com/terrapack/terrapack/iso"
)

// installer builds a real installer named name whose default target is
// target, or skips when the builder has no stub embedded.
func installer(t *testing.T, name, target string) string {
	t.Helper()
	if len(builder.Arches()) == 0 {
		t.Skip("no installer stub embedded: run `make build` first (make test does)")
	}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "hello"), []byte("hi\n"), 0o644)
	run := filepath.Join(t.TempDir(), name)
	if err := builder.Build(builder.Options{Source: src, Output: run, Name: "hello", DefaultTarget: target}); err != nil {
		t.Fatal(err)
	}
	return run
}

// discImage writes an ISO (Rock Ridge, Joliet) with our writer whose root
// holds the given host files under the given names.
func discImage(t *testing.T, files map[string]string) string {
	t.Helper()
	var entries []iso.Entry
	for name, host := range files {
		e, err := iso.FromFile(name, host)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	p := filepath.Join(t.TempDir(), "x.iso")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := iso.Write(f, iso.Options{Label: "X"}, entries); err != nil {
		t.Fatal(err)
	}
	return p
}

func textFile(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte(s), 0o644)
	return p
}

// TestFindInstaller: the disc's one installer is found by its Rock Ridge
// name, and the guest installs to the target its manifest names.
func TestFindInstaller(t *testing.T) {
	run := installer(t, "my-app.run", "/srv/my-app")
	readme := textFile(t, "read me\n")
	img := discImage(t, map[string]string{"README.txt": readme, "my-app.run": run, "SHA256SUMS": readme})
	got, err := findInstaller(img)
	if err != nil || got.Name != "my-app.run" || got.Manifest.DefaultTarget != "/srv/my-app" {
		t.Errorf("findInstaller = %+v, %v", got, err)
	}
	none := discImage(t, map[string]string{"README.txt": readme})
	if _, err := findInstaller(none); err == nil || !strings.Contains(err.Error(), "no *.run installer") || !strings.Contains(err.Error(), "README.txt") {
		t.Errorf("no installer: %v", err)
	}
	two := discImage(t, map[string]string{"a.run": run, "b.run": run})
	if _, err := findInstaller(two); err == nil || !strings.Contains(err.Error(), "several *.run installers") {
		t.Errorf("two installers: %v", err)
	}
	fake := discImage(t, map[string]string{"fake.run": readme})
	if _, err := findInstaller(fake); err == nil || !strings.Contains(err.Error(), "not a usable installer") {
		t.Errorf("a .run that is no installer: %v", err)
	}
	if _, err := findInstaller(filepath.Join(t.TempDir(), "missing.iso")); err == nil {
		t.Error("missing ISO: no error")
	}
}

// TestFindInstallerXorriso: discs written by another tool, with Rock Ridge
// names and with plain ISO 9660 names only (which Linux shows lowercased).
func TestFindInstallerXorriso(t *testing.T) {
	xorriso, err := exec.LookPath("xorriso")
	if err != nil {
		t.Skip("xorriso not installed: apt-get install xorriso")
	}
	run := installer(t, "Long-Name_1.2.3.run", "/opt/Long-Name")
	for _, c := range []struct {
		name, file, want string
		args             []string
	}{
		{"rock ridge", "Long-Name_1.2.3.run", "Long-Name_1.2.3.run", []string{"-R", "-J"}},
		{"plain", "hello.run", "hello.run", nil},
	} {
		dir := t.TempDir()
		d := filepath.Join(dir, "disc")
		os.Mkdir(d, 0o755)
		copyTo(t, run, filepath.Join(d, c.file))
		os.WriteFile(filepath.Join(d, "README.txt"), nil, 0o644)
		img := filepath.Join(dir, "x.iso")
		args := append(append([]string{"-as", "mkisofs"}, c.args...), "-o", img, d)
		if out, err := exec.Command(xorriso, args...).CombinedOutput(); err != nil {
			t.Fatalf("xorriso: %v\n%s", err, out)
		}
		got, err := findInstaller(img)
		if err != nil || got.Name != c.want || got.Manifest.DefaultTarget != "/opt/Long-Name" {
			t.Errorf("%s: findInstaller = %+v, %v", c.name, got, err)
		}
	}
}

func copyTo(t *testing.T, src, dst string) {
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := Run(ctx, Config{}); err == nil {
		t.Error("no ISO: no error")
	}
	img := discImage(t, map[string]string{"README.txt": textFile(t, "x")})
	if _, err := Run(ctx, Config{ISO: img}); err == nil || !strings.Contains(err.Error(), "no *.run installer") {
		t.Errorf("ISO without installer: %v", err)
	}
	img = discImage(t, map[string]string{"a.run": installer(t, "a.run", "/opt/a")})
	if _, err := Run(ctx, Config{ISO: img, Rootfs: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "needs a kernel") {
		t.Errorf("user rootfs without kernel: %v", err)
	}
	if _, err := Run(ctx, Config{ISO: img, To: "relative/dir"}); err == nil || !strings.Contains(err.Error(), "not absolute") {
		t.Errorf("relative To: %v", err)
	}
}
