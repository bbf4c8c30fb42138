package httpapi_test

import (
	"bytes"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata"

	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/httpapi"
	"github.com/tapehq/tape/internal/market"
)

// sharedIEXData is the IEX view of sharedData, as a simulated record has
// one: the trades printed on IEX, a third of the quotes as IEX's own (IEX
// on both sides, other sizes) and half of the bars, with IEX-sized
// volumes. Every answer from it differs from the consolidated one.
var sharedIEXData = sync.OnceValue(func() *dataset {
	d := sharedData()
	x := &dataset{symbols: d.symbols, trades: map[string][]market.Event{}, quotes: map[string][]market.Event{},
		bars: map[market.Timeframe]map[string][]market.Event{}}
	for sym, evs := range d.trades {
		for _, e := range evs {
			if e.Trade.Exchange == market.IEXExchange {
				x.trades[sym] = append(x.trades[sym], e)
			}
		}
	}
	for sym, evs := range d.quotes {
		for i, e := range evs {
			if i%3 == 1 {
				e.Quote.BidExchange, e.Quote.AskExchange, e.Quote.BidSize = 'V', 'V', e.Quote.BidSize+1000
				x.quotes[sym] = append(x.quotes[sym], e)
			}
		}
	}
	for tf, bySym := range d.bars {
		x.bars[tf] = map[string][]market.Event{}
		for sym, evs := range bySym {
			for i, e := range evs {
				if i%2 == 0 || len(evs) == 1 {
					e.Bar.Volume, e.Bar.TradeCount = e.Bar.Volume/50+7_000_000, e.Bar.TradeCount/50
					x.bars[tf][sym] = append(x.bars[tf][sym], e)
				}
			}
		}
	}
	return x
})

// stockPaths are the stock endpoints feed selects a view for, each form,
// with parameters that select data of every kind.
var stockPaths = []string{
	"/v2/stocks/bars?symbols=AAPL,MSFT,ZVZZT&timeframe=1Min&start=2024-03-04T09:30:00Z&end=2024-03-05T00:00:00Z&limit=500",
	"/v2/stocks/bars?symbols=AAPL,MSFT&timeframe=1Day&start=2024-03-01&end=2024-06-01",
	"/v2/stocks/AAPL/bars?timeframe=4Hour&start=2024-03-04&end=2024-04-04&limit=20",
	"/v2/stocks/trades?symbols=AAPL,BRK.B,ZVZZT&start=2024-03-04T09:30:00Z&end=2024-03-05T00:00:00Z&limit=300",
	"/v2/stocks/SPY/trades?start=2024-03-04T09:30:00Z&end=2024-03-05T00:00:00Z&sort=desc",
	"/v2/stocks/quotes?symbols=AAPL,MSFT&start=2024-03-04T09:30:00Z&end=2024-03-05T00:00:00Z&limit=10000",
	"/v2/stocks/MSFT/quotes?start=2024-03-04T09:30:00Z&end=2024-03-05T00:00:00Z&limit=50",
	"/v2/stocks/trades/latest?symbols=AAPL,MSFT,SPY",
	"/v2/stocks/AAPL/trades/latest?",
	"/v2/stocks/quotes/latest?symbols=AAPL,BRK.B",
	"/v2/stocks/MSFT/quotes/latest?",
	"/v2/stocks/bars/latest?symbols=AAPL,MSFT,ZVZZT",
	"/v2/stocks/SPY/bars/latest?",
	"/v2/stocks/snapshots?symbols=AAPL,BRK.B,NOPE,ZVZZT",
	"/v2/stocks/AAPL/snapshot?",
}

var tokenField = regexp.MustCompile(`"next_page_token":"[^"]*"`)

// body GETs a path with a feed ("" for none) and returns the body with any
// page token blanked: tokens are bound to the view that issued them.
func body(t *testing.T, e *env, path, feed string) []byte {
	t.Helper()
	if feed != "" {
		path += "&feed=" + feed
	}
	r := getJSON(t, e.srv.URL+path, nil)
	if r.status != 200 {
		t.Fatalf("%s: %d %s", path, r.status, r.body)
	}
	return tokenField.ReplaceAll(r.body, []byte(`"next_page_token":"…"`))
}

