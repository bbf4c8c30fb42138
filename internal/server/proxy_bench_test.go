package server

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/streamclient"
)

// pacedTrades is a feed of trades at a fixed rate (0: as fast as the core
// takes them), in batches of 100.
type pacedTrades struct{ rate int }

func (p pacedTrades) Run(ctx context.Context, out chan<- feed.Batch) error {
	start := time.Now()
	var id int64
	syms := []string{"AAPL", "MSFT", "NVDA", "SPY", "TSLA"}
	for n := 0; ; n += 100 {
		if p.rate > 0 {
			if d := time.Until(start.Add(time.Duration(float64(n) / float64(p.rate) * float64(time.Second)))); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		now := time.Now().UnixNano()
		evs := make([]market.Event, 100)
		for i := range evs {
			id++
			evs[i] = market.Event{Kind: market.KindTrade, Symbol: syms[i%len(syms)], Time: now,
				Trade: market.Trade{ID: id, Price: 100.25, Size: 100, Exchange: 'V', Tape: 'C', Conditions: market.MakeConditions("@")}}
		}
		select {
		case out <- feed.Batch{Events: evs, Now: now}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// receiveRate counts trades a msgpack client gets from url over d.
func receiveRate(b *testing.B, url string, d time.Duration) float64 {
	var sub alpacawire.Subscription
	sub[market.ChanTrades] = []string{"*"}
	c, _ := streamclient.New(streamclient.Options{URL: url, Subscription: sub})
	var n atomic.Int64
	var first atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx, func(msgs []alpacawire.Message) {
			if first.Load() == 0 {
				first.Store(time.Now().UnixNano())
			}
			n.Add(int64(len(msgs)))
		})
	}()
	for first.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	n0 := n.Load()
	t0 := time.Now()
	time.Sleep(d)
	got := n.Load() - n0
	el := time.Since(t0)
	cancel()
	<-done
	return float64(got) / el.Seconds()
}

// BenchmarkProxyOverhead compares the rate a client receives directly from
// an upstream Tape with the rate it receives through a second Tape running
// --feed alpaca in front of it (PRODUCT.md: ≥ 95 %). All three — upstream,
// proxy, client — share the machine's 2 cores, which is the worst case for
// the proxy: at saturation it takes CPU from the upstream it measures.
func BenchmarkProxyOverhead(b *testing.B) {
	for _, tc := range []struct {
		name string
		rate int
	}{{"50k-msgs-per-s", 50_000}, {"200k-msgs-per-s", 200_000}, {"max", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				up, stopUp := startBench(b, Options{Source: pacedTrades{rate: tc.rate}, Fsync: "never"})
				direct := receiveRate(b, "ws://"+up.Addr().String()+"/v2/iex", 3*time.Second)
				proxy, stopProxy := startBench(b, Options{Feed: "alpaca", AlpacaStreamURL: "ws://" + up.Addr().String() + "/v2",
					AlpacaFeed: "iex", AlpacaKey: "k", AlpacaSecret: "s", Fsync: "never", AlpacaDataURL: "http://" + up.Addr().String()})
				via := receiveRate(b, "ws://"+proxy.Addr().String()+"/v2/iex", 3*time.Second)
				stopProxy()
				stopUp()
				b.ReportMetric(direct, "direct-msgs/s")
				b.ReportMetric(via, "via-tape-msgs/s")
				b.ReportMetric(100*via/direct, "%-of-direct")
			}
		})
	}
}

func startBench(b *testing.B, opts Options) (*Server, func()) {
	opts.Listen = "127.0.0.1:0"
	opts.DataDir = b.TempDir()
	srv, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	<-srv.Ready()
	return srv, func() { cancel(); <-done }
}
