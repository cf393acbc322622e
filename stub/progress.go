package main

import (
	"fmt"
	"io"
	"time"
)

// progress reports extraction to stderr: a redrawn status line on a terminal,
// a few plain lines otherwise, nothing with --quiet. It is written here rather
// than with github.com/schollz/progressbar/v3 because that library imports
// net/http and adds 2.0 MB to the installer (3.4 → 5.4 MB, over the 5 MiB
// budget for a near-empty installer).
type progress struct {
	w     io.Writer // the installer's stderr
	quiet bool
	noBar bool // --noprogress: the lines, without the bar
	start time.Time
	// terminal bar state
	total, done int64
	what        string
	drawn       time.Time
	active      bool
}

func newProgress(w io.Writer, quiet bool) *progress {
	return &progress{w: w, quiet: quiet, start: time.Now()}
}

func (p *progress) linef(format string, args ...any) {
	if p.quiet {
		return
	}
	p.clear()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// begin starts a bar over total payload bytes when stderr is a terminal and
// returns the function to call with each count of bytes read (nil otherwise).
func (p *progress) begin(total int64, what string) func(int64) {
	if p.quiet || p.noBar || !isTerminal(p.w) {
		return nil
	}
	p.total, p.done, p.what, p.active = total, 0, what, true
	return p.add
}

func (p *progress) add(n int64) {
	p.done += n
	if now := time.Now(); now.Sub(p.drawn) >= 100*time.Millisecond || p.done >= p.total {
		p.drawn = now
		p.draw()
	}
}

func (p *progress) draw() {
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = min(float64(p.done)/float64(p.total), 1)
	}
	filled := int(frac * width)
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if i < filled {
			bar[i] = '='
		}
	}
	fmt.Fprintf(p.w, "\r%s %3.0f%% [%s] %s/%s ", p.what, frac*100, bar, human(p.done), human(p.total))
}

func (p *progress) clear() {
	if p.active {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func (p *progress) end() {
	p.clear()
	p.active = false
}

func (p *progress) elapsed() string { return time.Since(p.start).Round(time.Millisecond).String() }
