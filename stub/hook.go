package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/terrapack/terrapack/payload"
)

// runHook runs the post-install hook from inside the committed tree.
func runHook(ctx context.Context, target string, m *payload.Manifest) error {
	cmd := exec.CommandContext(ctx, filepath.Join(target, filepath.FromSlash(m.PostInstall)))
	cmd.Dir = target
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.Env = append(os.Environ(), "TERRAPACK_PREFIX="+target, "TERRAPACK_NAME="+m.Name, "TERRAPACK_VERSION="+m.Version)
	return cmd.Run()
}
