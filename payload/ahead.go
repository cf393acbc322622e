package payload

import (
	"errors"
	"io"
)

// aheadReader runs a reader (the decompressor) on its own goroutine, ahead of
// the one that reads from it (the extractor), in chunks of 512 KiB: decoding
// and file creation then run on two cores, like `zstd -dc | tar -x`, and hand
// over once per chunk rather than once per read. Memory: chunks × size.
type aheadReader struct {
	full chan []byte   // decoded chunks, in order
	free chan []byte   // empty chunks for the decoder
	stop chan struct{} // closed by Close: the decoder quits
	done chan struct{} // closed when the decoder goroutine has returned
	err  error         // why the decoder stopped; read after full is closed
	buf  []byte        // the chunk being read, whole
	cur  []byte        // its unread part
}

func readAhead(r io.Reader, chunks, size int) *aheadReader {
	a := &aheadReader{
		full: make(chan []byte, chunks),
		free: make(chan []byte, chunks),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	for range chunks {
		a.free <- make([]byte, size)
	}
	go a.decode(r)
	return a
}

func (a *aheadReader) decode(r io.Reader) {
	defer close(a.done)
	for {
		var b []byte
		select {
		case b = <-a.free:
		case <-a.stop:
			return
		}
		n, err := io.ReadFull(r, b[:cap(b)])
		if n > 0 {
			select {
			case a.full <- b[:n]:
			case <-a.stop:
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			a.err = err
			close(a.full)
			return
		}
	}
}

func (a *aheadReader) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		if a.buf != nil {
			a.free <- a.buf[:cap(a.buf)] // never blocks: free holds every chunk
			a.buf = nil
		}
		b, ok := <-a.full
		if !ok {
			return 0, a.err
		}
		a.buf, a.cur = b, b
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// Close stops the decoder and waits for it, so that its source may be used
// again.
func (a *aheadReader) Close() {
	close(a.stop)
	<-a.done
}
