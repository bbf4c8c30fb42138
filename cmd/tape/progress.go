package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
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

// progress is a progress line on stderr: a label, what is done (rows; for
// a file being read, also its bytes), a smoothed rate, a note about a wait
// ("waiting 12s: retrying after 429 Too Many Requests"), and a bar when
// the total is known (a spinner when not). The zero value, and a progress
// that is not enabled, draw nothing. It is safe for concurrent use.
//
// schollz/progressbar draws the bar; the text is ours, because its rate
// divides the first count by the few microseconds since the first draw
// (a first line of "325,002,438 rows/s") and knows nothing of waits.
type progress struct {
	bar *progressbar.ProgressBar
	now func() time.Time // the clock; tests set it

	mu     sync.Mutex
	kind   progressKind
	label  string
	note   string
	total  int64 // of pos; -1 if unknown
	pos    int64 // rows, bytes (progressBytes) or items (progressItems)
	rows   int64 // progressBytes: the rows read so far
	drawn  time.Time
	rate   rateMeter // of rows
	speed  rateMeter // of pos, for the time left
	closed bool
}

type progressKind int

const (
	progressRows  progressKind = iota // pos counts rows
	progressBytes                     // pos counts bytes of a file; rows are counted besides
	progressItems                     // pos counts items (symbols); the label says the rest
	progressSpan                      // pos is permille of a span (exportSpan); rows are counted besides
)

// spanUnits is the total of a progressSpan line: its pos is in permille.
const spanUnits = 1000

// redrawEvery bounds how often counting redraws the line; a label or a
// note redraws it at once.
const redrawEvery = 100 * time.Millisecond

// newProgress starts a line counting rows on w when enabled; total < 0
// when it is not known (a spinner instead of a bar).
func newProgress(w io.Writer, enabled bool, total int64, label string) *progress {
	return newProgressKind(w, enabled, progressRows, total, label)
}

// newFileProgress starts a line for reading a file of size bytes: the
// bar follows the bytes read, the text counts rows.
func newFileProgress(w io.Writer, enabled bool, size int64, label string) *progress {
	return newProgressKind(w, enabled, progressBytes, size, label)
}

// newSpanProgress starts a line for work that moves through a known span
// (an export's symbols and time range, exportSpan): the bar follows the
// position in it, the text counts rows.
func newSpanProgress(w io.Writer, enabled bool, label string) *progress {
	return newProgressKind(w, enabled, progressSpan, spanUnits, label)
}

// newItemProgress starts a line whose bar counts total items (symbols);
// the label, set with describe, says what is going on.
func newItemProgress(w io.Writer, enabled bool, total int64, label string) *progress {
	return newProgressKind(w, enabled, progressItems, total, label)
}

func newProgressKind(w io.Writer, enabled bool, kind progressKind, total int64, label string) *progress {
	if !enabled {
		return &progress{}
	}
	if total == 0 {
		total = -1 // progressbar refuses a max of 0; nothing to count is a spinner
	}
	p := &progress{now: time.Now, kind: kind, total: total, label: label}
	p.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(0), // p throttles, so that a note is drawn at once
		progressbar.OptionSpinnerType(14),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionUseANSICodes(isTerminal(w)),
		progressbar.OptionSetDescription(label),
		// Its time left divides by its own rate; p says it instead.
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetElapsedTime(false),
	)
	p.rate.observe(p.now(), 0)
	p.speed.observe(p.now(), 0)
	return p
}

// add counts n more rows (items for newItemProgress).
func (p *progress) add(n int) {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pos += int64(n)
	p.redraw(false)
}

// set moves the count to n rows (items for newItemProgress).
func (p *progress) set(n int) {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pos = int64(n)
	p.redraw(false)
}

// setFile records, for newFileProgress, the rows and bytes read so far.
func (p *progress) setFile(rows, bytes int64) {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rows, p.pos = rows, bytes
	p.redraw(false)
}

// setSpan records, for newSpanProgress, the rows so far and the position
// in the span (0 to spanUnits).
func (p *progress) setSpan(rows, pos int64) {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rows, p.pos = rows, max(p.pos, min(pos, spanUnits))
	p.redraw(false)
}

