//go:build testvm

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestVMMatrix installs the demo ISO in each guest and runs the app there,
// through the real CLI: `make testvm`.
func TestVMMatrix(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "demo.iso")
	mustOK(t, terrapack(t, "build", "../../examples/demo", "-o", filepath.Join(dir, "demo.run"), "--iso", img, "-q"))
	for _, rootfs := range []string{"minimal", "bullseye"} {
		t.Run(rootfs, func(t *testing.T) {
			r := mustOK(t, terrapack(t, "testvm", "--iso", img, "--rootfs", rootfs, "--to", "/opt/demo", "--exec", "/opt/demo/bin/demo"))
			if !strings.Contains(r.stdout, "demo 1.0.0 running from /opt/demo") || !strings.Contains(r.stdout, "Hello from a terrapack install") {
				t.Fatalf("app output not seen in the guest:\n%s", r)
			}
			r = terrapack(t, "testvm", "--iso", img, "--rootfs", rootfs, "--exec", "exit 7")
			mustFail(t, r, 7, "guest command exited 7")
		})
	}

	// A bundled program with many libraries: curl and its closure.
	bundled := filepath.Join(dir, "curl")
	mustOK(t, terrapack(t, "bundle", "curl", "readlink", "-o", bundled, "-q"))
	curlISO := filepath.Join(dir, "curl.iso")
	mustOK(t, terrapack(t, "build", bundled, "-o", filepath.Join(dir, "curl.run"), "--iso", curlISO, "-q"))
	for _, rootfs := range []string{"minimal", "bullseye"} {
		t.Run("curl-"+rootfs, func(t *testing.T) {
			r := mustOK(t, terrapack(t, "testvm", "--iso", curlISO, "--rootfs", rootfs,
				// ebin works without /proc; pbin directly needs /proc for $ORIGIN (docs/BUNDLE.md).
				"--exec", "/opt/curl/ebin/curl --version && mkdir -p /proc && { mountpoint -q /proc || mount -t proc proc /proc; } && "+
					"/opt/curl/pbin/curl --version >/dev/null && /opt/curl/pbin/readlink /proc/self/exe && echo direct-ok"))
			if !strings.Contains(r.stdout, "libcurl") || !strings.Contains(r.stdout, "/opt/curl/pbin/readlink") || !strings.Contains(r.stdout, "direct-ok") {
				t.Fatalf("bundled curl did not run in the guest:\n%s", r)
			}
		})
	}
}
