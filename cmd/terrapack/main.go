// Command terrapack builds self-extracting installers and ISO images.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
)

// version is set by the Makefile; a builder from `go install ...@VERSION`
// has its module's version instead (see newRootCmd).
var version = "dev"

// builderVersion is version, or the module version the go command recorded.
func builderVersion() string {
	if info, ok := debug.ReadBuildInfo(); version == "dev" && ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return version
}

// hinted is an error with a likely fix, printed on a `hint:` line.
type hinted struct {
	err  error
	hint string
}

func (h *hinted) Error() string { return h.err.Error() }
func (h *hinted) Unwrap() error { return h.err }

// exitError carries a specific exit status, such as a guest command's.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	root := newRootCmd()
	if err := root.ExecuteContext(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "terrapack: error: %s\n", strings.TrimSpace(err.Error()))
		var h *hinted
		if errors.As(err, &h) && h.hint != "" {
			fmt.Fprintf(os.Stderr, "hint: %s\n", h.hint)
		}
		var e *exitError
		if errors.As(err, &e) {
			os.Exit(e.code)
		}
		os.Exit(1)
	}
}
