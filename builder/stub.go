package builder

import (
	"embed"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
)

//go:embed stubs
var stubFS embed.FS

// Arches lists the target architectures whose stub this builder carries
// embedded (`make build`); a builder without any builds stubs on demand
// (see cachedStub).
func Arches() []string {
	entries, _ := fs.ReadDir(stubFS, "stubs")
	var arches []string
	for _, e := range entries {
		if a, ok := strings.CutPrefix(e.Name(), "linux-"); ok {
			arches = append(arches, a)
		}
	}
	sort.Strings(arches)
	return arches
}

// Stub returns the installer stub for linux/arch: the embedded one, or,
// when this builder carries none (built with plain `go build` or
// `go install`), one built with the Go toolchain into the user's cache
// once, saying so on log.
func Stub(arch string, log io.Writer) ([]byte, error) {
	if len(Arches()) == 0 {
		return cachedStub(arch, log)
	}
	b, err := stubFS.ReadFile("stubs/linux-" + arch)
	if err != nil {
		return nil, fmt.Errorf("no installer stub for linux/%s (this terrapack has: %s)", arch, strings.Join(Arches(), ", "))
	}
	return b, nil
}
