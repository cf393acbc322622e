// Package meter lets the long steps of a build (scan, compression, disc,
// bundle) report their progress without knowing how it is shown: the
// terrapack command draws a Bar on a terminal and prints plain lines
// otherwise (cmd/terrapack/progress.go). The installer draws the same Bar.
package meter

import (
	"fmt"
	"io"
)

// Meter counts the progress of one step.
type Meter interface {
	Add(n int64)
	Done() // the step is over: a bar is cleared
}

// Starter starts a Meter for a step of total units, bytes when bytes is true
// and items otherwise; total 0 means unknown.
type Starter func(what string, total int64, bytes bool) Meter

// Start returns s's Meter for the step, or one that shows nothing when s is nil.
func (s Starter) Start(what string, total int64, bytes bool) Meter {
	if s == nil {
		return none{}
	}
	return s(what, total, bytes)
}

type none struct{}

func (none) Add(int64) {}
func (none) Done()     {}

// Reader counts in M the bytes read through R.
type Reader struct {
	R io.Reader
	M Meter
}

func (r Reader) Read(p []byte) (int, error) {
	n, err := r.R.Read(p)
	r.M.Add(int64(n))
	return n, err
}

// Quarters tells when a step of known size passes a quarter (25, 50, 75%),
// for plain progress lines: once however many quarters one update passes.
type Quarters struct{ last int64 }

// Passed reports whether done of total has passed a quarter not yet told.
func (q *Quarters) Passed(done, total int64) bool {
	if total <= 0 {
		return false
	}
	if k := min(3, done*4/total); k > q.last {
		q.last = k
		return true
	}
	return false
}

// Bytes writes n in binary units: "512 B", "1.5 MiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
