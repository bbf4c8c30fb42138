package cluster_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/cluster"
	"github.com/tapehq/tape/internal/cluster/clustertest"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
)

// benchEnv is an origin publishing into a file stream and an edge reading
// it, on one server or a three-server cluster (R3).
type benchEnv struct {
	origin   *journal.Memory
	next     uint64        // next sequence number to append
	received atomic.Uint64 // last sequence number the edge emitted
	mu       sync.Mutex
	waiting  uint64         // sequence number a latency probe waits for
	arrived  chan time.Time // when it arrived
	payloads [][]byte       // pre-encoded records, cycled
}

func newBenchEnv(b *testing.B, parent *testing.B, servers int) *benchEnv {
	var c *clustertest.Cluster
	if servers == 1 {
		c = clustertest.Single(parent)
	} else {
		c = clustertest.Start(parent, servers)
	}
	so := cluster.StreamOptions{Name: "BENCH", Prefix: "bench", Replicas: servers}
	env := &benchEnv{origin: journal.NewMemory(journal.Options{}), next: 1, arrived: make(chan time.Time, 1)}
	for i := range 1024 {
		e := eventFor(uint64(i*7%1024), 0) // trades, quotes, bars, crypto
		env.payloads = append(env.payloads, market.AppendBinary(nil, &e))
	}
	pub, err := cluster.NewPublisher(c.Connect(parent), cluster.PublisherOptions{Journal: env.origin, Stream: so})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = pub.Run(ctx) })
	// The stream must exist before the edge looks for it.
	env.append(1)
	for pub.Stats().Acked < 1 {
		time.Sleep(time.Millisecond)
	}
	edge := cluster.NewEdgeFeed(c.Connect(parent), cluster.EdgeOptions{Stream: so})
	out := make(chan feed.Batch, 16)
	wg.Go(func() { _ = edge.Run(ctx, out) })
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case bt := <-out:
				last := bt.Events[len(bt.Events)-1].Seq
				env.received.Store(last)
				env.mu.Lock()
				if env.waiting != 0 && last >= env.waiting {
					env.waiting = 0
					env.arrived <- time.Now()
				}
				env.mu.Unlock()
			}
		}
	})
	parent.Cleanup(func() { cancel(); wg.Wait() })
	env.waitFor(1)
	return env
}

// append journals n records as an origin's pipeline does, one commit per
// 64 (a batch).
func (env *benchEnv) append(n int) {
	for i := range n {
		p := env.payloads[env.next%uint64(len(env.payloads))]
		if err := env.origin.Append(env.next, 0, p); err != nil {
			panic(err)
		}
		env.next++
		if i%64 == 63 {
			env.origin.Commit()
		}
	}
	env.origin.Commit()
}

func (env *benchEnv) waitFor(seq uint64) {
	for env.received.Load() < seq {
		time.Sleep(50 * time.Microsecond)
	}
}

var benchTopologies = []struct {
	name    string
	servers int
}{{"single", 1}, {"cluster3", 3}}

// BenchmarkOriginToEdge is the throughput of the whole path: journal →
// Publisher → JetStream (file storage; three replicas on the cluster) →
// ordered consumer → EdgeFeed batches. One op is one event; the clock runs
// until the edge has emitted the last one.
func BenchmarkOriginToEdge(b *testing.B) {
	for _, tp := range benchTopologies {
		var env *benchEnv
		b.Run(tp.name, func(sb *testing.B) {
			if env == nil {
				env = newBenchEnv(sb, b, tp.servers)
			}
			sb.ReportAllocs()
			sb.SetBytes(int64(len(env.payloads[0])))
			sb.ResetTimer()
			start := time.Now()
			env.append(sb.N)
			env.waitFor(env.next - 1)
			sb.ReportMetric(float64(sb.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkAddedLatency is the delay the cluster adds to one event: from
// its commit to the origin's journal to its emission by the edge, one
// event at a time (an idle path; under load, batching takes over). ns/op
// is the mean; p50 and p99 are reported too.
func BenchmarkAddedLatency(b *testing.B) {
	for _, tp := range benchTopologies {
		var env *benchEnv
		b.Run(tp.name, func(sb *testing.B) {
			if env == nil {
				env = newBenchEnv(sb, b, tp.servers)
			}
			sb.ReportAllocs()
			lat := make([]time.Duration, 0, sb.N)
			sb.ResetTimer()
			for range sb.N {
				env.mu.Lock()
				env.waiting = env.next
				env.mu.Unlock()
				t0 := time.Now()
				env.append(1)
				lat = append(lat, (<-env.arrived).Sub(t0))
			}
			sb.StopTimer()
			slices.Sort(lat)
			sb.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			sb.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
