package disc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

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
	fmt.Fprintf(w, "ok  %s: %s, %d entries, sha256 %s, %s\n", name, in.Manifest.Title(), in.Manifest.Entries(), in.Trailer.Checksum(), signer)
	return nil
}

func verifyDisc(ctx context.Context, f *os.File, w io.Writer, keys []sshsig.Key) error {
	files, err := iso.ReadFiles(f)
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
func checkSumsSignature(sums []byte, sigFile *iso.File, keys []sshsig.Key) (string, error) {
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