// TestFeedSelectsView checks every stock endpoint, byte for byte: feed=iex
// answers what a handler over the IEX view alone answers, every other feed
// and none what one over the consolidated store alone answers; with no IEX
// view (no Options.IEX, or one that returns nil) feed=iex reads the
// consolidated store.
func TestFeedSelectsView(t *testing.T) {
	iexStore := &fakeStore{data: sharedIEXData()}
	var have atomic.Bool
	have.Store(true)
	both := newEnv(t, httpapi.Options{IEX: func() httpapi.Store {
		if have.Load() {
			return iexStore
		}
		return nil
	}})
	onlySIP := newEnv(t, httpapi.Options{})
	onlyIEX := newEnv(t, httpapi.Options{Store: iexStore})
	noIEX := newEnv(t, httpapi.Options{})
	for _, path := range stockPaths {
		t.Run(path, func(t *testing.T) {
			have.Store(true)
			sip := body(t, onlySIP, path, "")
			iex := body(t, onlyIEX, path, "")
			if bytes.Equal(sip, iex) {
				t.Fatalf("the views answer alike: %s", sip)
			}
			if got := body(t, both, path, "iex"); !bytes.Equal(got, iex) {
				t.Fatalf("feed=iex:\ngot  %.300s\nwant %.300s", got, iex)
			}
			feeds := []string{"", "sip", "otc", "boats"}
			if strings.Contains(path, "latest") || strings.Contains(path, "snapshot") {
				feeds = append(feeds, "delayed_sip", "overnight")
			}
			for _, feed := range feeds {
				if got := body(t, both, path, feed); !bytes.Equal(got, sip) {
					t.Fatalf("feed=%q:\ngot  %.300s\nwant %.300s", feed, got, sip)
				}
			}
			if got := body(t, noIEX, path, "iex"); !bytes.Equal(got, sip) {
				t.Fatalf("feed=iex without an IEX view:\ngot  %.300s\nwant %.300s", got, sip)
			}
			have.Store(false) // the record has no IEX view (yet)
			if got := body(t, both, path, "iex"); !bytes.Equal(got, sip) {
				t.Fatalf("feed=iex with IEX returning nil:\ngot  %.300s\nwant %.300s", got, sip)
			}
		})
	}
	// The screener and the auctions read the consolidated store whatever
	// the feed: they are not IEX view endpoints.
	if got, want := body(t, both, "/v1beta1/screener/stocks/most-actives?top=3", ""), body(t, onlySIP, "/v1beta1/screener/stocks/most-actives?top=3", ""); !bytes.Equal(got, want) {
		t.Fatalf("screener: %s, want %s", got, want)
	}
}

// TestFeedPageTokens checks that a page token is bound to the view it
// walks: a feed=iex token resumes a feed=iex walk and is refused by a
// consolidated one (and the other way round), while sip, otc, boats and no
// feed share tokens; without an IEX view feed=iex is the consolidated view
// and shares them too.
func TestFeedPageTokens(t *testing.T) {
	iexStore := &fakeStore{data: sharedIEXData()}
	e := newEnv(t, httpapi.Options{IEX: func() httpapi.Store { return iexStore }})
	noIEX := newEnv(t, httpapi.Options{})
	base := "/v2/stocks/trades?symbols=AAPL,MSFT&start=2024-03-04T09:30:00Z&end=2024-03-05T00:00:00Z&limit=10"
	token := func(e *env, feed string) string {
		t.Helper()
		r := getJSON(t, e.srv.URL+base+"&feed="+feed, nil)
		tok := jsonField(t, r.body, "next_page_token")
		if r.status != 200 || tok == "" {
			t.Fatalf("feed=%s: %d, token %q", feed, r.status, tok)
		}
		return tok
	}
	status := func(e *env, feed, tok string) int {
		t.Helper()
		return getJSON(t, e.srv.URL+base+"&feed="+feed+"&page_token="+url.QueryEscape(tok), nil).status
	}
	iexTok, sipTok := token(e, "iex"), token(e, "sip")
	for _, tc := range []struct {
		env    *env
		feed   string
		tok    string
		status int
	}{
		{e, "iex", iexTok, 200},
		{e, "sip", iexTok, 422},
		{e, "", iexTok, 422},
		{e, "iex", sipTok, 422},
		{e, "", sipTok, 200},
		{e, "otc", sipTok, 200},
		{e, "boats", sipTok, 200},
		{noIEX, "iex", sipTok, 200},
		{noIEX, "sip", token(noIEX, "iex"), 200},
		{noIEX, "sip", iexTok, 422},
	} {
		if got := status(tc.env, tc.feed, tc.tok); got != tc.status {
			t.Errorf("feed=%q with a token of the %s walk: %d, want %d", tc.feed, map[bool]string{true: "iex", false: "sip"}[tc.tok == iexTok], got, tc.status)
		}
	}
	// The resumed IEX walk is the IEX view's next page.
	r := getJSON(t, e.srv.URL+base+"&feed=iex&page_token="+url.QueryEscape(iexTok), nil)
	if q := iexStore.lastQuery(); q.After == nil || r.status != 200 || !bytes.Contains(r.body, []byte(`"x":"V"`)) {
		t.Fatalf("resumed IEX walk: %+v, %s", q, r.body)
	}
}

