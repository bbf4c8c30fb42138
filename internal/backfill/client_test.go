package backfill_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/backfill"
	"github.com/tapehq/tape/internal/backfill/backfilltest"
	"github.com/tapehq/tape/internal/market"
)

// t0 is 09:30 New York on 2026-11-24.
var t0 = time.Date(2026, 11, 24, 14, 30, 0, 0, time.UTC)

// clock is an injected clock: Sleep records what it was asked to wait
// and returns at once (or ctx's error), Now is fixed.
type clock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *clock) Now() time.Time { return c.now }

func (c *clock) slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// newClient returns a client of fake with keys, the injected clock, no
// jitter (so waits are exact) and mod applied.
func newClient(t *testing.T, fake *backfilltest.Server, mod func(*backfill.Options)) (*backfill.Client, *clock) {
	t.Helper()
	clk := &clock{now: t0.Add(48 * time.Hour)}
	o := backfill.Options{BaseURL: fake.URL, Key: "AK", Secret: "SK", Now: clk.Now, Sleep: clk.Sleep,
		Jitter: func(d time.Duration) time.Duration { return d }}
	if mod != nil {
		mod(&o)
	}
	c, err := backfill.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, clk
}

func minuteBars(sym string, n int, from time.Time) []market.Event {
	out := make([]market.Event, n)
	for i := range out {
		p := 100 + float64(i)
		out[i] = market.Event{Kind: market.KindBar, Symbol: sym, Time: from.Add(time.Duration(i) * time.Minute).UnixNano(),
			Bar: market.Bar{Open: p, High: p + 1, Low: p - 1, Close: p + 0.5, Volume: uint64(1000 + i), TradeCount: uint64(10 + i), VWAP: p + 0.25}}
	}
	return out
}

func trades(sym string, n int, from time.Time) []market.Event {
	out := make([]market.Event, n)
	for i := range out {
		out[i] = market.Event{Kind: market.KindTrade, Symbol: sym, Time: from.Add(time.Duration(i)*time.Second + 123456789).UnixNano(),
			Trade: market.Trade{ID: int64(i + 1), Price: 229.91 + float64(i)/100, Size: uint32(100 * (i + 1)), Exchange: 'V', Tape: 'C',
				Conditions: market.MakeConditions("@", "F")}}
	}
	return out
}

