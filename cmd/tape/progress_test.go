package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/backfill/backfilltest"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/tickfile"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock               { return &fakeClock{t: time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)} }
func testProgress(w *bytes.Buffer, c *fakeClock, kind progressKind, total int64, label string) *progress {
	p := newProgressKind(w, true, kind, total, label)
	p.now = c.now
	p.rate, p.speed = rateMeter{}, rateMeter{}
	p.rate.observe(c.now(), 0)
	p.speed.observe(c.now(), 0)
	return p
}

// lastLine is the last drawing of a progress line.
func lastLine(b *bytes.Buffer) string {
	parts := strings.Split(b.String(), "\r")
	for i := len(parts) - 1; i >= 0; i-- {
		if s := strings.TrimSpace(parts[i]); s != "" {
			return s
		}
	}
	return ""
}

var rateRE = regexp.MustCompile(`([0-9.,]+M?) rows/s`)

// TestProgressRate: the first drawing shows no rate (a count divided by
// microseconds is the absurd "325,002,438 rows/s"); after a second it is
// the true average, then a smoothed rate that follows a change without
// jumping to it.
func TestProgressRate(t *testing.T) {
	var b bytes.Buffer
	c := newFakeClock()
	p := testProgress(&b, c, progressRows, 10_000_000, "storing")
	c.advance(time.Millisecond)
	p.add(1_000_000)
	if line := lastLine(&b); rateRE.MatchString(line) || strings.Contains(line, "left") || !strings.Contains(line, "storing: 1,000,000 of 10,000,000 rows") {
		t.Fatalf("first line %q: want the count and no rate yet", line)
	}
	c.advance(time.Second - time.Millisecond)
	p.add(0)
	if m := rateRE.FindStringSubmatch(lastLine(&b)); m == nil || m[1] != "1.0M" {
		t.Fatalf("after 1 s: %q, want the average 1.0M rows/s", lastLine(&b))
	}
	// Then 100,000 rows a second: the rate comes down step by step.
	prev := 1e6
	for range 6 {
		c.advance(500 * time.Millisecond)
		p.add(50_000)
		r, _ := p.rate.get()
		if r >= prev || r < 100_000 {
			t.Fatalf("rate %.0f after %.0f: want it falling towards 100,000", r, prev)
		}
		prev = r
	}
	for range 40 {
		c.advance(500 * time.Millisecond)
		p.add(50_000)
	}
	if r, _ := p.rate.get(); r < 99_000 || r > 101_000 {
		t.Fatalf("steady: %.0f rows/s, want 100,000 within 1%%", r)
	}
	// 3,300,000 of 10,000,000 rows at 100,000 a second: 67 s left.
	if line := lastLine(&b); !strings.Contains(line, "3,300,000 of 10,000,000 rows, 100,") || !strings.Contains(line, ", 1m7s left") {
		t.Fatalf("line %q", line)
	}
	p.done()
}

// TestProgressNotes: a note (a wait) is drawn at once, whatever the
// redraw throttle, and goes when cleared.
func TestProgressNotes(t *testing.T) {
	var b bytes.Buffer
	c := newFakeClock()
	p := testProgress(&b, c, progressItems, 4, "fetching AAPL (1 of 4): 10,000 rows")
	p.add(1)
	p.setNote("waiting 12s: retrying after 429 Too Many Requests")
	if line := lastLine(&b); !strings.Contains(line, "fetching AAPL (1 of 4): 10,000 rows · waiting 12s: retrying after 429 Too Many Requests") {
		t.Fatalf("line %q", line)
	}
	p.setNote("")
	if line := lastLine(&b); strings.Contains(line, "waiting") || rateRE.MatchString(line) {
		t.Fatalf("line %q: the note stayed, or symbols got a rows rate", line)
	}
	p.done()
}

// TestImportProgressHasATotal: reading a CSV file shows how much of it
// was read, by bytes of its size.
func TestImportProgressHasATotal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trades.csv")
	writeFile(t, path, tickfile.KindTrades, genTrades(5000, []string{"AAPL", "MSFT"}, 1), "")
	_, stderr, err := doImport(t, t.TempDir(), []string{path}, func(o *importOptions) { o.progress = true })
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`reading trades\.csv: [0-9,]+ rows, [0-9.]+ KB of [0-9.]+ KB`).MatchString(stderr) {
		t.Fatalf("no total in the progress line:\n%q", stderr)
	}
	if !strings.Contains(stderr, "importing: ") || !strings.Contains(stderr, " of 5,000 rows") {
		t.Fatalf("no total in the import line:\n%q", stderr)
	}
}

