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

// delivery records what Fetch handed on, in order.
type delivery struct {
	mu    sync.Mutex
	pages []string // "SYM:n"
	evs   []market.Event
	done  []string // OnSymbol order
}

func (d *delivery) fn(sym string, page []market.Event) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range page {
		if e.Symbol != sym {
			return fmt.Errorf("page of %s holds %s", sym, e.Symbol)
		}
	}
	d.pages = append(d.pages, fmt.Sprintf("%s:%d", sym, len(page)))
	d.evs = append(d.evs, page...)
	return nil
}

func (d *delivery) onSymbol(r backfill.SymbolResult) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.done = append(d.done, r.Symbol)
}

// TestFetchPagination: several symbols, each over several pages following
// next_page_token, handed on complete and in request order.
func TestFetchPagination(t *testing.T) {
	fake := backfilltest.New(t)
	fake.Add(minuteBars("MSFT", 25, t0)...)
	fake.Add(minuteBars("AAPL", 10, t0)...)
	fake.Add(minuteBars("NVDA", 3, t0)...)
	c, _ := newClient(t, fake, nil)
	var d delivery
	sum, err := c.Fetch(context.Background(), backfill.Request{Kind: backfill.Bars, Symbols: []string{"MSFT", "AAPL", "EMPTY", "NVDA"},
		Start: t0, End: t0.Add(time.Hour), Timeframe: "1Min", PageLimit: 10, OnSymbol: d.onSymbol}, d.fn)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.pages, " "); got != "MSFT:10 MSFT:10 MSFT:5 AAPL:10 NVDA:3" {
		t.Fatalf("pages %s", got)
	}
	want := append(append(minuteBars("MSFT", 25, t0), minuteBars("AAPL", 10, t0)...), minuteBars("NVDA", 3, t0)...)
	if err := same(d.evs, want); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(d.done) != "[MSFT AAPL EMPTY NVDA]" {
		t.Fatalf("OnSymbol order %v", d.done)
	}
	wantSum := "[{MSFT 25 3 0 <nil>} {AAPL 10 1 0 <nil>} {EMPTY 0 1 0 <nil>} {NVDA 3 1 0 <nil>}]"
	if fmt.Sprint(sum.Symbols) != wantSum || sum.Rows != 38 || sum.Pages != 6 || sum.Failed != 0 {
		t.Fatalf("summary %v rows %d pages %d failed %d", sum.Symbols, sum.Rows, sum.Pages, sum.Failed)
	}
	// Each symbol is its own series of requests; pages 2 and 3 of MSFT
	// carry the tokens of the pages before.
	var tokens []string
	for _, r := range fake.Requests() {
		if backfilltest.Symbol(r) == "MSFT" {
			tokens = append(tokens, r.URL.Query().Get("page_token"))
		}
	}
	if len(tokens) != 3 || tokens[0] != "" || tokens[1] == "" || tokens[2] == "" || tokens[1] == tokens[2] {
		t.Fatalf("MSFT page tokens %q", tokens)
	}
}

