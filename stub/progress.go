package main

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/terrapack/terrapack/meter"
	"github.com/terrapack/terrapack/payload"
	"golang.org/x/term"
)

// progress reports to stderr: status lines, and the extraction counted in
// unpacked bytes and files. On a terminal the count is a bar redrawn at most
// every frameInterval with the rate and the time left; otherwise a plain
// line at each quarter; nothing with --quiet. Nothing is ever synced.
//
// It is drawn here, in the look of github.com/schollz/progressbar/v3 that
// the builder uses, because every release of that library links regexp,
// which the installer must not (see README.md, "Progress").
type progress struct {
	w     io.Writer // the installer's stderr
	quiet bool
	noBar bool // --noprogress: the status lines only
	start time.Time

	// the step being counted
	what               string
	total, files       int64 // expected unpacked bytes and regular files
	done, filesDone    int64
	began, drawn       time.Time
	tty, active, shown bool
	quarters           int64 // the last quarter a plain line was printed for
}

// frameInterval throttles redrawing: a line per entry would cost more than
// the extraction of small files.
const frameInterval = 65 * time.Millisecond

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

// begin starts counting a step over total unpacked bytes in files files.
func (p *progress) begin(what string, total, files int64) {
	if p.quiet || p.noBar {
		return
	}
	*p = progress{w: p.w, quiet: p.quiet, noBar: p.noBar, start: p.start, what: what, total: total, files: files,
		began: time.Now(), active: true, tty: isTerminal(p.w)}
}

// entry counts one extracted entry; it is the Extractor's OnEntry.
func (p *progress) entry(r payload.Record) {
	if !p.active || r.Type != tar.TypeReg {
		return
	}
	p.done += r.Size
	p.filesDone++
	if !p.tty {
		// One line when a quarter is passed, however many one entry
		// passes, with the share actually done.
		if p.total > 0 && min(3, p.done*4/p.total) > p.quarters {
			p.quarters = min(3, p.done*4/p.total)
			fmt.Fprintf(p.w, "%s: %d%% (%s)\n", p.what, 100*p.done/p.total, p.counts(time.Now()))
		}
		return
	}
	if now := time.Now(); now.Sub(p.drawn) >= frameInterval {
		p.drawn = now
		p.draw(now)
	}
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

func (p *progress) draw(now time.Time) {
	const width = 24
	frac := 1.0
	if p.total > 0 {
		frac = min(float64(p.done)/float64(p.total), 1)
	}
	filled := int(frac * width)
	bar := strings.Repeat("█", filled) + strings.Repeat(" ", width-filled)
	line := fmt.Sprintf("%s %3.0f%% |%s| (%s)", p.what, frac*100, bar, p.counts(now))
	if w := terminalWidth(p.w); w > 1 && utf8.RuneCountInString(line) >= w {
		line = string([]rune(line)[:w-1]) // a wrapped line could not be redrawn in place
	}
	fmt.Fprintf(p.w, "\r\033[K%s", line)
	p.shown = true
}

// clear removes a drawn bar, so that a status line can be printed.
func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

func (p *progress) end() {
	p.clear()
	p.active = false
}

func (p *progress) elapsed() string { return time.Since(p.start).Round(time.Millisecond).String() }

// terminalWidth is the width of the terminal w writes to, or 0.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return width
}
