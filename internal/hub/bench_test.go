package hub

import (
	"fmt"
	"sync"
	"testing"

	"github.com/tapehq/tape/internal/market"
)

// benchEncoder is a stand-in for a wire encoder with a realistic message
// size (~100 bytes) and negligible cost, so the benchmark measures the hub.
func benchEncoder(dst []byte, e *market.Event) []byte {
	dst = append(dst, e.Symbol...)
	var pad [96]byte
	return append(dst, pad[:]...)
}

var benchSymbols = []string{"AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "AMD", "NFLX", "INTC",
	"SPY", "QQQ", "IWM", "JPM", "BAC", "XOM", "KO", "DIS", "BA", "PLTR"}

func benchBatch(n int) []market.Event {
	evs := make([]market.Event, n)
	for i := range evs {
		evs[i] = market.Event{Seq: uint64(i + 1), Kind: market.KindTrade, Symbol: benchSymbols[i%len(benchSymbols)]}
	}
	return evs
}

// BenchmarkFanout publishes batches of 256 trades to 1,000 subscribers and
// drains them, reporting deliveries per second. "wildcard": every subscriber
// takes every trade (1,000 deliveries per event); "one-symbol": each
// subscriber follows one of 20 symbols (50 deliveries per event).
// "concurrent" drains from 2 goroutines while publishing, as real
// connections do.
func BenchmarkFanout(b *testing.B) {
	for _, mode := range []string{"wildcard", "one-symbol", "concurrent"} {
		b.Run(fmt.Sprintf("%s/subs=1000", mode), func(b *testing.B) {
			h := New(Options{Formats: []Encoder{benchEncoder}, MaxQueueBytes: 64 << 20})
			subs := make([]*Subscriber, 1000)
			for i := range subs {
				subs[i] = h.Subscribe(0, "")
				sym := "*"
				if mode == "one-symbol" {
					sym = benchSymbols[i%len(benchSymbols)]
				}
				h.SetChannel(subs[i], market.ChanTrades, []string{sym})
			}
			batch := benchBatch(256)
			var wg sync.WaitGroup
			stop := make(chan struct{})
			if mode == "concurrent" {
				for w := range 2 {
					wg.Go(func() {
						var msgs [][]byte
						for {
							select {
							case <-stop:
								return
							default:
							}
							for i := w; i < len(subs); i += 2 {
								var cost int
								msgs, cost, _ = subs[i].Take(msgs[:0])
								subs[i].Release(cost)
							}
						}
					})
				}
			}
			var msgs [][]byte
			b.ReportAllocs()
			b.SetBytes(int64(len(batch)) * 100)
			for b.Loop() {
				h.Publish(batch)
				if mode != "concurrent" {
					for _, s := range subs {
						var cost int
						msgs, cost, _ = s.Take(msgs[:0])
						s.Release(cost)
					}
				}
			}
			close(stop)
			wg.Wait()
			st := h.Stats()
			b.ReportMetric(float64(st.Deliveries)/b.Elapsed().Seconds(), "deliveries/s")
			b.ReportMetric(float64(st.Kicked), "kicked")
		})
	}
}

// BenchmarkPublishNoSubscribers is the cost of an event nobody wants.
func BenchmarkPublishNoSubscribers(b *testing.B) {
	h := New(Options{Formats: []Encoder{benchEncoder}})
	batch := benchBatch(256)
	b.ReportAllocs()
	for b.Loop() {
		h.Publish(batch)
	}
	b.ReportMetric(float64(len(batch))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
