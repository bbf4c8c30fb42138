package httpapi_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/alpaca"
	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata"

	"github.com/tapehq/tape/internal/auth"
	"github.com/tapehq/tape/internal/httpapi"
	"github.com/tapehq/tape/internal/market"
)

// These tests drive the API with the official Go SDK's REST client, so what
// they check is what an unmodified Alpaca program sees.

// testNow is the tests' "now": a Tuesday in the middle of AAPL's minute
// bars, 11:00 in New York. Today starts at 04:00Z (EDT).
var testNow = time.Date(2024, 3, 12, 15, 0, 0, 0, time.UTC)

// env is an API server over the fake store, with a recording of the
// requests that reached it.
type env struct {
	store  *fakeStore
	srv    *httptest.Server
	client *marketdata.Client

	mu   sync.Mutex
	reqs []*url.URL
}

func newEnv(t *testing.T, opts httpapi.Options) *env {
	t.Helper()
	e := &env{store: &fakeStore{data: sharedData()}}
	if opts.Store == nil {
		opts.Store = e.store
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	h := httpapi.New(opts)
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.reqs = append(e.reqs, r.URL)
		e.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	e.client = e.newClient(marketdata.ClientOpts{APIKey: "k", APISecret: "s"})
	return e
}

// newClient returns an SDK client for the server. The SDK retries 500s ten
// times a second apart by default; the tests want to see the first answer.
func (e *env) newClient(o marketdata.ClientOpts) *marketdata.Client {
	o.BaseURL = e.srv.URL
	o.RetryLimit = 1
	o.RetryDelay = time.Millisecond
	return marketdata.NewClient(o)
}

// requests returns and forgets the recorded requests.
func (e *env) requests() []*url.URL {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.reqs
	e.reqs = nil
	return r
}

// Rows compare SDK values with market events field by field, with
// timestamps as nanoseconds so that time.Time's representation is out of it.

type barRow struct {
	T              int64
	O, H, L, C, VW float64
	V, N           uint64
}

func barRowOf(e market.Event) barRow {
	b := e.Bar
	return barRow{T: e.Time, O: b.Open, H: b.High, L: b.Low, C: b.Close, VW: b.VWAP, V: b.Volume, N: b.TradeCount}
}

func sdkBarRow(b marketdata.Bar) barRow {
	return barRow{T: b.Timestamp.UnixNano(), O: b.Open, H: b.High, L: b.Low, C: b.Close, VW: b.VWAP, V: b.Volume, N: b.TradeCount}
}

type tradeRow struct {
	T       int64
	P       float64
	S       uint32
	X, C, Z string
	I       int64
}

func tradeRowOf(e market.Event) tradeRow {
	t := e.Trade
	return tradeRow{T: e.Time, P: t.Price, S: t.Size, X: string(t.Exchange), C: strings.Join(t.Conditions.Strings(), "|"), Z: string(t.Tape), I: t.ID}
}

func sdkTradeRow(t marketdata.Trade) tradeRow {
	return tradeRow{T: t.Timestamp.UnixNano(), P: t.Price, S: t.Size, X: t.Exchange, C: strings.Join(t.Conditions, "|"), Z: t.Tape, I: t.ID}
}

type quoteRow struct {
	T            int64
	BP, AP       float64
	BS, AS       uint32
	BX, AX, C, Z string
}

func quoteRowOf(e market.Event) quoteRow {
	q := e.Quote
	return quoteRow{T: e.Time, BP: q.BidPrice, AP: q.AskPrice, BS: q.BidSize, AS: q.AskSize, BX: string(q.BidExchange),
		AX: string(q.AskExchange), C: strings.Join(q.Conditions.Strings(), "|"), Z: string(q.Tape)}
}

func sdkQuoteRow(q marketdata.Quote) quoteRow {
	return quoteRow{T: q.Timestamp.UnixNano(), BP: q.BidPrice, AP: q.AskPrice, BS: q.BidSize, AS: q.AskSize, BX: q.BidExchange,
		AX: q.AskExchange, C: strings.Join(q.Conditions, "|"), Z: q.Tape}
}

func mapRows[T, R any](in []T, f func(T) R) []R {
	out := make([]R, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// groupRows splits expected events by symbol, as the SDK's multi calls
// return them; symbols without events are absent.
func groupRows[R any](evs []market.Event, f func(market.Event) R) map[string][]R {
	out := map[string][]R{}
	for _, e := range evs {
		out[e.Symbol] = append(out[e.Symbol], f(e))
	}
	return out
}

// checkRows compares got with want and reports the first difference.
func checkRows[R comparable](t *testing.T, what string, got, want []R) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d items, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: item %d:\ngot  %+v\nwant %+v", what, i, got[i], want[i])
		}
	}
}

