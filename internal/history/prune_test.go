package history

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// pruneDataset: AAPL trades, quotes and bars on days across a month end
// (May 30 to June 4, 2024), MSFT in May only with daily bars, ZZZ in May
// only without, and a few unflushed late reports of May days.
func pruneDataset() (flushed, unflushed []market.Event) {
	days := []string{"2024-05-30", "2024-05-31", "2024-06-03", "2024-06-04"}
	id := int64(0)
	for _, day := range days {
		for i := range 30 {
			id++
			t := at(day+" 10:00:00") + int64(i)*7e9
			flushed = append(flushed, trade("AAPL", t, 100, id), quote("AAPL", t+1e6, 99))
			if day < "2024-06" {
				flushed = append(flushed, trade("MSFT", t, 50, id), trade("ZZZ", t, 5, id))
			}
		}
		for m := range 5 {
			flushed = append(flushed, bar(market.KindBar, "AAPL", at(day+" 10:00")+int64(m)*nsPerMinute, 1, 2, 0.5, 1.5, 10, 3, 1.2))
		}
		flushed = append(flushed, bar(market.KindDailyBar, "AAPL", at(day+" 00:00"), 1, 2, 0.5, 1.5, 150, 30, 1.2))
		if day < "2024-06" {
			flushed = append(flushed, bar(market.KindDailyBar, "MSFT", at(day+" 00:00"), 1, 2, 0.5, 1.5, 150, 30, 1.2))
		}
	}
	unflushed = []market.Event{
		trade("AAPL", at("2024-05-31 15:59:59"), 101, 900),
		trade("MSFT", at("2024-05-30 15:00:00"), 51, 901),
		bar(market.KindUpdatedBar, "AAPL", at("2024-05-31 10:02"), 1, 3, 0.5, 1.5, 11, 4, 1.2),
		trade("AAPL", at("2024-06-04 16:00:00"), 102, 902),
	}
	return flushed, unflushed
}

