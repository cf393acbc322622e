// Package builder turns a source folder into a terrapack installer: it scans
// the tree, writes the compressed tar payload and the manifest after the
// embedded installer stub, and seals the file with its trailer.
package builder

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/terrapack/terrapack/internal/paths"

	"github.com/terrapack/terrapack/internal/atomicfile"
	"github.com/terrapack/terrapack/meter"
	"github.com/terrapack/terrapack/payload"
	"github.com/terrapack/terrapack/relocate"
	"github.com/terrapack/terrapack/relocate/planner"
	"github.com/terrapack/terrapack/sshsig"
)

// Options describe one build.
type Options struct {
	Source        string
	Output        string
	Name          string // default: the source folder's name
	Version       string
	Compression   string        // default zstd
	Level         int           // 0: the method's default
	DefaultTarget string        // default /opt/NAME
	Arch          string        // default amd64
	PostInstall   string        // path inside the tree to run after install
	Config        []string      // globs of config files (dpkg's conffile rule on upgrade)
	Keep          []string      // globs of data moved into the new tree on upgrade
	License       string        // host file whose text must be accepted before install
	Prefixes      []string      // build prefixes to relocate, the first as templates' .BuildPrefix; default: the source folder's real path
	Epoch         *time.Time    // SOURCE_DATE_EPOCH: clamps mtimes
	Signer        sshsig.Signer // signs the installer when not nil (see LoadSigner)
	DetachedSig   bool          // also write OUTPUT.sig, an ssh-keygen signature of the whole file
	Log           io.Writer     // progress lines; nil for none
	Warn          io.Writer     // "warning:" lines, also with --quiet; nil for none
	// Configure, when set, applies the tree's terrapack.yaml (read from the
	// folder, or from the archive's tree once unpacked) to the options not
	// set otherwise: flags win.
	Configure func(o *Options, c *Config) error
	Meter     meter.Starter // progress of scan and compression; nil for none
}

// configure applies root's terrapack.yaml through o.Configure.
func (o *Options) configure(root string) error {
	if o.Configure == nil {
		return nil
	}
	c, err := LoadConfig(root)
	if err != nil {
		return err
	}
	return o.Configure(o, c)
}

