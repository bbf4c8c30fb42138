package httpapi_test

import (
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/httpapi"
	"github.com/tapehq/tape/internal/market"
)

// rowsSource is a ScreenerSource over fixed rows that counts its calls.
type rowsSource struct {
	rows  []httpapi.ScreenRow
	calls atomic.Int64
}

func (s *rowsSource) ScreenRows(dst []httpapi.ScreenRow) []httpapi.ScreenRow {
	s.calls.Add(1)
	return append(dst, s.rows...)
}

var (
	screenDay = time.Date(2024, 3, 12, 4, 0, 0, 0, time.UTC).UnixNano()
	prevDay   = time.Date(2024, 3, 11, 4, 0, 0, 0, time.UTC).UnixNano()
)

// screenRows is a market in which every rule of the ranking shows: ties
// broken by symbol, a symbol that has not traded today (STALE, whose
// numbers would top every list), one without a previous close (NEW),
// changes to round, and an unchanged one (FLAT).
func screenRows() []httpapi.ScreenRow {
	return []httpapi.ScreenRow{
		{Symbol: "AAA", Day: screenDay, Close: 10, Volume: 500, TradeCount: 50, PrevClose: 8},           // +25%
		{Symbol: "BBB", Day: screenDay, Close: 4.15, Volume: 900, TradeCount: 10, PrevClose: 1.69},      // +145.562…%
		{Symbol: "CCC", Day: screenDay, Close: 3.435, Volume: 900, TradeCount: 70, PrevClose: 7.045},    // -51.242…%
		{Symbol: "DDD", Day: screenDay, Close: 0.1502, Volume: 100, TradeCount: 70, PrevClose: 0.40665}, // -63.064…%
		{Symbol: "EEE", Day: screenDay, Close: 12, Volume: 50, TradeCount: 1, PrevClose: 9.6},           // +25%, ties AAA
		{Symbol: "FLAT", Day: screenDay, Close: 5, Volume: 10, TradeCount: 2, PrevClose: 5},
		{Symbol: "NEW", Day: screenDay, Close: 20, Volume: 5000, TradeCount: 500},
		{Symbol: "STALE", Day: prevDay, Close: 1000, Volume: 1e9, TradeCount: 1e6, PrevClose: 1},
	}
}

func TestScreenerShapes(t *testing.T) {
	src := &rowsSource{rows: screenRows()}
	e := newEnv(t, httpapi.Options{StockScreener: src, CryptoScreener: src, Crypto: newFakeCrypto()})
	const updated = `"last_updated":"2024-03-12T15:00:00Z"`
	tests := []struct{ target, want string }{
		{"/v1beta1/screener/stocks/most-actives", `{"most_actives":[{"symbol":"NEW","volume":5000,"trade_count":500},` +
			`{"symbol":"BBB","volume":900,"trade_count":10},{"symbol":"CCC","volume":900,"trade_count":70},` +
			`{"symbol":"AAA","volume":500,"trade_count":50},{"symbol":"DDD","volume":100,"trade_count":70},` +
			`{"symbol":"EEE","volume":50,"trade_count":1},{"symbol":"FLAT","volume":10,"trade_count":2}],` + updated + `}`},
		{"/v1beta1/screener/stocks/most-actives?by=trades&top=3", `{"most_actives":[{"symbol":"NEW","volume":5000,"trade_count":500},` +
			`{"symbol":"CCC","volume":900,"trade_count":70},{"symbol":"DDD","volume":100,"trade_count":70}],` + updated + `}`},
		{"/v1beta1/screener/stocks/movers", `{"gainers":[{"symbol":"BBB","percent_change":145.56,"change":2.46,"price":4.15},` +
			`{"symbol":"AAA","percent_change":25,"change":2,"price":10},{"symbol":"EEE","percent_change":25,"change":2.4,"price":12}],` +
			`"losers":[{"symbol":"DDD","percent_change":-63.06,"change":-0.26,"price":0.1502},` +
			`{"symbol":"CCC","percent_change":-51.24,"change":-3.61,"price":3.435}],"market_type":"stocks",` + updated + `}`},
		{"/v1beta1/screener/crypto/movers?top=1", `{"gainers":[{"symbol":"BBB","percent_change":145.56,"change":2.46,"price":4.15}],` +
			`"losers":[{"symbol":"DDD","percent_change":-63.06,"change":-0.26,"price":0.1502}],"market_type":"crypto",` + updated + `}`},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			r := getJSON(t, e.srv.URL+tc.target, nil)
			if r.status != 200 || string(r.body) != tc.want {
				t.Fatalf("status %d\ngot  %s\nwant %s", r.status, r.body, tc.want)
			}
		})
	}
	empty := newEnv(t, httpapi.Options{StockScreener: &rowsSource{}})
	r := getJSON(t, empty.srv.URL+"/v1beta1/screener/stocks/movers", nil)
	if want := `{"gainers":[],"losers":[],"market_type":"stocks",` + updated + `}`; string(r.body) != want {
		t.Fatalf("empty market: %s", r.body)
	}
}

