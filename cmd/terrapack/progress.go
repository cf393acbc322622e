package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/terrapack/terrapack/meter"
	"golang.org/x/term"
)

// meter says how build steps show their progress on the command's stderr:
// a github.com/schollz/progressbar/v3 bar on a terminal, a plain line at each
// quarter otherwise, nothing with --quiet.
func (p *progress) meter(cmd *cobra.Command) meter.Starter {
	if p.quiet {
		return nil
	}
	w := cmd.ErrOrStderr()
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return func(what string, total int64, bytes bool) meter.Meter { return meter.NewBar(w, what, total, bytes) }
	}
	return func(what string, total int64, bytes bool) meter.Meter {
		return &lines{w: w, what: what, total: total, bytes: bytes, began: time.Now()}
	}
}

// lines prints "what: N% (…)" when a step of known size passes a quarter.
type lines struct {
	w           io.Writer
	what        string
	total, done int64
	bytes       bool
	quarters    meter.Quarters
	began       time.Time
}

func (l *lines) Add(n int64) {
	l.done += n
	// One line when a quarter is passed, with the share actually done.
	if l.quarters.Passed(l.done, l.total) {
		secs := time.Since(l.began).Seconds()
		rate := float64(l.done) / max(secs, 1e-3)
		left := time.Duration(float64(l.total-l.done)/rate) * time.Second
		fmt.Fprintf(l.w, "%s: %d%% (%s of %s, %s/s, %s left)\n", l.what, 100*l.done/l.total,
			l.amount(l.done), l.amount(l.total), l.amount(int64(rate)), left.Round(time.Second))
	}
}

func (l *lines) Done() {}

func (l *lines) amount(n int64) string {
	if !l.bytes {
		return fmt.Sprint(n)
	}
	return meter.Bytes(n)
}
