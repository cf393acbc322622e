//go:build !cgo

package payload

import (
	"io"

	"github.com/klauspost/compress/zstd"
)

// Without cgo the builder falls back to klauspost's pure-Go encoder, which
// has no long-distance matching: payloads come out about 10% larger.

func newZstdWriter(w io.Writer, level, workers int) (io.WriteCloser, error) {
	return newChunkedZstd(w, zstd.EncoderLevelFromZstd(level), workers)
}

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

func newChunkedZstd(w io.Writer, level zstd.EncoderLevel, workers int) (*chunkedZstd, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level),
		zstd.WithEncoderConcurrency(workers), zstd.WithWindowSize(1<<zstdWindowLog))
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
