package payload

import (
	"fmt"
	"io"

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

// encoderConcurrency is fixed rather than taken from the CPU count so that the
// same input gives the same bytes on every machine.
const encoderConcurrency = 4

// DefaultLevel is the level used when none is given, in zstd's numbering.
const DefaultLevel = 0

// NewCompressor returns a writer that compresses into w. level follows the
// method's usual command-line numbering (zstd 1–22, gzip 1–9); 0 means the
// method's default; xz has no levels here.
func NewCompressor(w io.Writer, method string, level int) (io.WriteCloser, error) {
	switch method {
	case Zstd:
		zl := zstd.SpeedBetterCompression
		if level != 0 {
			zl = zstd.EncoderLevelFromZstd(level)
		}
		return zstd.NewWriter(w,
			zstd.WithEncoderLevel(zl),
			zstd.WithEncoderConcurrency(encoderConcurrency),
			zstd.WithWindowSize(8<<20))
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
			zstd.WithDecoderConcurrency(2),
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
