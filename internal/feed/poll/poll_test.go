package poll_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/backfill"
	"github.com/tapehq/tape/internal/backfill/backfilltest"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/feed/poll"
	"github.com/tapehq/tape/internal/market"
)

var t0 = time.Date(2026, 11, 24, 14, 30, 0, 0, time.UTC)

// stepper is the feed's injected clock: every Sleep reports its duration
// and blocks until the test lets it go, so the test decides when the next
// poll happens and changes the fake in between.
type stepper struct {
	sleeps  chan time.Duration
	proceed chan struct{}
	now     time.Time
	mu      sync.Mutex
}

func newStepper() *stepper {
	return &stepper{sleeps: make(chan time.Duration), proceed: make(chan struct{}), now: t0}
}

func (s *stepper) Sleep(ctx context.Context, d time.Duration) error {
	select {
	case s.sleeps <- d:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-s.proceed:
		s.mu.Lock()
		s.now = s.now.Add(d)
		s.mu.Unlock()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *stepper) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// run starts the feed; next returns its next batch, step lets the feed
// sleep its sleep and returns how long that was.
type run struct {
	t      *testing.T
	out    chan feed.Batch
	clk    *stepper
	errc   chan error
	cancel context.CancelFunc
}

func start(t *testing.T, fake *backfilltest.Server, mod func(*poll.Options)) (*run, *poll.Feed) {
	t.Helper()
	c, err := backfill.New(backfill.Options{BaseURL: fake.URL, Key: "AK", Secret: "SK", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	clk := newStepper()
	o := poll.Options{Client: c, Symbols: []string{"AAPL", "MSFT"}, Feed: "iex", Now: clk.Now, Sleep: clk.Sleep,
		Jitter: func(d time.Duration) time.Duration { return d }}
	if mod != nil {
		mod(&o)
	}
	f, err := poll.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{t: t, out: make(chan feed.Batch), clk: clk, errc: make(chan error, 1), cancel: cancel}
	go func() { r.errc <- f.Run(ctx, r.out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-r.errc; err != context.Canceled {
			t.Errorf("Run: %v", err)
		}
	})
	return r, f
}

// guard bounds a wait for the feed so a bug fails the test instead of
// hanging it; it is not a timing assertion.
const guard = 30 * time.Second

func (r *run) next() feed.Batch {
	r.t.Helper()
	select {
	case b := <-r.out:
		return b
	case err := <-r.errc:
		r.t.Fatalf("Run returned %v", err)
	case <-time.After(guard):
		r.t.Fatal("no batch")
	}
	return feed.Batch{}
}

func (r *run) step() time.Duration {
	r.t.Helper()
	select {
	case d := <-r.clk.sleeps:
		r.clk.proceed <- struct{}{}
		return d
	case err := <-r.errc:
		r.t.Fatalf("Run returned %v", err)
	case <-time.After(guard):
		r.t.Fatal("no sleep")
	}
	return 0
}

func trade(sym string, id int64, sec int, price float64) market.Event {
	return market.Event{Kind: market.KindTrade, Symbol: sym, Time: t0.Add(time.Duration(sec) * time.Second).UnixNano(),
		Trade: market.Trade{ID: id, Price: price, Size: 100, Exchange: 'V', Tape: 'C', Conditions: market.MakeConditions("@")}}
}

func quote(sym string, sec int, bid float64) market.Event {
	return market.Event{Kind: market.KindQuote, Symbol: sym, Time: t0.Add(time.Duration(sec) * time.Second).UnixNano(),
		Quote: market.Quote{BidPrice: bid, AskPrice: bid + 0.02, BidSize: 3, AskSize: 4, BidExchange: 'V', AskExchange: 'V', Tape: 'C'}}
}

func bar(sym string, min int, close float64, vol uint64) market.Event {
	return market.Event{Kind: market.KindBar, Symbol: sym, Time: t0.Add(time.Duration(min) * time.Minute).UnixNano(),
		Bar: market.Bar{Open: 100, High: max(100, close), Low: min0(close), Close: close, Volume: vol, TradeCount: vol / 100, VWAP: 100}}
}

func min0(c float64) float64 { return min(100, c) }

func lines(b feed.Batch) string {
	var out []string
	for _, e := range b.Events {
		s := fmt.Sprintf("%s %s", e.Kind, e.Symbol)
		switch e.Kind {
		case market.KindTrade:
			s += fmt.Sprintf(" #%d %v", e.Trade.ID, e.Trade.Price)
		case market.KindQuote:
			s += fmt.Sprintf(" %v", e.Quote.BidPrice)
		default:
			s += fmt.Sprintf(" %s c%v v%d", time.Unix(0, e.Time).UTC().Format("15:04"), e.Bar.Close, e.Bar.Volume)
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// TestPollEmitsOnlyChanges: the fake's latest values change between polls;
// each batch holds exactly what changed, a changed bar of the same minute
// is an updated bar, and older values are ignored.
func TestPollEmitsOnlyChanges(t *testing.T) {
	fake := backfilltest.New(t)
	fake.SetKeys("AK", "SK")
	fake.SetLatest(trade("AAPL", 1, 0, 230), quote("AAPL", 0, 229.9), bar("AAPL", 0, 230, 1000), trade("MSFT", 7, 0, 410))
	r, f := start(t, fake, nil)

	steps := []struct {
		change []market.Event
		want   string
	}{
		{nil, "trade AAPL #1 230, trade MSFT #7 410, quote AAPL 229.9, bar AAPL 14:30 c230 v1000"},
		{nil, ""}, // nothing changed
		{[]market.Event{trade("AAPL", 2, 1, 230.5)}, "trade AAPL #2 230.5"},
		{[]market.Event{trade("AAPL", 3, 1, 230.25)}, "trade AAPL #3 230.25"}, // same time, another id
		{[]market.Event{quote("AAPL", 1, 229.95), bar("AAPL", 0, 231, 1500)}, "quote AAPL 229.95, updatedBar AAPL 14:30 c231 v1500"},
		{[]market.Event{quote("AAPL", 1, 229.96)}, "quote AAPL 229.96"}, // same time, other values
		{[]market.Event{bar("AAPL", 1, 232, 200), bar("MSFT", 1, 99, 300)}, "bar AAPL 14:31 c232 v200, bar MSFT 14:31 c99 v300"},
		{[]market.Event{bar("AAPL", 1, 232, 200)}, ""},                        // the same bar again
		{[]market.Event{trade("MSFT", 6, -5, 400), bar("AAPL", 0, 1, 1)}, ""}, // older than known
	}
	for i, s := range steps {
		if i > 0 {
			fake.SetLatest(s.change...)
			if d := r.step(); d != time.Second {
				t.Fatalf("step %d: slept %v between polls, want the 1s interval", i, d)
			}
		}
		b := r.next()
		if got := lines(b); got != s.want {
			t.Fatalf("step %d:\n got %s\nwant %s", i, got, s.want)
		}
		if b.Now != r.clk.Now().UnixNano() {
			t.Fatalf("step %d: batch clock %v, want the feed's wall clock %v", i, time.Unix(0, b.Now), r.clk.Now())
		}
	}
	if st, _ := f.FeedState(); st != poll.StatePolling {
		t.Fatalf("state %s", st)
	}
	// One multi-symbol call per endpoint and poll.
	reqs := fake.Requests()
	if len(reqs) != 3*len(steps) {
		t.Fatalf("%d requests for %d polls", len(reqs), len(steps))
	}
	for i, path := range []string{"/v2/stocks/trades/latest", "/v2/stocks/quotes/latest", "/v2/stocks/bars/latest"} {
		if r := reqs[i]; r.URL.Path != path || r.URL.Query().Get("symbols") != "AAPL,MSFT" || r.URL.Query().Get("feed") != "iex" {
			t.Fatalf("request %d: %v", i, r.URL)
		}
	}
}

// TestPollKnownAndChunks: values already known (from the store, at a
// restart) are not published again, and symbols go in chunks.
func TestPollKnownAndChunks(t *testing.T) {
	fake := backfilltest.New(t)
	syms := []string{"A", "B", "C", "D", "E"}
	for i, s := range syms {
		fake.SetLatest(trade(s, int64(i+1), 0, 10))
	}
	r, _ := start(t, fake, func(o *poll.Options) {
		o.Symbols = syms
		o.Chunk = 2
		o.Kinds = []backfill.Kind{backfill.Trades}
		o.Known = func(s string) []market.Event {
			if s == "B" || s == "D" {
				return []market.Event{trade(s, int64(s[0]-'A'+1), 0, 10)}
			}
			return nil
		}
	})
	if got := lines(r.next()); got != "trade A #1 10, trade C #3 10, trade E #5 10" {
		t.Fatalf("first poll: %s", got)
	}
	var got []string
	for _, q := range fake.Requests() {
		got = append(got, q.URL.Query().Get("symbols"))
	}
	if fmt.Sprint(got) != "[A,B C,D E]" {
		t.Fatalf("calls %v", got)
	}
}

// TestPollBackoff: failed polls back off exponentially from the interval,
// a 429's Retry-After is honoured, what changed is still published, and
// the last error is visible in FeedState; a 401 ends Run.
func TestPollBackoff(t *testing.T) {
	fake := backfilltest.New(t)
	fake.SetLatest(trade("AAPL", 1, 0, 230))
	var mu sync.Mutex
	var fail []func(w http.ResponseWriter) // answers for the next requests
	fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if len(fail) == 0 {
			return false
		}
		f := fail[0]
		fail = fail[1:]
		if f == nil {
			return false
		}
		f(w)
		return true
	}
	e500 := func(w http.ResponseWriter) { backfilltest.Error(w, 500, 0, "internal error") }
	e429 := func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "7")
		backfilltest.Error(w, 429, 0, "too many requests.")
	}
	r, f := start(t, fake, func(o *poll.Options) { o.Symbols = []string{"AAPL"}; o.MaxBackoff = 4 * time.Second })
	if got := lines(r.next()); got != "trade AAPL #1 230" {
		t.Fatal(got)
	}
	// Trades answer, then quotes fail: the new trade is published, then
	// the feed waits 1s, 2s, 7s (Retry-After), 4s (capped), then polls
	// again at the interval.
	fake.SetLatest(trade("AAPL", 2, 1, 231))
	mu.Lock()
	fail = []func(http.ResponseWriter){nil, e500, e500, e500, e429, e500}
	mu.Unlock()
	if d := r.step(); d != time.Second {
		t.Fatalf("interval %v", d)
	}
	if got := lines(r.next()); got != "trade AAPL #2 231" {
		t.Fatalf("before the error: %s", got)
	}
	var waits []time.Duration
	for range 5 {
		waits = append(waits, r.step())
	}
	if fmt.Sprint(waits) != "[1s 2s 4s 7s 4s]" {
		t.Fatalf("backoff %v", waits)
	}
	if st, le := f.FeedState(); st != poll.StateRetrying || !strings.Contains(le, "500 Internal Server Error: internal error") {
		t.Fatalf("state %s, last error %q", st, le)
	}
	if got := lines(r.next()); got != "" {
		t.Fatalf("after recovering: %s", got)
	}
	if st, le := f.FeedState(); st != poll.StatePolling || le == "" {
		t.Fatalf("state %s, last error %q", st, le)
	}

	// Keys refused: Run ends with the error.
	fake.SetKeys("other", "keys")
	if d := r.step(); d != time.Second {
		t.Fatalf("interval after recovering %v", d)
	}
	select {
	case err := <-r.errc:
		if err == nil || !strings.Contains(err.Error(), "401 Unauthorized") {
			t.Fatalf("Run: %v", err)
		}
		r.errc <- context.Canceled // for the cleanup
	case <-time.After(guard):
		t.Fatal("Run went on after a 401")
	}
	if st, _ := f.FeedState(); st != poll.StateFailed {
		t.Fatalf("state %s", st)
	}
}

func TestPollCallsPerMinute(t *testing.T) {
	c, _ := backfill.New(backfill.Options{})
	syms := make([]string, 250)
	for i := range syms {
		syms[i] = fmt.Sprint("S", i)
	}
	f, err := poll.New(poll.Options{Client: c, Symbols: syms})
	if err != nil {
		t.Fatal(err)
	}
	if n := f.CallsPerMinute(); n != 3*3*60 {
		t.Fatalf("%d calls a minute", n)
	}
	if _, err := poll.New(poll.Options{Client: c}); err == nil {
		t.Fatal("no symbols accepted")
	}
}