// Build writes the installer described by o.
func Build(o Options) error {
	var t payload.Trailer
	src, out, err := checkPaths(o.Source, o.Output)
	if err != nil {
		return err
	}
	var fromArchive unpacked
	if st, err := os.Stat(src); err == nil && st.Mode().IsRegular() {
		work, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".unpack-*")
		if err != nil {
			return fmt.Errorf("failed to make a folder to unpack %q: %w", o.Source, err)
		}
		defer os.RemoveAll(work)
		o.logf("unpacking %s", src)
		if fromArchive, err = unpackArchive(context.Background(), src, work); err != nil {
			return err
		}
		archiveFile := src
		src = fromArchive.root
		if err := o.configure(src); err != nil {
			return err
		}
		name, version := archiveName(archiveFile)
		if o.Name == "" {
			o.Name = name
			if o.Version == "" {
				o.Version = version
			}
		}
		switch {
		case len(o.Prefixes) > 0:
		case fromArchive.prefix != "":
			o.logf("archive holds %s: using it as the build prefix", fromArchive.prefix)
			o.Prefixes = []string{fromArchive.prefix}
		default:
			if o.Prefixes, err = o.detectPrefix(src); err != nil {
				return err
			}
		}
	} else if err := o.configure(src); err != nil {
		return err
	}
	o.fillDefaults(src)
	if err := payload.CheckLevel(o.Compression, o.Level); err != nil {
		return err
	}
	stub, err := Stub(o.Arch, o.Log)
	if err != nil {
		return err
	}
	o.logf("scanning %s", src)
	scanned := o.Meter.Start("scanning", 0, false)
	entries, err := scan(src, scanned, out)
	scanned.Done()
	if err != nil {
		return err
	}
	m := &payload.Manifest{
		Format: payload.FormatVersion, Name: o.Name, Version: o.Version,
		DefaultTarget: o.DefaultTarget, Arch: o.Arch,
		Compression: o.Compression, Level: o.Level, PostInstall: o.PostInstall,
	}
	if err := checkPostInstall(m.PostInstall, entries); err != nil {
		return err
	}
	if err := o.upgradeRules(m, src, entries); err != nil {
		return err
	}
	if len(o.Prefixes) == 0 {
		o.Prefixes = []string{src}
	}
	pln, err := planner.New(o.Prefixes[0], o.Prefixes[1:]...)
	if err != nil {
		return fmt.Errorf("bad --prefix: %w", err)
	}
	pln.Name, pln.Version = m.Name, m.Version
	if entries, err = omitStaleCaches(entries, pln); err != nil {
		return err
	}
	prefixes := relocate.NewPrefixes(o.Prefixes[0], o.Prefixes[1:]...)
	if err := checkLinks(entries, prefixes); err != nil {
		return err
	}

	o.logf("compressing %d entries with %s", len(entries), o.Compression)
	var plan *relocate.Plan
	writeTar := func(w io.Writer) (err error) {
		packed := o.Meter.Start("compressing", contentSize(entries), true)
		defer packed.Done()
		plan, err = writePayload(w, m, entries, pln, prefixes, o.Epoch, packed)
		return err
	}
	err = atomicfile.Write(out, 0o755, func(f *os.File) error {
		t, err = seal(f, stub, m, writeTar, o.Signer)
		return err
	})
	if err != nil {
		return err
	}
	if len(m.Relocation) > 0 {
		limit := "no limit on the install path"
		if ls := plan.Limits(); len(ls) > 0 {
			limit = fmt.Sprintf("install paths up to %d bytes (set by %s)", ls[0].Max, ls[0].Name)
		}
		o.logf("relocation from %s: %d files and %d symlinks rewritten at install, %d kept as they are, %d stale Python caches omitted; %s (terrapack inspect --relocations)",
			plan.BuildPrefix, len(plan.Files), len(plan.Symlinks), len(plan.Kept), len(plan.Omitted), limit)
		o.warnUnscanned(plan)
	}
	for _, w := range pln.Warnings() {
		o.warnf("%s", w)
	}
	o.logf("wrote %s (%d bytes, sha256 %s)", out, t.Layout.TotalSize, t.Checksum())
	if o.Signer != nil {
		o.logf("signed with ed25519 key %s", sshsig.Fingerprint(o.Signer.PublicKey()))
		if o.DetachedSig {
			if err := WriteDetachedSig(out, o.Signer); err != nil {
				return err
			}
			o.logf("wrote %s.sig (check: ssh-keygen -Y verify -n %s)", out, payload.SignatureNamespace)
		}
	}
	return nil
}

func checkPaths(source, output string) (src, out string, err error) {
	if source == "" {
		return "", "", errors.New("no source folder given")
	}
	if output == "" {
		return "", "", errors.New("no output file given (use -o NAME.run)")
	}
	if src, err = filepath.Abs(source); err != nil {
		return "", "", err
	}
	if out, err = filepath.Abs(output); err != nil {
		return "", "", err
	}
	st, err := os.Stat(src)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", "", fmt.Errorf("source folder %q does not exist", source)
	case err != nil:
		return "", "", fmt.Errorf("cannot use source %q: %w", source, err)
	case !st.IsDir() && !st.Mode().IsRegular():
		return "", "", fmt.Errorf("source %q is neither a folder nor an archive", source)
	}
	if real, err := filepath.EvalSymlinks(src); err == nil {
		src = real
	}
	outDir, err := filepath.EvalSymlinks(filepath.Dir(out))
	if err != nil {
		return "", "", fmt.Errorf("output folder of %q is not usable: %w", output, err)
	}
	out = filepath.Join(outDir, filepath.Base(out))
	if paths.Within(src, out) {
		return "", "", fmt.Errorf("output %q is inside the source folder %q: it would pack itself; write it elsewhere", output, source)
	}
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		return "", "", fmt.Errorf("output %q is a folder; give a file name such as %s", output, filepath.Join(output, "app.run"))
	}
	return src, out, nil
}

