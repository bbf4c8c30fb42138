package bars

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
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
// advances the clock every 1024 trades as the ingest loop does per batch,
// for the builder and the old one that kept every trade ("old").
// SetBytes uses a nominal 64 bytes per trade, about an Alpaca msgpack trade
// frame, so MB/s reads as the wire rate the builder keeps up with.
func BenchmarkApply(b *testing.B) {
	for _, v := range []struct {
		name string
		make func() barBuilder
	}{{"new", func() barBuilder { return New(Options{}) }}, {"old", func() barBuilder { return newOld(Options{}) }}} {
		b.Run(v.name, func(b *testing.B) {
			bl := v.make()
			conds := []market.Conditions{{}, market.MakeConditions("@"), market.MakeConditions("F"),
				market.MakeConditions("I"), market.MakeConditions("@", "F", "T")}
			e := market.Event{Kind: market.KindTrade, Trade: market.Trade{Size: 100, Exchange: 'V'}}
			now := time.Date(2024, 6, 3, 13, 30, 0, 0, time.UTC).UnixNano()
			var out []market.Event
			b.ReportAllocs()
			b.SetBytes(64)
			n := 0
			cpu := cpuTime()
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
			b.ReportMetric(float64(cpuTime()-cpu)/float64(n), "cpu-ns/op")
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "trades/s")
		})
	}
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

// benchOp is one pre-generated event of a benchmark stream, compact so that
// a long stream stays in a few megabytes and the timed loop only copies it
// into a market.Event, as a decoder would fill one.
type benchOp struct {
	kind          market.Kind
	sym           uint16
	exch          byte
	size, csize   uint32
	time          int64 // ns from the stream's start
	id, cid       int64 // trade (or original) ID; corrected ID
	price, cprice float64
	conds, cconds market.Conditions
}

// benchMix sets the shares of late trades, corrections and cancels.
type benchMix struct {
	name               string
	late, corr, cancel float64
}

var (
	mixReal    = benchMix{"real", 0.002, 0.001, 0.001}      // the simulator's rates
	mixCorrect = benchMix{"corrections", 0.002, 0.05, 0.05} // 50 times more corrections and cancels
	mixTrades  = benchMix{"trades", 0, 0, 0}
)

// benchStream generates n events for nsym symbols at rate trades per second
// of feed time: prices walking by the cent with time, 40% odd lots, intermarket
// sweeps, late trades 1-9 s late marked Z, and corrections and cancels of
// one of each symbol's 16 latest trades carrying the original values, with
// IDs growing per symbol as Tape's are.
func benchStream(nsym, n int, rate float64, mix benchMix) []benchOp {
	rng := rand.New(rand.NewPCG(uint64(nsym), uint64(n)))
	type recent struct {
		id    int64
		price float64
		size  uint32
		conds market.Conditions
		exch  byte
	}
	px := make([]int64, nsym)
	moved := make([]int64, nsym) // feed time of the last price step
	ids := make([]int64, nsym)
	rings := make([][16]recent, nsym)
	for i := range px {
		px[i] = int64(1000 + rng.IntN(40000))
	}
	ops := make([]benchOp, 0, n)
	step := 1e9 / rate
	for i := range n {
		s := rng.IntN(nsym)
		t := int64(float64(i) * step)
		r := &rings[s][rng.IntN(16)]
		switch u := rng.Float64(); {
		case u < mix.corr && r.id != 0:
			ids[s]++
			op := benchOp{kind: market.KindCorrection, sym: uint16(s), exch: r.exch, time: t, id: r.id, cid: ids[s],
				price: r.price, size: r.size, conds: r.conds, cprice: r.price, csize: r.size, cconds: r.conds}
			if rng.IntN(2) == 0 {
				op.cprice = float64(int64(math.Round(r.price*100))+1) / 100
			} else {
				op.csize += 100
			}
			r.id, r.price, r.size = op.cid, op.cprice, op.csize
			ops = append(ops, op)
			continue
		case u < mix.corr+mix.cancel && r.id != 0:
			ops = append(ops, benchOp{kind: market.KindCancelError, sym: uint16(s), exch: r.exch, time: t,
				id: r.id, price: r.price, size: r.size})
			r.id = 0
			continue
		}
		// The price moves with time, not with trades (a step of a cent every
		// 100 ms or so), and trades print at the bid or the ask: how many
		// prices a minute sees does not depend on the rate.
		for ; moved[s]+100e6 <= t; moved[s] += 100e6 {
			if rng.IntN(3) == 0 {
				px[s] = max(100, px[s]+int64(rng.IntN(3)-1))
			}
		}
		op := benchOp{kind: market.KindTrade, sym: uint16(s), exch: "VNQPZKD"[rng.IntN(7)], time: t,
			price: float64(px[s]+int64(rng.IntN(2))) / 100, conds: market.Conditions{'@'}}
		switch v := rng.Float64(); {
		case v < 0.4:
			op.size = 1 + uint32(rng.IntN(99))
			op.conds[1] = 'I'
		case v < 0.7:
			op.size = 100 * uint32(1+rng.IntN(5))
			op.conds[1] = 'F'
		default:
			op.size = 100 * uint32(1+rng.IntN(3))
		}
		if rng.Float64() < mix.late {
			op.time -= 1e9 + rng.Int64N(8e9)
			op.conds[2] = 'Z'
		}
		ids[s]++
		op.id = ids[s]
		*r = recent{op.id, op.price, op.size, op.conds, op.exch}
		ops = append(ops, op)
	}
	return ops
}