// describe changes the label.
func (p *progress) describe(s string) {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.label = s
	p.redraw(true)
}

// setNote shows s after the counts until it is replaced ("" removes it):
// why nothing moves, such as a wait for a rate limit.
func (p *progress) setNote(s string) {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.note = s
	p.redraw(true)
}

// redraw draws the line if now is true or it was drawn long enough ago.
// p.mu is held.
func (p *progress) redraw(now bool) {
	if p.closed {
		return
	}
	t := p.now()
	rows := p.pos
	if p.kind == progressBytes || p.kind == progressSpan {
		rows = p.rows
	}
	p.rate.observe(t, rows)
	p.speed.observe(t, p.pos)
	if !now && t.Sub(p.drawn) < redrawEvery && (p.total < 0 || p.pos < p.total) {
		return
	}
	p.drawn = t
	if p.total > 0 && p.pos >= p.total {
		// The text first: reaching the total finishes the bar, which
		// clears the line and draws nothing after, so the final count
		// would never be seen.
		p.bar.Describe(p.text())
		p.bar.Set64(p.total)
		return
	}
	p.bar.Set64(p.pos)       // below the total; for a spinner the count only turns it
	p.bar.Describe(p.text()) // draws the line
}

// text is the line before the bar. p.mu is held.
func (p *progress) text() string {
	var b strings.Builder
	b.WriteString(p.label)
	switch p.kind {
	case progressRows:
		b.WriteString(": " + commas(p.pos))
		if p.total > 0 {
			b.WriteString(" of " + commas(p.total))
		}
		b.WriteString(" rows")
	case progressBytes:
		b.WriteString(": " + commas(p.rows) + " rows, " + sizeString(p.pos))
		if p.total > 0 {
			b.WriteString(" of " + sizeString(p.total))
		}
	case progressSpan:
		b.WriteString(": " + commas(p.rows) + " rows")
	}
	if r, ok := p.rate.get(); ok && p.kind != progressItems {
		b.WriteString(", " + rateString(r) + " rows/s")
	}
	if v, ok := p.speed.get(); ok && v > 0 && p.total > 0 && p.pos < p.total && p.kind != progressItems {
		left := time.Duration(float64(p.total-p.pos) / v * float64(time.Second))
		b.WriteString(", " + left.Round(time.Second).String() + " left")
	}
	if p.note != "" {
		b.WriteString(" · " + p.note)
	}
	return b.String()
}

// done clears the line, leaving it for the summary.
func (p *progress) done() {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	p.bar.Finish()
	p.bar.Clear()
}

// clear erases the line so a message can be printed; the next count
// draws it again.
func (p *progress) clear() {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bar.Clear()
	p.drawn = time.Time{}
}

// rateMeter is a smoothed count per second. It says nothing until a
// first second has passed (so the first line is never a count divided by
// microseconds), then follows an exponentially weighted average of rates
// over windows of at least half a second, with a 3 s time constant: steady
// enough to read, quick enough to show a stall.
type rateMeter struct {
	t0   time.Time // the current window's start
	n0   int64     // the count then
	rate float64
	ok   bool
}

const (
	rateFirstWindow = time.Second
	rateWindow      = 500 * time.Millisecond
	rateTau         = 3 * time.Second
)

func (m *rateMeter) observe(now time.Time, n int64) {
	if m.t0.IsZero() {
		m.t0, m.n0 = now, n
		return
	}
	dt := now.Sub(m.t0)
	if !m.ok && dt < rateFirstWindow || m.ok && dt < rateWindow {
		return
	}
	r := float64(n-m.n0) / dt.Seconds()
	if !m.ok {
		m.rate, m.ok = r, true
	} else {
		m.rate += (1 - math.Exp(-dt.Seconds()/rateTau.Seconds())) * (r - m.rate)
	}
	m.t0, m.n0 = now, n
}

func (m *rateMeter) get() (float64, bool) { return m.rate, m.ok }

// rateString is a rate to read at a glance: 850, 12,345, 1.2M.
func rateString(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.1fM", r/1e6)
	case r >= 10:
		return commas(int64(math.Round(r)))
	}
	return fmt.Sprintf("%.1f", r)
}
