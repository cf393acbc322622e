package main

import (
	"archive/tar"
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/terrapack/terrapack/payload"
)

// recordWriter streams the installed-file list to .terrapack/files.
type recordWriter struct {
	f *os.File
	w *bufio.Writer
}

func newRecordWriter(root string) (*recordWriter, error) {
	meta := filepath.Join(root, payload.MetaDir)
	if err := os.Mkdir(meta, 0o755); err != nil {
		return nil, fmt.Errorf("failed to create %q: %w", meta, err)
	}
	f, err := os.OpenFile(filepath.Join(meta, "files"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("failed to create installed-file list: %w", err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "# sha256\ttype\tmode\tsize\tpath[\t-> link]")
	return &recordWriter{f: f, w: w}, nil
}

func (r *recordWriter) add(rec payload.Record) {
	sum := "-"
	if rec.SHA256 != nil {
		sum = hex.EncodeToString(rec.SHA256)
	}
	fmt.Fprintf(r.w, "%s\t%c\t%04o\t%d\t%s", sum, typeChar(rec.Type), rec.Mode, rec.Size, escape(rec.Name))
	if rec.Link != "" {
		fmt.Fprintf(r.w, "\t-> %s", escape(rec.Link))
	}
	r.w.WriteByte('\n')
}

func (r *recordWriter) close() error {
	err := r.w.Flush()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("failed to write installed-file list: %w", err)
	}
	return nil
}

func typeChar(t byte) byte {
	switch t {
	case tar.TypeDir:
		return 'd'
	case tar.TypeSymlink:
		return 'l'
	case tar.TypeLink:
		return 'h'
	}
	return '-'
}

// escape keeps one record per line whatever the name holds.
func escape(s string) string { return recordEscaper.Replace(s) }

// recordEscaper is built once: building it per record cost 1% of an install.
var recordEscaper = strings.NewReplacer("\\", `\\`, "\n", `\n`, "\t", `\t`)

// writeMeta stores the manifest and where the install came from.
func writeMeta(root string, in *payload.Installer, target string) error {
	meta := filepath.Join(root, payload.MetaDir)
	if err := os.WriteFile(filepath.Join(meta, "manifest.json"), in.ManifestBytes, 0o644); err != nil {
		return fmt.Errorf("failed to write manifest: %w", err)
	}
	info := fmt.Sprintf("{\n  \"target\": %q,\n  \"installer_sha256\": %q\n}\n", target, in.Trailer.Checksum())
	if err := os.WriteFile(filepath.Join(meta, "install.json"), []byte(info), 0o644); err != nil {
		return fmt.Errorf("failed to write install record: %w", err)
	}
	return nil
}
