package server

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/alpacahq/alpaca-trade-api-go/v3/alpaca"
	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata"
	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata/stream"

	"github.com/tapehq/tape/internal/calendar"
	"github.com/tapehq/tape/internal/options"
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
	sc := stream.NewStocksClient("sip", stream.WithBaseURL(baseURL(srv)), stream.WithCredentials("k", "s"),
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
		return srv.pipe().Stats().FeedNow > ahead.Add(5*time.Minute).UnixNano()
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

// TestTradingAPIMarketEndpoints: the official Go SDK's trading client reads
// the clock, the calendar and the assets from a running Tape: the clock is
// the simulator's (a Saturday run says the market is closed and names
// Monday's open), assets list the simulated stocks and crypto pairs, and an
// unknown API path answers Alpaca's JSON error shape.
func TestTradingAPIMarketEndpoints(t *testing.T) {
	saturday := time.Date(2026, 12, 5, 15, 0, 0, 0, time.UTC)
	srv, _ := start(t, Options{Symbols: []string{"AAPL", "MSFT"}, Seed: 1, Rate: 100, Speed: 1, SimStart: saturday})
	base := "http://" + srv.Addr().String()
	c := alpaca.NewClient(alpaca.ClientOpts{BaseURL: base, APIKey: "k", APISecret: "s"})
	clock, err := c.GetClock()
	if err != nil {
		t.Fatal(err)
	}
	if clock.IsOpen || clock.Timestamp.Before(saturday) || !clock.NextOpen.Equal(time.Date(2026, 12, 7, 14, 30, 0, 0, time.UTC)) {
		t.Fatalf("clock %+v", clock)
	}
	days, err := c.GetCalendar(alpaca.GetCalendarRequest{Start: time.Date(2026, 12, 21, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 28, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var dates []string
	for _, d := range days {
		dates = append(dates, d.Date+" "+d.Close)
	}
	if got := strings.Join(dates, ","); got != "2026-12-21 16:00,2026-12-22 16:00,2026-12-23 16:00,2026-12-24 13:00,2026-12-28 16:00" {
		t.Fatalf("calendar around Christmas: %s", got)
	}
	assets, err := c.GetAssets(alpaca.GetAssetsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, a := range assets {
		have[a.Symbol] = true
	}
	crypto, err := c.GetAssets(alpaca.GetAssetsRequest{AssetClass: "crypto"})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range crypto {
		have[a.Symbol] = true
	}
	if !have["AAPL"] || !have["MSFT"] || !have["BTC/USD"] {
		t.Fatalf("assets %v", have)
	}
	resp, err := http.Get(base + "/v2/nope")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(string(body), "{") {
		t.Fatalf("unknown path: %d %s", resp.StatusCode, body)
	}
}

// TestFreshRecordHasAPast: a fresh simulator Tape starts with a synthetic
// past, written before it serves: the official SDK's snapshot has a
// previous daily bar from the first request, daily bars cover the past
// month, the past's last close is where the live market starts, and the
// news API has articles.
func TestFreshRecordHasAPast(t *testing.T) {
	start0 := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC) // a Wednesday, regular session
	srv, _ := start(t, Options{Symbols: []string{"AAPL", "SPY"}, CryptoSymbols: []string{"BTC/USD"}, Seed: 3, Rate: 200,
		Speed: 1, SimStart: start0, PastDays: 40, PastMinuteDays: 2})
	md := marketdata.NewClient(marketdata.ClientOpts{BaseURL: "http://" + srv.Addr().String()})
	snap, err := md.GetSnapshot("AAPL", marketdata.GetSnapshotRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if snap == nil || snap.PrevDailyBar == nil || snap.DailyBar == nil {
		t.Fatalf("snapshot without a past: %+v", snap)
	}
	days, err := md.GetBars("AAPL", marketdata.GetBarsRequest{TimeFrame: marketdata.OneDay, Start: start0.AddDate(0, 0, -40), End: start0})
	if err != nil {
		t.Fatal(err)
	}
	if len(days) < 25 { // trading days in 40 calendar days
		t.Fatalf("%d daily bars in the past 40 days", len(days))
	}
	last := days[len(days)-1]
	var trades []marketdata.Trade
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitFor(t, ctx, "a live trade", func() bool {
		trades, err = md.GetTrades("AAPL", marketdata.GetTradesRequest{Start: start0, TotalLimit: 1})
		return err == nil && len(trades) > 0
	}, nil)
	if jump := math.Abs(trades[0].Price-last.Close) / last.Close; jump > 0.02 {
		t.Fatalf("the live market starts at %.2f, the past closed at %.2f", trades[0].Price, last.Close)
	}
	crypto, err := md.GetCryptoBars("BTC/USD", marketdata.GetCryptoBarsRequest{TimeFrame: marketdata.OneMin,
		Start: start0.Add(-time.Hour), End: start0})
	if err != nil || len(crypto) < 50 {
		t.Fatalf("%d crypto minute bars in the hour before the start: %v", len(crypto), err)
	}
	news, err := md.GetNews(marketdata.GetNewsRequest{Start: start0.AddDate(0, 0, -3), End: start0})
	if err != nil || len(news) == 0 {
		t.Fatalf("no news in the past: %d, %v", len(news), err)
	}
}

// TestCryptoDayContinuesThePast: a fresh record's past holds the crypto
// minutes of the current day up to the start (crypto trades around the
// clock), so the live daily bar of that day, which replaces the past's in
// history, continues it: it opens at the past's first minute of the day
// and counts the past's volume.
func TestCryptoDayContinuesThePast(t *testing.T) {
	start0 := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC) // 09:00 in Chicago, where a crypto day begins
	srv, _ := start(t, Options{Symbols: []string{"AAPL"}, CryptoSymbols: []string{"BTC/USD"}, Seed: 3, Rate: 200,
		Speed: 300, SimStart: start0, PastDays: 3, PastMinuteDays: 1})
	md := marketdata.NewClient(marketdata.ClientOpts{BaseURL: "http://" + srv.Addr().String()})
	day := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var live []marketdata.CryptoBar
	waitFor(t, ctx, "two live crypto minute bars", func() bool {
		var err error
		live, err = md.GetCryptoBars("BTC/USD", marketdata.GetCryptoBarsRequest{TimeFrame: marketdata.OneMin, Start: start0})
		return err == nil && len(live) >= 2
	}, nil)
	past, err := md.GetCryptoBars("BTC/USD", marketdata.GetCryptoBarsRequest{TimeFrame: marketdata.OneMin, Start: day,
		End: start0.Add(-time.Minute)})
	if err != nil || len(past) < 500 { // 06:00 to 14:59: 540 minutes
		t.Fatalf("%d crypto minute bars of the day before the start: %v", len(past), err)
	}
	var pastVolume float64
	for _, b := range past {
		pastVolume += b.Volume
	}
	days, err := md.GetCryptoBars("BTC/USD", marketdata.GetCryptoBarsRequest{TimeFrame: marketdata.OneDay, Start: day, End: day})
	if err != nil || len(days) != 1 {
		t.Fatalf("daily bars of the day: %+v, %v", days, err)
	}
	d := days[0]
	if d.Open != past[0].Open || d.Volume < pastVolume+live[0].Volume*0.999 {
		t.Fatalf("the day's bar %+v does not continue the past (first minute %+v, past volume %.4f, first live minute %.4f)",
			d, past[0], pastVolume, live[0].Volume)
	}
}

// TestSimulatedOptions: a simulator Tape serves an options market on its
// stocks to the official Go SDK from the first request: a chain listed
// around the previous close, with quotes at the live price, and trades
// and bars through the synthetic past's sessions.
func TestSimulatedOptions(t *testing.T) {
	start0 := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC) // a Wednesday, regular session
	srv, _ := start(t, Options{Symbols: []string{"AAPL"}, Seed: 3, Rate: 200, Speed: 1, SimStart: start0,
		PastDays: 5, PastMinuteDays: 2})
	md := marketdata.NewClient(marketdata.ClientOpts{BaseURL: "http://" + srv.Addr().String()})
	snap, err := md.GetSnapshot("AAPL", marketdata.GetSnapshotRequest{})
	if err != nil || snap == nil || snap.PrevDailyBar == nil {
		t.Fatalf("stock snapshot %+v, %v", snap, err)
	}
	ref := snap.PrevDailyBar.Close
	chain, err := md.GetOptionChain("AAPL", marketdata.GetOptionChainRequest{
		ExpirationDateLte: civil.Date{Year: 2026, Month: 12, Day: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) < 20 {
		t.Fatalf("this week's chain has %d contracts", len(chain))
	}
	var atm string
	for sym, s := range chain {
		c, err := options.Parse(sym)
		if err != nil || c.Expiry != calendar.NewDate(2026, 12, 4) {
			t.Fatalf("%s: %v", sym, err)
		}
		if k := c.Strike(); k < ref*0.79 || k > ref*1.21 {
			t.Fatalf("%s listed beyond 20%% of the previous close %.2f", sym, ref)
		}
		if s.LatestQuote == nil || s.Greeks == nil {
			t.Fatalf("%s has no quote or greeks", sym)
		}
		if !c.Put && math.Abs(c.Strike()-ref) < options.StrikeStep(ref) && s.LatestTrade != nil {
			atm = sym
		}
	}
	if atm == "" {
		t.Fatal("no at-the-money call traded in the past sessions")
	}
	bars, err := md.GetOptionBars(atm, marketdata.GetOptionBarsRequest{TimeFrame: marketdata.OneDay, Start: start0.AddDate(0, 0, -3), End: start0})
	if err != nil || len(bars) < 2 {
		t.Fatalf("%s daily bars over the past sessions: %+v, %v", atm, bars, err)
	}
}
