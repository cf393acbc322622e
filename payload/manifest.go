package payload

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// MaxManifestSize bounds the manifest an installer will read, so that a
// damaged length field never drives a huge allocation.
const MaxManifestSize = 64 << 20

// Manifest describes an installer's payload. It is stored as JSON between the
// payload and the trailer, and copied to DIR/.terrapack/manifest.json.
type Manifest struct {
	Format        int    `json:"format"`
	Name          string `json:"name"`
	Version       string `json:"version,omitempty"`
	DefaultTarget string `json:"default_target,omitempty"`
	Arch          string `json:"arch"`
	Compression   string `json:"compression"`
	Level         int    `json:"level,omitempty"`
	// Counts and sizes of the tar entries, for --info and the space preflight.
	Files        int64 `json:"files"`
	Dirs         int64 `json:"dirs"`
	Symlinks     int64 `json:"symlinks"`
	Hardlinks    int64 `json:"hardlinks"`
	UnpackedSize int64 `json:"unpacked_size"`
	TarSize      int64 `json:"tar_size"`
	// PostInstall is a path inside the tree run after commit, if set.
	PostInstall string `json:"post_install,omitempty"`
	// Config and Keep are globs (MatchGlob) over the tree: config files get
	// dpkg's conffile rule on upgrade, kept data moves into the new tree.
	// License is the text the customer must accept before installing.
	// All three are optional, so older installers' manifests still read.
	Config  []string `json:"config,omitempty"`
	Keep    []string `json:"keep,omitempty"`
	License string   `json:"license,omitempty"`
	// Relocation is the relocate.Plan, kept opaque here so that the format
	// package does not depend on the relocation engine.
	Relocation json.RawMessage `json:"relocation,omitempty"`
}

// Title is "name version" as messages print it, or the name alone when the
// build gave no version.
func (m *Manifest) Title() string { return Title(m.Name, m.Version) }

// Title joins a name and a version that may be empty.
func Title(name, version string) string {
	if version == "" {
		return name
	}
	return name + " " + version
}

// Entries is the number of tar entries.
func (m *Manifest) Entries() int64 { return m.Files + m.Dirs + m.Symlinks + m.Hardlinks }

// Marshal encodes m deterministically.
func (m *Manifest) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("failed to encode manifest: %w", err)
	}
	return append(b, '\n'), nil
}

// ParseManifest decodes a manifest read from an installer and checks every
// field the installer relies on; the relocation plan is checked by package
// relocate. Errors are *FormatError naming the field.
func ParseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, Malformed("manifest", "not valid JSON: %v", err)
	}
	bad := func(field, format string, args ...any) error {
		return Malformed("manifest "+field, format, args...)
	}
	switch {
	case m.Format != FormatVersion:
		return nil, bad("format", "format %d is not supported (this installer reads %d)", m.Format, FormatVersion)
	case m.Name == "":
		return nil, bad("name", "no name")
	case !slices.Contains(Methods, m.Compression):
		return nil, bad("compression", "unknown method %q (known: %s)", m.Compression, strings.Join(Methods, ", "))
	case m.Files < 0 || m.Dirs < 0 || m.Symlinks < 0 || m.Hardlinks < 0 || m.UnpackedSize < 0 || m.TarSize < 0:
		return nil, bad("counts", "negative entry count or size")
	case m.Entries() < 0: // overflowed
		return nil, bad("counts", "entry counts overflow")
	}
	if h := m.PostInstall; h != "" {
		if !fs.ValidPath(h) || h == "." || h == MetaDir || strings.HasPrefix(h, MetaDir+"/") {
			return nil, bad("post_install", "hook %q is not a clean relative path inside the payload", h)
		}
	}
	return &m, nil
}
