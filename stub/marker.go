package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/terrapack/terrapack/payload"
	"golang.org/x/sys/unix"
)

// installRecord is DIR/.terrapack/install.json: which folder this install
// was made for. --force and --uninstall act on a folder only when its record
// names that very folder — its path and its inode, which the install's
// temporary folder got at creation and kept through the commit rename — so a
// .terrapack/ copied into another folder, or written by hand, is refused.
type installRecord struct {
	Format  int    `json:"format"`
	Name    string `json:"name"`
	Version string `json:"version"`
	Target  string `json:"target"`
	// TargetBase64 holds the target's exact bytes when they are not UTF-8,
	// which JSON strings cannot carry (Target then shows U+FFFD for them).
	TargetBase64    string `json:"target_base64,omitempty"`
	Device          uint64 `json:"device"`
	Inode           uint64 `json:"inode"`
	InstallerSHA256 string `json:"installer_sha256"`
}

const installRecordFormat = 1

// writeMeta stores the manifest and the install record in root, the
// temporary folder that becomes target.
func writeMeta(root string, in *payload.Installer, target string) error {
	meta := filepath.Join(root, payload.MetaDir)
	if err := os.WriteFile(filepath.Join(meta, "manifest.json"), in.ManifestBytes, 0o644); err != nil {
		return fmt.Errorf("failed to write manifest: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(root, &st); err != nil {
		return fmt.Errorf("failed to read %q: %w", root, err)
	}
	rec := installRecord{
		Format:          installRecordFormat,
		Name:            in.Manifest.Name,
		Version:         in.Manifest.Version,
		Target:          target,
		Device:          st.Dev,
		Inode:           st.Ino,
		InstallerSHA256: in.Trailer.Checksum(),
	}
	if !utf8.ValidString(target) {
		rec.TargetBase64 = base64.StdEncoding.EncodeToString([]byte(target))
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("failed to encode install record: %w", err)
	}
	if err := os.WriteFile(filepath.Join(meta, "install.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("failed to write install record: %w", err)
	}
	return nil
}

// notOurs is a folder whose .terrapack/ does not prove that this kind of
// installer made it there: it is neither replaced nor removed.
func notOurs(target, why string) error {
	return &refusal{
		msg: fmt.Sprintf("%q is not an install this installer may replace or remove: %s; nothing was changed", target, why),
		hint: "an installer acts only on the folder it installed into (the paths it rewrote name that folder); " +
			"if you moved, copied or restored this install, remove it yourself, or install afresh into an empty folder",
	}
}

// verifyOwnership checks that dir holds an install of name made for exactly
// the folder target (dir is target itself, or the hidden sibling it was
// renamed to), and returns its record and manifest.
func verifyOwnership(dir, target, name string) (*installRecord, *payload.Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, payload.MetaDir, "install.json"))
	if err != nil {
		return nil, nil, notOurs(target, fmt.Sprintf("its install record cannot be read (%v)", err))
	}
	var rec installRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, nil, notOurs(target, fmt.Sprintf("its install record is not valid (%v)", err))
	}
	if rec.Format != installRecordFormat {
		return nil, nil, notOurs(target, fmt.Sprintf("its install record has format %d, this installer knows %d", rec.Format, installRecordFormat))
	}
	recorded := rec.Target
	if rec.TargetBase64 != "" {
		raw, err := base64.StdEncoding.DecodeString(rec.TargetBase64)
		if err != nil {
			return nil, nil, notOurs(target, "its install record has a bad target_base64")
		}
		recorded = string(raw)
	}
	if recorded != target {
		return nil, nil, notOurs(target, fmt.Sprintf("it was installed into %q", recorded))
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return nil, nil, fmt.Errorf("failed to read %q: %w", dir, err)
	}
	// The device number is recorded but not compared: LVM, btrfs, overlayfs
	// and NFS number devices at mount time, so it may change at a reboot;
	// the inode is the file system's own and stays.
	if st.Ino != rec.Inode {
		return nil, nil, notOurs(target, fmt.Sprintf("its install record was written for another folder (inode %d, this one is %d): it was copied or restored here", rec.Inode, st.Ino))
	}
	mb, err := os.ReadFile(filepath.Join(dir, payload.MetaDir, "manifest.json"))
	if err != nil {
		return nil, nil, notOurs(target, fmt.Sprintf("its manifest cannot be read (%v)", err))
	}
	m, err := payload.ParseManifest(mb)
	if err != nil {
		return nil, nil, notOurs(target, fmt.Sprintf("its manifest is unreadable (%v)", err))
	}
	if m.Name != rec.Name {
		return nil, nil, notOurs(target, fmt.Sprintf("its manifest names %s but its install record %s", m.Name, rec.Name))
	}
	if rec.Name != name {
		return nil, nil, &refusal{
			msg:  fmt.Sprintf("%q holds %s, not %s; nothing was changed", target, rec.Name, name),
			hint: "use that program's own installer for it, or choose another --to",
		}
	}
	return &rec, m, nil
}
