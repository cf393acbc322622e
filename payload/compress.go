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
		return newChunkedZstd(w, zl)
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

// zstdChunk is how much of the tar stream goes into one zstd frame. Frames
// are compressed independently, so the output does not depend on how many
// run at once, and concatenated frames are one valid zstd stream
// (`zstd -d` and every decoder read them). klauspost's streaming encoder
// uses a single core; this keeps every core busy.
const zstdChunk = 32 << 20

// chunkedZstd compresses zstdChunk-sized pieces in parallel and writes the
// frames in order.
type chunkedZstd struct {
	enc    *zstd.Encoder
	buf    []byte
	frames int
	queue  chan chan []byte // frames in stream order, at most one per core in flight
	done   chan error
}

func newChunkedZstd(w io.Writer, level zstd.EncoderLevel) (*chunkedZstd, error) {
	workers := runtime.NumCPU()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level),
		zstd.WithEncoderConcurrency(workers), zstd.WithWindowSize(8<<20))
	if err != nil {
		return nil, err
	}
	c := &chunkedZstd{enc: enc, queue: make(chan chan []byte, workers), done: make(chan error, 1)}
	go func() {
		var err error
		for frame := range c.queue {
			b := <-frame
			if err == nil {
				_, err = w.Write(b)
			}
		}
		c.done <- err
	}()
	return c, nil
}

func (c *chunkedZstd) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if c.buf == nil {
			c.buf = make([]byte, 0, zstdChunk)
		}
		k := min(len(p), zstdChunk-len(c.buf))
		c.buf = append(c.buf, p[:k]...)
		p = p[k:]
		if len(c.buf) == zstdChunk {
			c.flush()
		}
	}
	return n, nil
}

func (c *chunkedZstd) flush() {
	chunk := c.buf
	c.buf = nil
	c.frames++
	frame := make(chan []byte, 1)
	c.queue <- frame
	go func() { frame <- c.enc.EncodeAll(chunk, nil) }()
}

// Close writes the last frame (an empty one for an empty stream) and
// reports the first write error.
func (c *chunkedZstd) Close() error {
	if len(c.buf) > 0 || c.frames == 0 {
		c.flush()
	}
	close(c.queue)
	return <-c.done
}