func checkGroups[T any, R comparable](t *testing.T, got map[string][]T, conv func(T) R, want map[string][]R) {
	t.Helper()
	for sym := range got {
		if _, ok := want[sym]; !ok {
			t.Errorf("unexpected symbol %s with %d items", sym, len(got[sym]))
		}
	}
	for sym, w := range want {
		checkRows(t, sym, mapRows(got[sym], conv), w)
	}
}

// rangeOf resolves a test case's start and end as the API defaults them.
func rangeOf(start, end time.Time) (int64, int64) {
	if start.IsZero() {
		y, m, d := testNow.In(ny).Date()
		start = time.Date(y, m, d, 0, 0, 0, 0, ny)
	}
	if end.IsZero() {
		end = testNow
	}
	return start.UnixNano(), end.UnixNano()
}

func minute(i int) time.Time { return dataStart.Add(time.Duration(i) * time.Minute) }

func TestSDKBars(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	d := sharedData()
	all := []string{"AAPL", "MSFT", "SPY"}
	tests := []struct {
		name       string
		symbols    []string
		tf         marketdata.TimeFrame
		start, end time.Time
		total      int
		page       int
		sort       marketdata.Sort
		requests   int // expected requests; 0 means not checked
	}{
		// 25,000 bars at the maximum page size: 10,000 + 10,000 + 5,000.
		{name: "1Min all AAPL in 3 pages", symbols: []string{"AAPL"}, tf: marketdata.OneMin, start: minute(-1), end: minute(40_000), page: 10_000, requests: 3},
		{name: "1Min default page size", symbols: []string{"AAPL"}, tf: marketdata.OneMin, start: minute(0), end: minute(4_321)},
		{name: "1Min desc", symbols: []string{"AAPL"}, tf: marketdata.OneMin, start: minute(100), end: minute(12_100), page: 5_000, sort: marketdata.SortDesc},
		// The limit is the total across symbols: 4,000 × 3 + 3,000.
		{name: "1Min total limit across symbols", symbols: all, tf: marketdata.OneMin, start: minute(0), end: minute(40_000), total: 15_000, page: 4_000, requests: 4},
		{name: "1Min total limit desc", symbols: all, tf: marketdata.OneMin, start: minute(0), end: minute(40_000), total: 9_999, sort: marketdata.SortDesc},
		{name: "1Min one page exactly", symbols: []string{"AAPL"}, tf: marketdata.OneMin, start: minute(0), end: minute(40_000), total: 10_000, page: 10_000, requests: 1},
		{name: "5Min", symbols: all, tf: marketdata.NewTimeFrame(5, marketdata.Min), start: minute(-5), end: minute(20_000), page: 777},
		{name: "15Min", symbols: all, tf: marketdata.NewTimeFrame(15, marketdata.Min), start: minute(30), end: minute(9_000)},
		{name: "30Min desc", symbols: all, tf: marketdata.NewTimeFrame(30, marketdata.Min), start: minute(0), end: minute(90_000), sort: marketdata.SortDesc, page: 50},
		{name: "1Hour", symbols: all, tf: marketdata.OneHour, start: minute(0), end: minute(90_000), page: 100},
		{name: "4Hour", symbols: []string{"MSFT", "SPY"}, tf: marketdata.NewTimeFrame(4, marketdata.Hour), start: minute(0), end: minute(90_000)},
		{name: "1Day", symbols: all, tf: marketdata.OneDay, start: dataStart.AddDate(0, 0, -1), end: dataStart.AddDate(0, 2, 0), page: 10},
		{name: "1Day total limit", symbols: all, tf: marketdata.OneDay, start: dataStart.AddDate(0, 0, -1), end: dataStart.AddDate(1, 0, 0), total: 50, page: 7},
		{name: "1Week", symbols: all, tf: marketdata.OneWeek, start: dataStart.AddDate(0, 0, -7), end: dataStart.AddDate(2, 0, 0)},
		{name: "1Month desc", symbols: all, tf: marketdata.OneMonth, start: dataStart.AddDate(0, -1, 0), end: dataStart.AddDate(10, 0, 0), sort: marketdata.SortDesc},
		// Start and end are inclusive: bars exactly at both ends are in.
		{name: "inclusive bounds", symbols: []string{"AAPL"}, tf: marketdata.OneMin,
			start: time.Unix(0, d.bars[market.OneMinute]["AAPL"][10].Time), end: time.Unix(0, d.bars[market.OneMinute]["AAPL"][20].Time), requests: 1},
		{name: "default start and end", symbols: []string{"AAPL", "MSFT"}, tf: marketdata.OneMin},
		{name: "no data in range", symbols: all, tf: marketdata.OneMin, start: dataStart.AddDate(-1, 0, 0), end: dataStart.AddDate(-1, 0, 1), requests: 1},
		{name: "unknown symbol among known", symbols: []string{"AAPL", "NOPE"}, tf: marketdata.OneHour, start: minute(0), end: minute(90_000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tf, err := market.ParseTimeframe(tc.tf.String())
			if err != nil {
				t.Fatal(err)
			}
			start, end := rangeOf(tc.start, tc.end)
			want := expect(d.bars[tf], tc.symbols, start, end, tc.sort == marketdata.SortDesc, tc.total)
			if len(want) == 0 && tc.name != "no data in range" {
				t.Fatal("test case selects no bars")
			}
			req := marketdata.GetBarsRequest{TimeFrame: tc.tf, Start: tc.start, End: tc.end, TotalLimit: tc.total, PageLimit: tc.page, Sort: tc.sort}
			e.requests()
			if len(tc.symbols) == 1 {
				got, err := e.client.GetBars(tc.symbols[0], req)
				if err != nil {
					t.Fatal(err)
				}
				checkRows(t, tc.symbols[0], mapRows(got, sdkBarRow), mapRows(want, barRowOf))
			} else {
				got, err := e.client.GetMultiBars(tc.symbols, req)
				if err != nil {
					t.Fatal(err)
				}
				checkGroups(t, got, sdkBarRow, groupRows(want, barRowOf))
			}
			reqs := e.requests()
			avail := len(expect(d.bars[tf], tc.symbols, start, end, false, 0))
			if want := sdkRequests(avail, tc.total, tc.page); len(reqs) != want {
				t.Errorf("%d requests, want %d", len(reqs), want)
			}
			if tc.requests != 0 && len(reqs) != tc.requests {
				t.Errorf("%d requests, want %d", len(reqs), tc.requests)
			}
			for i, r := range reqs {
				if r.Path != "/v2/stocks/bars" {
					t.Errorf("request %d to %s", i, r.Path)
				}
			}
		})
	}
}

