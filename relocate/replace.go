package relocate

import (
	"bytes"
	"io"
)

// chunkSize bounds the replacer's memory: input is processed, and output
// flushed, in pieces of about this size whatever the caller writes.
const chunkSize = 64 << 10

// replacer streams its input to w with every whole-path occurrence of old
// replaced by new (see indexPrefix), in constant memory.
type replacer struct {
	w        io.Writer
	old, new []byte
	buf      []byte // input not yet decided, then the piece being processed
	out      []byte
	err      error
}

func newReplacer(w io.Writer, old, new string) *replacer {
	return &replacer{w: w, old: []byte(old), new: []byte(new)}
}

func (r *replacer) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) && r.err == nil {
		k := min(len(p)-n, chunkSize)
		r.buf = append(r.buf, p[n:n+k]...)
		n += k
		r.process(false)
	}
	if r.err != nil {
		return n, r.err
	}
	return n, nil
}

// Close flushes what is still buffered; it does not close w.
func (r *replacer) Close() error {
	if r.err == nil {
		r.process(true)
	}
	return r.err
}

// process emits everything in buf that is decided. A match needs the byte
// after it to be seen, so unless the input is final, the last len(old) bytes
// stay buffered: they may start an occurrence completed by the next write.
func (r *replacer) process(final bool) {
	buf := r.buf
	i, done := 0, 0 // i: next position to search; done: input already emitted
	for {
		j := bytes.Index(buf[i:], r.old)
		if j < 0 {
			break
		}
		j += i
		end := j + len(r.old)
		if end == len(buf) && !final {
			break
		}
		if end < len(buf) && isPathByte(buf[end]) {
			i = j + 1
			continue
		}
		r.out = append(r.out, buf[done:j]...)
		r.out = append(r.out, r.new...)
		done, i = end, end
		if len(r.out) >= chunkSize {
			r.flush()
		}
	}
	keep := len(buf)
	if !final {
		keep = max(i, len(buf)-len(r.old))
	}
	r.out = append(r.out, buf[done:keep]...)
	r.flush()
	r.buf = append(r.buf[:0], buf[keep:]...)
}

func (r *replacer) flush() {
	if r.err == nil && len(r.out) > 0 {
		_, r.err = r.w.Write(r.out)
	}
	r.out = r.out[:0]
}
