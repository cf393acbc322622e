package meter

import (
	"fmt"
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

func TestQuartersOnceEach(t *testing.T) {
	var q Quarters
	var told []int64
	for _, done := range []int64{10, 24, 25, 49, 100, 100, 120} {
		if q.Passed(done, 100) {
			told = append(told, done)
		}
	}
	if fmt.Sprint(told) != "[25 100]" {
		t.Errorf("quarters told at %v, want [25 100]: one line for 25%%, one for the jump past 50 and 75", told)
	}
	if (&Quarters{}).Passed(5, 0) {
		t.Error("a step of unknown size passed a quarter")
	}
}