func TestScreenerErrors(t *testing.T) {
	e := newEnv(t, httpapi.Options{StockScreener: &rowsSource{rows: screenRows()}})
	tests := []struct {
		target string
		status int
		msg    string
	}{
		{"/v1beta1/screener/stocks/most-actives?by=price", 422, "invalid by"},
		{"/v1beta1/screener/stocks/most-actives?top=101", 422, "invalid top"},
		{"/v1beta1/screener/stocks/movers?top=51", 422, "invalid top"},
		{"/v1beta1/screener/stocks/movers?top=0", 422, "invalid top"},
		{"/v1beta1/screener/crypto/movers", 404, "serves no crypto data"},
		{"/v1beta1/screener/options/movers", 404, "not found"},
		{"/v1beta1/screener/crypto/most-actives", 404, "not found"},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			r := getJSON(t, e.srv.URL+tc.target, nil)
			if ae := checkErrorShape(t, r); r.status != tc.status || !strings.Contains(ae.Message, tc.msg) {
				t.Fatalf("%d %s, want %d %q", r.status, r.body, tc.status, tc.msg)
			}
		})
	}
}

// TestScreenerInterval checks that a ranking is reused within the
// interval and recomputed with a negative one.
func TestScreenerInterval(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		calls    int64
	}{{time.Hour, 1}, {-1, 3}} {
		src := &rowsSource{rows: screenRows()}
		e := newEnv(t, httpapi.Options{StockScreener: src, ScreenerInterval: tc.interval})
		for _, p := range []string{"most-actives", "most-actives?by=trades", "../stocks/movers"} {
			if r := getJSON(t, e.srv.URL+"/v1beta1/screener/stocks/"+p, nil); r.status != 200 {
				t.Fatal(r.status)
			}
		}
		if n := src.calls.Load(); n != tc.calls {
			t.Errorf("interval %v: %d computations, want %d", tc.interval, n, tc.calls)
		}
	}
}

// TestSnapshotScreener checks the default screener source against the
// snapshots it reads, for stocks and crypto.
func TestSnapshotScreener(t *testing.T) {
	fs := &fakeStore{data: sharedData()}
	rows := httpapi.SnapshotScreener{Symbols: fs.Symbols, Snapshot: fs.Snapshot}.ScreenRows(nil)
	var want []string
	for _, sym := range fs.Symbols() {
		snap, _ := fs.Snapshot(sym)
		if snap.DailyBar != nil {
			want = append(want, sym)
		}
	}
	if got := rowSymbols(rows); !slices.Equal(got, want) {
		t.Fatalf("rows of %v, want %v", got, want)
	}
	for _, row := range rows {
		snap, _ := fs.Snapshot(row.Symbol)
		d := snap.DailyBar
		prev := 0.0
		if snap.PrevDailyBar != nil {
			prev = snap.PrevDailyBar.Bar.Close
		}
		if row.Day != d.Time || row.Close != d.Bar.Close || row.Volume != d.Bar.Volume || row.TradeCount != d.Bar.TradeCount || row.PrevClose != prev {
			t.Errorf("%s: row %+v, daily bar %+v prev close %v", row.Symbol, row, d.Bar, prev)
		}
	}

	c := newFakeCrypto()
	crows := httpapi.SnapshotScreener{Symbols: c.CryptoSymbols, Snapshot: c.CryptoSnapshot, Crypto: true}.ScreenRows(nil)
	if got := rowSymbols(crows); !slices.Equal(got, []string{"BTC/USD", "ETH/USD"}) {
		t.Fatalf("crypto rows %v", got)
	}
	days := sharedCryptoData().bars[market.OneDay]["ETH/USD"]
	if r := crows[1]; r.Close != days[len(days)-1].CryptoBar.Close || r.PrevClose != days[len(days)-2].CryptoBar.Close || r.Volume != 0 {
		t.Errorf("ETH/USD row %+v", r)
	}

	// Through the handler, with the defaults: the stock movers come from
	// the store's snapshots.
	e := newEnv(t, httpapi.Options{})
	var movers struct{ Gainers, Losers []struct{ Symbol string } }
	if err := json.Unmarshal(getJSON(t, e.srv.URL+"/v1beta1/screener/stocks/movers", nil).body, &movers); err != nil {
		t.Fatal(err)
	}
	if len(movers.Gainers)+len(movers.Losers) == 0 {
		t.Fatal("no movers from the store's snapshots")
	}
}

