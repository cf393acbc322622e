package meter

import (
	"strings"
	"testing"
)

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536 << 20: "1.5 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

type count struct{ n int64 }

func (c *count) Add(n int64) { c.n += n }
func (c *count) Done()       {}

func TestReaderCountsAndNilStarterShowsNothing(t *testing.T) {
	c := &count{}
	var s Starter = func(string, int64, bool) Meter { return c }
	r := Reader{R: strings.NewReader("twelve bytes"), M: s.Start("reading", 12, true)}
	buf := make([]byte, 5)
	for {
		if _, err := r.Read(buf); err != nil {
			break
		}
	}
	if c.n != 12 {
		t.Errorf("counted %d bytes, want 12", c.n)
	}
	var none Starter
	m := none.Start("nothing", 1, false)
	m.Add(1)
	m.Done()
}