// TestFetchRequestOrder: the first symbol is slow — its request is held
// until the symbols behind it have fetched all they may — and yet its
// pages are handed on first. The symbols behind prefetch at most Buffer
// pages plus the one in hand while the head is not done.
func TestFetchRequestOrder(t *testing.T) {
	for _, buffer := range []int{1, 2} {
		t.Run(fmt.Sprintf("buffer %d", buffer), func(t *testing.T) {
			fake := backfilltest.New(t)
			fake.Add(trades("A", 4, t0)...)
			fake.Add(trades("B", 9, t0)...) // 5 pages of 2
			fake.Add(trades("C", 1, t0)...)
			var mu sync.Mutex
			served := map[string]int{}
			var order []string // symbols in the order their requests completed
			release := make(chan struct{})
			var once sync.Once
			fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
				sym := backfilltest.Symbol(r)
				if sym == "A" {
					select {
					case <-release:
					case <-r.Context().Done():
						return true
					}
				}
				fake.Handle(w, r)
				mu.Lock()
				defer mu.Unlock()
				served[sym]++
				order = append(order, sym)
				// B may fetch Buffer pages ahead plus one in hand; C has
				// one page. Once both got that far, let A answer.
				if served["B"] == buffer+1 && served["C"] == 1 {
					once.Do(func() { close(release) })
				}
				return true
			}
			c, _ := newClient(t, fake, nil)
			var d delivery
			var overrun error
			fn := func(sym string, page []market.Event) error {
				if sym == "A" {
					mu.Lock()
					if served["B"] > buffer+1 {
						overrun = fmt.Errorf("B served %d requests while A was still being handed on (buffer %d)", served["B"], buffer)
					}
					mu.Unlock()
				}
				return d.fn(sym, page)
			}
			sum, err := c.Fetch(context.Background(), backfill.Request{Kind: backfill.Trades, Symbols: []string{"A", "B", "C"}, Start: t0,
				PageLimit: 2, Concurrency: 3, Buffer: buffer}, fn)
			if err != nil || sum.Failed != 0 {
				t.Fatalf("%v %v", err, sum)
			}
			if overrun != nil {
				t.Fatal(overrun)
			}
			if got := strings.Join(d.pages, " "); got != "A:2 A:2 B:2 B:2 B:2 B:2 B:1 C:1" {
				t.Fatalf("handed on %s", got)
			}
			if i := strings.Index(strings.Join(order, ""), "A"); i < buffer+2 {
				t.Fatalf("A completed before B and C had fetched ahead: %v", order)
			}
			want := append(append(trades("A", 4, t0), trades("B", 9, t0)...), trades("C", 1, t0)...)
			if err := same(d.evs, want); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestFetchConcurrencyBound: never more than Concurrency requests in
// flight, and that many are reached. The fake holds requests in waves: a
// request waits until Concurrency of them have arrived (or all there
// are), so a client that ran fewer at once would never finish, and one
// that ran more would show in MaxInFlight.
func TestFetchConcurrencyBound(t *testing.T) {
	for _, conc := range []int{1, 3, 5} {
		t.Run(fmt.Sprint(conc), func(t *testing.T) {
			const symbols = 11
			fake := backfilltest.New(t)
			var syms []string
			for i := range symbols {
				s := fmt.Sprintf("S%02d", i)
				syms = append(syms, s)
				fake.Add(trades(s, 1, t0)...)
			}
			var mu sync.Mutex
			cond := sync.NewCond(&mu)
			arrived := 0
			fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
				mu.Lock()
				arrived++
				wave := (arrived - 1) / conc
				cond.Broadcast()
				for arrived < min((wave+1)*conc, symbols) {
					cond.Wait()
				}
				mu.Unlock()
				return false
			}
			c, _ := newClient(t, fake, nil)
			var d delivery
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a guard against a hang, not a timing assertion
			defer cancel()
			sum, err := c.Fetch(ctx, backfill.Request{Kind: backfill.Trades, Symbols: syms, Start: t0, Concurrency: conc}, d.fn)
			if err != nil || sum.Failed != 0 || sum.Rows != symbols {
				t.Fatalf("%v %+v", err, sum)
			}
			if m := fake.MaxInFlight(); m != conc {
				t.Fatalf("at most %d requests in flight, want %d", m, conc)
			}
			if len(d.pages) != symbols || d.pages[0] != "S00:1" || d.pages[symbols-1] != fmt.Sprintf("S%02d:1", symbols-1) {
				t.Fatalf("pages %v", d.pages)
			}
		})
	}
}

// TestFetchSymbolErrors: a symbol that fails after its retries fails
// alone; the others are fetched and handed on in order, and the summary
// names the failure. The retries of every symbol are counted.
func TestFetchSymbolErrors(t *testing.T) {
	cases := []struct {
		name     string
		answer   func(w http.ResponseWriter, r *http.Request, attempt int) bool // for symbol BAD
		mod      func(*backfill.Options)
		wantErr  string
		retries  int
		badPages int
	}{
		{name: "persistent 500", answer: func(w http.ResponseWriter, r *http.Request, _ int) bool {
			backfilltest.Error(w, 500, 50010000, "internal server error occurred")
			return true
		}, wantErr: "500 Internal Server Error (code 50010000): internal server error occurred (gave up after 5 retries)", retries: 5},
		{name: "500 on the second page", answer: func(w http.ResponseWriter, r *http.Request, _ int) bool {
			if r.URL.Query().Get("page_token") == "" {
				return false
			}
			backfilltest.Error(w, 500, 0, "boom")
			return true
		}, mod: func(o *backfill.Options) { o.MaxRetries = 1 }, wantErr: "500 Internal Server Error: boom (gave up after 1 retries)", retries: 1, badPages: 1},
		{name: "invalid symbol", answer: func(w http.ResponseWriter, r *http.Request, _ int) bool {
			backfilltest.Error(w, 400, 40010001, "invalid symbol: BAD")
			return true
		}, wantErr: "400 Bad Request (code 40010001): invalid symbol: BAD"},
		{name: "slow endpoint", answer: func(w http.ResponseWriter, r *http.Request, _ int) bool {
			<-r.Context().Done()
			return true
		}, mod: func(o *backfill.Options) { o.Timeout = 100 * time.Millisecond; o.MaxRetries = 1 },
			wantErr: "no complete answer within the 100ms request timeout (gave up after 1 retries)", retries: 1},
		{name: "429 then success", answer: func(w http.ResponseWriter, r *http.Request, attempt int) bool {
			if attempt > 2 {
				return false
			}
			w.Header().Set("Retry-After", "2")
			backfilltest.Error(w, 429, 0, "too many requests.")
			return true
		}, retries: 2, badPages: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := backfilltest.New(t)
			for _, s := range []string{"AAPL", "BAD", "MSFT"} {
				fake.Add(trades(s, 3, t0)...)
			}
			var mu sync.Mutex
			attempts := 0
			fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
				if backfilltest.Symbol(r) != "BAD" {
					return false
				}
				mu.Lock()
				attempts++
				n := attempts
				mu.Unlock()
				return tc.answer(w, r, n)
			}
			c, _ := newClient(t, fake, tc.mod)
			var d delivery
			sum, err := c.Fetch(context.Background(), backfill.Request{Kind: backfill.Trades, Symbols: []string{"AAPL", "BAD", "MSFT"},
				Start: t0, PageLimit: 2, OnSymbol: d.onSymbol}, d.fn)
			if err != nil {
				t.Fatal(err)
			}
			bad := sum.Symbols[1]
			if tc.wantErr == "" {
				if bad.Err != nil || sum.Failed != 0 {
					t.Fatalf("BAD failed: %v", bad.Err)
				}
			} else if bad.Err == nil || bad.Err.Error() != tc.wantErr || sum.Failed != 1 {
				t.Fatalf("BAD: %v\nwant %s", bad.Err, tc.wantErr)
			}
			// (The other symbols' requests may be retried too on a loaded
			// machine with the slow case's short timeout; they succeed.)
			if bad.Retries != tc.retries || sum.Retries < tc.retries || bad.Pages != tc.badPages {
				t.Fatalf("BAD %+v, total retries %d", bad, sum.Retries)
			}
			for _, i := range []int{0, 2} {
				if r := sum.Symbols[i]; r.Err != nil || r.Rows != 3 || r.Pages != 2 {
					t.Fatalf("%+v", r)
				}
			}
			var others []string
			for _, p := range d.pages {
				if !strings.HasPrefix(p, "BAD") {
					others = append(others, p)
				}
			}
			if fmt.Sprint(others) != "[AAPL:2 AAPL:1 MSFT:2 MSFT:1]" || fmt.Sprint(d.done) != "[AAPL BAD MSFT]" {
				t.Fatalf("handed on %v, done %v", d.pages, d.done)
			}
		})
	}
}

