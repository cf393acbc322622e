package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/terrapack/terrapack/payload"
)

// stubInfo is patched by the builder with the installer's layout. It must be
// a constant composite literal so that it lives in the binary's data section
// where the builder can find the marker (payload.StubInfoMarker).
var stubInfo = [payload.StubInfoSize]byte{'T', 'E', 'R', 'R', 'A', 'P', 'A', 'C', 'K', '-', 'S', 'T', 'U', 'B', '-', 'I', 'N', 'F', 'O', '-', 'v', '1'}

// openSelf finds and opens the running installer: os.Executable (which needs
// /proc), then /proc/self/exe, then os.Args[0] for systems without /proc.
func openSelf() (*os.File, error) {
	var candidates []string
	if p, err := os.Executable(); err == nil && p != "" {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, "/proc/self/exe")
	if arg0 := os.Args[0]; strings.Contains(arg0, "/") {
		candidates = append(candidates, arg0)
	} else if p, err := exec.LookPath(arg0); err == nil {
		candidates = append(candidates, p)
	}
	var errs []error
	for _, p := range candidates {
		f, err := os.Open(p)
		if err == nil {
			return f, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("cannot find the installer's own file: %w", errors.Join(errs...))
}

// openInstaller opens the running installer and checks its size and trailer.
func openInstaller() (*payload.Installer, error) {
	layout, patched, err := payload.DecodeStubInfo(stubInfo[:])
	if err != nil {
		return nil, err
	}
	if !patched {
		return nil, errors.New("this is a bare terrapack stub with no payload; build an installer with `terrapack build`")
	}
	f, err := openSelf()
	if err != nil {
		return nil, err
	}
	in, err := payload.OpenFile(f, &layout)
	if err != nil {
		f.Close()
		return nil, err
	}
	return in, nil
}
