package builder

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed stubs
var stubFS embed.FS

// Arches lists the target architectures whose stub this builder carries.
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

// Stub returns the installer stub for linux/arch.
func Stub(arch string) ([]byte, error) {
	b, err := stubFS.ReadFile("stubs/linux-" + arch)
	if err != nil {
		if len(Arches()) == 0 {
			return nil, fmt.Errorf("this terrapack was built without installer stubs: build it with `make build`")
		}
		return nil, fmt.Errorf("no installer stub for linux/%s (this terrapack has: %s)", arch, strings.Join(Arches(), ", "))
	}
	return b, nil
}