func TestPruneBefore(t *testing.T) {
	var g seqr
	flushed, unflushed := pruneDataset()
	g.seq(flushed)
	g.seq(unflushed)
	all := slices.Concat(flushed, unflushed)
	syms := []string{"AAPL", "MSFT", "ZZZ"}
	for _, tc := range []struct {
		name    string
		t       int64
		lastDay string // the last pruned day; "" for none
		months  int    // minute bar months pruned
	}{
		{"before everything", at("2024-05-30 12:00:00"), "", 0},
		{"at a midnight", at("2024-05-31 00:00:00"), "2024-05-30", 0},
		{"inside a day, before the month ends", at("2024-05-31 12:00:00"), "2024-05-30", 0},
		{"the month's end", at("2024-06-01 00:00:00"), "2024-05-31", 1},
		{"after everything", at("2024-07-01 00:00:00"), "2024-06-04", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir)
			defer func() { s.Close() }()
			g2 := g
			s.Apply(flushed)
			mustFlush(t, s)
			s.Apply(unflushed)
			before := s.Stats()

			rep, err := s.PruneBefore(tc.t)
			if err != nil {
				t.Fatal(err)
			}
			// What must remain: ticks of later days, minute bars of later
			// months, every daily bar.
			cutT, cutM := int64(math.MinInt64), int64(math.MinInt64)
			if tc.lastDay != "" {
				cutT = at(tc.lastDay+" 00:00") + nsPerDay
			}
			if tc.months > 0 {
				cutM = []int64{at("2024-06-01 00:00"), at("2024-07-01 00:00")}[tc.months-1]
			}
			o := newOracle()
			for _, e := range all {
				keep := e.Time >= cutT
				if e.Kind == market.KindBar || e.Kind == market.KindUpdatedBar {
					keep = e.Time >= cutM
				}
				if e.Kind == market.KindDailyBar {
					keep = true
				}
				if keep {
					o.apply([]market.Event{e})
				}
			}
			check := func(s *Store, what string) {
				t.Helper()
				q := everything
				q.Symbols = syms
				sameEvents(t, what+" trades", walk(t, s.Trades, q), o.expectTicks(market.KindTrade, q))
				sameEvents(t, what+" quotes", walk(t, s.Quotes, q), o.expectTicks(market.KindQuote, q))
				sameEvents(t, what+" bars", walk(t, func(ctx contextT, q Query) (Result, error) { return s.Bars(ctx, q, market.OneMinute) }, q), o.expectBars("m", q))
				sameEvents(t, what+" daily", walk(t, func(ctx contextT, q Query) (Result, error) { return s.Bars(ctx, q, market.OneDay) }, q), o.expectBars("d", q))
				for _, sym := range syms {
					want, ok := o.latestTick(market.KindTrade, sym)
					got, gotOK := s.LatestTrade(sym)
					if ok != gotOK || got.Seq != want.Seq {
						t.Fatalf("%s: latest %s trade %v (%v), want %v (%v)", what, sym, evString(got), gotOK, evString(want), ok)
					}
					_, gotBar := s.LatestBar(sym)
					if wantBar := len(o.expectBars("m", Query{Symbols: []string{sym}, Start: math.MinInt64, End: math.MaxInt64})) > 0; gotBar != wantBar {
						t.Fatalf("%s: %s has a latest bar: %v, want %v", what, sym, gotBar, wantBar)
					}
				}
				var wantSyms []string
				for _, sym := range syms {
					if len(o.expectTicks(market.KindTrade, Query{Symbols: []string{sym}, Start: math.MinInt64, End: math.MaxInt64})) > 0 ||
						len(o.expectBars("d", Query{Symbols: []string{sym}, Start: math.MinInt64, End: math.MaxInt64})) > 0 {
						wantSyms = append(wantSyms, sym)
					}
				}
				if got := s.Symbols(); !slices.Equal(got, wantSyms) || s.Stats().Symbols != len(wantSyms) {
					t.Fatalf("%s: symbols %q (%d), want %q", what, got, s.Stats().Symbols, wantSyms)
				}
				checkDisk(t, s)
			}
			check(s, "pruned")
			after := s.Stats()
			if rep.Bytes != before.DiskBytes-after.DiskBytes || (rep.Files > 0) != (tc.lastDay != "") {
				t.Fatalf("report %+v; DiskBytes %d -> %d", rep, before.DiskBytes, after.DiskBytes)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "symbols", "*", "*"))
			for _, f := range files {
				k, n := parseFileName(filepath.Base(f))
				if (k == kindTrades || k == kindQuotes) && s.cal.dayStart(n+1) <= tc.t ||
					k == kindMinuteBars && s.cal.dayStart(firstDayOfMonth(n+1)) <= tc.t {
					t.Fatalf("%s survived", f)
				}
			}
			// The flush after it writes only what is left, and a reopened
			// store answers the same.
			mustFlush(t, s)
			if st := s.Stats(); st.PendingBytes != 0 {
				t.Fatalf("pending %d after a flush", st.PendingBytes)
			}
			check(s, "flushed")
			// Data of a pruned day arriving again makes a new file, which
			// holds just that.
			again := g2.seq([]market.Event{trade("AAPL", at("2024-05-30 11:00:00"), 7, 7), trade("ZZZ", at("2024-05-30 11:00:00"), 7, 7)})
			s.Apply(again)
			o.apply(again)
			mustFlush(t, s)
			check(s, "applied again")
			must(t, s.Close())
			s = openStore(t, dir)
			check(s, "reopened")
			if _, err := os.Stat(filepath.Join(dir, "symbols", "ZZZ")); (err == nil) != slices.Contains(s.Symbols(), "ZZZ") {
				t.Fatalf("ZZZ's directory: %v; listed: %v", err, s.Symbols())
			}
		})
	}
}

