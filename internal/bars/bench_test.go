package bars

import (
	"fmt"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

var benchSyms = func() []string {
	s := make([]string, 1000)
	for i := range s {
		s[i] = fmt.Sprintf("S%03d", i)
	}
	return s
}()

// BenchmarkApply feeds in-order trades over 20 symbols, one every 1 ms of
// feed time (so the 15-minute window holds ~900k trades, a busy market), and
// advances the clock every 1024 trades as the ingest loop does per batch.
// SetBytes uses a nominal 64 bytes per trade, about an Alpaca msgpack trade
// frame, so MB/s reads as the wire rate the builder keeps up with.
func BenchmarkApply(b *testing.B) {
	bl := New(Options{})
	conds := []market.Conditions{{}, market.MakeConditions("@"), market.MakeConditions("F"),
		market.MakeConditions("I"), market.MakeConditions("@", "F", "T")}
	e := market.Event{Kind: market.KindTrade, Trade: market.Trade{Size: 100, Exchange: 'V'}}
	now := time.Date(2024, 6, 3, 13, 30, 0, 0, time.UTC).UnixNano()
	var out []market.Event
	b.ReportAllocs()
	b.SetBytes(64)
	n := 0
	for b.Loop() {
		n++
		now += int64(time.Millisecond)
		e.Symbol, e.Time, e.Trade.ID = benchSyms[n%20], now, int64(n)
		e.Trade.Price = 100 + float64(n%64)/16
		e.Trade.Conditions = conds[n%len(conds)]
		bl.Apply(&e)
		if n%1024 == 0 {
			out = bl.Advance(now, out[:0])
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "trades/s")
}

// BenchmarkAdvance measures the clock: "idle" is the common call, a batch
// with nothing due; "close" is one minute close for 20 and 1000 symbols that
// each traded five times in it (a bar and a daily bar each), with 15 minutes
// of history held.
func BenchmarkAdvance(b *testing.B) {
	b.Run("idle", func(b *testing.B) {
		bl := New(Options{})
		now := time.Date(2024, 6, 3, 13, 30, 0, 0, time.UTC).UnixNano()
		e := market.Event{Kind: market.KindTrade, Symbol: "AAPL", Time: now, Trade: market.Trade{Price: 1, Size: 1}}
		bl.Apply(&e)
		var out []market.Event
		b.ReportAllocs()
		for b.Loop() {
			now += 1000 // 1 µs: minutes close rarely, as in a real batch stream
			out = bl.Advance(now, out[:0])
		}
	})
	for _, nsym := range []int{20, 1000} {
		b.Run(fmt.Sprintf("close/%d", nsym), func(b *testing.B) {
			bl := New(Options{})
			minute := time.Date(2024, 6, 3, 13, 30, 0, 0, time.UTC).UnixNano()
			e := market.Event{Kind: market.KindTrade, Trade: market.Trade{Price: 100, Size: 100}}
			var out []market.Event
			fill := func() {
				for i := range 5 {
					for s := range nsym {
						e.Symbol, e.Time = benchSyms[s], minute+int64(i)*int64(10*time.Second)+int64(s)
						e.Trade.ID++
						bl.Apply(&e)
					}
				}
				minute += minuteNs
			}
			for range 16 { // fill the window
				fill()
				out = bl.Advance(minute, out[:0])
			}
			b.ReportAllocs()
			events := 0
			for b.Loop() {
				b.StopTimer()
				fill()
				b.StartTimer()
				out = bl.Advance(minute, out[:0])
				events += len(out)
			}
			b.ReportMetric(float64(events)/float64(b.N), "events/op")
		})
	}
}
