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
			r := mustOK(t, terrapack(t, "testvm", "--iso", img, "--rootfs", rootfs, "--exec", "/opt/demo/bin/demo"))
			if !strings.Contains(r.stdout, "demo 1.0.0 running from /opt/demo") || !strings.Contains(r.stdout, "Hello from a terrapack install") {
				t.Fatalf("app output not seen in the guest:\n%s", r)
			}
			r = terrapack(t, "testvm", "--iso", img, "--rootfs", rootfs, "--exec", "exit 7")
			mustFail(t, r, 7, "guest command exited 7")
		})
	}
}