// TestFeedHistoryStore serves a real history store the way Tape wires it:
// its IEX view behind Options.IEX once the store holds one (HasIEX), and
// the SDK's feeds get the two views.
func TestFeedHistoryStore(t *testing.T) {
	hs, err := history.Open(t.TempDir(), history.Options{Location: ny, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hs.Close() })
	e := newEnv(t, httpapi.Options{Store: hs, IEX: func() httpapi.Store {
		if hs.HasIEX() {
			return hs.IEX()
		}
		return nil
	}})
	var seq uint64
	ev := func(k market.Kind, sec int, x byte, price float64) market.Event {
		seq++
		e := market.Event{Seq: seq, Kind: k, Symbol: "AAPL", Time: dataStart.Add(time.Duration(sec) * time.Second).UnixNano()}
		switch k {
		case market.KindTrade:
			e.Trade = market.Trade{ID: int64(seq), Price: price, Size: 100, Exchange: x, Tape: 'C'}
		case market.KindQuote, market.KindIEXQuote:
			e.Quote = market.Quote{BidPrice: price, AskPrice: price + 0.01, BidSize: 1, AskSize: 1, BidExchange: x, AskExchange: x, Tape: 'C'}
		default:
			e.Bar = market.Bar{Open: price, High: price, Low: price, Close: price, VWAP: price, Volume: uint64(price), TradeCount: 1}
		}
		return e
	}
	// A received feed first: its IEX trade is in the IEX view, but the
	// record has no IEX view of its own, so feed=iex reads the feed.
	hs.Apply([]market.Event{
		ev(market.KindTrade, 0, 'Q', 10), ev(market.KindTrade, 1, 'V', 11), ev(market.KindQuote, 2, 'Q', 12),
		ev(market.KindBar, 0, 0, 13), ev(market.KindTrade, 3, 'N', 14),
	})
	req := marketdata.GetLatestTradeRequest{Feed: marketdata.IEX}
	if lt, err := e.client.GetLatestTrade("AAPL", req); err != nil || lt == nil || lt.Price != 14 {
		t.Fatalf("feed=iex without an IEX view: %+v, %v", lt, err)
	}
	// Then the simulator's IEX quotes and bars.
	hs.Apply([]market.Event{ev(market.KindIEXQuote, 4, 'V', 15), ev(market.KindIEXBar, 0, 0, 16), ev(market.KindIEXDailyBar, -60, 0, 17),
		ev(market.KindDailyBar, -60, 0, 18)})
	if err := hs.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		feed              marketdata.Feed
		trades            []float64
		quote, bar, daily float64
	}{
		{marketdata.IEX, []float64{11}, 15, 16, 17},
		{marketdata.SIP, []float64{10, 11, 14}, 12, 13, 18},
		{"", []float64{10, 11, 14}, 12, 13, 18},
	} {
		trades, err := e.client.GetTrades("AAPL", marketdata.GetTradesRequest{Start: dataStart, End: dataStart.Add(time.Minute), Feed: tc.feed})
		if err != nil {
			t.Fatal(err)
		}
		var prices []float64
		for _, tr := range trades {
			prices = append(prices, tr.Price)
		}
		if !slices.Equal(prices, tc.trades) {
			t.Fatalf("feed %q: trades at %v, want %v", tc.feed, prices, tc.trades)
		}
		snap, err := e.client.GetSnapshot("AAPL", marketdata.GetSnapshotRequest{Feed: tc.feed})
		if err != nil || snap == nil || snap.LatestQuote == nil || snap.MinuteBar == nil || snap.DailyBar == nil || snap.LatestTrade == nil {
			t.Fatalf("feed %q: snapshot %+v, %v", tc.feed, snap, err)
		}
		if snap.LatestQuote.BidPrice != tc.quote || snap.MinuteBar.Close != tc.bar || snap.DailyBar.Close != tc.daily ||
			snap.LatestTrade.Price != tc.trades[len(tc.trades)-1] {
			t.Fatalf("feed %q: snapshot quote %v bar %v daily %v trade %v", tc.feed, snap.LatestQuote.BidPrice, snap.MinuteBar.Close,
				snap.DailyBar.Close, snap.LatestTrade.Price)
		}
		bars, err := e.client.GetBars("AAPL", marketdata.GetBarsRequest{TimeFrame: marketdata.OneHour, Start: dataStart.Add(-time.Hour), End: dataStart.Add(time.Hour), Feed: tc.feed})
		if err != nil || len(bars) != 1 || bars[0].Close != tc.bar {
			t.Fatalf("feed %q: hourly bars %+v, %v", tc.feed, bars, err)
		}
	}
}