// TestSDKPageLimits checks the limits the SDK sends as it pages towards a
// TotalLimit, and that each reached the store.
func TestSDKPageLimits(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	_, err := e.client.GetMultiBars([]string{"AAPL", "MSFT", "SPY"}, marketdata.GetBarsRequest{
		TimeFrame: marketdata.OneMin, Start: minute(0), End: minute(40_000), TotalLimit: 15_000, PageLimit: 4_000})
	if err != nil {
		t.Fatal(err)
	}
	var limits []string
	tokens := 0
	for _, r := range e.requests() {
		limits = append(limits, r.Query().Get("limit"))
		if r.Query().Get("page_token") != "" {
			tokens++
		}
	}
	if want := []string{"4000", "4000", "4000", "3000"}; !slices.Equal(limits, want) {
		t.Errorf("limits %v, want %v", limits, want)
	}
	if tokens != 3 {
		t.Errorf("%d requests carried a page token, want 3", tokens)
	}
	if q := e.store.lastQuery(); q.Limit != 3000 || q.After == nil || !slices.Equal(q.Symbols, []string{"AAPL", "MSFT", "SPY"}) {
		t.Errorf("last store query %+v", q)
	}
}

func TestSDKTrades(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	d := sharedData()
	aapl := d.trades["AAPL"]
	// A timestamp shared by several trades, to put at the range's ends.
	var tie int64
	for i := 1; i < len(aapl); i++ {
		if aapl[i].Time == aapl[i-1].Time && i > 100 {
			tie = aapl[i].Time
			break
		}
	}
	tests := []struct {
		name       string
		symbols    []string
		start, end time.Time
		total      int
		page       int
		sort       marketdata.Sort
	}{
		{name: "all AAPL in small pages", symbols: []string{"AAPL"}, start: dataStart, end: dataStart.Add(24 * time.Hour), page: 7},
		{name: "desc", symbols: []string{"AAPL"}, start: dataStart, end: dataStart.Add(24 * time.Hour), page: 333, sort: marketdata.SortDesc},
		{name: "ties at both ends", symbols: []string{"AAPL"}, start: time.Unix(0, tie), end: time.Unix(0, tie+60e9), page: 2},
		{name: "multi total", symbols: []string{"AAPL", "BRK.B", "MSFT", "SPY"}, start: dataStart, end: dataStart.Add(24 * time.Hour), total: 2_500, page: 1_000},
		{name: "multi all", symbols: []string{"AAPL", "BRK.B", "MSFT", "SPY"}, start: dataStart, end: dataStart.Add(24 * time.Hour)},
		{name: "multi desc", symbols: []string{"BRK.B", "MSFT"}, start: dataStart.Add(10 * time.Minute), end: dataStart.Add(40 * time.Minute), sort: marketdata.SortDesc, page: 100},
		{name: "nanosecond range", symbols: []string{"AAPL"}, start: time.Unix(0, aapl[500].Time+1), end: time.Unix(0, aapl[600].Time-1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start, end := rangeOf(tc.start, tc.end)
			want := expect(d.trades, tc.symbols, start, end, tc.sort == marketdata.SortDesc, tc.total)
			if len(want) == 0 {
				t.Fatal("test case selects no trades")
			}
			req := marketdata.GetTradesRequest{Start: tc.start, End: tc.end, TotalLimit: tc.total, PageLimit: tc.page, Sort: tc.sort}
			if len(tc.symbols) == 1 {
				got, err := e.client.GetTrades(tc.symbols[0], req)
				if err != nil {
					t.Fatal(err)
				}
				checkRows(t, tc.symbols[0], mapRows(got, sdkTradeRow), mapRows(want, tradeRowOf))
				return
			}
			got, err := e.client.GetMultiTrades(tc.symbols, req)
			if err != nil {
				t.Fatal(err)
			}
			checkGroups(t, got, sdkTradeRow, groupRows(want, tradeRowOf))
		})
	}
}