// TestBackfillProgressSaysWhyItWaits: the progress line says when the
// backfill waits, and why: a retry after a 429, or --rate-limit.
func TestBackfillProgressSaysWhyItWaits(t *testing.T) {
	fake := backfillFake(t)
	fake.Add(fakeBars("AAPL", 3, session0)...)
	fake.Add(fakeBars("MSFT", 3, session0)...)
	var mu sync.Mutex
	limited := false
	fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if !limited {
			limited = true
			w.Header().Set("Retry-After", "12")
			backfilltest.Error(w, http.StatusTooManyRequests, 0, "too many requests.")
			return true
		}
		return false
	}
	var slept []time.Duration
	o := backfillOpts(fake, t.TempDir(), &slept)
	o.symbols, o.concurrency, o.rateLimit, o.progress = []string{"AAPL", "MSFT"}, 1, 2, true
	var stderr bytes.Buffer
	if _, err := runBackfill(context.Background(), &stderr, o); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"waiting 12s: retrying after 429 Too Many Requests", "waiting 30s: --rate-limit 2 requests a minute"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("progress lacks %q (slept %v):\n%q", want, slept, stderr.String())
		}
	}
}

func TestRateString(t *testing.T) {
	for r, want := range map[float64]string{0.5: "0.5", 850: "850", 12345.4: "12,345", 1_234_567: "1.2M"} {
		if got := rateString(r); got != want {
			t.Errorf("rateString(%v) = %q, want %q", r, got, want)
		}
	}
}

// TestExportSpan: an export's position is its symbol's rank (symbols share
// the bar equally) plus how far into the range the row's time is.
func TestExportSpan(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 14, 30, 0, 0, time.UTC)
	s := newExportSpan([]string{"AAPL", "MSFT"}, t0, t0.Add(100*time.Second), time.Time{})
	at := func(sym string, sec int) int64 {
		return s.at(&market.Event{Symbol: sym, Time: t0.Add(time.Duration(sec) * time.Second).UnixNano()})
	}
	for _, tc := range []struct {
		sym  string
		sec  int
		want int64
	}{{"AAPL", 0, 0}, {"AAPL", 50, 250}, {"AAPL", 100, 500}, {"MSFT", 0, 500}, {"MSFT", 50, 750},
		{"MSFT", 100, 1000}, {"MSFT", 500, 1000}, {"MSFT", -5, 500}, {"NVDA", 50, 0}} {
		if got := at(tc.sym, tc.sec); got != tc.want {
			t.Errorf("%s at +%ds: %d, want %d", tc.sym, tc.sec, got, tc.want)
		}
	}
	// To the end of the record: the range ends now.
	now := t0.Add(200 * time.Second)
	s = newExportSpan([]string{"AAPL"}, t0, time.Time{}, now)
	if got := s.at(&market.Event{Symbol: "AAPL", Time: t0.Add(100 * time.Second).UnixNano()}); got != 500 {
		t.Errorf("half way to now: %d, want 500", got)
	}
}

// TestExportProgressHasATotal: an export's progress line counts rows and
// fills a bar to the end of its span.
func TestExportProgressHasATotal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(t.TempDir(), "trades.csv")
	writeFile(t, path, tickfile.KindTrades, genTrades(5000, []string{"AAPL", "MSFT"}, 1), "")
	mustImport(t, dir, path)
	o := exportOptions{dataDir: dir, kind: tickfile.KindTrades, symbols: []string{"AAPL", "MSFT"}, start: session0,
		end: session0.Add(390 * time.Minute), pageSize: 500, progress: true, format: tickfile.CSV,
		out: filepath.Join(t.TempDir(), "out.csv")}
	var stdout, stderr bytes.Buffer
	res, err := runExport(context.Background(), &stdout, &stderr, o, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.rows != 5000 {
		t.Fatalf("exported %d rows", res.rows)
	}
	out := stderr.String()
	if !strings.Contains(out, "exporting trades: 5,000 rows") {
		t.Fatalf("no final count in the progress line:\n%q", out)
	}
	// The first page is AAPL's first 500 of about 2,500 trades, a fifth
	// of its day: a tenth of the bar (AAPL is half of it).
	m := regexp.MustCompile(`exporting trades: 500 rows +([0-9]+)%`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no first page in the progress line:\n%q", out)
	}
	if pct, _ := strconv.Atoi(m[1]); pct < 5 || pct > 15 {
		t.Fatalf("after the first page the bar is at %d%%, want about 10%%:\n%q", pct, out)
	}
}
