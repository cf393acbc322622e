package disc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kdomanski/iso9660"
	"github.com/terrapack/terrapack/iso"
	"github.com/terrapack/terrapack/payload"
	"github.com/terrapack/terrapack/relocate"
	"github.com/terrapack/terrapack/sshsig"
)

// Verify checks an installer (its checksum, signature and every payload
// entry) or an ISO image (SHA256SUMS against every file, then each
// installer on it), printing one line per check to w. With keys, every
// signature must be by one of them. The image is read with an independent
// reader, github.com/kdomanski/iso9660, not with our writer's code.
func Verify(ctx context.Context, p string, w io.Writer, keys []sshsig.Key) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("failed to open %q: %w", p, err)
	}
	defer f.Close()
	magic := make([]byte, 5)
	if _, err := f.ReadAt(magic, 16*2048+1); err == nil && string(magic) == "CD001" {
		return verifyDisc(ctx, f, w, keys)
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return verifyInstaller(ctx, p, f, st.Size(), w, keys)
}

func verifyInstaller(ctx context.Context, name string, r io.ReaderAt, size int64, w io.Writer, keys []sshsig.Key) error {
	in, err := payload.Open(r, size, nil)
	signer := "unsigned"
	if err == nil && in.Signature != nil {
		signer = "signed by " + in.Signature.Fingerprint() + " (not checked against a trusted key)"
	}
	if err == nil && keys != nil {
		var k sshsig.Key
		k, err = in.RequireSigner(keys)
		signer = "signed by trusted key " + k.String()
	}
	if err == nil {
		err = relocate.CheckInstaller(ctx, in)
	}
	if err != nil {
		return fmt.Errorf("installer %q: %w", name, err)
	}
	fmt.Fprintf(w, "ok  %s: %s %s, %d entries, sha256 %s, %s\n", name, in.Manifest.Name, in.Manifest.Version, in.Manifest.Entries(), in.Trailer.Checksum(), signer)
	return nil
}

func verifyDisc(ctx context.Context, f *os.File, w io.Writer, keys []sshsig.Key) error {
	files, err := ReadFiles(f)
	if err != nil {
		return err
	}
	sumsFile := files[SumsFile]
	if sumsFile == nil {
		return fmt.Errorf("image %q has no %s at its root", f.Name(), SumsFile)
	}
	sums, err := io.ReadAll(sumsFile.Reader())
	if err != nil {
		return fmt.Errorf("failed to read %s: %w", SumsFile, err)
	}
	var problems []string
	if sum, err := iso.CheckMD5(f); err != nil {
		problems = append(problems, err.Error())
	} else {
		fmt.Fprintf(w, "ok  media checksum (MD5 %s, as checkisomd5 checks it)\n", sum)
	}
	if line, err := checkSumsSignature(sums, files[SigFile], keys); err != nil {
		problems = append(problems, err.Error())
	} else {
		fmt.Fprintf(w, "ok  %s\n", line)
	}
	listed := map[string]bool{SumsFile: true, SigFile: files[SigFile] != nil}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		want, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(want) != 64 {
			problems = append(problems, fmt.Sprintf("%s: malformed line %q", SumsFile, sc.Text()))
			continue
		}
		listed[name] = true
		file := files[name]
		if file == nil {
			problems = append(problems, fmt.Sprintf("%s: listed in %s but missing from the disc", name, SumsFile))
			continue
		}
		h := sha256.New()
		if _, err := io.Copy(h, file.Reader()); err != nil {
			problems = append(problems, fmt.Sprintf("%s: unreadable: %v", name, err))
			continue
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			problems = append(problems, fmt.Sprintf("%s: SHA-256 %s, %s says %s", name, got, SumsFile, want))
			continue
		}
		fmt.Fprintf(w, "ok  %s\n", name)
	}
	for name := range files {
		if !listed[name] {
			problems = append(problems, fmt.Sprintf("%s: on the disc but not in %s", name, SumsFile))
		}
	}
	for name, file := range files {
		if !strings.HasSuffix(name, ".run") {
			continue
		}
		if err := verifyInstaller(ctx, name, file.Reader(), file.Size(), w, keys); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("image %q failed verification:\n  %s", f.Name(), strings.Join(problems, "\n  "))
	}
	return nil
}