// benchFeed replays a stream endlessly: each pass shifts times by the
// stream's length and IDs past the last pass's, so the feed clock never
// goes back and IDs keep growing.
type benchFeed struct {
	ops    []benchOp
	names  []string
	i      int
	shift  int64 // time shift of this pass
	idBase int64
	span   int64 // feed time of one pass
	start  int64
	now    int64
	e      market.Event
	corr   market.Correction
	cxl    market.CancelError
}

// benchStart is 09:30 New York on a plain Monday.
var benchStart = time.Date(2024, 6, 3, 13, 30, 0, 0, time.UTC).UnixNano()

func newBenchFeed(ops []benchOp, nsym int, start int64) *benchFeed {
	names := make([]string, nsym)
	for i := range names {
		names[i] = fmt.Sprintf("S%04d", i)
	}
	return &benchFeed{ops: ops, names: names, span: ops[len(ops)-1].time + 1e6, start: start, now: start}
}

// warmUp feeds bl 17 minutes of every symbol trading 80 times a minute, so
// that a benchmark starts in steady state: a full window held, busy minutes
// (past maxKept) recycled with their slices. It returns the feed time
// reached.
func warmUp(bl applier, nsym int) int64 {
	const minutes, perMinute = 17, 80
	n := nsym * perMinute * minutes
	f := newBenchFeed(benchStream(nsym, n, float64(nsym*perMinute)/60, mixReal), nsym, benchStart)
	var out []market.Event
	for i := range n {
		bl.Apply(f.next())
		if i%256 == 255 {
			out = bl.Advance(f.now, out[:0])
		}
	}
	bl.Advance(f.now, out[:0])
	return f.now
}

// applier is what warmUp drives: a builder or a Set.
type applier interface {
	Apply(e *market.Event)
	Advance(now int64, out []market.Event) []market.Event
}

// next fills the feed's event with the next op and returns it.
func (f *benchFeed) next() *market.Event {
	op := &f.ops[f.i]
	e := &f.e
	e.Kind, e.Symbol, e.Time = op.kind, f.names[op.sym], f.start+f.shift+op.time
	f.now = max(f.now, e.Time)
	switch op.kind {
	case market.KindTrade:
		e.Trade = market.Trade{ID: f.idBase + op.id, Price: op.price, Size: op.size, Exchange: op.exch, Conditions: op.conds}
	case market.KindCorrection:
		f.corr = market.Correction{Exchange: op.exch, OrigID: f.idBase + op.id, OrigPrice: op.price, OrigSize: op.size,
			OrigConds: op.conds, CorrID: f.idBase + op.cid, CorrPrice: op.cprice, CorrSize: op.csize, CorrConds: op.cconds}
		e.Correction = &f.corr
	case market.KindCancelError:
		f.cxl = market.CancelError{ID: f.idBase + op.id, Price: op.price, Size: op.size, Exchange: op.exch, Action: 'C'}
		e.CancelError = &f.cxl
	}
	if f.i++; f.i == len(f.ops) {
		f.i, f.shift, f.idBase = 0, f.shift+f.span, f.idBase+int64(len(f.ops))
	}
	return e
}

// benchRate is the ingest target: 2 M trades per second of feed time.
const benchRate = 2e6

// BenchmarkIngest measures Apply per event plus Advance every 256 events
// (a batch) on streams at 2 M trades/s of feed time, for the builder and
// the old one that kept every trade ("old"), both warmed up with a full
// window (warmUp). The old builder's cost grows with the trades it holds,
// so compare at a fixed -benchtime=Nx. SetBytes is a nominal 64 bytes per
// event, about an Alpaca msgpack trade frame; cpu-ns/op is CPU time, GC
// included, which a loaded machine distorts less than ns/op.
func BenchmarkIngest(b *testing.B) {
	for _, mix := range []benchMix{mixReal, mixCorrect} {
		for _, nsym := range []int{20, 8000} {
			ops := benchStream(nsym, 1<<18, benchRate, mix)
			for _, v := range []struct {
				name string
				make func() barBuilder
			}{{"new", func() barBuilder { return New(Options{}) }}, {"old", func() barBuilder { return newOld(Options{}) }}} {
				b.Run(fmt.Sprintf("%s/%d/%s", mix.name, nsym, v.name), func(b *testing.B) {
					bl := v.make()
					f := newBenchFeed(ops, nsym, warmUp(bl, nsym))
					var out []market.Event
					b.ReportAllocs()
					b.SetBytes(64)
					n := 0
					cpu := cpuTime()
					for b.Loop() {
						bl.Apply(f.next())
						if n++; n%256 == 0 {
							out = bl.Advance(f.now, out[:0])
						}
					}
					b.ReportMetric(float64(cpuTime()-cpu)/float64(n), "cpu-ns/op")
					b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
				})
			}
		}
	}
}

