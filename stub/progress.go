package main

import (
	"archive/tar"
	"fmt"
	"io"
	"time"

	"github.com/terrapack/terrapack/meter"
	"github.com/terrapack/terrapack/payload"
)

// progress reports to stderr: status lines, and the extraction counted in
// unpacked bytes and files. On a terminal the count is the
// github.com/schollz/progressbar/v3 bar the builder draws too (meter.Bar:
// rate and time left, redrawn at most every meter.FrameInterval, never
// synced); otherwise a plain line at each quarter; nothing with --quiet.
type progress struct {
	w     io.Writer // the installer's stderr
	quiet bool
	noBar bool // --noprogress: the status lines only
	start time.Time

	// the step being counted
	what            string
	total, files    int64 // expected unpacked bytes and regular files
	done, filesDone int64
	began           time.Time
	bar             *meter.Bar // on a terminal
	active          bool
	quarters        meter.Quarters // of the plain lines
}

func newProgress(w io.Writer, quiet bool) *progress {
	return &progress{w: w, quiet: quiet, start: time.Now()}
}

func (p *progress) linef(format string, args ...any) {
	if p.quiet {
		return
	}
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// begin starts counting a step over total unpacked bytes in files files.
func (p *progress) begin(what string, total, files int64) {
	if p.quiet || p.noBar {
		return
	}
	*p = progress{w: p.w, quiet: p.quiet, noBar: p.noBar, start: p.start, what: what, total: total, files: files,
		began: time.Now(), active: true}
	if isTerminal(p.w) {
		p.bar = meter.NewBar(p.w, p.described(), total, true)
	}
}

// described is the text before the bar: the step and the files done.
func (p *progress) described() string {
	return fmt.Sprintf("%s %d/%d files", p.what, p.filesDone, p.files)
}

// entry counts one extracted entry; it is the Extractor's OnEntry.
func (p *progress) entry(r payload.Record) {
	if !p.active || r.Type != tar.TypeReg {
		return
	}
	p.done += r.Size
	p.filesDone++
	if p.bar == nil {
		// One line when a quarter is passed, with the share actually done.
		if p.quarters.Passed(p.done, p.total) {
			fmt.Fprintf(p.w, "%s: %d%% (%s)\n", p.what, 100*p.done/p.total, p.counts(time.Now()))
		}
		return
	}
	// The files done are set with every file: set every frame interval
	// instead, on its own clock, they lagged the bytes of the frame drawn
	// by up to an interval (99 files against 41% of the bytes). Now a
	// frame's two counts differ by one file at most.
	p.bar.Describe(p.described())
	p.bar.Add(r.Size)
}

// counts says how far the step is: bytes, files, rate, time left.
func (p *progress) counts(now time.Time) string {
	s := fmt.Sprintf("%s/%s, %d/%d files", meter.Bytes(p.done), meter.Bytes(p.total), p.filesDone, p.files)
	secs := now.Sub(p.began).Seconds()
	if secs < 0.2 || p.done == 0 {
		return s
	}
	rate := float64(p.done) / secs
	s += fmt.Sprintf(", %s/s", meter.Bytes(int64(rate)))
	if left := float64(p.total-p.done) / rate; left >= 0 {
		s += fmt.Sprintf(", %s left", (time.Duration(left) * time.Second).Round(time.Second))
	}
	return s
}

func (p *progress) end() {
	if p.bar != nil {
		p.bar.Done()
		p.bar = nil
	}
	p.active = false
}

func (p *progress) elapsed() string { return time.Since(p.start).Round(time.Millisecond).String() }
