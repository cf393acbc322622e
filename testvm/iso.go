package testvm

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/terrapack/terrapack/iso"
	"github.com/terrapack/terrapack/payload"
)

// discInstaller is the installer a disc holds at its root.
type discInstaller struct {
	Name     string            // as the guest sees it, e.g. "app.run"
	Manifest *payload.Manifest // read from the installer on the disc
}

// findInstaller returns the single "*.run" file at the root of the image,
// read with the iso package's reader (an independent one), and its manifest.
// A plain ISO 9660 name (no Rock Ridge) is lowercased and stripped of
// ";1", as Linux's map=normal shows it to the guest.
func findInstaller(image string) (discInstaller, error) {
	f, err := os.Open(image)
	if err != nil {
		return discInstaller{}, fmt.Errorf("open disc image: %w", err)
	}
	defer f.Close()
	files, err := iso.ReadFiles(f)
	if err != nil {
		return discInstaller{}, err
	}
	var names, runs []string
	for p := range files {
		if strings.Contains(p, "/") {
			continue
		}
		names = append(names, p)
		if guestName(p) != ".run" && strings.HasSuffix(guestName(p), ".run") {
			runs = append(runs, p)
		}
	}
	sort.Strings(names)
	sort.Strings(runs)
	switch len(runs) {
	case 0:
		return discInstaller{}, fmt.Errorf("no *.run installer at the root of %q (files: %s)", image, strings.Join(names, ", "))
	case 1:
	default:
		return discInstaller{}, fmt.Errorf("several *.run installers at the root of %q: %s", image, strings.Join(runs, ", "))
	}
	file := files[runs[0]]
	in, err := payload.Open(file.Reader(), file.Size(), nil)
	if err != nil {
		return discInstaller{}, fmt.Errorf("%s on %q is not a usable installer: %w", runs[0], image, err)
	}
	return discInstaller{Name: guestName(runs[0]), Manifest: in.Manifest}, nil
}

// guestName is the name Linux shows for a disc file name the reader gave:
// Rock Ridge names as they are, plain upper-case ISO 9660 names lowercased.
func guestName(n string) string {
	if strings.ToUpper(n) == n {
		return strings.ToLower(n)
	}
	return n
}
