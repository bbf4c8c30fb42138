package history

import (
	"cmp"
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// disorderDayTrades is how many trades a benchmark day has (HISTORY_BENCH_N
// overrides it, to measure a slow variant at a smaller size).
func disorderDayTrades() int {
	if n, err := strconv.Atoi(os.Getenv("HISTORY_BENCH_N")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// recordedDay returns n trades of one symbol over a regular session in
// arrival order, as a live recording has them: 5% reported up to 3 s late.
// Trade IDs are the trades' identities: patterns below reuse them.
func recordedDay(sym string, n int, from, to int64, seed uint64) []market.Event {
	r := rand.New(rand.NewPCG(seed, 99))
	step := (to - from) / int64(n)
	evs := make([]market.Event, 0, n)
	for i := range n {
		ts := from + int64(i)*step
		if r.IntN(20) == 0 {
			ts -= int64(r.IntN(3000)) * 1e6
		}
		evs = append(evs, trade(sym, ts, 100+float64(i%100)/100, int64(i)))
	}
	return evs
}

// sortedByTime is evs in time order, as an import or a backfill delivers
// them (stable: equal times keep their order).
func sortedByTime(evs []market.Event) []market.Event {
	out := slices.Clone(evs)
	slices.SortStableFunc(out, func(a, b market.Event) int { return cmp.Compare(a.Time, b.Time) })
	return out
}

// disorderPattern is a way out-of-order data reaches a day file: build
// returns a day's trades in arrival order. The same trades in time order
// are the in-order twin the pattern is measured against.
type disorderPattern struct {
	name  string
	build func(n int) []market.Event
}

var (
	benchOpen    = at("2024-06-03 09:30:00")
	benchNoon    = at("2024-06-03 11:00:00")
	benchClosing = at("2024-06-03 16:00:00")
)

var disorderPatterns = []disorderPattern{
	// Late trades: the recorded day with a dozen reports minutes to hours
	// late besides the 5% seconds late.
	{"late-trades", func(n int) []market.Event {
		evs := recordedDay("AAPL", n, benchOpen, benchClosing, 1)
		r := rand.New(rand.NewPCG(5, 5))
		for i := range 12 {
			at := n/13*(i+1) + r.IntN(1000)
			evs[at].Time -= int64(10+r.IntN(110)) * 60e9
		}
		return evs
	}},
	// Tape recorded from 11:00; the morning was backfilled afterwards.
	{"backfilled-morning", func(n int) []market.Event {
		var rec, morning []market.Event
		for _, e := range recordedDay("AAPL", n, benchOpen, benchClosing, 1) {
			if e.Time >= benchNoon {
				rec = append(rec, e)
			} else {
				morning = append(morning, e)
			}
		}
		return append(rec, sortedByTime(morning)...)
	}},
	// The recorded day, then the same day imported from another source.
	{"reimported-day", func(n int) []market.Event {
		day := recordedDay("AAPL", n, benchOpen, benchClosing, 1)
		return append(day, sortedByTime(day)...)
	}},
	// The recorded day, then three imports overlapping each other.
	{"overlapping-imports", func(n int) []market.Event {
		day := recordedDay("AAPL", n, benchOpen, benchClosing, 1)
		evs := slices.Clone(day)
		for _, w := range [][2]string{{"09:30", "12:00"}, {"11:00", "14:00"}, {"13:00", "16:00"}} {
			lo, hi := at("2024-06-03 "+w[0]), at("2024-06-03 "+w[1])
			var part []market.Event
			for _, e := range day {
				if e.Time >= lo && e.Time < hi {
					part = append(part, e)
				}
			}
			evs = append(evs, sortedByTime(part)...)
		}
		return evs
	}},
}

// storeOf returns a store holding evs (sequenced in the order given), all
// on disk.
func storeOf(b *testing.B, evs []market.Event) *Store {
	b.Helper()
	dir := b.TempDir()
	s := openStore(b, dir)
	var g seqr
	for i := 0; i < len(evs); i += 10_000 {
		batch := slices.Clone(evs[i:min(i+10_000, len(evs))])
		s.Apply(g.seq(batch))
		if i%200_000 == 0 {
			mustFlush(b, s)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	return openStore(b, dir)
}

// BenchmarkDisorder runs a 1,000-trade query (from midday, ascending and
// descending) and a whole-day scan on a day file built by each disorder
// pattern and on its in-order twin (the same trades applied in time order).
// Each iteration runs the query on both stores back to back, so that both
// see the same load on a shared machine; the benchmark reports the median
// time of each (in-order-ns, disordered-ns) and the median ratio
// (x_in_order, target at most 2). ns/op is the pair's.
func BenchmarkDisorder(b *testing.B) {
	n := disorderDayTrades()
	ctx := context.Background()
	mid := at("2024-06-03 12:30:00")
	queries := []struct {
		name  string
		q     Query
		items func(total int) int
	}{
		{"1k", Query{Start: mid, End: at("2024-06-04 00:00:00"), Limit: 1000}, func(int) int { return 1000 }},
		{"1k-desc", Query{Start: at("2024-06-03 00:00:00"), End: mid, Limit: 1000, Desc: true}, func(int) int { return 1000 }},
		{"day", Query{Start: at("2024-06-03 00:00:00"), End: at("2024-06-04 00:00:00"), Limit: 1 << 30}, func(t int) int { return t }},
	}
	for _, p := range disorderPatterns {
		evs := p.build(n)
		total := len(evs)
		twin := storeOf(b, sortedByTime(evs))
		dis := storeOf(b, evs)
		// The events are garbage now: collect them, so that the queries'
		// garbage collections do not scan them.
		evs = nil
		runtime.GC()
		for _, qc := range queries {
			b.Run(p.name+"/"+qc.name, func(b *testing.B) {
				q := qc.q
				q.Symbols = []string{"AAPL"}
				want := qc.items(total)
				run := func(s *Store) time.Duration {
					t0 := time.Now()
					res, err := s.Trades(ctx, q)
					d := time.Since(t0)
					if err != nil || len(res.Events) != want {
						b.Fatalf("%d trades, want %d, %v", len(res.Events), want, err)
					}
					return d
				}
				b.ReportAllocs()
				var in, dis2, ratio []float64
				for b.Loop() {
					a, d := run(twin), run(dis)
					in, dis2 = append(in, float64(a)), append(dis2, float64(d))
					ratio = append(ratio, float64(d)/float64(a))
				}
				b.ReportMetric(median(in), "in-order-ns")
				b.ReportMetric(median(dis2), "disordered-ns")
				b.ReportMetric(median(ratio), "x_in_order")
			})
		}
		twin.Close()
		dis.Close()
	}
}

func median(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}
