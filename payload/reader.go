package payload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/terrapack/terrapack/sshsig"
)

// Installer is an opened installer file whose trailer and manifest have been
// read but whose checksum has not yet been verified.
type Installer struct {
	R             io.ReaderAt
	Trailer       Trailer
	Manifest      *Manifest
	ManifestBytes []byte
	TrailerBytes  []byte            // as read, for the signed message
	Signature     *sshsig.Signature // nil when unsigned
	// SignatureVerified is set by a Stream pass that found the signature
	// matching the file's bytes.
	SignatureVerified bool
	// Sound is set by a Stream pass that found every byte intact (checksum
	// and signature) and whose fn succeeded.
	Sound bool
}

// SizeError reports an installer whose size is not the one it was built with.
type SizeError struct {
	Expected, Actual int64
}

func (e *SizeError) Error() string {
	if e.Actual < e.Expected {
		return fmt.Sprintf("installer is truncated: expected %d bytes, found %d (%d missing; incomplete download or copy?)",
			e.Expected, e.Actual, e.Expected-e.Actual)
	}
	return fmt.Sprintf("installer has %d unexpected bytes appended: expected %d bytes, found %d",
		e.Actual-e.Expected, e.Expected, e.Actual)
}

// ChecksumError reports an installer whose bytes do not match its checksum.
type ChecksumError struct {
	Expected, Actual [32]byte
	Cause            error // what failed first while reading, if anything
}

func (e *ChecksumError) Error() string {
	msg := fmt.Sprintf("installer is damaged: SHA-256 mismatch (expected %x, computed %x)", e.Expected, e.Actual)
	if e.Cause != nil {
		msg += fmt.Sprintf("; while reading: %v", e.Cause)
	}
	return msg
}

// OpenFile opens the installer file f; see Open.
func OpenFile(f *os.File, expected *Layout) (*Installer, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("failed to stat %q: %w", f.Name(), err)
	}
	return Open(f, st.Size(), expected)
}

