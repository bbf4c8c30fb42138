package server

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata"
	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata/stream"
)

// TestIEXFeed: with the simulator, the official Go SDK on the iex feed
// gets IEX's own market — only trades printed on IEX, IEX's quotes, bars
// of IEX's trades — and on the sip feed every exchange's; the REST API's
// feed=iex serves the same IEX record (trades, quotes, bars, latest,
// snapshots) and feed=sip (or none) the consolidated one.
func TestIEXFeed(t *testing.T) {
	srv, _ := start(t, Options{Seed: 3, Rate: 3000, Speed: 60, SimStart: regularSession(), Symbols: []string{"AAPL", "SPY"}})
	type feedData struct {
		mu     sync.Mutex
		trades []stream.Trade
		quotes []stream.Quote
		bars   map[int64]stream.Bar
	}
	collect := func(feed string, d *feedData) *stream.StocksClient {
		d.bars = map[int64]stream.Bar{}
		return stream.NewStocksClient(marketdata.Feed(feed), stream.WithBaseURL(baseURL(srv)), stream.WithCredentials("k", "s"),
			stream.WithLogger(stream.ErrorOnlyLogger()),
			stream.WithTrades(func(x stream.Trade) { d.mu.Lock(); d.trades = append(d.trades, x); d.mu.Unlock() }, "AAPL"),
			stream.WithQuotes(func(x stream.Quote) { d.mu.Lock(); d.quotes = append(d.quotes, x); d.mu.Unlock() }, "AAPL"),
			stream.WithBars(func(x stream.Bar) { d.mu.Lock(); d.bars[x.Timestamp.UnixNano()] = x; d.mu.Unlock() }, "AAPL"))
	}
	var iex, sip feedData
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, c := range []*stream.StocksClient{collect("iex", &iex), collect("sip", &sip)} {
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, ctx, "20 IEX trades and 3 IEX bars", func() bool {
		iex.mu.Lock()
		defer iex.mu.Unlock()
		return len(iex.trades) >= 20 && len(iex.bars) >= 3
	}, nil)
	iex.mu.Lock()
	sip.mu.Lock()
	for _, x := range iex.trades {
		if x.Exchange != "V" {
			t.Fatalf("iex feed: a trade on %q: %+v", x.Exchange, x)
		}
	}
	for _, q := range iex.quotes {
		if q.BidExchange != "V" || q.AskExchange != "V" || q.BidPrice >= q.AskPrice {
			t.Fatalf("iex feed: quote %+v", q)
		}
	}
	if len(iex.quotes) == 0 {
		t.Fatal("iex feed: no quotes")
	}
	onIEX, others := 0, 0
	for _, x := range sip.trades {
		if x.Exchange == "V" {
			onIEX++
		} else {
			others++
		}
	}
	if onIEX == 0 || others < 5*onIEX {
		t.Fatalf("sip feed: %d trades on IEX, %d elsewhere", onIEX, others)
	}
	sipQuoteVenues := map[string]bool{}
	for _, q := range sip.quotes {
		sipQuoteVenues[q.BidExchange] = true
	}
	if len(sipQuoteVenues) < 3 {
		t.Fatalf("sip feed: NBBO quotes from %d venues only", len(sipQuoteVenues))
	}
	compared := 0
	for ts, b := range iex.bars {
		s, ok := sip.bars[ts]
		if !ok {
			continue
		}
		compared++
		if b.Volume >= s.Volume || b.High > s.High || b.Low < s.Low || b.TradeCount > s.TradeCount {
			t.Fatalf("%s: IEX bar %+v against SIP bar %+v", time.Unix(0, ts).UTC(), b, s)
		}
	}
	if compared == 0 {
		t.Fatal("no minute with both an IEX and a SIP bar")
	}
	var lastBar int64
	for ts := range iex.bars {
		lastBar = max(lastBar, ts)
	}
	firstTrade := iex.trades[0].Timestamp
	iex.mu.Unlock()
	sip.mu.Unlock()
	time.Sleep(300 * time.Millisecond) // let the history store catch up

	rc := marketdata.NewClient(marketdata.ClientOpts{BaseURL: "http://" + srv.Addr().String(), APIKey: "k", APISecret: "s"})
	end := time.Unix(0, lastBar)
	from := firstTrade.Add(-time.Minute)
	restIEX, err := rc.GetTrades("AAPL", marketdata.GetTradesRequest{Feed: marketdata.IEX, Start: from, End: end})
	if err != nil || len(restIEX) == 0 {
		t.Fatalf("REST feed=iex trades: %d, %v", len(restIEX), err)
	}
	for _, x := range restIEX {
		if x.Exchange != "V" {
			t.Fatalf("REST feed=iex: trade on %q", x.Exchange)
		}
	}
	restSIP, err := rc.GetTrades("AAPL", marketdata.GetTradesRequest{Feed: marketdata.SIP, Start: from, End: end})
	if err != nil || len(restSIP) <= len(restIEX) {
		t.Fatalf("REST feed=sip trades: %d (iex %d), %v", len(restSIP), len(restIEX), err)
	}
	ids := map[int64]bool{}
	for _, x := range restSIP {
		if x.Exchange == "V" {
			ids[x.ID] = true
		}
	}
	if len(ids) != len(restIEX) {
		t.Fatalf("REST: %d IEX trades under feed=sip, %d under feed=iex", len(ids), len(restIEX))
	}
	for _, x := range restIEX {
		if !ids[x.ID] {
			t.Fatalf("REST feed=iex trade %d is not among the consolidated ones", x.ID)
		}
	}
	quotes, err := rc.GetQuotes("AAPL", marketdata.GetQuotesRequest{Feed: marketdata.IEX, Start: from, End: end, TotalLimit: 200})
	if err != nil || len(quotes) == 0 {
		t.Fatalf("REST feed=iex quotes: %d, %v", len(quotes), err)
	}
	for _, q := range quotes {
		if q.BidExchange != "V" || q.AskExchange != "V" {
			t.Fatalf("REST feed=iex quote %+v", q)
		}
	}
	bars, err := rc.GetBars("AAPL", marketdata.GetBarsRequest{Feed: marketdata.IEX, TimeFrame: marketdata.OneMin, Start: from, End: end})
	if err != nil || len(bars) == 0 {
		t.Fatalf("REST feed=iex bars: %d, %v", len(bars), err)
	}
	iex.mu.Lock()
	matched := 0
	for _, b := range bars {
		if s, ok := iex.bars[b.Timestamp.UnixNano()]; ok && b.Timestamp.UnixNano() < lastBar {
			matched++
			if s.Volume != b.Volume || s.TradeCount != b.TradeCount || s.Open != b.Open || s.Close != b.Close {
				t.Errorf("%s: REST feed=iex bar %+v, streamed on iex %+v", b.Timestamp, b, s)
			}
		}
	}
	iex.mu.Unlock()
	if matched == 0 {
		t.Fatal("no REST feed=iex bar matched a streamed one")
	}
	snap, err := rc.GetSnapshot("AAPL", marketdata.GetSnapshotRequest{Feed: marketdata.IEX})
	if err != nil || snap.LatestTrade == nil || snap.LatestTrade.Exchange != "V" || snap.LatestQuote == nil ||
		snap.LatestQuote.BidExchange != "V" || snap.DailyBar == nil {
		t.Fatalf("snapshot feed=iex %+v, %v", snap, err)
	}
	ssip, err := rc.GetSnapshot("AAPL", marketdata.GetSnapshotRequest{})
	if err != nil || ssip.DailyBar == nil || ssip.DailyBar.Volume <= snap.DailyBar.Volume {
		t.Fatalf("snapshot (sip) daily bar %+v against iex %+v, %v", ssip.DailyBar, snap.DailyBar, err)
	}
	lt, err := rc.GetLatestTrade("AAPL", marketdata.GetLatestTradeRequest{Feed: marketdata.IEX})
	if err != nil || lt.Exchange != "V" {
		t.Fatalf("latest trade feed=iex %+v, %v", lt, err)
	}
}

