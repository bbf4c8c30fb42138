package sim

import (
	"context"
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

// BenchmarkNext measures the generator alone: one op is one event. The
// crypto variants add DefaultCryptoSymbols to the default stocks (about a
// fifth of the messages, two thirds of them order book updates, which
// allocate) or run them alone.
func BenchmarkNext(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"rate=1e3", Options{Rate: 1e3}},
		{"rate=1e6", Options{Rate: 1e6}},
		{"rate=1e6/crypto", Options{Rate: 1e6, CryptoSymbols: DefaultCryptoSymbols}},
		{"rate=1e6/crypto-only", Options{Rate: 1e6, Symbols: []string{}, CryptoSymbols: DefaultCryptoSymbols}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bc.opts.Seed, bc.opts.Start = 1, benchStart
			s, err := New(bc.opts)
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
