package payload

import (
	"fmt"
	"io"
	"runtime"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Compression methods for the payload.
const (
	Zstd = "zstd"
	Xz   = "xz"
	Gzip = "gzip"
	None = "none"
)

// Methods lists the supported compression methods, the default first.
var Methods = []string{Zstd, Xz, Gzip, None}

// zstdDefaultLevel is makeself's zstd level; with long-distance matching
// and every core it is both faster and smaller than makeself's output.
const zstdDefaultLevel = 9

// zstdWindowLog caps the zstd window at 32 MiB: long-distance matching finds
// repeats across files (binaries sharing code; 1.7 MB less than 16 MiB on the
// Go tree at no cost in time), while the installer's decoder keeps its
// memory bounded (docs/BENCHMARKS.md).
const zstdWindowLog = 25

// maxZstdWorkers bounds the builder's memory on big machines: each zstd
// worker holds a job of several windows. The output does not depend on it.
const maxZstdWorkers = 8

// NewCompressor returns a writer that compresses into w. level follows the
// method's usual command-line numbering (zstd 1–22, gzip 1–9); 0 means the
// method's default; xz has no levels here.
func NewCompressor(w io.Writer, method string, level int) (io.WriteCloser, error) {
	switch method {
	case Zstd:
		if level == 0 {
			level = zstdDefaultLevel
		}
		return newZstdWriter(w, level, min(runtime.NumCPU(), maxZstdWorkers))
	case Gzip:
		if level == 0 {
			level = gzip.DefaultCompression
		}
		return gzip.NewWriterLevel(w, level)
	case Xz:
		return xz.NewWriter(w)
	case None:
		return nopWriteCloser{w}, nil
	}
	return nil, fmt.Errorf("unknown compression %q (choose one of %v)", method, Methods)
}

// NewDecompressor returns a reader of the uncompressed payload read from r.
// Memory use is bounded whatever the payload size.
func NewDecompressor(r io.Reader, method string) (io.ReadCloser, error) {
	switch method {
	case Zstd:
		d, err := zstd.NewReader(r,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(64<<20),
			zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case Gzip:
		return gzip.NewReader(r)
	case Xz:
		x, err := xz.NewReader(r)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(x), nil
	case None:
		return io.NopCloser(r), nil
	}
	return nil, fmt.Errorf("unknown compression %q in manifest", method)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
