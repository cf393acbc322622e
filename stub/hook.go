package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/terrapack/terrapack/payload"
)

// hookInput is what the hook is told beyond the install itself.
type hookInput struct {
	args            []string // after --, passed as they are: no shell, no splitting
	previousVersion string
	upgrade         bool
	output          io.Writer // the installer's stderr, for the hook's stdout and stderr
}

// runHook runs the post-install hook from inside the committed tree, with
// the arguments given after -- as its own argv (exec, never a shell).
func runHook(ctx context.Context, target string, m *payload.Manifest, h hookInput) error {
	cmd := exec.CommandContext(ctx, filepath.Join(target, filepath.FromSlash(m.PostInstall)), h.args...)
	cmd.Dir = target
	// Through a pipe we drain whatever happens to our stderr, so that a
	// closed one cannot make the hook fail and the install roll back.
	out := dropErrors{h.output}
	cmd.Stdout, cmd.Stderr = out, out
	upgrade := "0"
	if h.upgrade {
		upgrade = "1"
	}
	cmd.Env = append(os.Environ(),
		"TERRAPACK_TARGET="+target, "TERRAPACK_PREFIX="+target, "TERRAPACK_NAME="+m.Name,
		"TERRAPACK_VERSION="+m.Version, "TERRAPACK_PREVIOUS_VERSION="+h.previousVersion,
		"TERRAPACK_UPGRADE="+upgrade)
	return cmd.Run()
}

// dropErrors writes to w and reports success whatever happens: output that
// nobody can read any more is not a reason to fail.
type dropErrors struct{ w io.Writer }

func (d dropErrors) Write(p []byte) (int, error) {
	d.w.Write(p)
	return len(p), nil
}
