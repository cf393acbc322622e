package bundle

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/terrapack/terrapack/internal/shell"
)

// launcherScript runs pbin/NAME from wherever the terrarium lies, exporting
// env first. It needs only a POSIX sh with dirname and pwd (busybox has
// both), not /proc.
func launcherScript(name string, env []string) string {
	var exports strings.Builder
	if len(env) > 0 {
		exports.WriteString("TERRARIUM=$(cd \"$here/..\" && pwd -P) || exit 127\n")
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			fmt.Fprintf(&exports, "export %s=\"%s\"\n", k, v)
		}
	}
	return `#!/bin/sh
# terrapack terrarium launcher: run the bundled program with its own libraries.
here=$(cd "$(dirname "$0")" && pwd -P) || exit 127
# Without /proc, ld.so cannot expand $ORIGIN for the program; tell it.
[ -r /proc/self/exe ] || export LD_ORIGIN_PATH="$here/../pbin"
` + exports.String() + `exec "$here/../pbin/"` + shell.Quote(name) + ` "$@"
`
}

// checkEnv refuses --env entries that would not survive inside sh's double
// quotes as the user wrote them.
func checkEnv(env []string) error {
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		valid := ok && k != "" && !strings.ContainsAny(v, "\"`\\\n")
		for i, c := range k {
			if !(c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9') {
				valid = false
			}
		}
		if !valid {
			return fmt.Errorf("--env %q must be NAME=VALUE, NAME a shell variable name, VALUE without \", `, \\ or newlines", kv)
		}
	}
	return nil
}

func (b *bundler) writeLauncher(name string, mtime time.Time) error {
	dst := filepath.Join(b.out, "ebin", name)
	if err := os.WriteFile(dst, []byte(launcherScript(name, b.env)), 0o755); err != nil {
		return fmt.Errorf("failed to write launcher %q: %w", dst, err)
	}
	b.times[dst] = mtime
	return nil
}
