package server

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/datadir"
	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/market"
)

// runUntil runs a simulator Tape on opts until it has sequenced at least n
// events, then stops it.
func runUntil(t *testing.T, opts Options, n uint64) {
	t.Helper()
	srv, stop := start(t, opts)
	deadline := time.Now().Add(60 * time.Second)
	for srv.pipe().Stats().LastSeq < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d events after a minute", srv.pipe().Stats().LastSeq)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
}

// recorded is what a data directory holds, read back after the runs.
type recorded struct {
	events []market.Event
	ts     []int64 // journal record times
}

func readRecord(t *testing.T, dir string) recorded {
	t.Helper()
	d, err := datadir.Open(context.Background(), dir, datadir.Options{NoState: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	r, err := d.Journal.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var rec recorded
	var in market.Interner
	for {
		jr, ok, err := r.TryNext()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		e := market.Event{Seq: jr.Seq}
		if err := market.DecodeBinary(jr.Payload, &e, &in); err != nil {
			t.Fatal(err)
		}
		rec.events = append(rec.events, e)
		rec.ts = append(rec.ts, jr.TS)
	}
	return rec
}

// TestRestartsKeepATrueRecord restarts Tape on one data directory as a
// user would — a run with the simulated clock ahead of the wall clock
// (--sim-start in the future, --speed 60), a plain restart, then a fixed
// --sim-start before the record's end (refused) and after it — and checks
// the record: journal time never goes backwards, no trade ID repeats per
// symbol (journal and history), no minute bar is emitted twice and no
// daily bar counts more volume than its day traded, and prices continue
// across each restart.
func TestRestartsKeepATrueRecord(t *testing.T) {
	dir := t.TempDir()
	syms := []string{"AAPL", "MSFT", "AMD", "SPY"}
	// A regular session a few days ahead of the wall clock, as a demo with
	// --sim-start or --speed 60 runs ahead.
	ahead := time.Now().UTC().Add(72 * time.Hour).Truncate(24 * time.Hour).Add(15 * time.Hour)
	base := Options{DataDir: dir, Symbols: syms, Seed: 7, Rate: 100, Speed: 600}

	o1 := base
	o1.SimStart = ahead
	runUntil(t, o1, 20000)
	cut1 := len(readRecord(t, dir).events)

	runUntil(t, base, uint64(cut1)+20000) // plain restart: continues after the record's end
	rec := readRecord(t, dir)
	cut2 := len(rec.events)

	// A fixed --sim-start before the record's end is refused, and says
	// where the record ends.
	o3 := base
	o3.SimStart = ahead.Add(time.Second)
	srv, err := New(o3)
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Run(context.Background())
	if !errors.Is(err, ErrRecordAhead) {
		t.Fatalf("--sim-start inside the record: %v, want ErrRecordAhead", err)
	}
	t.Logf("refused as: %v", err)

	// After the record's end it is accepted and continues the record.
	end := time.Unix(0, rec.ts[len(rec.ts)-1])
	o3.SimStart = end.Add(10 * time.Minute).Truncate(time.Second)
	runUntil(t, o3, uint64(cut2)+20000)
	rec = readRecord(t, dir)

	// Journal time never goes backwards.
	for i := 1; i < len(rec.ts); i++ {
		if rec.ts[i] < rec.ts[i-1] {
			t.Fatalf("journal time goes backwards at seq %d: %v after %v", rec.events[i].Seq,
				time.Unix(0, rec.ts[i]).UTC(), time.Unix(0, rec.ts[i-1]).UTC())
		}
	}
	type minuteKey struct {
		sym string
		t   int64
	}
	ids := map[string]map[int64]bool{}
	bars := map[minuteKey]bool{}
	dayVolume := map[minuteKey]uint64{} // raw trade sizes per symbol and day
	minVolume := map[minuteKey]uint64{} // raw trade sizes per symbol and minute
	daily := map[minuteKey]uint64{}     // the last daily bar's volume
	trades := map[string]int{}
	tradeMinute := map[minuteKey]int64{} // (symbol, trade ID) -> the minute of the trade
	dayOf := func(ns int64) int64 {
		d := time.Unix(0, ns).In(market.NewYork)
		return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, market.NewYork).UnixNano()
	}
	for _, e := range rec.events {
		switch e.Kind {
		case market.KindTrade:
			if ids[e.Symbol] == nil {
				ids[e.Symbol] = map[int64]bool{}
			}
			if ids[e.Symbol][e.Trade.ID] {
				t.Fatalf("trade ID %d of %s repeats (seq %d)", e.Trade.ID, e.Symbol, e.Seq)
			}
			ids[e.Symbol][e.Trade.ID] = true
			trades[e.Symbol]++
			m := e.Time - e.Time%int64(time.Minute)
			tradeMinute[minuteKey{e.Symbol, e.Trade.ID}] = m
			dayVolume[minuteKey{e.Symbol, dayOf(e.Time)}] += uint64(e.Trade.Size)
			minVolume[minuteKey{e.Symbol, m}] += uint64(e.Trade.Size)
		case market.KindCorrection:
			// A correction may raise a size: the bars then count more than
			// the trades as first printed.
			c := e.Correction
			if m, ok := tradeMinute[minuteKey{e.Symbol, c.OrigID}]; ok && c.CorrSize > c.OrigSize {
				minVolume[minuteKey{e.Symbol, m}] += uint64(c.CorrSize - c.OrigSize)
				dayVolume[minuteKey{e.Symbol, dayOf(m)}] += uint64(c.CorrSize - c.OrigSize)
			}
		case market.KindBar:
			k := minuteKey{e.Symbol, e.Time}
			if bars[k] {
				t.Fatalf("minute bar %s %v emitted twice", e.Symbol, time.Unix(0, e.Time).UTC())
			}
			bars[k] = true
			if e.Bar.Volume > minVolume[k] {
				t.Fatalf("minute bar %s %v counts volume %d, its trades %d", e.Symbol, time.Unix(0, e.Time).UTC(), e.Bar.Volume, minVolume[k])
			}
		case market.KindDailyBar:
			daily[minuteKey{e.Symbol, e.Time}] = e.Bar.Volume
		}
	}
	if len(bars) < 3*len(syms) || len(daily) == 0 {
		t.Fatalf("no bars recorded (%d minute, %d daily)", len(bars), len(daily))
	}
	for k, v := range daily {
		if v > dayVolume[k] {
			t.Errorf("daily bar %s %v counts volume %d, but the day traded %d: counted twice",
				k.sym, time.Unix(0, k.t).UTC(), v, dayVolume[k])
		}
	}

	// Prices continue across each restart: the first trade of a run is
	// within the largest move between consecutive trades of the run before
	// it, plus two ticks and 5 basis points. The slack is for the quote a
	// run restarts with (the last run's, refreshed: a print can land on
	// the other side of a wider spread than any two consecutive prints
	// crossed) and for the gap of restart 2, which starts ten simulated
	// minutes after the record's end; a price that did not continue (the
	// seed's, another symbol's) misses by dollars.
	for _, sym := range syms {
		var runs [3][]float64
		for i, e := range rec.events {
			if e.Kind != market.KindTrade || e.Symbol != sym || e.Flags.Has(market.FlagLate) {
				continue
			}
			r := 0
			switch {
			case i >= cut2:
				r = 2
			case i >= cut1:
				r = 1
			}
			runs[r] = append(runs[r], e.Trade.Price)
		}
		for r := 1; r < 3; r++ {
			prev, next := runs[r-1], runs[r]
			if len(prev) < 2 || len(next) == 0 {
				t.Fatalf("%s: too few trades around restart %d", sym, r)
			}
			maxMove := 0.0
			for i := 1; i < len(prev); i++ {
				maxMove = math.Max(maxMove, math.Abs(prev[i]-prev[i-1]))
			}
			last := prev[len(prev)-1]
			if jump := math.Abs(next[0] - last); jump > maxMove+0.02+0.0005*last {
				t.Errorf("%s jumps %.2f -> %.2f at restart %d (largest move within the run before: %.2f)",
					sym, last, next[0], r, maxMove)
			}
		}
	}

	// History holds exactly the journal's trades: every ID once.
	d, err := datadir.Open(context.Background(), dir, datadir.Options{NoState: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, sym := range syms {
		res, err := d.History.Trades(context.Background(), history.Query{Symbols: []string{sym},
			Start: 0, End: math.MaxInt64, Limit: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int64]bool{}
		for _, e := range res.Events {
			if seen[e.Trade.ID] {
				t.Fatalf("history: trade ID %d of %s twice", e.Trade.ID, sym)
			}
			seen[e.Trade.ID] = true
		}
		if len(res.Events) != trades[sym] {
			t.Fatalf("history holds %d trades of %s, the journal %d", len(res.Events), sym, trades[sym])
		}
	}
}
