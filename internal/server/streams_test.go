package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata"
	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata/stream"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/hub"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/wsapi"
)

// fakeAlpaca serves Alpaca's stock, crypto, options and news streams from
// one hub the test publishes into: a scripted upstream built from Tape's
// own protocol pieces.
type fakeAlpaca struct {
	hub     *hub.Hub
	streams map[string]*wsapi.Server
	url     string
}

func newFakeAlpaca(t *testing.T) *fakeAlpaca {
	t.Helper()
	f := &fakeAlpaca{hub: hub.New(hub.Options{Formats: wsapi.HubFormats}), streams: map[string]*wsapi.Server{}}
	mux := http.NewServeMux()
	for path, st := range map[string]*alpacawire.Stream{"/v2/sip": alpacawire.StreamStocks, "/v1beta3/crypto/us": alpacawire.StreamCrypto,
		"/v1beta1/indicative": alpacawire.StreamOptions, "/v1beta1/news": alpacawire.StreamNews} {
		ws := wsapi.New(wsapi.Options{Hub: f.hub, Stream: st})
		f.streams[path] = ws
		mux.Handle(path, ws)
	}
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		for _, ws := range f.streams {
			ws.Close()
		}
		hs.Close()
	})
	f.url = "ws" + strings.TrimPrefix(hs.URL, "http") + "/v2"
	return f
}

