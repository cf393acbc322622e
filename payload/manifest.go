package payload

import (
	"encoding/json"
	"fmt"
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

// ParseManifest decodes a manifest read from an installer.
func ParseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("failed to decode manifest: %w", err)
	}
	if m.Format != FormatVersion {
		return nil, fmt.Errorf("manifest format %d is not supported (this installer reads %d)", m.Format, FormatVersion)
	}
	if m.Name == "" {
		return nil, fmt.Errorf("manifest has no name")
	}
	return &m, nil
}
