// Package disc assembles ISO images for offline sites (an installer, README.txt,
// extra files, SHA256SUMS) and verifies installers and images with a reader
// independent of our writer.
package disc

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/terrapack/terrapack/internal/atomicfile"
	"github.com/terrapack/terrapack/iso"
	"github.com/terrapack/terrapack/meter"
	"github.com/terrapack/terrapack/payload"
	"github.com/terrapack/terrapack/sshsig"
)

// Options describe an ISO image for offline sites.
type Options struct {
	Installer string        // the .run to put at the root under its own name
	Extra     []string      // more files or folders, placed at the root under their names
	Output    string        // the .iso to write
	Label     string        // volume label; default NAME_VERSION from the installer
	Epoch     *time.Time    // SOURCE_DATE_EPOCH; default: the newest modification time of the files put on it
	Signer    sshsig.Signer // signs SHA256SUMS into SHA256SUMS.sig when not nil
	// ExtentSize is passed to iso.Options: 0 for the ISO 9660 maximum;
	// smaller values make multi-extent files of small ones (tests).
	ExtentSize int64
	Meter      meter.Starter // progress of checksumming and writing; nil for none
	Log        io.Writer     // the closing line; nil for none
}

// Disc file names the verifier relies on.
const (
	SumsFile   = "SHA256SUMS"
	SigFile    = SumsFile + ".sig" // ssh-keygen -Y sign -n terrapack of SHA256SUMS
	ReadmeFile = "README.txt"
)

// Write writes the image: the installer, README.txt with the install and
// check commands, any extra files, SHA256SUMS over all of them and, with a
// signer, SHA256SUMS.sig; then the media checksum that checkisomd5 reads.
// Every date on the image is o.Epoch, else the newest modification time of
// the files it holds, so that the same files give the same image.
func Write(o Options) error {
	f, err := os.Open(o.Installer)
	if err != nil {
		return fmt.Errorf("failed to open installer %q: %w", o.Installer, err)
	}
	defer f.Close()
	in, err := payload.OpenFile(f, nil)
	if err != nil {
		return fmt.Errorf("%q is not a usable installer: %w", o.Installer, err)
	}
	runName := filepath.Base(o.Installer)
	entries := []iso.Entry{}
	var newest time.Time
	for _, x := range append([]string{o.Installer}, o.Extra...) {
		more, t, err := treeEntries(x)
		if err != nil {
			return err
		}
		entries = append(entries, more...)
		if t.After(newest) {
			newest = t
		}
	}
	readme := discReadme(in.Manifest, runName, o.Signer)
	entries = append(entries, memEntry(ReadmeFile, readme))
	if err := checkUnique(entries); err != nil {
		return err
	}
	var total int64
	for _, e := range entries {
		if e.Mode.IsRegular() {
			total += e.Size
		}
	}
	hashing := o.Meter.Start("checksumming", total, true)
	sums, err := checksums(counted(entries, hashing))
	hashing.Done()
	if err != nil {
		return err
	}
	entries = append(entries, memEntry(SumsFile, sums))
	if o.Signer != nil {
		digest := sha512.Sum512(sums)
		sig, err := sshsig.Sign(o.Signer, payload.SignatureNamespace, "sha512", digest[:])
		if err != nil {
			return err
		}
		entries = append(entries, memEntry(SigFile, sig.Marshal()))
	}

	label := o.Label
	if label == "" {
		label = strings.TrimSuffix(in.Manifest.Name+"_"+in.Manifest.Version, "_")
	}
	mtime := newest
	if o.Epoch != nil {
		mtime = *o.Epoch
	}
	writing := o.Meter.Start("writing "+filepath.Base(o.Output), total, true)
	var size int64
	err = atomicfile.Write(o.Output, 0o644, func(f *os.File) error {
		if err := iso.Write(f, iso.Options{Label: label, ModTime: mtime, ExtentSize: o.ExtentSize}, counted(entries, writing)); err != nil {
			return err
		}
		if err := iso.ImplantMD5(f); err != nil {
			return err
		}
		end, err := f.Seek(0, io.SeekEnd)
		size = end
		return err
	})
	writing.Done()
	if err == nil && o.Log != nil {
		fmt.Fprintf(o.Log, "wrote %s (%d bytes; check it with terrapack verify or checkisomd5)\n", o.Output, size)
	}
	return err
}