// Defaults of a build, for what neither a flag nor terrapack.yaml sets.
const (
	DefaultArch        = "amd64"
	DefaultCompression = payload.Zstd
)

// DefaultTarget is the install folder an installer for name uses when the
// customer gives no --to.
func DefaultTarget(name string) string { return "/opt/" + name }

func (o *Options) fillDefaults(src string) {
	if o.Name == "" {
		o.Name = filepath.Base(src)
	}
	if o.Compression == "" {
		o.Compression = DefaultCompression
	}
	if o.Arch == "" {
		o.Arch = DefaultArch
	}
	if o.DefaultTarget == "" {
		o.DefaultTarget = DefaultTarget(o.Name)
	}
}

// upgradeRules puts the config and keep globs and the license text into m.
func (o *Options) upgradeRules(m *payload.Manifest, src string, entries []entry) error {
	for _, g := range append(append([]string{}, o.Config...), o.Keep...) {
		if err := payload.CheckGlob(g); err != nil {
			return fmt.Errorf("bad --config/--keep glob: %w", err)
		}
	}
	m.Config, m.Keep = o.Config, o.Keep
	var configs []string
	for _, e := range entries {
		if e.info.Mode().IsRegular() && payload.MatchAny(o.Config, e.name) {
			configs = append(configs, e.name)
		}
	}
	for _, g := range o.Config {
		if !slices.ContainsFunc(configs, func(n string) bool { return payload.MatchGlob(g, n) }) {
			return fmt.Errorf("config glob %q matches no file in %s; fix it or drop it", g, src)
		}
	}
	if len(o.Config) > 0 {
		o.logf("config files (kept when the customer changed them): %s", strings.Join(configs, ", "))
	}
	if o.License == "" {
		return nil
	}
	lp := o.License
	if !filepath.IsAbs(lp) {
		lp = filepath.Join(src, lp)
	}
	b, err := os.ReadFile(lp)
	if err != nil {
		return fmt.Errorf("failed to read license: %w", err)
	}
	if !utf8.Valid(b) || len(strings.TrimSpace(string(b))) == 0 {
		return fmt.Errorf("license %q must be non-empty UTF-8 text", o.License)
	}
	m.License = string(b)
	return nil
}

func checkPostInstall(p string, entries []entry) error {
	if p == "" {
		return nil
	}
	for _, e := range entries {
		if e.name == p && e.info.Mode().IsRegular() {
			if e.info.Mode()&0o111 == 0 {
				return fmt.Errorf("post-install hook %q is not executable (chmod +x it)", p)
			}
			return nil
		}
	}
	return fmt.Errorf("post-install hook %q is not a file in the source folder", p)
}

