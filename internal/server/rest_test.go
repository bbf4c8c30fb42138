package server

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata"
	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata/stream"
)

// TestRESTBarsEqualStreamed: the official SDK's REST client, pointed at
// Tape, gets exactly the minute bars the stream delivered — updated bars
// from late trades included — and consistent latest values and snapshots.
func TestRESTBarsEqualStreamed(t *testing.T) {
	start0 := regularSession()
	srv, _ := start(t, Options{Source: simSource(t, 300, 600)}) // ten simulated minutes per second
	type key struct {
		sym string
		t   int64 // not time.Time: equal instants from two decoders differ as map keys
	}
	var mu sync.Mutex
	streamed := map[key]stream.Bar{}
	keep := func(b stream.Bar) {
		mu.Lock()
		streamed[key{b.Symbol, b.Timestamp.UnixNano()}] = b
		mu.Unlock()
	}
	sc := stream.NewStocksClient("iex", stream.WithBaseURL(baseURL(srv)), stream.WithCredentials("k", "s"),
		stream.WithLogger(stream.ErrorOnlyLogger()), stream.WithBars(keep, "*"), stream.WithUpdatedBars(keep, "*"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := sc.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "200 streamed bars", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(streamed) >= 200
	}, nil)
	// Bars of minutes older than the :30 mark of the last one are final
	// (no update can come for them any more at this simulated speed).
	mu.Lock()
	var latest int64
	for k := range streamed {
		latest = max(latest, k.t)
	}
	mu.Unlock()
	time.Sleep(500 * time.Millisecond) // let updates and the store catch up
	end := time.Unix(0, latest).Add(-2 * time.Minute)

	rc := marketdata.NewClient(marketdata.ClientOpts{BaseURL: "http://" + srv.Addr().String(), APIKey: "k", APISecret: "s"})
	syms := srv.opts.Symbols
	if srv.opts.Source != nil {
		syms = []string{"AAPL", "MSFT", "NVDA", "SPY", "FAKEPACA"}
	}
	got, err := rc.GetMultiBars(syms, marketdata.GetBarsRequest{TimeFrame: marketdata.OneMin, Start: start0.Add(-time.Hour), End: end, PageLimit: 37})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	mu.Lock()
	defer mu.Unlock()
	for sym, bars := range got {
		for _, b := range bars {
			want, ok := streamed[key{sym, b.Timestamp.UnixNano()}]
			if !ok {
				continue // before the stream client connected
			}
			n++
			if b.Open != want.Open || b.High != want.High || b.Low != want.Low || b.Close != want.Close ||
				b.Volume != want.Volume || b.TradeCount != want.TradeCount || b.VWAP != want.VWAP {
				t.Fatalf("%s %s: REST %+v, streamed %+v", sym, b.Timestamp, b, want)
			}
		}
	}
	// And every streamed bar in the window is served.
	for k := range streamed {
		if k.t > end.UnixNano() || !contains(syms, k.sym) {
			continue
		}
		found := false
		for _, b := range got[k.sym] {
			found = found || b.Timestamp.UnixNano() == k.t
		}
		if !found {
			t.Fatalf("streamed bar %s %s missing from REST", k.sym, time.Unix(0, k.t).UTC())
		}
	}
	if n < 20 {
		t.Fatalf("only %d bars compared", n)
	}

	lt, err := rc.GetLatestTrade("AAPL", marketdata.GetLatestTradeRequest{})
	if err != nil || lt.Price <= 0 || lt.Timestamp.Before(start0) {
		t.Fatalf("latest trade %+v %v", lt, err)
	}
	snap, err := rc.GetSnapshot("AAPL", marketdata.GetSnapshotRequest{})
	if err != nil || snap.LatestQuote == nil || snap.LatestQuote.BidPrice >= snap.LatestQuote.AskPrice || snap.MinuteBar == nil || snap.DailyBar == nil {
		t.Fatalf("snapshot %+v %v", snap, err)
	}
	trades, err := rc.GetTrades("AAPL", marketdata.GetTradesRequest{Start: start0, End: end, TotalLimit: 500})
	if err != nil || len(trades) != 500 {
		t.Fatalf("%d trades, %v", len(trades), err)
	}
	for i := 1; i < len(trades); i++ {
		if trades[i].Timestamp.Before(trades[i-1].Timestamp) {
			t.Fatal("trades out of time order")
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// TestRESTDefaultEndFollowsTheFeed: with the simulated clock days ahead of
// the wall clock, a bars request without end returns every bar up to the
// feed's clock (with the wall clock as its end it would return none), and
// trades/latest agrees with the newest trade.
func TestRESTDefaultEndFollowsTheFeed(t *testing.T) {
	ahead := time.Now().UTC().Add(96 * time.Hour).Truncate(24 * time.Hour).Add(15 * time.Hour)
	srv, _ := start(t, Options{Symbols: []string{"AAPL"}, Seed: 2, Rate: 200, Speed: 600, SimStart: ahead})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	waitFor(t, ctx, "five simulated minutes", func() bool {
		return srv.pipeline.Stats().FeedNow > ahead.Add(5*time.Minute).UnixNano()
	}, nil)
	start := ahead.Format(time.RFC3339)
	resp, err := http.Get("http://" + srv.Addr().String() + "/v2/stocks/bars?symbols=AAPL&timeframe=1Min&start=" + start)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Bars map[string][]struct {
			T time.Time `json:"t"`
		} `json:"bars"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if n := len(body.Bars["AAPL"]); n < 4 {
		t.Fatalf("%d bars since %s without end: the default end is not the feed's clock", n, start)
	}
}
