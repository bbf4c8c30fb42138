package history

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// TestConcurrentApplyAndQueries applies from one goroutine, as the ingest
// loop does, while the flusher runs every millisecond and other goroutines
// query. Every query must see every event applied before it began, once,
// in order. Run it with -race.
func TestConcurrentApplyAndQueries(t *testing.T) {
	syms := []string{"AAPL", "AMD", "MSFT", "SPY"}
	r := rand.New(rand.NewPCG(5, 6))
	var batches [][]market.Event
	var g seqr
	now := at("2024-06-03 09:30:00")
	minute := now
	for range 300 {
		var b []market.Event
		for range 1 + r.IntN(40) {
			now += int64(r.IntN(30)) * 1e6
			sym := syms[r.IntN(len(syms))]
			ts := now
			if r.IntN(15) == 0 {
				ts -= int64(r.IntN(4000)) * 1e6 // late
			}
			b = append(b, trade(sym, ts, 100, int64(r.IntN(1e6))), quote(sym, ts, 99))
		}
		for now >= minute+nsPerMinute {
			for _, sym := range syms {
				b = append(b, bar(market.KindBar, sym, minute, 1, 2, 0.5, 1.5, 10, 1, 1.2))
				b = append(b, bar(market.KindDailyBar, sym, at("2024-06-03 00:00"), 1, 2, 0.5, 1.5, uint64(minute/1e9), 1, 1.2))
			}
			b = append(b, bar(market.KindUpdatedBar, syms[0], minute-nsPerMinute, 1, 3, 0.5, 1.5, 11, 2, 1.2))
			minute += nsPerMinute
		}
		batches = append(batches, g.seq(b))
	}
	// tradesUpTo[i] = number of trades with seq <= i.
	tradesUpTo := make([]int, g.next)
	for _, b := range batches {
		for _, e := range b {
			if e.Kind == market.KindTrade {
				tradesUpTo[e.Seq]++
			}
		}
	}
	for i := 1; i < len(tradesUpTo); i++ {
		tradesUpTo[i] += tradesUpTo[i-1]
	}

	dir := t.TempDir()
	opts := testOptions()
	opts.FlushInterval = time.Millisecond
	opts.MaxOpenFiles = 4 // make the LRU churn under concurrent use
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()

	var applied atomic.Uint64
	var done atomic.Bool
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer done.Store(true)
		for _, b := range batches {
			s.Apply(b)
			applied.Store(b[len(b)-1].Seq)
			time.Sleep(50 * time.Microsecond)
		}
	}()

	q := Query{Symbols: syms, Start: math.MinInt64, End: math.MaxInt64, Limit: math.MaxInt}
	check := func(evs []market.Event, kind string) {
		seen := map[uint64]bool{}
		for i, e := range evs {
			if seen[e.Seq] {
				t.Errorf("%s: seq %d twice", kind, e.Seq)
				return
			}
			seen[e.Seq] = true
			if i > 0 {
				p := evs[i-1]
				if p.Symbol > e.Symbol || (p.Symbol == e.Symbol && (p.Time > e.Time || (p.Time == e.Time && p.Seq > e.Seq))) {
					t.Errorf("%s: out of order at %d: %s then %s", kind, i, evString(p), evString(e))
					return
				}
			}
		}
	}
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				before := applied.Load()
				switch w {
				case 0:
					res, err := s.Trades(ctx, q)
					if err != nil {
						t.Error(err)
						return
					}
					check(res.Events, "trades")
					n := 0
					for _, e := range res.Events {
						if e.Seq <= before {
							n++
						}
					}
					if n != tradesUpTo[before] {
						t.Errorf("query saw %d trades applied before it, want %d", n, tradesUpTo[before])
						return
					}
				case 1:
					res, err := s.Bars(ctx, q, market.OneMinute)
					if err != nil {
						t.Error(err)
						return
					}
					for i := 1; i < len(res.Events); i++ {
						a, b := res.Events[i-1], res.Events[i]
						if a.Symbol == b.Symbol && a.Time >= b.Time {
							t.Errorf("bars out of order or twice: %s then %s", evString(a), evString(b))
							return
						}
					}
					if _, err := s.Bars(ctx, q, market.Timeframe{N: 5, Unit: market.Minute}); err != nil {
						t.Error(err)
					}
				case 2:
					pq := q
					pq.Limit, pq.Desc = 50, true
					var all []market.Event
					for {
						res, err := s.Quotes(ctx, pq)
						if err != nil {
							t.Error(err)
							return
						}
						all = append(all, res.Events...)
						if res.Next == nil {
							break
						}
						pq.After = res.Next
					}
					for _, sym := range syms {
						s.Snapshot(sym)
						s.LatestTrade(sym)
					}
					s.Symbols()
					s.Stats()
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	if s.AppliedSeq() != g.next-1 {
		t.Fatalf("AppliedSeq %d after Run's final flush, want %d", s.AppliedSeq(), g.next-1)
	}
	want := dumpStore(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(want.trades) != tradesUpTo[g.next-1] {
		t.Fatalf("%d trades stored, want %d", len(want.trades), tradesUpTo[g.next-1])
	}
	s = openStore(t, dir)
	defer s.Close()
	sameDump(t, dumpStore(t, s), want)
}