func TestSDKQuotes(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	d := sharedData()
	tests := []struct {
		name    string
		symbols []string
		total   int
		page    int
		sort    marketdata.Sort
	}{
		{name: "single", symbols: []string{"MSFT"}, page: 500},
		{name: "single desc total", symbols: []string{"SPY"}, total: 1_234, page: 100, sort: marketdata.SortDesc},
		{name: "multi", symbols: []string{"AAPL", "MSFT", "SPY", "BRK.B"}, page: 10_000},
		{name: "multi total", symbols: []string{"AAPL", "MSFT"}, total: 4_000},
	}
	start, end := dataStart, dataStart.Add(24*time.Hour)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := expect(d.quotes, tc.symbols, start.UnixNano(), end.UnixNano(), tc.sort == marketdata.SortDesc, tc.total)
			req := marketdata.GetQuotesRequest{Start: start, End: end, TotalLimit: tc.total, PageLimit: tc.page, Sort: tc.sort}
			if len(tc.symbols) == 1 {
				got, err := e.client.GetQuotes(tc.symbols[0], req)
				if err != nil {
					t.Fatal(err)
				}
				checkRows(t, tc.symbols[0], mapRows(got, sdkQuoteRow), mapRows(want, quoteRowOf))
				return
			}
			got, err := e.client.GetMultiQuotes(tc.symbols, req)
			if err != nil {
				t.Fatal(err)
			}
			checkGroups(t, got, sdkQuoteRow, groupRows(want, quoteRowOf))
		})
	}
}