// checkSumsSignature checks SHA256SUMS.sig (absent: nil) against sums;
// with keys, it must be there and by one of them.
func checkSumsSignature(sums []byte, sigFile *File, keys []sshsig.Key) (string, error) {
	if sigFile == nil {
		if keys != nil {
			return "", fmt.Errorf("%s: missing: the disc is not signed", SigFile)
		}
		return SumsFile + " unsigned", nil
	}
	armored, err := io.ReadAll(io.LimitReader(sigFile.Reader(), payload.MaxSignatureSize))
	if err != nil {
		return "", fmt.Errorf("%s: unreadable: %v", SigFile, err)
	}
	sig, err := sshsig.Parse(armored)
	if err != nil {
		return "", fmt.Errorf("%s: %v", SigFile, err)
	}
	digest := sha512.Sum512(sums)
	switch {
	case sig.Namespace != payload.SignatureNamespace || sig.HashAlg != "sha512":
		return "", fmt.Errorf("%s: namespace %q, hash %q; want %q, sha512", SigFile, sig.Namespace, sig.HashAlg, payload.SignatureNamespace)
	case sig.Verify(digest[:]) != nil:
		return "", fmt.Errorf("%s: does not match %s (signer's key %s)", SigFile, SumsFile, sig.Fingerprint())
	case keys == nil:
		return fmt.Sprintf("%s signed by %s (not checked against a trusted key)", SumsFile, sig.Fingerprint()), nil
	}
	k, ok := sshsig.Find(keys, sig.PublicKey)
	if !ok {
		return "", fmt.Errorf("%s: signed by %s, not a trusted key; trusted keys tried: %s", SigFile, sig.Fingerprint(), strings.Join(sshsig.Names(keys), ", "))
	}
	return SumsFile + " signed by trusted key " + k.String(), nil
}

// ReadFiles lists every regular file of the image f by slash path, read
// with github.com/kdomanski/iso9660 (Rock Ridge names where present).
func ReadFiles(f *os.File) (map[string]*File, error) {
	img, err := iso9660.OpenImage(f)
	if err != nil {
		return nil, fmt.Errorf("failed to read image %q: %w", f.Name(), err)
	}
	root, err := img.RootDir()
	if err != nil {
		return nil, fmt.Errorf("failed to read root folder of %q: %w", f.Name(), err)
	}
	files := map[string]*File{}
	if err := collect(root, "", files); err != nil {
		return nil, err
	}
	return files, nil
}

// File is a regular file on the disc: one extent, or the consecutive
// records of a multi-extent file (4 GiB and more), which the reader lists
// as files of the same name.
type File struct {
	parts []*io.SectionReader
	size  int64
}

// Size is the file's length in bytes.
func (d *File) Size() int64 { return d.size }

// Reader reads the whole file, across its extents.
func (d *File) Reader() *io.SectionReader {
	if len(d.parts) == 1 {
		return d.parts[0]
	}
	return io.NewSectionReader(extents(d.parts), 0, d.size)
}

// extents reads consecutive parts as one.
type extents []*io.SectionReader

func (e extents) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for _, part := range e {
		if len(p) == 0 {
			break
		}
		if off >= part.Size() {
			off -= part.Size()
			continue
		}
		k, err := part.ReadAt(p[:min(int64(len(p)), part.Size()-off)], off)
		n += k
		if err != nil && err != io.EOF {
			return n, err
		}
		p, off = p[k:], 0
	}
	if len(p) > 0 {
		return n, io.EOF
	}
	return n, nil
}

// collect maps the slash paths of every regular file below dir.
func collect(dir *iso9660.File, prefix string, out map[string]*File) error {
	children, err := dir.GetChildren()
	if err != nil {
		return fmt.Errorf("failed to list %q on the disc: %w", prefix+"/", err)
	}
	last := ""
	for _, c := range children {
		name := prefix + c.Name()
		switch {
		case c.IsDir():
			if err := collect(c, name+"/", out); err != nil {
				return err
			}
		case c.Mode().IsRegular():
			part, ok := c.Reader().(*io.SectionReader)
			if !ok {
				return fmt.Errorf("cannot read %s on the disc at random offsets", name)
			}
			if d := out[name]; d != nil {
				if name != last {
					return errors.New("duplicate file " + name + " on the disc")
				}
				d.parts = append(d.parts, part)
				d.size += part.Size()
				continue
			}
			out[name] = &File{parts: []*io.SectionReader{part}, size: part.Size()}
		}
		last = name
	}
	return nil
}