// Open reads the trailer and manifest of the installer held in the first
// size bytes of r. expected is the layout the stub was patched with, or nil
// when r is not the running stub (inspect, verify): then the trailer alone
// locates the parts.
func Open(r io.ReaderAt, size int64, expected *Layout) (*Installer, error) {
	if expected != nil && size != expected.TotalSize {
		return nil, &SizeError{Expected: expected.TotalSize, Actual: size}
	}
	if size < TrailerSize {
		return nil, &FormatError{Offset: 0, Msg: fmt.Sprintf("file is %d bytes, too small to be an installer", size)}
	}
	tb := make([]byte, TrailerSize)
	if _, err := r.ReadAt(tb, size-TrailerSize); err != nil {
		return nil, fmt.Errorf("failed to read trailer: %w", err)
	}
	t, err := ParseTrailer(tb, size-TrailerSize)
	if err != nil {
		return nil, err
	}
	in := &Installer{R: r, Trailer: t, TrailerBytes: tb}
	if t.Layout.TotalSize != size {
		return nil, &SizeError{Expected: t.Layout.TotalSize, Actual: size}
	}
	if expected != nil && t.Layout != *expected {
		return nil, &FormatError{Offset: size - TrailerSize, Msg: "trailer does not match the layout recorded in the stub"}
	}
	if t.Layout.ManifestLength > MaxManifestSize {
		return nil, &FormatError{Offset: size - TrailerSize, Msg: fmt.Sprintf("manifest length %d exceeds the %d limit", t.Layout.ManifestLength, MaxManifestSize)}
	}
	mb := make([]byte, t.Layout.ManifestLength)
	if _, err := r.ReadAt(mb, t.Layout.ManifestOffset); err != nil {
		return nil, fmt.Errorf("failed to read manifest: %w", err)
	}
	if in.Manifest, err = ParseManifest(mb); err != nil {
		var fe *FormatError
		if errors.As(err, &fe) && fe.Offset < 0 {
			fe.Offset = t.Layout.ManifestOffset
		}
		return nil, err
	}
	in.ManifestBytes = mb
	if t.Signed() {
		if in.Signature, err = readSignature(r, t.Layout); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// Signatures in installers: namespace and hash are fixed by the format.
const (
	SignatureNamespace = "terrapack"
	SignatureHash      = "sha256"
)

func readSignature(r io.ReaderAt, l Layout) (*sshsig.Signature, error) {
	b := make([]byte, l.SignatureLength)
	if _, err := r.ReadAt(b, l.SignatureOffset()); err != nil {
		return nil, fmt.Errorf("failed to read signature: %w", err)
	}
	s, err := sshsig.Parse(b)
	if err == nil && (s.Namespace != SignatureNamespace || s.HashAlg != SignatureHash) {
		err = fmt.Errorf("namespace %q and hash %q, want %q and %q", s.Namespace, s.HashAlg, SignatureNamespace, SignatureHash)
	}
	if err != nil {
		return nil, &FormatError{Offset: l.SignatureOffset(), Msg: "bad signature block: " + err.Error()}
	}
	return s, nil
}

// SignatureError reports an installer that is unsigned, signed by a key
// not trusted, or whose signature does not match its bytes.
type SignatureError struct {
	Kind   SignatureProblem
	Signer string   // fingerprint of the signing key; "" when unsigned
	Tried  []string // the trusted keys, as sshsig.Key.String
	Detail string
}

// SignatureProblem tells what is wrong with a signature.
type SignatureProblem int

const (
	Unsigned     SignatureProblem = iota // no signature
	Untrusted                            // a valid form, by a key not trusted
	BadSignature                         // does not match the file's bytes
)

func (e *SignatureError) Error() string {
	msg := map[SignatureProblem]string{
		Unsigned:     "the installer is not signed",
		Untrusted:    "the installer is signed by a key that is not trusted",
		BadSignature: "the installer's signature does not match its contents (altered after signing)",
	}[e.Kind]
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Signer != "" {
		msg += "; signer's key " + e.Signer
	}
	if len(e.Tried) > 0 {
		msg += "; trusted keys tried: " + strings.Join(e.Tried, ", ")
	}
	return msg
}

// RequireSigner refuses, before anything is read or written, an installer
// that is not signed by one of keys; it returns the matching key. The
// signature itself is checked by Stream, in the pass over the file.
func (in *Installer) RequireSigner(keys []sshsig.Key) (sshsig.Key, error) {
	tried := sshsig.Names(keys)
	if in.Signature == nil {
		return sshsig.Key{}, &SignatureError{Kind: Unsigned, Tried: tried}
	}
	k, ok := sshsig.Find(keys, in.Signature.PublicKey)
	if !ok {
		return sshsig.Key{}, &SignatureError{Kind: Untrusted, Signer: in.Signature.Fingerprint(), Tried: tried}
	}
	return k, nil
}

// Stream decompresses the payload and hands its tar stream to fn, hashing
// every byte of the file in the same pass. It returns a *ChecksumError when the
// file does not match its checksum, whatever fn returned, so that a damaged
// installer is reported as damaged rather than as a confusing tar error.
// A context cancellation from fn is returned as is, without further reading.
func (in *Installer) Stream(ctx context.Context, fn func(*TarReader) error) error {
	l := in.Trailer.Layout
	h := NewHash()
	if _, err := io.Copy(h, io.NewSectionReader(in.R, 0, l.PayloadOffset)); err != nil {
		return fmt.Errorf("failed to read installer stub: %w", err)
	}
	hashed := newHashBehind(io.NewSectionReader(in.R, l.PayloadOffset, l.PayloadLength), h, 4, 256<<10)
	fnErr := func() error {
		dec, err := NewDecompressor(hashed, in.Manifest.Compression)
		if err != nil {
			return &FormatError{Offset: l.PayloadOffset, Field: "payload", Msg: fmt.Sprintf("not %s-compressed: %v", in.Manifest.Compression, err)}
		}
		defer dec.Close()
		ahead := readAhead(dec, 4, 512<<10)
		defer ahead.Close()
		return fn(NewTarReader(ahead))
	}()
	if fnErr != nil && ctx.Err() != nil {
		hashed.finish(true)
		return fnErr
	}
	// Hash what the decompressor did not need.
	if err := hashed.finish(false); err != nil {
		return fmt.Errorf("failed to read payload: %w", err)
	}
	// Hash the manifest as it was read and used, not as it is on disk now.
	h.Write(in.ManifestBytes)
	var sum [32]byte
	h.Sum(sum[:0])
	if sum != in.Trailer.SHA256 {
		return &ChecksumError{Expected: in.Trailer.SHA256, Actual: sum, Cause: fnErr}
	}
	if in.Signature != nil {
		// The signed message goes on past the checksum's bytes with the
		// trailer: one SHA-256 pass serves both.
		h.Write(in.TrailerBytes)
		if err := in.Signature.Verify(h.Sum(nil)); err != nil {
			return &SignatureError{Kind: BadSignature, Signer: in.Signature.Fingerprint(), Detail: err.Error()}
		}
		in.SignatureVerified = true
	}
	in.Sound = fnErr == nil
	return fnErr
}

// NewExtractor returns the extractor of this installer's payload into root,
// or for a dry run when root is "". Both run the same checks (entry counts
// and sizes against the manifest, the hook, every entry and link), so that a
// dry run passes exactly when extraction would not fail for a reason inside
// the file. rw, if not nil, relocates (or checks the plan, in a dry run).
func (in *Installer) NewExtractor(root string, rw Rewriter) *Extractor {
	return &Extractor{Root: root, DryRun: root == "", Rewrite: rw, Hook: in.Manifest.PostInstall, Announced: in.Manifest}
}

// Check verifies the checksum and validates every payload entry, writing
// nothing: what `--check` and `terrapack verify` do, with rw checking the
// relocation plan (nil for none).
func (in *Installer) Check(ctx context.Context, rw Rewriter) error {
	x := in.NewExtractor("", rw)
	return in.Stream(ctx, func(tr *TarReader) error { return x.Extract(ctx, tr) })
}

// WriteInfo describes the installer for --info and `terrapack inspect`.
func (in *Installer) WriteInfo(w io.Writer) {
	m, l := in.Manifest, in.Trailer.Layout
	fmt.Fprintf(w, "name:            %s\n", m.Name)
	fmt.Fprintf(w, "version:         %s\n", m.Version)
	fmt.Fprintf(w, "default target:  %s\n", m.DefaultTarget)
	fmt.Fprintf(w, "architecture:    linux/%s\n", m.Arch)
	fmt.Fprintf(w, "compression:     %s\n", m.Compression)
	fmt.Fprintf(w, "entries:         %d files, %d dirs, %d symlinks, %d hard links\n", m.Files, m.Dirs, m.Symlinks, m.Hardlinks)
	fmt.Fprintf(w, "unpacked size:   %d bytes\n", m.UnpackedSize)
	fmt.Fprintf(w, "installer size:  %d bytes\n", l.TotalSize)
	packed := m.Compression + "-compressed tar"
	if m.Compression == None {
		packed = "uncompressed tar"
	}
	fmt.Fprintf(w, "payload:         offset %d, length %d (%s)\n", l.PayloadOffset, l.PayloadLength, packed)
	fmt.Fprintf(w, "manifest:        offset %d, length %d\n", l.ManifestOffset, l.ManifestLength)
	fmt.Fprintf(w, "sha256:          %s (of bytes 0..%d, before the signature and trailer)\n", in.Trailer.Checksum(), l.SignatureOffset())
	if in.Signature != nil {
		fmt.Fprintf(w, "signature:       offset %d, length %d, ed25519 key %s\n", l.SignatureOffset(), l.SignatureLength, in.Signature.Fingerprint())
	} else {
		fmt.Fprintln(w, "signature:       none")
	}
	if m.PostInstall != "" {
		fmt.Fprintf(w, "post-install:    %s\n", m.PostInstall)
	}
	if len(m.Config) > 0 {
		fmt.Fprintf(w, "config files:    %s\n", strings.Join(m.Config, " "))
	}
	if len(m.Keep) > 0 {
		fmt.Fprintf(w, "kept data:       %s\n", strings.Join(m.Keep, " "))
	}
	if m.License != "" {
		fmt.Fprintf(w, "license:         %d bytes, must be accepted (--accept)\n", len(m.License))
	}
}