// TestEdgeServesTheIEXView: an edge following a simulated origin over
// NATS has the origin's IEX view (its journal is the origin's), so its
// iex feed — stream and REST — is IEX's own market too.
func TestEdgeServesTheIEXView(t *testing.T) {
	origin, _ := start(t, Options{Symbols: []string{"AAPL"}, Seed: 5, Rate: 500, Speed: 60, SimStart: regularSession(),
		CryptoSymbols: []string{}, NATS: "embedded", NATSListen: "127.0.0.1:0"})
	edge, _ := start(t, Options{Feed: "nats", NATS: origin.link.emb.ClientURL()})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	waitFor(t, ctx, "the edge's history to hold the IEX view", edge.dir.History.HasIEX, nil)
	var mu sync.Mutex
	var trades []stream.Trade
	var quotes []stream.Quote
	c := stream.NewStocksClient(marketdata.IEX, stream.WithBaseURL(baseURL(edge)), stream.WithCredentials("k", "s"),
		stream.WithLogger(stream.ErrorOnlyLogger()),
		stream.WithTrades(func(x stream.Trade) { mu.Lock(); trades = append(trades, x); mu.Unlock() }, "AAPL"),
		stream.WithQuotes(func(x stream.Quote) { mu.Lock(); quotes = append(quotes, x); mu.Unlock() }, "AAPL"))
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "IEX trades and quotes at the edge", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(trades) >= 5 && len(quotes) >= 5
	}, nil)
	mu.Lock()
	for _, x := range trades {
		if x.Exchange != "V" {
			t.Fatalf("edge iex feed: a trade on %q", x.Exchange)
		}
	}
	for _, q := range quotes {
		if q.BidExchange != "V" || q.AskExchange != "V" {
			t.Fatalf("edge iex feed: quote %+v", q)
		}
	}
	mu.Unlock()
	rc := marketdata.NewClient(marketdata.ClientOpts{BaseURL: "http://" + edge.Addr().String(), APIKey: "k", APISecret: "s"})
	lq, err := rc.GetLatestQuote("AAPL", marketdata.GetLatestQuoteRequest{Feed: marketdata.IEX})
	if err != nil || lq.BidExchange != "V" {
		t.Fatalf("edge latest quote feed=iex %+v, %v", lq, err)
	}
	lq, err = rc.GetLatestQuote("AAPL", marketdata.GetLatestQuoteRequest{Feed: marketdata.SIP})
	if err != nil || lq.BidPrice <= 0 {
		t.Fatalf("edge latest quote feed=sip %+v, %v", lq, err)
	}
}
