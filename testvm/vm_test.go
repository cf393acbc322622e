//go:build testvm

package testvm

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/terrapack/terrapack/builder"
)

// Run with: go test -tags testvm -run . -v ./testvm/ -timeout 30m
//
// The prepared kernels and rootfs are cached in the default cache folder
// (or $TESTVM_CACHE_DIR), so only the first run pays for debootstrap.

// hostPackages are installed with apt-get when their program is missing.
var hostPackages = map[string]string{
	"qemu-system-x86_64": "qemu-system-x86",
	"debootstrap":        "debootstrap",
	"mkfs.ext4":          "e2fsprogs",
	"xz":                 "xz-utils",
	"xorriso":            "xorriso",
}

func installHostPackages(t *testing.T) {
	var missing []string
	for prog, pkg := range hostPackages {
		if _, err := lookTool(prog); err != nil {
			missing = append(missing, pkg)
		}
	}
	if _, err := findStaticBusybox(); err != nil {
		missing = append(missing, "busybox-static")
	}
	if len(missing) == 0 {
		return
	}
	if os.Geteuid() != 0 {
		t.Skipf("missing %v and not root to install them", missing)
	}
	t.Logf("apt-get install %v", missing)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "apt-get", "update", "-q").CombinedOutput(); err != nil {
		t.Fatalf("apt-get update: %v\n%s", err, out)
	}
	args := append([]string{"install", "-y", "-q", "--no-install-recommends"}, missing...)
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apt-get install: %v\n%s", err, out)
	}
}

// testISO builds a real installer of a tree holding bin/hello, a /bin/sh
// script, with default target /opt/hello, and wraps it in an ISO.
func testISO(t *testing.T) string {
	if len(builder.Arches()) == 0 {
		t.Skip("no installer stub embedded: run `make build` first (make testvm does)")
	}
	dir := t.TempDir()
	disc := filepath.Join(dir, "disc")
	src := filepath.Join(dir, "src")
	for _, d := range []string{filepath.Join(src, "bin"), disc} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := "#!/bin/sh\necho \"hello from terrapack ($0)\"\n"
	if err := os.WriteFile(filepath.Join(src, "bin", "hello"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(disc, "hello.run")
	if err := builder.Build(builder.Options{Source: src, Output: run, Name: "hello", Version: "1.0", DefaultTarget: "/opt/hello"}); err != nil {
		t.Fatalf("build hello.run: %v", err)
	}
	os.WriteFile(filepath.Join(disc, "README.txt"), []byte("test disc\n"), 0o644)
	os.WriteFile(filepath.Join(disc, "SHA256SUMS"), []byte("\n"), 0o644)
	iso := filepath.Join(dir, "hello.iso")
	if out, err := exec.Command("xorriso", "-as", "mkisofs", "-R", "-J", "-V", "HELLO", "-o", iso, disc).CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, out)
	}
	return iso
}

type logWriter struct {
	t     *testing.T
	start time.Time
}

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Logf("[%5.1fs] %s", time.Since(w.start).Seconds(), strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// lineWriter logs the guest console line by line with timestamps.
type lineWriter struct {
	logWriter
	buf []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := strings.TrimRight(string(w.buf[:i]), "\r")
		w.buf = w.buf[i+1:]
		if line != "" {
			w.logWriter.Write([]byte("guest| " + line))
		}
	}
}

func cacheDir() string { return os.Getenv("TESTVM_CACHE_DIR") }

func TestVM(t *testing.T) {
	installHostPackages(t)
	iso := testISO(t)
	for _, rootfs := range []string{RootfsMinimal, RootfsBullseye} {
		t.Run(rootfs, func(t *testing.T) {
			if err := CheckPrerequisites(rootfs); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
			defer cancel()

			start := time.Now()
			res, err := Run(ctx, Config{
				Console:  &lineWriter{logWriter: logWriter{t, start}},
				ISO:      iso,
				Rootfs:   rootfs,
				Exec:     `/opt/hello/bin/hello && echo "proc mounted: $(test -e /proc/self && echo yes || echo no)" && ls /lib64 /usr 2>&1 | head -3; cat /etc/debian_version 2>/dev/null; true`,
				CacheDir: cacheDir(),
				Log:      logWriter{t, start},
			})
			t.Logf("%s: run 1 (prepare + boot) took %s, guest %s", rootfs, time.Since(start).Round(100*time.Millisecond), res.Duration.Round(100*time.Millisecond))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.InstallExitCode != 0 || res.ExitCode != 0 {
				t.Fatalf("install %d exec %d\n%s", res.InstallExitCode, res.ExitCode, res.Console)
			}
			if !strings.Contains(res.Console, "hello from terrapack (/opt/hello/bin/hello)") {
				t.Fatalf("app output missing from console:\n%s", res.Console)
			}
			if !strings.Contains(res.Console, "installed hello 1.0 into /opt/hello") {
				t.Fatalf("installer output missing from console:\n%s", res.Console)
			}
			switch rootfs {
			case RootfsMinimal:
				if !strings.Contains(res.Console, "proc mounted: no") {
					t.Errorf("minimal root has /proc:\n%s", res.Console)
				}
			case RootfsBullseye:
				if !strings.Contains(res.Console, "proc mounted: yes") || !strings.Contains(res.Console, "\n11.") {
					t.Errorf("bullseye root looks wrong:\n%s", res.Console)
				}
			}

			// A failing Exec is reported, not hidden; this run is cached.
			start = time.Now()
			var console bytes.Buffer
			res, err = Run(ctx, Config{
				ISO:      iso,
				Rootfs:   rootfs,
				To:       "/srv/other place",
				Exec:     `"$TESTVM_TO/bin/hello"; exit 7`,
				CacheDir: cacheDir(),
				Log:      logWriter{t, start},
				Console:  io.MultiWriter(&console, &lineWriter{logWriter: logWriter{t, start}}),
			})
			t.Logf("%s: run 2 (cached) took %s, guest %s", rootfs, time.Since(start).Round(100*time.Millisecond), res.Duration.Round(100*time.Millisecond))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.ExitCode != 7 || res.InstallExitCode != 0 {
				t.Fatalf("want exec 7 install 0, got exec %d install %d\n%s", res.ExitCode, res.InstallExitCode, res.Console)
			}
			if !strings.Contains(console.String(), "hello from terrapack (/srv/other place/bin/hello)") {
				t.Fatalf("streamed console lacks the app output:\n%s", console.String())
			}
		})
	}
}
