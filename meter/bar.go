package meter

import (
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// FrameInterval throttles a Bar: unthrottled, the library draws a frame per
// update, which costs more than extracting a small file.
const FrameInterval = 65 * time.Millisecond

// Bar is the github.com/schollz/progressbar/v3 bar that the builder and the
// installer both draw on a terminal: throttled to FrameInterval, never synced.
type Bar struct{ b *progressbar.ProgressBar }

// NewBar starts a bar for a step of total units (bytes, with the rate in
// bytes/s, when bytes is true; total 0 or less means unknown) on w, which the
// caller has found to be a terminal.
func NewBar(w io.Writer, what string, total int64, bytes bool) *Bar {
	if total <= 0 {
		total = -1 // a spinner with a count
	}
	opts := []progressbar.Option{
		// Not an *os.File: the library fsyncs those after every frame.
		progressbar.OptionSetWriter(struct{ io.Writer }{w}),
		progressbar.OptionThrottle(FrameInterval),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(24),
		progressbar.OptionClearOnFinish(),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true), progressbar.OptionUseIECUnits(true))
	} else {
		opts = append(opts, progressbar.OptionShowIts(), progressbar.OptionSetItsString("items"))
	}
	return &Bar{progressbar.NewOptions64(total, opts...)}
}

// Add counts n more units. The library's "exceeds max" error is not one:
// a step may do a little more than announced.
func (b *Bar) Add(n int64) { _ = b.b.Add64(n) }

// Describe replaces the text before the bar (redrawn within the throttle).
func (b *Bar) Describe(what string) { b.b.Describe(what) }

// Clear erases the bar from its line, so that a line can be printed; the
// next update draws it again below.
func (b *Bar) Clear() { _ = b.b.Clear() }

// Done clears the bar, so that the next line starts clean.
func (b *Bar) Done() { _ = b.b.Finish(); _ = b.b.Clear() }