// seal lays out [stub][payload][manifest][signature][trailer] in the empty
// file f: writePayload writes the compressed payload (and may fill in m's
// counts); the signature by signer is there when signer is not nil.
func seal(f *os.File, stub []byte, m *payload.Manifest, writePayload func(io.Writer) error, signer sshsig.Signer) (payload.Trailer, error) {
	t := payload.Trailer{Version: payload.FormatVersion}
	infoAt, err := payload.FindStubInfo(stub)
	if err != nil {
		return t, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if _, err := bw.Write(stub); err != nil {
		return t, fmt.Errorf("failed to write stub: %w", err)
	}
	cw := &payload.CountingWriter{W: bw}
	if err := writePayload(cw); err != nil {
		return t, err
	}
	mb, err := m.Marshal()
	if err != nil {
		return t, err
	}
	if _, err := bw.Write(mb); err != nil {
		return t, fmt.Errorf("failed to write manifest: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return t, fmt.Errorf("failed to write installer: %w", err)
	}
	l := payload.Layout{PayloadOffset: int64(len(stub)), PayloadLength: cw.N}
	l.ManifestOffset = l.PayloadOffset + l.PayloadLength
	l.ManifestLength = int64(len(mb))
	if signer != nil {
		// The stub records the signature's length before it is made:
		// an ed25519 signature's encoding has a fixed size.
		blank := sshsig.Signature{PublicKey: signer.PublicKey(), Namespace: payload.SignatureNamespace,
			HashAlg: payload.SignatureHash, Sig: make([]byte, ed25519.SignatureSize)}
		l.SignatureLength = int64(len(blank.Marshal()))
		t.Flags |= payload.FlagSigned
	}
	l.TotalSize = l.SignatureOffset() + l.SignatureLength + payload.TrailerSize
	t.Layout = l
	if _, err := f.WriteAt(payload.EncodeStubInfo(l), int64(infoAt)); err != nil {
		return t, fmt.Errorf("failed to record layout in stub: %w", err)
	}
	// The checksum covers the patched stub, so it is taken by reading back.
	h := payload.NewHash()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, l.SignatureOffset())); err != nil {
		return t, fmt.Errorf("failed to read back installer: %w", err)
	}
	h.Sum(t.SHA256[:0])
	trailer := t.MarshalBinary()
	if signer != nil {
		// The signed message is every byte but the signature: the
		// checksum's bytes, then the trailer.
		h.Write(trailer)
		sig, err := sshsig.Sign(signer, payload.SignatureNamespace, payload.SignatureHash, h.Sum(nil))
		if err != nil {
			return t, err
		}
		sb := sig.Marshal()
		if int64(len(sb)) != l.SignatureLength {
			return t, fmt.Errorf("signature is %d bytes, %d were reserved", len(sb), l.SignatureLength)
		}
		if _, err := f.WriteAt(sb, l.SignatureOffset()); err != nil {
			return t, fmt.Errorf("failed to write signature: %w", err)
		}
	}
	if _, err := f.WriteAt(trailer, l.TrailerOffset()); err != nil {
		return t, fmt.Errorf("failed to write trailer: %w", err)
	}
	return t, nil
}