// counted returns entries whose contents count in m as they are read.
func counted(entries []iso.Entry, m meter.Meter) []iso.Entry {
	out := slices.Clone(entries)
	for i := range out {
		if open := out[i].Open; open != nil {
			out[i].Open = func() (io.ReadCloser, error) {
				r, err := open()
				if err != nil {
					return nil, err
				}
				return struct {
					io.Reader
					io.Closer
				}{meter.Reader{R: r, M: m}, r}, nil
			}
		}
	}
	return out
}

func discReadme(m *payload.Manifest, runName string, signer sshsig.Signer) []byte {
	title := m.Title()
	var b strings.Builder
	fmt.Fprintf(&b, `%s — installer disc

To install, mount this disc and run (as a user who may write to the target):

    '/media/cdrom/%s' --to %s

Choose any folder with --to. Other options: --check (verify, install
nothing), --info, --list, --force (replace an earlier install), --help.

To check the disc first, on any Linux:

    cd /media/cdrom && sha256sum -c %s    # every file is intact
    checkisomd5 /dev/cdrom                       # the whole disc (package isomd5sum)
`, title, runName, m.DefaultTarget, SumsFile)
	if signer != nil {
		fmt.Fprintf(&b, `
%s is signed with the ed25519 key %s.
With the publisher's public key in a file allowed_signers, as one line
"publisher ssh-ed25519 AAAA…" (get it from the publisher, not from this disc):

    ssh-keygen -Y verify -f allowed_signers -I publisher -n %s         -s %s < %s
`, SumsFile, sshsig.Fingerprint(signer.PublicKey()), payload.SignatureNamespace, SigFile, SumsFile)
	}
	return []byte(b.String())
}

// treeEntries lists the host file or folder p for the image, under its
// base name, with the newest modification time found.
func treeEntries(p string) ([]iso.Entry, time.Time, error) {
	root := filepath.Clean(p)
	var entries []iso.Entry
	var newest time.Time
	err := filepath.WalkDir(root, func(hp string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("failed to read %q: %w", hp, err)
		}
		rel, _ := filepath.Rel(filepath.Dir(root), hp)
		e, err := iso.FromFile(filepath.ToSlash(rel), hp)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("failed to stat %q: %w", hp, err)
		}
		if info.ModTime().After(newest) {
			newest = info.ModTime()
		}
		entries = append(entries, e)
		return nil
	})
	return entries, newest, err
}

func memEntry(name string, b []byte) iso.Entry {
	return iso.Entry{Path: name, Mode: 0o644, Size: int64(len(b)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(string(b))), nil }}
}

func checkUnique(entries []iso.Entry) error {
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[e.Path] {
			return fmt.Errorf("two files would be %q on the disc; rename one", e.Path)
		}
		seen[e.Path] = true
	}
	return nil
}

// checksums returns SHA256SUMS content for the regular files, sorted.
func checksums(entries []iso.Entry) ([]byte, error) {
	var lines []string
	for _, e := range entries {
		if !e.Mode.IsRegular() {
			continue
		}
		h := sha256.New()
		if e.Open != nil {
			r, err := e.Open()
			if err != nil {
				return nil, fmt.Errorf("failed to open %q: %w", e.Path, err)
			}
			_, err = io.Copy(h, r)
			r.Close()
			if err != nil {
				return nil, fmt.Errorf("failed to read %q: %w", e.Path, err)
			}
		}
		lines = append(lines, hex.EncodeToString(h.Sum(nil))+"  "+e.Path+"\n")
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i][66:] < lines[j][66:] })
	return []byte(strings.Join(lines, "")), nil
}
