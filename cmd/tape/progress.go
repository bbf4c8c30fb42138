package main

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal; progress bars are drawn by
// default only there, so logs and pipes never fill with them.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress counts rows on a progress bar; the zero value (and a bar that
// is not enabled) draws nothing.
type progress struct {
	bar *progressbar.ProgressBar
}

// newProgress starts a bar of rows on w when enabled. max < 0 draws a
// spinner with a count and a rate instead of a bar (export does not know
// its total).
func newProgress(w io.Writer, enabled bool, max int64, desc string) *progress {
	return newProgressOf(w, enabled, max, desc, "rows")
}

// newProgressOf is newProgress counting units other than rows.
func newProgressOf(w io.Writer, enabled bool, max int64, desc, unit string) *progress {
	if !enabled {
		return &progress{}
	}
	return &progress{bar: progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionUseANSICodes(isTerminal(w)),
	)}
}

func (p *progress) add(n int) {
	if p.bar != nil {
		p.bar.Add(n)
	}
}

// set moves the bar to n.
func (p *progress) set(n int) {
	if p.bar != nil {
		p.bar.Set(n)
	}
}

// describe changes the text before the bar.
func (p *progress) describe(s string) {
	if p.bar != nil {
		p.bar.Describe(s)
	}
}

// done clears the bar, leaving the line for the summary.
func (p *progress) done() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar.Clear()
	}
}

// clear erases the bar so a message can be printed; the next add redraws it.
func (p *progress) clear() {
	if p.bar != nil {
		p.bar.Clear()
	}
}