func TestSDKLatest(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	d := sharedData()
	lastOf := func(evs []market.Event) market.Event { return evs[len(evs)-1] }
	syms := []string{"AAPL", "MSFT", "NOPE"}

	t.Run("trade", func(t *testing.T) {
		got, err := e.client.GetLatestTrade("AAPL", marketdata.GetLatestTradeRequest{Feed: marketdata.DelayedSIP})
		if err != nil || got == nil {
			t.Fatal(got, err)
		}
		if sdkTradeRow(*got) != tradeRowOf(lastOf(d.trades["AAPL"])) {
			t.Errorf("got %+v", *got)
		}
		if got, err := e.client.GetLatestTrade("NOPE", marketdata.GetLatestTradeRequest{}); got != nil || err != nil {
			t.Errorf("unknown symbol: %v, %v", got, err)
		}
		m, err := e.client.GetLatestTrades(syms, marketdata.GetLatestTradeRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(m) != 2 || sdkTradeRow(m["MSFT"]) != tradeRowOf(lastOf(d.trades["MSFT"])) {
			t.Errorf("got %+v", m)
		}
	})
	t.Run("quote", func(t *testing.T) {
		got, err := e.client.GetLatestQuote("SPY", marketdata.GetLatestQuoteRequest{Feed: marketdata.Overnight})
		if err != nil || got == nil {
			t.Fatal(got, err)
		}
		if sdkQuoteRow(*got) != quoteRowOf(lastOf(d.quotes["SPY"])) {
			t.Errorf("got %+v", *got)
		}
		m, err := e.client.GetLatestQuotes(syms, marketdata.GetLatestQuoteRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(m) != 2 || sdkQuoteRow(m["AAPL"]) != quoteRowOf(lastOf(d.quotes["AAPL"])) {
			t.Errorf("got %+v", m)
		}
	})
	t.Run("bar", func(t *testing.T) {
		got, err := e.client.GetLatestBar("BRK.B", marketdata.GetLatestBarRequest{Currency: "USD"})
		if err != nil || got == nil {
			t.Fatal(got, err)
		}
		if sdkBarRow(*got) != barRowOf(lastOf(d.bars[market.OneMinute]["BRK.B"])) {
			t.Errorf("got %+v", *got)
		}
		m, err := e.client.GetLatestBars(syms, marketdata.GetLatestBarRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(m) != 2 || sdkBarRow(m["AAPL"]) != barRowOf(lastOf(d.bars[market.OneMinute]["AAPL"])) {
			t.Errorf("got %+v", m)
		}
	})
}

func TestSDKSnapshots(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	d := sharedData()
	days := d.bars[market.OneDay]["AAPL"]

	got, err := e.client.GetSnapshot("AAPL", marketdata.GetSnapshotRequest{})
	if err != nil || got == nil {
		t.Fatal(got, err)
	}
	if got.LatestTrade == nil || got.LatestQuote == nil || got.MinuteBar == nil || got.DailyBar == nil || got.PrevDailyBar == nil {
		t.Fatalf("missing fields: %+v", got)
	}
	if sdkTradeRow(*got.LatestTrade) != tradeRowOf(d.trades["AAPL"][len(d.trades["AAPL"])-1]) ||
		sdkBarRow(*got.DailyBar) != barRowOf(days[len(days)-1]) ||
		sdkBarRow(*got.PrevDailyBar) != barRowOf(days[len(days)-2]) {
		t.Errorf("got %+v", got)
	}

	m, err := e.client.GetSnapshots([]string{"AAPL", tinySymbol, "NOPE"}, marketdata.GetSnapshotRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 3 || m["AAPL"] == nil || m["NOPE"] != nil {
		t.Fatalf("got %v", m)
	}
	tiny := m[tinySymbol]
	if tiny == nil || tiny.LatestTrade == nil || tiny.DailyBar == nil || tiny.LatestQuote != nil || tiny.MinuteBar != nil || tiny.PrevDailyBar != nil {
		t.Fatalf("%s: %+v", tinySymbol, tiny)
	}
	if got, err := e.client.GetSnapshot("NOPE", marketdata.GetSnapshotRequest{}); got != nil || err != nil {
		t.Errorf("unknown symbol: %v, %v", got, err)
	}
}

// TestSDKErrors checks that refusals reach SDK callers as alpaca.APIError
// with Alpaca's status, code and message.
func TestSDKErrors(t *testing.T) {
	e := newEnv(t, httpapi.Options{Keys: auth.NewKeys(map[string]string{"k": "s"})})
	apiErr := func(t *testing.T, err error, status, code int, msg string) {
		t.Helper()
		var ae *alpaca.APIError
		if !errors.As(err, &ae) {
			t.Fatalf("error %v (%T), want *alpaca.APIError", err, err)
		}
		if ae.StatusCode != status || ae.Code != code || !strings.Contains(ae.Message, msg) {
			t.Fatalf("got %d %d %q, want %d %d %q", ae.StatusCode, ae.Code, ae.Message, status, code, msg)
		}
	}
	t.Run("bad timeframe", func(t *testing.T) {
		_, err := e.client.GetBars("AAPL", marketdata.GetBarsRequest{TimeFrame: marketdata.NewTimeFrame(61, marketdata.Min)})
		apiErr(t, err, 422, 42210000, "invalid timeframe")
	})
	t.Run("page limit too large", func(t *testing.T) {
		_, err := e.client.GetTrades("AAPL", marketdata.GetTradesRequest{PageLimit: 10_001})
		apiErr(t, err, 422, 42210000, "invalid limit")
	})
	t.Run("historical delayed_sip", func(t *testing.T) {
		_, err := e.client.GetQuotes("AAPL", marketdata.GetQuotesRequest{Feed: marketdata.DelayedSIP})
		apiErr(t, err, 422, 42210000, "invalid feed")
	})
	t.Run("unsupported currency", func(t *testing.T) {
		_, err := e.client.GetLatestTrade("AAPL", marketdata.GetLatestTradeRequest{Currency: "JPY"})
		apiErr(t, err, 422, 42210000, "currency")
	})
	t.Run("wrong secret", func(t *testing.T) {
		_, err := e.newClient(marketdata.ClientOpts{APIKey: "k", APISecret: "wrong"}).GetLatestTrade("AAPL", marketdata.GetLatestTradeRequest{})
		apiErr(t, err, 403, 0, "forbidden")
	})
	t.Run("oauth", func(t *testing.T) {
		_, err := e.newClient(marketdata.ClientOpts{OAuth: "token"}).GetLatestTrade("AAPL", marketdata.GetLatestTradeRequest{})
		apiErr(t, err, 403, 0, "forbidden")
	})
	t.Run("broker basic auth", func(t *testing.T) {
		got, err := e.newClient(marketdata.ClientOpts{BrokerKey: "k", BrokerSecret: "s"}).GetLatestTrade("AAPL", marketdata.GetLatestTradeRequest{})
		if err != nil || got == nil {
			t.Fatal(got, err)
		}
	})
	t.Run("store failure", func(t *testing.T) {
		e.store.err = errors.New("open /var/lib/tape/segment-0007: permission denied")
		defer func() { e.store.err = nil }()
		_, err := e.client.GetBars("AAPL", marketdata.GetBarsRequest{})
		apiErr(t, err, 500, 0, "internal server error")
		if strings.Contains(err.Error(), "segment") {
			t.Fatalf("error leaks internals: %v", err)
		}
	})
}

// TestSDKPageTokenIsQueryBound checks that a token taken from one walk and
// replayed with other parameters is refused, while replaying it with only
// the limit changed (as the SDK does) continues the walk.
func TestSDKPageTokenIsQueryBound(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	base := "/v2/stocks/bars?symbols=AAPL,MSFT&timeframe=1Min&start=2024-03-04T09:30:00Z&end=2024-03-05T00:00:00Z&limit=10"
	body := getJSON(t, e.srv.URL+base, nil).body
	tok := jsonField(t, body, "next_page_token")
	if tok == "" {
		t.Fatal("no next_page_token on a full page")
	}
	for _, tc := range []struct {
		name   string
		query  string
		status int
	}{
		{"same query", base, 200},
		{"other limit", strings.Replace(base, "limit=10", "limit=500", 1), 200},
		{"other feed", base + "&feed=iex", 200},
		{"other symbols", strings.Replace(base, "AAPL,MSFT", "AAPL", 1), 422},
		{"other timeframe", strings.Replace(base, "1Min", "5Min", 1), 422},
		{"other start", strings.Replace(base, "09:30:00Z", "09:31:00Z", 1), 422},
		{"other end", strings.Replace(base, "03-05", "03-06", 1), 422},
		{"other sort", base + "&sort=desc", 422},
		{"other endpoint", strings.Replace(base, "/bars", "/trades", 1), 422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := getJSON(t, e.srv.URL+tc.query+"&page_token="+url.QueryEscape(tok), nil)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
		})
	}
}

// TestSDKDefaultRangeIsStableAcrossPages checks that a walk with a default
// end keeps its first page's end even when "now" moves between pages.
func TestSDKDefaultRangeIsStableAcrossPages(t *testing.T) {
	now := testNow
	var mu sync.Mutex
	e := newEnv(t, httpapi.Options{Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Hour) // every request sees a later now
		return now
	}})
	got, err := e.client.GetBars("AAPL", marketdata.GetBarsRequest{TimeFrame: marketdata.OneMin, PageLimit: 100})
	if err != nil {
		t.Fatal(err)
	}
	start, end := rangeOf(time.Time{}, testNow.Add(time.Hour))
	want := expect(sharedData().bars[market.OneMinute], []string{"AAPL"}, start, end, false, 0)
	checkRows(t, "AAPL", mapRows(got, sdkBarRow), mapRows(want, barRowOf))
	if n := len(e.requests()); n < 3 {
		t.Fatalf("only %d pages; the test needs several", n)
	}
}

// sdkRequests is how many requests the SDK makes to fetch avail items (the
// total without a limit) with the given TotalLimit and PageLimit, following
// its setQueryLimit and a server that sets next_page_token exactly when
// more items remain.
func sdkRequests(avail, total, page int) int {
	received, reqs := 0, 0
	for {
		limit := page
		if total != 0 {
			remaining := total - received
			if (limit == 0 || limit > remaining) && remaining <= 10_000 {
				limit = remaining
			}
		}
		if limit == 0 {
			limit = 1000 // the server's default
		}
		n := min(limit, avail-received)
		received += n
		reqs++
		if received >= avail || (total != 0 && received >= total) {
			return reqs
		}
	}
}

// TestSDKFeed checks that the SDK's Feed selects the view: IEX gets the
// IEX view's trades, quotes and bars, SIP and the default (no feed) the
// consolidated ones, on every stock endpoint the SDK calls, over pages
// the SDK follows with the feed's tokens; and that a client whose default
// feed is IEX (ClientOpts.Feed) gets the IEX view too.
func TestSDKFeed(t *testing.T) {
	iexStore := &fakeStore{data: sharedIEXData()}
	e := newEnv(t, httpapi.Options{IEX: func() httpapi.Store { return iexStore }})
	d, x := sharedData(), sharedIEXData()
	iexClient := e.newClient(marketdata.ClientOpts{APIKey: "k", APISecret: "s", Feed: marketdata.IEX})
	all := []string{"AAPL", "BRK.B", "MSFT", "SPY"}
	start, end := dataStart, dataStart.Add(24*time.Hour)
	lastOf := func(evs []market.Event) market.Event { return evs[len(evs)-1] }
	for _, tc := range []struct {
		name   string
		client *marketdata.Client
		feed   marketdata.Feed
		data   *dataset
		param  string // the feed parameter the requests must carry
	}{
		{"iex", e.client, marketdata.IEX, x, "iex"},
		{"client default iex", iexClient, "", x, "iex"},
		{"sip", e.client, marketdata.SIP, d, "sip"},
		{"default", e.client, "", d, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.client
			e.requests()
			for _, tf := range []marketdata.TimeFrame{marketdata.OneMin, marketdata.OneHour, marketdata.OneDay} {
				mtf, err := market.ParseTimeframe(tf.String())
				if err != nil {
					t.Fatal(err)
				}
				got, err := c.GetMultiBars(all, marketdata.GetBarsRequest{TimeFrame: tf, Start: minute(-1), End: minute(40_000),
					PageLimit: 3_000, Feed: tc.feed})
				if err != nil {
					t.Fatal(err)
				}
				checkGroups(t, got, sdkBarRow, groupRows(expect(tc.data.bars[mtf], all, minute(-1).UnixNano(), minute(40_000).UnixNano(), false, 0), barRowOf))
			}
			trades, err := c.GetMultiTrades(all, marketdata.GetTradesRequest{Start: start, End: end, PageLimit: 500, Feed: tc.feed})
			if err != nil {
				t.Fatal(err)
			}
			checkGroups(t, trades, sdkTradeRow, groupRows(expect(tc.data.trades, all, start.UnixNano(), end.UnixNano(), false, 0), tradeRowOf))
			quotes, err := c.GetQuotes("MSFT", marketdata.GetQuotesRequest{Start: start, End: end, PageLimit: 400, Sort: marketdata.SortDesc, Feed: tc.feed})
			if err != nil {
				t.Fatal(err)
			}
			checkRows(t, "MSFT quotes", mapRows(quotes, sdkQuoteRow), mapRows(expect(tc.data.quotes, []string{"MSFT"}, start.UnixNano(), end.UnixNano(), true, 0), quoteRowOf))

			lt, err := c.GetLatestTrades(all, marketdata.GetLatestTradeRequest{Feed: tc.feed})
			if err != nil {
				t.Fatal(err)
			}
			lq, err := c.GetLatestQuotes(all, marketdata.GetLatestQuoteRequest{Feed: tc.feed})
			if err != nil {
				t.Fatal(err)
			}
			lb, err := c.GetLatestBars(all, marketdata.GetLatestBarRequest{Feed: tc.feed})
			if err != nil {
				t.Fatal(err)
			}
			snaps, err := c.GetSnapshots(all, marketdata.GetSnapshotRequest{Feed: tc.feed})
			if err != nil {
				t.Fatal(err)
			}
			for _, sym := range all {
				wt, wq, wb := lastOf(tc.data.trades[sym]), lastOf(tc.data.quotes[sym]), lastOf(tc.data.bars[market.OneMinute][sym])
				days := tc.data.bars[market.OneDay][sym]
				if sdkTradeRow(lt[sym]) != tradeRowOf(wt) || sdkQuoteRow(lq[sym]) != quoteRowOf(wq) || sdkBarRow(lb[sym]) != barRowOf(wb) {
					t.Fatalf("%s latest: %+v %+v %+v", sym, lt[sym], lq[sym], lb[sym])
				}
				s := snaps[sym]
				if s == nil || s.LatestTrade == nil || s.LatestQuote == nil || s.MinuteBar == nil || s.DailyBar == nil || s.PrevDailyBar == nil ||
					sdkTradeRow(*s.LatestTrade) != tradeRowOf(wt) || sdkQuoteRow(*s.LatestQuote) != quoteRowOf(wq) ||
					sdkBarRow(*s.MinuteBar) != barRowOf(wb) || sdkBarRow(*s.DailyBar) != barRowOf(lastOf(days)) ||
					sdkBarRow(*s.PrevDailyBar) != barRowOf(days[len(days)-2]) {
					t.Fatalf("%s snapshot: %+v", sym, s)
				}
			}
			tokens := 0
			for _, r := range e.requests() {
				if got := r.Query().Get("feed"); got != tc.param {
					t.Fatalf("request %s has feed %q, want %q", r, got, tc.param)
				}
				if r.Query().Get("page_token") != "" {
					tokens++
				}
			}
			if tokens < 5 {
				t.Fatalf("only %d requests followed a page token", tokens)
			}
		})
	}
}
