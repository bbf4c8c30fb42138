package sim

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/market"
)

// nominalEventBytes is what b.SetBytes charges per event: roughly the size
// of a quote or trade on the wire (msgpack), not sizeof(market.Event), so
// that MB/s compares with the other ingest benchmarks.
const nominalEventBytes = 64

// BenchmarkNext measures the generator alone: one op is one event.
func BenchmarkNext(b *testing.B) {
	for _, rate := range []float64{1e3, 1e6} {
		b.Run(fmt.Sprintf("rate=%g", rate), func(b *testing.B) {
			s, err := New(Options{Seed: 1, Rate: rate, Start: benchStart})
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]market.Event, 0, defaultBatch)
			b.ReportAllocs()
			b.SetBytes(nominalEventBytes)
			b.ResetTimer()
			for n := 0; n < b.N; {
				buf, _ = s.Next(buf[:0])
				n += len(buf)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkRun measures Run at Speed=Inf into a draining receiver: the
// generator plus the per-batch copy and channel hand-off. One op is one
// event.
func BenchmarkRun(b *testing.B) {
	s, err := New(Options{Seed: 1, Rate: 1e6, Speed: math.Inf(1), Start: benchStart})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan feed.Batch, 16)
	done := make(chan error, 1)
	b.ReportAllocs()
	b.SetBytes(nominalEventBytes)
	b.ResetTimer()
	go func() { done <- s.Run(ctx, out) }()
	for n := 0; n < b.N; {
		n += len((<-out).Events)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	cancel()
	for {
		select {
		case <-out: // unblock a pending send
		case <-done:
			return
		}
	}
}

// benchStart is a weekday morning, inside the regular session.
var benchStart = time.Date(2025, 3, 12, 14, 0, 0, 0, time.UTC)