// writePayload writes the compressed tar of entries to w, planning the
// relocation of each entry on the way, and fills m's counts and plan.
func writePayload(w io.Writer, m *payload.Manifest, entries []entry, pln *planner.Planner, prefixes relocate.Prefixes, epoch *time.Time, packed meter.Meter) (*relocate.Plan, error) {
	zw, err := payload.NewCompressor(w, m.Compression, m.Level)
	if err != nil {
		return nil, err
	}
	tarCount := &payload.CountingWriter{W: zw}
	tw := tar.NewWriter(tarCount)
	buf := make([]byte, 1<<20)
	packedAs := map[string]string{} // templates are packed without ".tmpl"
	for _, e := range entries {
		hdr := &tar.Header{
			Name:    e.name,
			Mode:    int64(e.info.Mode().Perm()),
			ModTime: clamp(e.info.ModTime(), epoch),
			Format:  tar.FormatPAX,
		}
		switch {
		case e.info.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, e.name+"/"
			m.Dirs++
		case e.hardlink:
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, e.link
			if n, ok := packedAs[e.link]; ok {
				hdr.Linkname = n
			}
			m.Hardlinks++
		case e.info.Mode()&fs.ModeSymlink != 0:
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, packedLink(e, prefixes)
			m.Symlinks++
			if err := pln.Symlink(e.name, hdr.Linkname); err != nil {
				return nil, err
			}
		default:
			hdr.Typeflag = tar.TypeReg
			if err := packFile(tw, hdr, e, pln, buf); err != nil {
				return nil, err
			}
			packed.Add(e.info.Size())
			packedAs[e.name] = hdr.Name
			m.Files++
			m.UnpackedSize += hdr.Size
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("failed to add %q: %w", e.hostPath, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("failed to finish payload: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("failed to finish %s compression: %w", m.Compression, err)
	}
	m.TarSize = tarCount.N
	plan := pln.Plan()
	if len(plan.Files)+len(plan.Symlinks)+len(plan.Kept) > 0 {
		b, err := json.Marshal(plan)
		if err != nil {
			return nil, fmt.Errorf("failed to encode relocation plan: %w", err)
		}
		m.Relocation = b
	}
	return plan, nil
}

// packFile writes the header and content of one regular file as its plan
// says: a template rendered under its new name, other files with their
// build-time patches (ELF RPATHs made $ORIGIN-relative, same size).
func packFile(tw *tar.Writer, hdr *tar.Header, e entry, pln *planner.Planner, buf []byte) error {
	f, err := os.Open(e.hostPath)
	if err != nil {
		return fmt.Errorf("failed to open %q: %w", e.hostPath, err)
	}
	defer f.Close()
	pk, err := pln.File(e.name, f, e.info.Size(), e.info.Mode())
	if err != nil {
		return err
	}
	hdr.Name, hdr.Size = pk.Name, e.info.Size()
	if pk.Content != nil {
		hdr.Size = int64(len(pk.Content))
		payload.SetRecordedSHA256(hdr, sha256Of(bytes.NewReader(pk.Content), buf))
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("failed to add %q: %w", e.hostPath, err)
		}
		_, err := tw.Write(pk.Content)
		return err
	}
	// The header, which precedes the content, carries its hash: one pass
	// to hash, one to pack, hashed again to catch a file changed in between.
	content := func() io.Reader {
		return &patchingReader{r: io.NewSectionReader(f, 0, e.info.Size()), patches: pk.Patches}
	}
	sum := sha256Of(content(), buf)
	payload.SetRecordedSHA256(hdr, sum)
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("failed to add %q: %w", e.hostPath, err)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(tw, h), content(), buf)
	if err != nil {
		return fmt.Errorf("failed to pack %q: %w", e.hostPath, err)
	}
	if n != e.info.Size() {
		return fmt.Errorf("%q shrank from %d to %d bytes while being packed; build again from a quiet tree", e.hostPath, e.info.Size(), n)
	}
	if !bytes.Equal(h.Sum(nil), sum) {
		return fmt.Errorf("%q changed while being packed; build again from a quiet tree", e.hostPath)
	}
	return nil
}

// sha256Of hashes r; a read error leaves a hash that the packing pass,
// which reports read errors, will not match.
func sha256Of(r io.Reader, buf []byte) []byte {
	h := sha256.New()
	io.CopyBuffer(h, r, buf)
	return h.Sum(nil)
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// warnf prints a "warning:" line: what the build ships that may not be what
// was meant. Unlike progress, warnings are printed with --quiet too.
func (o *Options) warnf(format string, args ...any) {
	if o.Warn != nil {
		fmt.Fprintf(o.Warn, "warning: "+format+"\n", args...)
	}
}

// warnUnscanned names, in one line, the ELF files whose code was not
// scanned for references into their strings: their limits are assumed.
func (o *Options) warnUnscanned(plan *relocate.Plan) {
	var names []string
	var first *relocate.FilePlan
	for i, f := range plan.Files {
		if f.Unscanned != "" {
			if first == nil {
				first = &plan.Files[i]
			}
			names = append(names, f.Name)
		}
	}
	if first == nil {
		return
	}
	n := len(names)
	if n > 3 {
		names = append(names[:3], "…")
	}
	o.warnf("%d ELF file(s) (%s): %s (terrapack inspect --relocations lists them)", n, strings.Join(names, ", "), first.UnscannedWhy())
}

// patchingReader overlays patches on the bytes read through it.
type patchingReader struct {
	r       io.Reader
	off     int64
	patches []planner.Patch
}

func (p *patchingReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	for _, pt := range p.patches {
		lo := max(pt.Offset, p.off)
		hi := min(pt.Offset+int64(len(pt.Data)), p.off+int64(n))
		if lo < hi {
			copy(b[lo-p.off:hi-p.off], pt.Data[lo-pt.Offset:hi-pt.Offset])
		}
	}
	p.off += int64(n)
	return n, err
}
