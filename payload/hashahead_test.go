package payload

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand"
	"testing"
	"testing/iotest"
)

// TestHashBehindHashesWhatItHandsOut reads through hashBehind in reads of
// every size, with a reader that returns little at a time, and checks that
// the bytes and the hash are those of the source, read to its end or not.
func TestHashBehindHashesWhatItHandsOut(t *testing.T) {
	src := make([]byte, 3<<20+12345)
	rand.New(rand.NewSource(1)).Read(src)
	for _, readSize := range []int{1, 511, 4096, 1 << 20, 5 << 20} {
		for _, readAll := range []bool{true, false} {
			b := newHashBehind(iotest.HalfReader(bytes.NewReader(src)), sha256.New(), 3, 64<<10)
			var got []byte
			buf := make([]byte, readSize)
			for len(got) < len(src)/2 || readAll {
				n, err := b.Read(buf)
				got = append(got, buf[:n]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := b.finish(false); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, src[:len(got)]) {
				t.Fatalf("reads of %d: the bytes handed out differ from the source", readSize)
			}
			if want := sha256.Sum256(src); !bytes.Equal(b.h.Sum(nil), want[:]) {
				t.Errorf("reads of %d, read to the end %v: the hash is not the source's", readSize, readAll)
			}
		}
	}
	// Stopping reads no further and still ends the goroutine.
	r := &countingReader{r: bytes.NewReader(src)}
	b := newHashBehind(r, sha256.New(), 3, 64<<10)
	b.Read(make([]byte, 100))
	if err := b.finish(true); err != nil || r.n != 64<<10 {
		t.Errorf("stopping read %d bytes (%v), want one chunk of %d", r.n, err, 64<<10)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