// TestFetchStops: what ends a Fetch early, with the summary so far: an
// error every symbol would get (bad keys), the caller's function failing,
// and ctx.
func TestFetchStops(t *testing.T) {
	t.Run("bad keys", func(t *testing.T) {
		fake := backfilltest.New(t)
		fake.SetKeys("right", "keys")
		c, clk := newClient(t, fake, nil)
		syms := []string{"A", "B", "C", "D", "E", "F", "G", "H"}
		sum, err := c.Fetch(context.Background(), backfill.Request{Kind: backfill.Bars, Symbols: syms, Start: t0, Concurrency: 2}, (&delivery{}).fn)
		if !backfill.IsFatal(err) || !strings.Contains(err.Error(), "401 Unauthorized (code 40110000): request is not authorized") {
			t.Fatalf("got %v", err)
		}
		if len(sum.Symbols) != len(syms) || sum.Failed != len(syms) || len(clk.slept()) != 0 {
			t.Fatalf("summary %+v, slept %v", sum, clk.slept())
		}
		if n := len(fake.Requests()); n > 2+1 {
			t.Fatalf("%d requests after the first 401", n)
		}
	})
	t.Run("fn fails", func(t *testing.T) {
		fake := backfilltest.New(t)
		fake.Add(trades("A", 3, t0)...)
		fake.Add(trades("B", 3, t0)...)
		c, _ := newClient(t, fake, nil)
		boom := errors.New("disk full")
		calls := 0
		_, err := c.Fetch(context.Background(), backfill.Request{Kind: backfill.Trades, Symbols: []string{"A", "B"}, Start: t0, PageLimit: 1},
			func(string, []market.Event) error { calls++; return boom })
		if err != boom || calls != 1 {
			t.Fatalf("got %v after %d calls", err, calls)
		}
	})
	t.Run("ctx cancelled", func(t *testing.T) {
		fake := backfilltest.New(t)
		fake.Add(trades("A", 3, t0)...)
		fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
			if backfilltest.Symbol(r) == "B" {
				<-r.Context().Done() // held until the fetch is cancelled
				return true
			}
			return false
		}
		c, _ := newClient(t, fake, nil)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var d delivery
		sum, err := c.Fetch(ctx, backfill.Request{Kind: backfill.Trades, Symbols: []string{"A", "B", "C"}, Start: t0, Concurrency: 2,
			OnSymbol: func(r backfill.SymbolResult) {
				if r.Symbol == "A" {
					cancel()
				}
			}}, d.fn)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
		if len(sum.Symbols) != 3 || sum.Symbols[0].Err != nil || !errors.Is(sum.Symbols[1].Err, context.Canceled) || !errors.Is(sum.Symbols[2].Err, context.Canceled) {
			t.Fatalf("summary %+v", sum.Symbols)
		}
		if fmt.Sprint(d.pages) != "[A:3]" {
			t.Fatalf("pages %v", d.pages)
		}
	})
	t.Run("the same page token twice", func(t *testing.T) {
		fake := backfilltest.New(t)
		fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
			backfilltest.WriteJSON(w, r, map[string]any{"trades": map[string]any{"A": []any{backfilltest.Item(trades("A", 1, t0)[0])}},
				"next_page_token": "again"})
			return true
		}
		c, _ := newClient(t, fake, nil)
		sum, err := c.Fetch(context.Background(), backfill.Request{Kind: backfill.Trades, Symbols: []string{"A"}, Start: t0}, (&delivery{}).fn)
		if err != nil || sum.Symbols[0].Err == nil || !strings.Contains(sum.Symbols[0].Err.Error(), "same next_page_token") || sum.Symbols[0].Pages != 2 {
			t.Fatalf("%v %+v", err, sum.Symbols)
		}
	})
}