// TestPruneRace prunes day after day while the flusher runs, new days are
// applied and queries read: every query sees each symbol either before or
// after a prune of it (a suffix of its data that starts at a day), in
// exact order. Run it with -race.
func TestPruneRace(t *testing.T) {
	syms := []string{"A", "B", "C"}
	const days = 8
	var g seqr
	o := newOracle()
	var old []market.Event
	for d := range days {
		for i := range 200 {
			for k, sym := range syms {
				tm := at("2024-06-03 09:30:00") + int64(d)*nsPerDay + int64(i)*1e9 + int64(k)
				old = append(old, trade(sym, tm, float64(i), int64(i)))
				if i%60 == 0 {
					old = append(old, bar(market.KindBar, sym, tm-tm%nsPerMinute, 1, 1, 1, 1, 1, 1, 1))
				}
			}
		}
	}
	g.seq(old)
	o.apply(old)
	dir := t.TempDir()
	opts := testOptions()
	opts.FlushInterval = time.Millisecond
	opts.MaxOpenFiles = 5
	s, err := Open(dir, opts)
	must(t, err)
	s.Apply(old)
	mustFlush(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()

	var wg sync.WaitGroup
	var done atomic.Bool
	// New data for later days, as live ingest goes on.
	wg.Go(func() {
		for i := 0; !done.Load(); i++ {
			tm := at("2024-07-01 09:30:00") + int64(i)*1e6
			s.Apply([]market.Event{{Seq: g.next + uint64(i), Kind: market.KindTrade, Symbol: syms[i%3], Time: tm, Trade: market.Trade{ID: int64(i), Price: 1, Size: 1}}})
			time.Sleep(20 * time.Microsecond)
		}
	})
	// Queries of the old days: each symbol's part is its old trades from a
	// day on, the first day kept by a prune that ran before or during the
	// query.
	for _, sym := range syms {
		o.sortedTicks(market.KindTrade, sym) // the oracle's cache, read-only from here
	}
	var started, completed atomic.Int64
	dayIndex := func(t int64) int64 { return (t - at("2024-06-03 00:00:00")) / nsPerDay }
	q := Query{Symbols: syms, Start: math.MinInt64, End: at("2024-06-30 00:00:00"), Limit: math.MaxInt}
	for w := range 2 {
		wg.Go(func() {
			for !done.Load() {
				p0 := completed.Load()
				res, err := s.Trades(ctx, q)
				p1 := started.Load()
				if err != nil {
					t.Error(err)
					return
				}
				for _, sym := range syms {
					var got []market.Event
					for _, e := range res.Events {
						if e.Symbol == sym {
							got = append(got, e)
						}
					}
					k := int64(days) // pruned days
					if len(got) > 0 {
						k = dayIndex(got[0].Time)
					}
					want := o.expectTicks(market.KindTrade, Query{Symbols: []string{sym}, Start: at("2024-06-03 00:00:00") + k*nsPerDay, End: q.End})
					if k < p0 || k > p1 || len(got) != len(want) || (len(got) > 0 && (got[0].Seq != want[0].Seq || got[len(got)-1].Seq != want[len(want)-1].Seq)) {
						t.Errorf("%s: %d trades from day %d, want %d from a day in [%d, %d]", sym, len(got), k, len(want), p0, p1)
						return
					}
					for i := 1; i < len(got); i++ {
						if got[i].Time < got[i-1].Time || got[i].Seq == got[i-1].Seq {
							t.Errorf("%s: out of order", sym)
							return
						}
					}
				}
				if w == 1 {
					if _, err := s.Bars(ctx, q, market.Timeframe{N: 1, Unit: market.Hour}); err != nil {
						t.Error(err)
					}
					s.Snapshot("A")
					s.Stats()
					s.Symbols()
				}
			}
		})
	}
	var total PruneReport
	for d := range days {
		started.Add(1)
		rep, err := s.PruneBefore(at("2024-06-03 00:00:00") + int64(d+1)*nsPerDay)
		completed.Add(1)
		if err != nil {
			t.Error(err)
		}
		total.Files += rep.Files
		total.Bytes += rep.Bytes
		time.Sleep(5 * time.Millisecond)
	}
	done.Store(true)
	wg.Wait()
	cancel()
	must(t, <-runErr)
	if total.Files != days*len(syms) {
		t.Fatalf("removed %d files, want %d (one trade file per day and symbol; June's minute bars are kept)", total.Files, days*len(syms))
	}
	res, err := s.Trades(t.Context(), q)
	if err != nil || len(res.Events) != 0 {
		t.Fatalf("%d old trades left, %v", len(res.Events), err)
	}
	checkDisk(t, s)
	must(t, s.Close())
}
