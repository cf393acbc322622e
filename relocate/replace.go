package relocate

import (
	"bytes"
	"io"
)

// chunkSize bounds the replacer's memory: input is processed, and output
// flushed, in pieces of about this size whatever the caller writes.
const chunkSize = 64 << 10

// replacer streams its input to w with every whole-path occurrence of a
// prefix replaced by new (see indexPrefix), in constant memory.
type replacer struct {
	exact bool // match anywhere, not only as a whole path
	w     io.Writer
	olds  [][]byte // longest first
	new   []byte
	buf   []byte // input not yet decided, then the piece being processed
	out   []byte
	err   error
}

func newReplacer(w io.Writer, olds Prefixes, new string) *replacer {
	r := &replacer{w: w, new: []byte(new)}
	for _, o := range olds {
		r.olds = append(r.olds, []byte(o))
	}
	return r
}

// newExactReplacer replaces every occurrence of old, whatever follows it.
func newExactReplacer(w io.Writer, old, new string) *replacer {
	r := newReplacer(w, Prefixes{old}, new)
	r.exact = true
	return r
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
// after it to be seen, so unless the input is final, the last bytes that
// could start an occurrence completed by the next write stay buffered.
func (r *replacer) process(final bool) {
	buf := r.buf
	i, done := 0, 0 // i: next position to search; done: input already emitted
	for {
		j := -1
		for _, old := range r.olds {
			if k := bytes.Index(buf[i:], old); k >= 0 && (j < 0 || i+k < j) {
				j = i + k
			}
		}
		if j < 0 {
			break
		}
		n, undecided := r.matchAt(buf, j, final)
		if undecided {
			break
		}
		if n == 0 {
			i = j + 1
			continue
		}
		r.out = append(r.out, buf[done:j]...)
		r.out = append(r.out, r.new...)
		done, i = j+n, j+n
		if len(r.out) >= chunkSize {
			r.flush()
		}
	}
	keep := len(buf)
	if !final {
		keep = max(i, len(buf)-len(r.olds[0]))
	}
	r.out = append(r.out, buf[done:keep]...)
	r.flush()
	r.buf = append(r.buf[:0], buf[keep:]...)
}

// matchAt returns the length of the longest prefix that occurs at buf[j:] as
// a whole path (0 for none), or undecided when that depends on input not yet
// written.
func (r *replacer) matchAt(buf []byte, j int, final bool) (n int, undecided bool) {
	for _, old := range r.olds {
		end := j + len(old)
		if end > len(buf) {
			if !final && bytes.HasPrefix(old, buf[j:]) {
				return 0, true
			}
			continue
		}
		if !bytes.Equal(buf[j:end], old) {
			continue
		}
		if r.exact {
			return len(old), false
		}
		if end == len(buf) && !final {
			return 0, true
		}
		if end == len(buf) || !isPathByte(buf[end]) {
			return len(old), false
		}
	}
	return 0, false
}

func (r *replacer) flush() {
	if r.err == nil && len(r.out) > 0 {
		_, r.err = r.w.Write(r.out)
	}
	r.out = r.out[:0]
}