func rowSymbols(rows []httpapi.ScreenRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Symbol)
	}
	return out
}

// historyStore returns a history store holding n symbols with a trade, a
// quote, a minute bar and two daily bars each, as a busy day leaves it.
func historyStore(tb testing.TB, n int) *history.Store {
	tb.Helper()
	s, err := history.Open(tb.TempDir(), history.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	var seq uint64
	evs := make([]market.Event, 0, 5*n)
	add := func(e market.Event) {
		seq++
		e.Seq = seq
		evs = append(evs, e)
	}
	t0 := time.Date(2024, 3, 12, 15, 0, 0, 0, time.UTC).UnixNano()
	for i := range n {
		sym := symbolName(i)
		p := 10 + float64(i%500)
		add(market.Event{Kind: market.KindDailyBar, Symbol: sym, Time: prevDay, Bar: market.Bar{Open: p, High: p, Low: p, Close: p, Volume: 1000, TradeCount: 10}})
		add(market.Event{Kind: market.KindTrade, Symbol: sym, Time: t0, Trade: market.Trade{ID: 1, Price: p + 1, Size: 100, Exchange: 'V', Tape: 'C'}})
		add(market.Event{Kind: market.KindQuote, Symbol: sym, Time: t0, Quote: market.Quote{BidPrice: p, AskPrice: p + 2, BidSize: 1, AskSize: 1}})
		add(market.Event{Kind: market.KindBar, Symbol: sym, Time: t0, Bar: market.Bar{Open: p, High: p + 1, Low: p, Close: p + 1, Volume: 100, TradeCount: 1}})
		add(market.Event{Kind: market.KindDailyBar, Symbol: sym, Time: screenDay, Bar: market.Bar{Open: p, High: p + 1, Low: p, Close: p + float64(i%7) - 3,
			Volume: uint64(1000 + i*7%5000), TradeCount: uint64(10 + i%900)}})
	}
	s.Apply(evs)
	return s
}

// symbolName returns a distinct stock symbol for i: A, B, …, AA, AB, ….
func symbolName(i int) string {
	var b []byte
	for i++; i > 0; i = (i - 1) / 26 {
		b = append(b, byte('A'+(i-1)%26))
	}
	slices.Reverse(b)
	return string(b)
}

// TestScreenerOverHistory runs the default screener over a real history
// store: the rows it ranks are the store's daily bars.
func TestScreenerOverHistory(t *testing.T) {
	s := historyStore(t, 300)
	e := newEnv(t, httpapi.Options{Store: s})
	var got struct {
		MostActives []struct {
			Symbol     string
			Volume     uint64
			TradeCount uint64 `json:"trade_count"`
		} `json:"most_actives"`
	}
	if err := json.Unmarshal(getJSON(t, e.srv.URL+"/v1beta1/screener/stocks/most-actives?by=trades&top=2", nil).body, &got); err != nil {
		t.Fatal(err)
	}
	// Trade counts are 10 + i%900: the largest are i = 299 and 298.
	if len(got.MostActives) != 2 || got.MostActives[0].Symbol != symbolName(299) || got.MostActives[0].TradeCount != 309 || got.MostActives[1].Symbol != symbolName(298) {
		t.Fatalf("%+v", got)
	}
}