// TestProxyCryptoOptionsNews: the official SDK's crypto, option and news
// clients, pointed at Tape, receive what the (fake) Alpaca upstream sends,
// each stream over exactly one upstream connection.
func TestProxyCryptoOptionsNews(t *testing.T) {
	up := newFakeAlpaca(t)
	proxy, _ := start(t, Options{Feed: "alpaca", AlpacaStreamURL: up.url, AlpacaFeed: "sip", AlpacaKey: "k", AlpacaSecret: "s",
		AlpacaCrypto: "us", AlpacaOptions: "indicative", AlpacaNews: true})
	base := "ws://" + proxy.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var crypto, option, news atomic.Int64
	var cryptoSize atomic.Value
	cc := stream.NewCryptoClient(marketdata.US, stream.WithBaseURL(base+"/v1beta3/crypto"), stream.WithCredentials("k", "s"),
		stream.WithLogger(stream.ErrorOnlyLogger()),
		stream.WithCryptoTrades(func(tr stream.CryptoTrade) { crypto.Add(1); cryptoSize.Store(tr.Size) }, "BTC/USD"))
	oc := stream.NewOptionClient(marketdata.Indicative, stream.WithBaseURL(base+"/v1beta1"), stream.WithCredentials("k", "s"),
		stream.WithLogger(stream.ErrorOnlyLogger()),
		stream.WithOptionTrades(func(stream.OptionTrade) { option.Add(1) }, "AAPL240315C00172500"))
	nc := stream.NewNewsClient(stream.WithBaseURL(base+"/v1beta1/news"), stream.WithCredentials("k", "s"),
		stream.WithLogger(stream.ErrorOnlyLogger()),
		stream.WithNews(func(stream.News) { news.Add(1) }, "*"))
	for name, c := range map[string]interface{ Connect(context.Context) error }{"crypto": cc, "options": oc, "news": nc} {
		if err := c.Connect(ctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	now := time.Now().UnixNano()
	evs := []market.Event{
		{Kind: market.KindCryptoTrade, Symbol: "BTC/USD", Time: now, CryptoTrade: market.CryptoTrade{ID: 1, Price: 91234.5, Size: 0.0123, TakerSide: 'B'}},
		{Kind: market.KindOptionTrade, Symbol: "AAPL240315C00172500", Time: now, Trade: market.Trade{ID: 2, Price: 3.45, Size: 10, Exchange: 'C', Conditions: market.MakeConditions("I")}},
		{Kind: market.KindNews, Time: now, News: &market.News{ID: 3, Headline: "Tape ships", CreatedAt: now, UpdatedAt: now, Symbols: []string{"AAPL"}, Source: "benzinga"}},
	}
	waitFor(t, ctx, "crypto, option and news messages through Tape", func() bool {
		up.hub.Publish(evs)
		return crypto.Load() > 0 && option.Load() > 0 && news.Load() > 0
	}, nil)
	if got := cryptoSize.Load(); got != 0.0123 {
		t.Fatalf("crypto size %v, want the fractional 0.0123", got)
	}
	for path, ws := range up.streams {
		if n := ws.Stats().Sessions; n != 1 {
			t.Errorf("%s: %d upstream connections, want 1", path, n)
		}
	}
	st := proxy.Status()
	if len(st.Upstreams) != 3 {
		t.Fatalf("status upstreams %+v", st.Upstreams)
	}
	for _, u := range st.Upstreams {
		if u.State != "connected" {
			t.Errorf("%s is %s (%s)", u.Name, u.State, u.LastError)
		}
	}
}

// TestSimulatedCrypto: the default simulator trades crypto around the
// clock, on Alpaca's crypto stream: the official Go SDK's crypto client
// gets BTC/USD trades (fractional sizes, a taker side), quotes, and an
// order book that starts with a full snapshot — on a Saturday, when US
// equities are closed.
func TestSimulatedCrypto(t *testing.T) {
	saturday := time.Date(2026, 12, 5, 15, 0, 0, 0, time.UTC)
	srv, _ := start(t, Options{Symbols: []string{"AAPL"}, Seed: 4, Rate: 2000, Speed: 60, SimStart: saturday})
	// Subscribe after the books have moved on from their first snapshot.
	time.Sleep(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var trades, quotes, books, bars atomic.Int64
	var firstBook atomic.Value
	var badSize atomic.Bool
	cc := stream.NewCryptoClient(marketdata.US, stream.WithBaseURL("ws://"+srv.Addr().String()+"/v1beta3/crypto"),
		stream.WithCredentials("k", "s"), stream.WithLogger(stream.ErrorOnlyLogger()),
		stream.WithCryptoTrades(func(tr stream.CryptoTrade) {
			if tr.Size <= 0 || tr.TakerSide == "" {
				badSize.Store(true)
			}
			trades.Add(1)
		}, "BTC/USD"),
		stream.WithCryptoQuotes(func(stream.CryptoQuote) { quotes.Add(1) }, "BTC/USD"),
		stream.WithCryptoBars(func(b stream.CryptoBar) {
			if b.Volume > 0 && b.High >= b.Low {
				bars.Add(1)
			}
		}, "BTC/USD"),
		stream.WithCryptoOrderbooks(func(ob stream.CryptoOrderbook) {
			if books.Add(1) == 1 {
				firstBook.Store(ob.Reset)
			}
		}, "BTC/USD"))
	if err := cc.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "crypto trades, quotes, books and minute bars", func() bool {
		return trades.Load() > 5 && quotes.Load() > 5 && books.Load() > 5 && bars.Load() > 1
	}, nil)
	if badSize.Load() {
		t.Fatal("a crypto trade without a size or taker side")
	}
	// The first book message a subscriber gets is a full snapshot, however
	// late it subscribes, as at Alpaca.
	if reset, _ := firstBook.Load().(bool); !reset {
		t.Fatal("the first order book message is not a snapshot (r=true)")
	}
	// The REST API's latest order book is the same book.
	resp, err := http.Get("http://" + srv.Addr().String() + "/v1beta3/crypto/us/latest/orderbooks?symbols=BTC/USD")
	if err != nil {
		t.Fatal(err)
	}
	var ob struct {
		Orderbooks map[string]struct {
			B []struct{ P, S float64 } `json:"b"`
			A []struct{ P, S float64 } `json:"a"`
		} `json:"orderbooks"`
	}
	json.NewDecoder(resp.Body).Decode(&ob)
	resp.Body.Close()
	if b := ob.Orderbooks["BTC/USD"]; len(b.B) == 0 || len(b.A) == 0 || b.B[0].P >= b.A[0].P {
		t.Fatalf("latest order book %+v", ob)
	}
	// Crypto history through the official SDK's REST client.
	md := marketdata.NewClient(marketdata.ClientOpts{BaseURL: "http://" + srv.Addr().String()})
	hist, err := md.GetCryptoTrades("BTC/USD", marketdata.GetCryptoTradesRequest{Start: saturday})
	if err != nil || len(hist) == 0 {
		t.Fatalf("crypto trades from history: %d, %v", len(hist), err)
	}
	// US equities are closed on a Saturday: no regular-session trades.
	res, err := srv.dir.History.Trades(ctx, history.Query{Symbols: []string{"AAPL"}, Start: saturday.UnixNano(),
		End: saturday.Add(24 * time.Hour).UnixNano(), Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Events {
		if !e.Trade.Conditions.Has('T') && !e.Trade.Conditions.Has('U') {
			t.Fatalf("a Saturday trade outside extended hours: %+v", e.Trade)
		}
	}
}

// TestSimulatedNews: the simulator's news flow on Alpaca's news stream
// (official Go SDK news client) and in the news REST API on the same path.
func TestSimulatedNews(t *testing.T) {
	srv, _ := start(t, Options{Symbols: []string{"AAPL", "MSFT"}, Seed: 4, Rate: 100, Speed: 10, News: 3600, SimStart: regularSession()})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got atomic.Int64
	nc := stream.NewNewsClient(stream.WithBaseURL("ws://"+srv.Addr().String()+"/v1beta1/news"), stream.WithCredentials("k", "s"),
		stream.WithLogger(stream.ErrorOnlyLogger()), stream.WithNews(func(n stream.News) {
			if n.Headline != "" && len(n.Symbols) > 0 {
				got.Add(1)
			}
		}, "*"))
	if err := nc.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "news articles on the stream", func() bool { return got.Load() >= 3 }, nil)
	md := marketdata.NewClient(marketdata.ClientOpts{BaseURL: "http://" + srv.Addr().String()})
	var news []marketdata.News
	waitFor(t, ctx, "news in the REST API", func() bool {
		var err error
		news, err = md.GetNews(marketdata.GetNewsRequest{Symbols: []string{"AAPL", "MSFT"}, Start: regularSession()})
		return err == nil && len(news) >= 3
	}, nil)
}
