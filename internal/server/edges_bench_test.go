package server

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/cluster/clustertest"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/streamclient"
)

// BenchmarkEdgeFanout serves the same clients from one edge and from two:
// an origin Tape publishes paced trades into JetStream (one embedded NATS
// server), each edge (--feed nats) consumes the stream into its own
// journal, history and hub, and the clients, spread evenly over the edges,
// subscribe to trades "*". It reports the deliveries per second all
// clients received, the end-to-end latency (trade timestamp at the origin
// to receipt by a client; every 16th message sampled) and how many edges'
// clients were served.
//
// Everything shares this machine's cores, so a second edge cannot add
// capacity here: the figures show what an edge costs and that splitting
// clients adds no latency. On separate machines each edge brings its own
// cores and sockets. edges=0 is the baseline: the same clients on one Tape
// without NATS.
func BenchmarkEdgeFanout(b *testing.B) {
	const (
		clients = 100
		measure = 3 * time.Second
	)
	for _, tc := range []struct{ rate, edges int }{{2_000, 0}, {2_000, 1}, {2_000, 2}, {10_000, 0}, {10_000, 1}, {10_000, 2}} {
		rate, edges := tc.rate, tc.edges // trades/s at the origin; edges serving the clients
		b.Run(fmt.Sprintf("trades=%d/edges=%d", rate, edges), func(b *testing.B) {
			for b.Loop() {
				var urls []string
				var stops []func()
				if edges == 0 {
					// The baseline: one Tape, no NATS, serves the clients itself.
					o, stop := startBench(b, Options{Source: pacedTrades{rate: rate}, Fsync: "never"})
					urls, stops = []string{"ws://" + o.Addr().String() + "/v2/iex"}, []func(){stop}
				} else {
					nats := clustertest.Single(b)
					stream := fmt.Sprintf("EDGES%d_%d", rate, edges)
					_, stop := startBench(b, Options{Source: pacedTrades{rate: rate}, Fsync: "never",
						NATS: nats.URL(), NATSStream: stream})
					stops = append(stops, stop)
					for range edges {
						e, stop := startBench(b, Options{Feed: "nats", NATS: nats.URL(), NATSStream: stream, Fsync: "never"})
						urls = append(urls, "ws://"+e.Addr().String()+"/v2/iex")
						stops = append(stops, stop)
					}
				}
				got, lat := fanoutRate(b, urls, clients, measure)
				for _, stop := range slices.Backward(stops) {
					stop()
				}
				b.ReportMetric(got, "deliveries/s")
				b.ReportMetric(100*got/float64(rate*clients), "%-of-published")
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			}
		})
	}
}

// fanoutRate connects n msgpack clients to urls (round robin), waits until
// every one has received a trade, then counts for d. It returns the
// deliveries per second and the sorted sampled latencies.
func fanoutRate(b *testing.B, urls []string, n int, d time.Duration) (float64, []time.Duration) {
	var sub alpacawire.Subscription
	sub[market.ChanTrades] = []string{"*"}
	var (
		count    atomic.Int64
		started  atomic.Int64
		sampling atomic.Bool
		mu       sync.Mutex
		lat      []time.Duration
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	for i := range n {
		c, err := streamclient.New(streamclient.Options{URL: urls[i%len(urls)], Subscription: sub})
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			first := true
			var seen uint64
			c.Run(ctx, func(msgs []alpacawire.Message) {
				if first {
					first = false
					started.Add(1)
				}
				count.Add(int64(len(msgs)))
				if !sampling.Load() {
					return
				}
				now := time.Now().UnixNano()
				for j := range msgs {
					if seen++; seen%16 == 0 && msgs[j].Event.Kind == market.KindTrade {
						mu.Lock()
						lat = append(lat, time.Duration(now-msgs[j].Event.Time))
						mu.Unlock()
					}
				}
			})
		})
	}
	defer func() { cancel(); wg.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for started.Load() < int64(n) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d clients received a trade within 30 s", started.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Second) // settle: the backlog of the start drains
	sampling.Store(true)
	n0, t0 := count.Load(), time.Now()
	time.Sleep(d)
	got, el := count.Load()-n0, time.Since(t0)
	sampling.Store(false)
	mu.Lock()
	out := slices.Clone(lat)
	mu.Unlock()
	if len(out) == 0 {
		b.Fatal("no latency samples")
	}
	slices.Sort(out)
	return float64(got) / el.Seconds(), out
}