// TestPageRequestAndDecode: one page request carries what Alpaca's SDK
// sends (multi-symbol form, RFC 3339 nano times, limit, sort, feed,
// timeframe, adjustment, keys, gzip), and the JSON of every kind decodes
// to the events the fake was given, grouped by symbol.
func TestPageRequestAndDecode(t *testing.T) {
	fake := backfilltest.New(t)
	fake.SetKeys("AK", "SK")
	quote := market.Event{Kind: market.KindQuote, Symbol: "AAPL", Time: t0.Add(1500 * time.Microsecond).UnixNano(),
		Quote: market.Quote{BidPrice: 229.89, AskPrice: 229.91, BidSize: 4, AskSize: 7, BidExchange: 'J', AskExchange: 'Y', Tape: 'C', Conditions: market.MakeConditions("R")}}
	fake.Add(minuteBars("MSFT", 3, t0)...)
	fake.Add(minuteBars("AAPL", 2, t0)...)
	fake.Add(trades("AAPL", 2, t0)...)
	fake.Add(quote)
	c, _ := newClient(t, fake, nil)
	ctx := context.Background()

	p, err := c.Page(ctx, backfill.Query{Kind: backfill.Bars, Symbols: []string{"MSFT", "AAPL"}, Start: t0, End: t0.Add(time.Hour),
		Timeframe: "1Min", Feed: "sip"})
	if err != nil {
		t.Fatal(err)
	}
	want := append(minuteBars("AAPL", 2, t0), minuteBars("MSFT", 3, t0)...)
	if err := same(p.Events, want); err != nil {
		t.Fatalf("bars: %v", err)
	}
	if p.NextPageToken != "" || p.Retries != 0 {
		t.Fatalf("token %q retries %d", p.NextPageToken, p.Retries)
	}
	r := fake.Requests()[0]
	q := r.URL.Query()
	for k, v := range map[string]string{"symbols": "MSFT,AAPL", "start": "2026-11-24T14:30:00Z", "end": "2026-11-24T15:30:00Z",
		"timeframe": "1Min", "limit": "10000", "sort": "asc", "feed": "sip", "adjustment": "raw"} {
		if q.Get(k) != v {
			t.Errorf("%s=%q, want %q", k, q.Get(k), v)
		}
	}
	if r.URL.Path != "/v2/stocks/bars" || r.Header.Get("APCA-API-KEY-ID") != "AK" || r.Header.Get("APCA-API-SECRET-KEY") != "SK" ||
		r.Header.Get("Accept-Encoding") != "gzip" {
		t.Errorf("request %s headers %v", r.URL.Path, r.Header)
	}

	p, err = c.Page(ctx, backfill.Query{Kind: backfill.Trades, Symbols: []string{"AAPL"}, Start: t0})
	if err != nil {
		t.Fatal(err)
	}
	if err := same(p.Events, trades("AAPL", 2, t0)); err != nil {
		t.Fatalf("trades: %v", err)
	}
	if q := fake.Requests()[1].URL.Query(); q.Has("timeframe") || q.Has("end") || q.Has("feed") {
		t.Errorf("trades query %v", q)
	}
	p, err = c.Page(ctx, backfill.Query{Kind: backfill.Quotes, Symbols: []string{"AAPL"}, Start: t0})
	if err != nil {
		t.Fatal(err)
	}
	if err := same(p.Events, []market.Event{quote}); err != nil {
		t.Fatalf("quotes: %v", err)
	}
}

// TestLatest: the latest endpoints, one multi-symbol call each.
func TestLatest(t *testing.T) {
	fake := backfilltest.New(t)
	tr := trades("MSFT", 1, t0)[0]
	bar := minuteBars("AAPL", 1, t0)[0]
	fake.SetLatest(tr, bar, trades("AAPL", 1, t0)[0])
	c, _ := newClient(t, fake, nil)
	got, err := c.Latest(context.Background(), backfill.Trades, []string{"AAPL", "MSFT", "NONE"}, "iex")
	if err != nil {
		t.Fatal(err)
	}
	if err := same(got, []market.Event{trades("AAPL", 1, t0)[0], tr}); err != nil {
		t.Fatal(err)
	}
	got, err = c.Latest(context.Background(), backfill.Bars, []string{"AAPL", "MSFT"}, "iex")
	if err != nil || same(got, []market.Event{bar}) != nil {
		t.Fatalf("bars %v %v", got, err)
	}
	r := fake.Requests()[0]
	if r.URL.Path != "/v2/stocks/trades/latest" || r.URL.Query().Get("symbols") != "AAPL,MSFT,NONE" || r.URL.Query().Get("feed") != "iex" {
		t.Fatalf("request %v", r.URL)
	}
}

