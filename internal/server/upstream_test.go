package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata/stream"

	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
)

// upstreamPair runs a simulated Tape as the upstream and a second Tape in
// front of it with --feed alpaca pointing at it.
func upstreamPair(t *testing.T, upOpts Options) (up, proxy *Server) {
	t.Helper()
	if upOpts.Source == nil {
		upOpts.Source = simSource(t, 2000, 10)
	}
	up, _ = start(t, upOpts)
	proxy, _ = start(t, Options{Feed: "alpaca", AlpacaStreamURL: "ws://" + up.Addr().String() + "/v2", AlpacaFeed: "sip",
		AlpacaDataURL: "http://" + up.Addr().String(), AlpacaKey: "k", AlpacaSecret: "s", Symbols: []string{"SPY"}})
	return up, proxy
}

// TestProxyOneUpstreamConnection: ten SDK clients with overlapping
// subscriptions behind Tape share one upstream connection whose
// subscription is the union plus the always-on symbols; a symbol nobody
// wants any more is unsubscribed upstream.
func TestProxyOneUpstreamConnection(t *testing.T) {
	up, proxy := upstreamPair(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	symsets := [][]string{{"AAPL"}, {"AAPL", "MSFT"}, {"MSFT"}, {"NVDA"}, {"AAPL"}, {"TSLA", "AAPL"}, {"MSFT"}, {"AMD"}, {"AAPL"}, {"NVDA", "MSFT"}}
	var clients []*stream.StocksClient
	var counts [10]atomic.Int64
	var bad atomic.Value
	for i, syms := range symsets {
		want := map[string]bool{}
		for _, s := range syms {
			want[s] = true
		}
		c := stream.NewStocksClient("iex", stream.WithBaseURL(baseURL(proxy)), stream.WithCredentials("k", "s"),
			stream.WithLogger(stream.ErrorOnlyLogger()), stream.WithTrades(func(tr stream.Trade) {
				if !want[tr.Symbol] {
					bad.Store(tr.Symbol)
				}
				counts[i].Add(1)
			}, syms...))
		if err := c.Connect(ctx); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		clients = append(clients, c)
	}
	waitFor(t, ctx, "trades at every client", func() bool {
		for i := range counts {
			if counts[i].Load() == 0 {
				return false
			}
		}
		return true
	}, nil)
	if s := bad.Load(); s != nil {
		t.Fatalf("a client got a trade of %v it did not subscribe to", s)
	}
	if n := up.stream.Stats().Sessions; n != 1 {
		t.Fatalf("%d upstream connections, want 1", n)
	}
	subs := up.hub.Subscribers()
	if len(subs) != 1 {
		t.Fatalf("upstream has %d subscribers", len(subs))
	}
	// trades: AAPL MSFT NVDA TSLA AMD SPY = 6, plus SPY on 6 other channels.
	if subs[0].Symbols != 12 {
		t.Fatalf("upstream subscription has %d symbol-channels, want 12", subs[0].Symbols)
	}
	// AMD's only client leaves: AMD is unsubscribed upstream.
	if err := clients[7].UnsubscribeFromTrades("AMD"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "AMD unsubscribed upstream", func() bool { return up.hub.Subscribers()[0].Symbols == 11 }, nil)
}

// TestProxyUpstreamRefusal: when the upstream refuses a subscription (405
// symbol limit), the client that asked gets 405 and the others carry on.
func TestProxyUpstreamRefusal(t *testing.T) {
	up, proxy := upstreamPair(t, Options{MaxSymbols: 3}) // SPY + two more
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var aTrades int
	a := stream.NewStocksClient("iex", stream.WithBaseURL(baseURL(proxy)), stream.WithCredentials("k", "s"),
		stream.WithLogger(stream.ErrorOnlyLogger()), stream.WithTrades(func(stream.Trade) { mu.Lock(); aTrades++; mu.Unlock() }, "AAPL", "MSFT"))
	if err := a.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	b := stream.NewStocksClient("iex", stream.WithBaseURL(baseURL(proxy)), stream.WithCredentials("k", "s"),
		stream.WithLogger(stream.ErrorOnlyLogger()))
	if err := b.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	err := b.SubscribeToTrades(func(stream.Trade) {}, "NVDA")
	if !errors.Is(err, stream.ErrSymbolLimitExceeded) {
		t.Fatalf("b subscribing over the upstream limit: %v", err)
	}
	mu.Lock()
	before := aTrades
	mu.Unlock()
	waitFor(t, ctx, "a keeps receiving", func() bool { mu.Lock(); defer mu.Unlock(); return aTrades > before }, nil)
	if n := up.stream.Stats().Sessions; n != 1 {
		t.Fatalf("%d upstream connections", n)
	}
}

// TestProxyResumeAcrossReconnect: with the upstream being another Tape
// (--upstream-resume), a dropped upstream connection costs a client of the
// proxy nothing: it receives exactly the upstream's trades, in the
// upstream's order, with no gap and no duplicate, across the reconnect.
func TestProxyResumeAcrossReconnect(t *testing.T) {
	upDir := t.TempDir()
	up, stopUp := start(t, Options{DataDir: upDir, Source: simSource(t, 2000, 10)})
	proxy, _ := start(t, Options{Feed: "alpaca", AlpacaStreamURL: "ws://" + up.Addr().String() + "/v2", AlpacaFeed: "sip",
		AlpacaKey: "k", AlpacaSecret: "s", UpstreamResume: true})
	type tradeKey struct {
		sym string
		id  int64
	}
	var mu sync.Mutex
	var got []tradeKey
	c := stream.NewStocksClient("iex", stream.WithBaseURL(baseURL(proxy)), stream.WithCredentials("k", "s"),
		stream.WithLogger(stream.ErrorOnlyLogger()), stream.WithTrades(func(tr stream.Trade) {
			mu.Lock()
			got = append(got, tradeKey{tr.Symbol, tr.ID})
			mu.Unlock()
		}, "*"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	n := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	waitFor(t, ctx, "trades before the drop", func() bool { return n() > 300 }, nil)
	proxy.src.main.(interface{ Disconnect() }).Disconnect()
	time.Sleep(200 * time.Millisecond) // the upstream keeps trading meanwhile
	before := n()
	waitFor(t, ctx, "trades after the reconnect", func() bool { return n() > before+1000 }, nil)
	c0, re, _ := proxy.src.main.(interface {
		Stats() (uint64, uint64, string)
	}).Stats()
	if c0 < 2 || re < 1 {
		t.Fatalf("no reconnect happened: connects %d reconnects %d", c0, re)
	}
	stopUp()

	// The upstream journal's trades from the first to the last one the
	// client got must be exactly the client's list.
	mu.Lock()
	defer mu.Unlock()
	j, err := journal.Open(upDir+"/journal", journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	r, _ := j.NewReader(0)
	defer r.Close()
	var in market.Interner
	var e market.Event
	i := -1
	for {
		rec, ok, err := r.TryNext()
		if err != nil || !ok {
			break
		}
		if market.DecodeBinary(rec.Payload, &e, &in) != nil || e.Kind != market.KindTrade {
			continue
		}
		k := tradeKey{e.Symbol, e.Trade.ID}
		if i < 0 {
			if k != got[0] {
				continue // before the client subscribed
			}
			i = 0
		}
		if i == len(got) {
			break
		}
		if got[i] != k {
			t.Fatalf("trade %d: client got %v, upstream journal has %v (a gap or a duplicate)", i, got[i], k)
		}
		i++
	}
	if i != len(got) {
		t.Fatalf("matched %d of %d trades", i, len(got))
	}
}

// TestProxyFatalUpstream: an upstream that refuses the keys (402) stops
// that endpoint, not Tape: /healthz answers 503 and says why, the metric
// shows it, and the history API still works.
func TestProxyFatalUpstream(t *testing.T) {
	up, _ := start(t, Options{Source: simSource(t, 100, 1), Keys: map[string]string{"right": "key"}})
	proxy, _ := start(t, Options{Feed: "alpaca", AlpacaStreamURL: "ws://" + up.Addr().String() + "/v2", AlpacaFeed: "sip",
		AlpacaKey: "wrong", AlpacaSecret: "key"})
	base := "http://" + proxy.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var body string
	waitFor(t, ctx, "/healthz to report the failed upstream", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusServiceUnavailable
	}, nil)
	if !strings.Contains(body, `"status":"failed"`) || !strings.Contains(body, "402") {
		t.Fatalf("healthz: %s", body)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), `tape_upstream_failed{stream="alpaca"} 1`) {
		t.Fatal("metrics do not show the failed upstream")
	}
	resp, err = http.Get(base + "/v2/stocks/bars?symbols=AAPL&timeframe=1Min")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("history API with a failed upstream: %v %v", resp.Status, err)
	}
	resp.Body.Close()
}
