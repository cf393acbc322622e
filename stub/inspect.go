package main

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/terrapack/terrapack/payload"
	"github.com/terrapack/terrapack/relocate"
)

// list prints the payload's entries, verifying the file on the way.
func list(ctx context.Context, in *payload.Installer, w io.Writer) error {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	return in.Stream(ctx, func(tr *payload.TarReader) error {
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return payload.Malformed("payload", "not a readable tar stream: %v", err)
			}
			perm := hdr.FileInfo().Mode().Perm().String()[1:]
			line := fmt.Sprintf("%c%s %12d %s", typeChar(hdr.Typeflag), perm, hdr.Size, hdr.Name)
			switch hdr.Typeflag {
			case tar.TypeSymlink:
				line += " -> " + hdr.Linkname
			case tar.TypeLink:
				line += " link to " + hdr.Linkname
			}
			fmt.Fprintln(bw, line)
		}
	})
}

// soundBeforeRefusal returns err, unless err refuses the target (exit 4)
// and the installer is at fault: then that fault (exit 3), which holds
// whatever the target. A refusal that rests on the relocation plan (a path
// too long for a string's capacity) is only true if the payload bears the
// plan out, and most refusals come before the payload is read; so the
// whole file is checked first as --check does, unless this run's pass over
// it found it sound.
func soundBeforeRefusal(ctx context.Context, in *payload.Installer, err error) error {
	var ref *refusal
	if !errors.As(err, &ref) || in.Sound {
		return err
	}
	if cerr := relocate.CheckInstaller(ctx, in); cerr != nil {
		return cerr
	}
	return err
}

// check verifies the checksum and every entry without writing anything.
func check(ctx context.Context, in *payload.Installer, w io.Writer, quiet bool) error {
	if err := relocate.CheckInstaller(ctx, in); err != nil {
		return err
	}
	if !quiet {
		fmt.Fprintf(w, "ok: %s, %d entries, sha256 %s\n", in.Manifest.Title(), in.Manifest.Entries(), in.Trailer.Checksum())
	}
	return nil
}
