package payload

import (
	"hash"
	"io"
)

// hashBehind reads r in chunks and hashes each chunk on its own goroutine
// once the reader (the decompressor) has taken it, so that hashing and
// decoding run on two cores: on the Go tree the SHA-256 took an eighth of
// the decoder's time on its goroutine. It hashes exactly the bytes it hands
// out, in order, never a second read of the file. Memory: chunks × size.
type hashBehind struct {
	r    io.Reader
	free chan []byte   // chunks to read into
	todo chan []byte   // chunks handed out, to hash; closed by finish
	done chan struct{} // closed when every chunk handed out is hashed
	h    hash.Hash
	buf  []byte // the chunk being handed out
	cur  []byte // its part not yet read
	err  error  // r's error, returned once cur is empty
}

func newHashBehind(r io.Reader, h hash.Hash, chunks, size int) *hashBehind {
	b := &hashBehind{r: r, h: h, free: make(chan []byte, chunks), todo: make(chan []byte, chunks), done: make(chan struct{})}
	for range chunks {
		b.free <- make([]byte, size)
	}
	go func() {
		defer close(b.done)
		for c := range b.todo {
			b.h.Write(c)
			b.free <- c[:cap(c)]
		}
	}()
	return b
}

func (b *hashBehind) Read(p []byte) (int, error) {
	for len(b.cur) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		if b.buf != nil {
			b.todo <- b.buf
			b.buf = nil
		}
		c := <-b.free
		n, err := io.ReadFull(b.r, c)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		b.buf, b.cur, b.err = c[:n], c[:n], err
	}
	n := copy(p, b.cur)
	b.cur = b.cur[n:]
	return n, nil
}

// finish hashes the rest of r unless stopping (a cancelled install reads no
// further), then waits for the hashing goroutine: h then holds every byte
// handed out. It returns the first read error other than the end of r.
func (b *hashBehind) finish(stopping bool) error {
	var err error
	if !stopping {
		_, err = io.Copy(io.Discard, b)
	}
	if b.buf != nil {
		b.todo <- b.buf
		b.buf = nil
	}
	close(b.todo)
	<-b.done
	return err
}