// TestRetries: which answers are retried, after how long (the waits asked
// of the injected clock), and what a final failure says.
func TestRetries(t *testing.T) {
	type answer struct {
		status int
		body   string
		header map[string]string
	}
	e500 := answer{status: 500, body: `{"code":50010000,"message":"internal server error occurred"}`}
	cases := []struct {
		name       string
		answers    []answer // the first attempts' answers; the fake answers after them
		mod        func(*backfill.Options)
		wantSleeps []time.Duration
		wantErr    string // "" for success
		retries    int
	}{
		{name: "429 with Retry-After, then success",
			answers:    []answer{{status: 429, body: `{"message":"too many requests."}`, header: map[string]string{"Retry-After": "3"}}},
			wantSleeps: []time.Duration{3 * time.Second}, retries: 1},
		{name: "429 with X-RateLimit-Reset, then success",
			answers:    []answer{{status: 429, body: `{"message":"too many requests."}`, header: map[string]string{"X-RateLimit-Reset": "RESET+7"}}},
			wantSleeps: []time.Duration{7 * time.Second}, retries: 1},
		{name: "429 without a hint backs off",
			answers:    []answer{{status: 429, body: `{"message":"too many requests."}`}, {status: 429, body: `{"message":"too many requests."}`}},
			wantSleeps: []time.Duration{time.Second, 2 * time.Second}, retries: 2},
		{name: "Retry-After shorter than the backoff",
			answers:    []answer{e500, e500, {status: 503, body: "busy", header: map[string]string{"Retry-After": "1"}}},
			wantSleeps: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, retries: 3},
		{name: "500 twice, then success", answers: []answer{e500, e500},
			wantSleeps: []time.Duration{time.Second, 2 * time.Second}, retries: 2},
		{name: "persistent 500", answers: []answer{e500, e500, e500, e500, e500},
			mod:        func(o *backfill.Options) { o.MaxRetries = 3 },
			wantSleeps: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
			wantErr:    "500 Internal Server Error (code 50010000): internal server error occurred (gave up after 3 retries)", retries: 3},
		{name: "backoff capped", answers: []answer{e500, e500, e500, e500, e500},
			mod:        func(o *backfill.Options) { o.MaxBackoff = 4 * time.Second; o.MaxRetries = 5 },
			wantSleeps: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}, retries: 5},
		{name: "422 is not retried", answers: []answer{{status: 422, body: `{"code":42210000,"message":"invalid timeframe"}`}},
			wantErr: "422 Unprocessable Entity (code 42210000): invalid timeframe"},
		{name: "403 without a code", answers: []answer{{status: 403, body: `{"message":"subscription does not permit querying recent SIP data"}`}},
			wantErr: "403 Forbidden: subscription does not permit querying recent SIP data"},
		{name: "a body not in Alpaca's shape", answers: []answer{{status: 400, body: "bad request\n"}},
			wantErr: "400 Bad Request: bad request"},
		{name: "retries off", answers: []answer{e500}, mod: func(o *backfill.Options) { o.MaxRetries = -1 },
			wantErr: "500 Internal Server Error (code 50010000): internal server error occurred"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := backfilltest.New(t)
			fake.Add(minuteBars("AAPL", 3, t0)...)
			var mu sync.Mutex
			n := 0
			var c *backfill.Client
			var clk *clock
			fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
				mu.Lock()
				i := n
				n++
				mu.Unlock()
				if i >= len(tc.answers) {
					return false
				}
				a := tc.answers[i]
				for k, v := range a.header {
					if rest, ok := strings.CutPrefix(v, "RESET+"); ok {
						var s int64
						fmt.Sscan(rest, &s)
						v = fmt.Sprint(clk.now.Unix() + s)
					}
					w.Header().Set(k, v)
				}
				w.WriteHeader(a.status)
				w.Write([]byte(a.body))
				return true
			}
			c, clk = newClient(t, fake, tc.mod)
			p, err := c.Page(context.Background(), backfill.Query{Kind: backfill.Bars, Symbols: []string{"AAPL"}, Start: t0})
			if fmt.Sprint(clk.slept()) != fmt.Sprint(tc.wantSleeps) {
				t.Errorf("slept %v, want %v", clk.slept(), tc.wantSleeps)
			}
			if p.Retries != tc.retries {
				t.Errorf("%d retries, want %d", p.Retries, tc.retries)
			}
			if tc.wantErr == "" {
				if err != nil || len(p.Events) != 3 {
					t.Fatalf("got %d events, %v", len(p.Events), err)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("error %v\nwant %s", err, tc.wantErr)
			}
			var ae *backfill.APIError
			if !errors.As(err, &ae) || ae.Status != tc.answers[0].status {
				t.Fatalf("not an *APIError of the status: %#v", err)
			}
		})
	}
}