// BenchmarkSet measures a Set as the ingest pipeline drives it, Apply per
// event and Advance every 256 events, on BenchmarkIngest's realistic
// stream at 2 M trades/s, warmed up likewise, without IEX bars ("sip",
// NewSet) and with them ("iex", NewSetWithIEX): the difference is the cost
// of the IEX builder. A seventh of the stream's trades print on IEX, with
// their share of the corrections and cancels (IEX's real share of prints
// is smaller, so this errs on the expensive side). SetBytes is a nominal
// 64 bytes per event, as in BenchmarkIngest.
func BenchmarkSet(b *testing.B) {
	for _, nsym := range []int{20, 8000} {
		ops := benchStream(nsym, 1<<18, benchRate, mixReal)
		for _, v := range []struct {
			name string
			make func() *Set
		}{{"sip", func() *Set { return NewSet(Options{}) }}, {"iex", func() *Set { return NewSetWithIEX(Options{}) }}} {
			b.Run(fmt.Sprintf("%s/%d/%s", mixReal.name, nsym, v.name), func(b *testing.B) {
				s := v.make()
				f := newBenchFeed(ops, nsym, warmUp(s, nsym))
				var out []market.Event
				b.ReportAllocs()
				b.SetBytes(64)
				n := 0
				cpu := cpuTime()
				for b.Loop() {
					s.Apply(f.next())
					if n++; n%256 == 0 {
						out = s.Advance(f.now, out[:0])
					}
				}
				b.ReportMetric(float64(cpuTime()-cpu)/float64(n), "cpu-ns/op")
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkHeld feeds 10 s of feed time at 2 M trades/s (20 M events, the
// realistic mix) into a fresh builder per op and reports what it holds:
// Stats.HeldBytes and the Go heap in use after a GC, in MB. Run it with
// -benchtime=1x. The old builder, which holds 32 bytes per trade, gets the
// trades-only mix (its re-aggregation per correction would take minutes)
// and no HeldBytes.
func BenchmarkHeld(b *testing.B) {
	const n = 20_000_000
	for _, nsym := range []int{20, 8000} {
		for _, v := range []struct {
			name string
			mix  benchMix
			make func() barBuilder
		}{{"new", mixReal, func() barBuilder { return New(Options{}) }}, {"old", mixTrades, func() barBuilder { return newOld(Options{}) }}} {
			b.Run(fmt.Sprintf("%d/%s", nsym, v.name), func(b *testing.B) {
				ops := benchStream(nsym, 1<<18, benchRate, v.mix)
				var held, heap float64
				for b.Loop() {
					f := newBenchFeed(ops, nsym, benchStart)
					bl := v.make()
					var out []market.Event
					for i := range n {
						bl.Apply(f.next())
						if i%256 == 255 {
							out = bl.Advance(f.now, out[:0])
						}
					}
					b.StopTimer()
					held = float64(bl.Stats().HeldBytes)
					ops, out = ops[:len(ops):len(ops)], nil
					heap = heapInUse()
					runtime.KeepAlive(bl)
					b.StartTimer()
				}
				b.ReportMetric(held/1e6, "MB-held")
				b.ReportMetric(heap/1e6, "MB-heap")
			})
		}
	}
}

func heapInUse() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapInuse)
}

// BenchmarkState measures AppendState and RestoreState of a full window at
// a busy time: every symbol trading in every one of the 16 held minutes
// (90 trades each, about 20 price levels), late trades, corrections and
// cancels included. SetBytes is the snapshot's size, reported as well.
func BenchmarkState(b *testing.B) {
	for _, nsym := range []int{20, 8000} {
		bl := busyBuilder(nsym)
		snap := bl.AppendState(nil)
		b.Run(fmt.Sprintf("append/%d", nsym), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(snap)))
			buf := make([]byte, 0, len(snap))
			for b.Loop() {
				buf = bl.AppendState(buf[:0])
			}
			b.ReportMetric(float64(len(snap)), "snapshot-bytes")
		})
		b.Run(fmt.Sprintf("restore/%d", nsym), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(snap)))
			for b.Loop() {
				if err := New(Options{}).RestoreState(snap); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(snap)), "snapshot-bytes")
		})
	}
}

// busyBuilder returns a builder holding a full window in which each of nsym
// symbols traded 90 times a minute.
func busyBuilder(nsym int) *Builder {
	const perMinute = 90
	rate := float64(nsym*perMinute) / 60
	n := int(rate * 17 * 60)
	f := newBenchFeed(benchStream(nsym, min(n, 1<<20), rate, mixReal), nsym, benchStart)
	bl := New(Options{})
	var out []market.Event
	for i := range n {
		bl.Apply(f.next())
		if i%256 == 255 {
			out = bl.Advance(f.now, out[:0])
		}
	}
	return bl
}
