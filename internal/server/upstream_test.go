package server

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata/stream"
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
		AlpacaKey: "k", AlpacaSecret: "s", Symbols: []string{"SPY"}})
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