// TestTimeout: a request that overruns the per-request timeout (the fake
// blocks until the request's context ends) is retried, then fails with a
// *TimeoutError that is a context.DeadlineExceeded; a slow first attempt
// followed by a quick one succeeds; the caller's own cancellation is not
// reported as a timeout.
func TestTimeout(t *testing.T) {
	fake := backfilltest.New(t)
	fake.Add(minuteBars("AAPL", 2, t0)...)
	var mu sync.Mutex
	slow := 0                           // attempts to block
	arrived := make(chan struct{}, 100) // one per blocked attempt
	fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		block := slow > 0
		slow--
		mu.Unlock()
		if block {
			arrived <- struct{}{}
			<-r.Context().Done()
			return true
		}
		return false
	}
	c, clk := newClient(t, fake, func(o *backfill.Options) { o.Timeout = 20 * time.Millisecond; o.MaxRetries = 2 })
	q := backfill.Query{Kind: backfill.Bars, Symbols: []string{"AAPL"}, Start: t0}

	mu.Lock()
	slow = 100
	mu.Unlock()
	_, err := c.Page(context.Background(), q)
	var te *backfill.TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) || te.After != 20*time.Millisecond {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "request timeout (gave up after 2 retries)") {
		t.Fatalf("message %q", err)
	}
	if fmt.Sprint(clk.slept()) != "[1s 2s]" {
		t.Fatalf("slept %v", clk.slept())
	}

	// A fresh client with a timeout a loaded machine (the race detector on
	// two shared cores) cannot miss on a healthy request: 20 ms could, and
	// then the retry after the slow attempt timed out too.
	c, _ = newClient(t, fake, func(o *backfill.Options) { o.Timeout = time.Second; o.MaxRetries = 2 })
	mu.Lock()
	slow = 1
	mu.Unlock()
	p, err := c.Page(context.Background(), q)
	if err != nil || p.Retries < 1 || len(p.Events) != 2 {
		t.Fatalf("after one slow attempt: %d events, %d retries, %v", len(p.Events), p.Retries, err)
	}

	mu.Lock()
	slow = 1
	mu.Unlock()
	for len(arrived) > 0 {
		<-arrived
	}
	c, clk = newClient(t, fake, func(o *backfill.Options) { o.Timeout = time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err = c.Page(ctx, q)
	if !errors.Is(err, context.Canceled) || errors.As(err, &te) || len(clk.slept()) != 0 {
		t.Fatalf("cancelled: %v (slept %v)", err, clk.slept())
	}
}

// TestRequestsPerMinute: requests are spaced evenly under the limit.
func TestRequestsPerMinute(t *testing.T) {
	fake := backfilltest.New(t)
	fake.Add(minuteBars("AAPL", 1, t0)...)
	var mu sync.Mutex
	now := t0
	var waits []time.Duration
	c, err := backfill.New(backfill.Options{BaseURL: fake.URL, RequestsPerMinute: 200,
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			waits = append(waits, d)
			now = now.Add(d)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := c.Latest(context.Background(), backfill.Bars, []string{"AAPL"}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(waits) != "[0s 300ms 300ms]" {
		t.Fatalf("waits %v", waits)
	}
}

func TestNewRefusesBadURL(t *testing.T) {
	for _, u := range []string{"data.alpaca.markets", "ftp://x", "http://"} {
		if _, err := backfill.New(backfill.Options{BaseURL: u}); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}

func same(got, want []market.Event) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d events, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Kind != w.Kind || g.Symbol != w.Symbol || g.Time != w.Time || g.Trade != w.Trade || g.Quote != w.Quote || g.Bar != w.Bar {
			return fmt.Errorf("event %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	return nil
}
