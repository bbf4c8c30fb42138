package history

import (
	"errors"
	"math"
	"os"
	"testing"

	"github.com/tapehq/tape/internal/market"
)

func barsOf(t *testing.T, s *Store, sym string, tf market.Timeframe, start, end int64, desc bool) []market.Event {
	t.Helper()
	q := Query{Symbols: []string{sym}, Start: start, End: end, Desc: desc, Limit: 3}
	return walk(t, func(ctx contextT, q Query) (Result, error) { return s.Bars(ctx, q, tf) }, q)
}

// TestMinuteBarUpdates covers updated bars replacing a minute, a late bar
// inserted before the last stored minute, and daily bars replaced, in every
// mix of memory and disk.
func TestMinuteBarUpdates(t *testing.T) {
	m := func(hm string) int64 { return at("2024-06-03 " + hm) }
	steps := [][]market.Event{
		{ // minute bars, in order
			bar(market.KindBar, "X", m("09:30"), 10, 11, 9, 10.5, 100, 5, 10.2),
			bar(market.KindBar, "X", m("09:31"), 10.5, 12, 10, 11, 200, 7, 11.1),
			bar(market.KindBar, "X", m("09:33"), 11, 11, 10, 10, 50, 2, 10.5),
			bar(market.KindDailyBar, "X", at("2024-06-03 00:00"), 10, 12, 9, 10, 350, 14, 10.7),
		},
		{ // a late trade changes 09:31 and creates 09:32 (between stored minutes)
			bar(market.KindUpdatedBar, "X", m("09:31"), 10.5, 12.5, 10, 11, 210, 8, 11.2),
			bar(market.KindUpdatedBar, "X", m("09:32"), 11, 11, 11, 11, 5, 1, 11),
			bar(market.KindDailyBar, "X", at("2024-06-03 00:00"), 10, 12.5, 9, 10, 365, 16, 10.8),
			bar(market.KindBar, "X", m("09:34"), 10, 10.2, 9.9, 10.1, 70, 3, 10.05),
		},
		{ // the next day, and another correction of the first day
			bar(market.KindBar, "X", at("2024-06-04 09:30"), 20, 21, 19, 20, 10, 1, 20),
			bar(market.KindDailyBar, "X", at("2024-06-04 00:00"), 20, 21, 19, 20, 10, 1, 20),
			bar(market.KindUpdatedBar, "X", m("09:30"), 10, 11.5, 9, 10.5, 101, 6, 10.2),
			bar(market.KindUpdatedBar, "X", m("09:29"), 9, 9, 9, 9, 1, 1, 9), // before the first minute
			bar(market.KindDailyBar, "X", at("2024-06-03 00:00"), 9, 12.5, 9, 10, 367, 18, 10.79),
		},
	}
	var g seqr
	for _, st := range steps {
		g.seq(st)
	}
	// flushAfter[i] says whether to flush after step i.
	for _, plan := range []struct {
		name       string
		flushAfter []bool
		reopen     bool
	}{
		{"memory", []bool{false, false, false}, false},
		{"disk then memory", []bool{true, false, false}, false},
		{"disk each step", []bool{true, true, true}, false},
		{"memory over disk", []bool{true, true, false}, false},
		{"reopened", []bool{true, false, true}, true},
	} {
		t.Run(plan.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir)
			defer func() { s.Close() }()
			o := newOracle()
			for i, st := range steps {
				s.Apply(st)
				o.apply(st)
				if plan.flushAfter[i] {
					mustFlush(t, s)
				}
			}
			if plan.reopen {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				s = openStore(t, dir)
			}
			for _, desc := range []bool{false, true} {
				q := Query{Symbols: []string{"X"}, Start: math.MinInt64, End: math.MaxInt64, Desc: desc}
				sameEvents(t, "minute bars", barsOf(t, s, "X", market.OneMinute, q.Start, q.End, desc), o.expectBars("m", q))
				sameEvents(t, "daily bars", barsOf(t, s, "X", market.OneDay, q.Start, q.End, desc), o.expectBars("d", q))
			}
			got := barsOf(t, s, "X", market.OneMinute, math.MinInt64, math.MaxInt64, false)
			if len(got) != 7 || got[0].Time != m("09:29") || got[3].Time != m("09:32") || got[2].Bar.Volume != 210 || got[1].Bar.Volume != 101 {
				t.Fatalf("minute bars not replaced or not in order: %v", got)
			}
			if lb, ok := s.LatestBar("X"); !ok || lb.Time != at("2024-06-04 09:30") {
				t.Fatalf("latest bar %v %v", lb, ok)
			}
			snap, ok := s.Snapshot("X")
			if !ok || snap.DailyBar == nil || snap.PrevDailyBar == nil || snap.DailyBar.Time != at("2024-06-04 00:00") ||
				snap.PrevDailyBar.Time != at("2024-06-03 00:00") || snap.PrevDailyBar.Bar.Volume != 367 {
				t.Fatalf("snapshot daily bars %+v %+v", snap.DailyBar, snap.PrevDailyBar)
			}
		})
	}
}

// hand-checked aggregation: see the comments for each expected bucket.
type aggCase struct {
	start                  int64
	o, h, l, c, v, n, vwap float64
}

func checkAgg(t *testing.T, name string, got []market.Event, want []aggCase) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d bars, want %d: %v", name, len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		b := g.Bar
		if g.Time != w.start || b.Open != w.o || b.High != w.h || b.Low != w.l || b.Close != w.c ||
			float64(b.Volume) != w.v || float64(b.TradeCount) != w.n || math.Abs(b.VWAP-w.vwap) > 1e-9 || g.Kind != market.KindBar {
			t.Fatalf("%s[%d]: got %s %+v\nwant %s %+v", name, i, evString(g), b, evString(market.Event{Time: w.start}), w)
		}
	}
}

func TestAggregationMinuteBased(t *testing.T) {
	// The same New York session minutes on a summer (EDT, UTC-4) and a
	// winter (EST, UTC-5) day: buckets are aligned in UTC, so the same
	// local minutes fall into different buckets.
	type mb struct {
		hm                     string // New York time
		o, h, l, c, v, n, vwap float64
	}
	bars := []mb{
		{"09:30", 10, 12, 9, 11, 100, 1, 10.5},  // b0
		{"09:31", 11, 13, 10, 12, 200, 2, 11.5}, // b1
		{"09:34", 12, 12.5, 8, 9, 100, 3, 10},   // b2
		{"09:35", 9, 10, 9, 10, 100, 1, 9.5},    // b3
		{"09:59", 10, 11, 10, 11, 300, 4, 10.5}, // b4
		{"10:00", 11, 14, 11, 13, 100, 1, 13},   // b5
		{"11:59", 13, 13, 12, 12, 100, 2, 12.5}, // b6
		{"12:00", 12, 12, 11, 11, 200, 1, 11.5}, // b7
	}
	one := func(i int, start int64) aggCase {
		b := bars[i]
		return aggCase{start, b.o, b.h, b.l, b.c, b.v, b.n, b.vwap}
	}
	var evs []market.Event
	for _, day := range []string{"2024-07-01", "2024-01-08"} {
		for _, b := range bars {
			evs = append(evs, bar(market.KindBar, "X", at(day+" "+b.hm), b.o, b.h, b.l, b.c, uint64(b.v), uint64(b.n), b.vwap))
		}
	}
	// Around UTC midnight, for a length that does not divide the day.
	evs = append(evs,
		bar(market.KindBar, "Y", utc("2024-07-01 23:54"), 1, 1, 1, 1, 1, 1, 1),
		bar(market.KindBar, "Y", utc("2024-07-01 23:58"), 2, 2, 2, 2, 1, 1, 2),
		bar(market.KindBar, "Y", utc("2024-07-02 00:01"), 3, 3, 3, 3, 1, 1, 3),
	)
	var g seqr
	g.seq(evs)
	summer := [2]int64{utc("2024-07-01 00:00"), utc("2024-07-01 23:59")}
	winter := [2]int64{utc("2024-01-08 00:00"), utc("2024-01-08 23:59")}
	cases := []struct {
		tf     market.Timeframe
		day    [2]int64
		expect []aggCase
	}{
		{market.OneMinute, summer, []aggCase{one(0, utc("2024-07-01 13:30")), one(1, utc("2024-07-01 13:31")),
			one(2, utc("2024-07-01 13:34")), one(3, utc("2024-07-01 13:35")), one(4, utc("2024-07-01 13:59")),
			one(5, utc("2024-07-01 14:00")), one(6, utc("2024-07-01 15:59")), one(7, utc("2024-07-01 16:00"))}},
		{market.Timeframe{N: 5, Unit: market.Minute}, summer, []aggCase{
			// b0..b2: open 10, high 13, low 8, close 9, 400, 6 trades,
			// vwap (10.5*100 + 11.5*200 + 10*100)/400 = 10.875
			{utc("2024-07-01 13:30"), 10, 13, 8, 9, 400, 6, 10.875},
			one(3, utc("2024-07-01 13:35")), one(4, utc("2024-07-01 13:55")), one(5, utc("2024-07-01 14:00")),
			one(6, utc("2024-07-01 15:55")), one(7, utc("2024-07-01 16:00"))}},
		{market.Timeframe{N: 15, Unit: market.Minute}, summer, []aggCase{
			// b0..b3: vwap (4350 + 950)/500 = 10.6
			{utc("2024-07-01 13:30"), 10, 13, 8, 10, 500, 7, 10.6},
			one(4, utc("2024-07-01 13:45")), one(5, utc("2024-07-01 14:00")), one(6, utc("2024-07-01 15:45")),
			one(7, utc("2024-07-01 16:00"))}},
		{market.Timeframe{N: 1, Unit: market.Hour}, summer, []aggCase{
			// b0..b4: vwap (5300 + 3150)/800 = 10.5625
			{utc("2024-07-01 13:00"), 10, 13, 8, 11, 800, 11, 10.5625},
			one(5, utc("2024-07-01 14:00")), one(6, utc("2024-07-01 15:00")), one(7, utc("2024-07-01 16:00"))}},
		{market.Timeframe{N: 4, Unit: market.Hour}, summer, []aggCase{
			// 12:00-16:00 UTC holds b0..b6 (09:30-11:59 EDT): vwap 11000/1000 = 11
			{utc("2024-07-01 12:00"), 10, 14, 8, 12, 1000, 14, 11},
			one(7, utc("2024-07-01 16:00"))}},
		{market.Timeframe{N: 1, Unit: market.Hour}, winter, []aggCase{
			{utc("2024-01-08 14:00"), 10, 13, 8, 11, 800, 11, 10.5625},
			one(5, utc("2024-01-08 15:00")), one(6, utc("2024-01-08 16:00")), one(7, utc("2024-01-08 17:00"))}},
		{market.Timeframe{N: 4, Unit: market.Hour}, winter, []aggCase{
			// 12:00-16:00 UTC holds b0..b5 (09:30-10:00 EST): vwap 9750/900
			{utc("2024-01-08 12:00"), 10, 14, 8, 13, 900, 12, 9750.0 / 900},
			// 16:00-20:00 UTC holds b6, b7 (11:59, 12:00 EST): vwap 3550/300
			{utc("2024-01-08 16:00"), 13, 13, 11, 11, 300, 3, 3550.0 / 300}}},
	}
	for _, state := range []string{"memory", "flushed", "mixed", "reopened"} {
		t.Run(state, func(t *testing.T) {
			s := storeState(t, state, evs)
			for _, c := range cases {
				checkAgg(t, c.tf.String(), barsOf(t, s, "X", c.tf, c.day[0], c.day[1], false), c.expect)
				desc := barsOf(t, s, "X", c.tf, c.day[0], c.day[1], true)
				for i, j := 0, len(desc)-1; i < j; i, j = i+1, j-1 {
					desc[i], desc[j] = desc[j], desc[i]
				}
				checkAgg(t, c.tf.String()+" desc", desc, c.expect)
			}
			// 7Min restarts at UTC midnight: 23:54 is in the 23:48 bucket
			// (1428 = 204*7), 23:58 in the last, short 23:55 bucket, and
			// 00:01 in the next day's 00:00 bucket.
			got := barsOf(t, s, "Y", market.Timeframe{N: 7, Unit: market.Minute}, math.MinInt64, math.MaxInt64, false)
			checkAgg(t, "7Min", got, []aggCase{
				{utc("2024-07-01 23:48"), 1, 1, 1, 1, 1, 1, 1},
				{utc("2024-07-01 23:55"), 2, 2, 2, 2, 1, 1, 2},
				{utc("2024-07-02 00:00"), 3, 3, 3, 3, 1, 1, 3}})
			// A bucket is in the result when its start is in range, and is
			// then whole: the 13:30 5Min bucket, asked from 13:30 to 13:30.
			got = barsOf(t, s, "X", market.Timeframe{N: 5, Unit: market.Minute}, utc("2024-07-01 13:30"), utc("2024-07-01 13:30"), false)
			checkAgg(t, "5Min one bucket", got, []aggCase{{utc("2024-07-01 13:30"), 10, 13, 8, 9, 400, 6, 10.875}})
			// A start inside a bucket skips that bucket.
			got = barsOf(t, s, "X", market.Timeframe{N: 1, Unit: market.Hour}, utc("2024-07-01 13:01"), utc("2024-07-01 15:00"), false)
			checkAgg(t, "1Hour from 13:01", got, []aggCase{one(5, utc("2024-07-01 14:00")), one(6, utc("2024-07-01 15:00"))})
		})
	}
}

func TestAggregationDailyBased(t *testing.T) {
	// Daily bars stamped at New York midnight, across the 2024-03-10 switch
	// to daylight time: the week and month starts move from 05:00 to 04:00
	// UTC.
	type db struct {
		date                   string
		o, h, l, c, v, n, vwap float64
	}
	days := []db{
		{"2024-03-07", 10, 11, 9, 10, 100, 10, 10},  // d0 Thu
		{"2024-03-08", 10, 12, 10, 11, 100, 10, 11}, // d1 Fri
		{"2024-03-11", 11, 13, 11, 12, 200, 20, 12}, // d2 Mon, EDT
		{"2024-03-12", 12, 12, 10, 10, 200, 20, 11}, // d3
		{"2024-03-28", 10, 15, 10, 14, 100, 10, 13}, // d4
		{"2024-04-01", 14, 16, 13, 15, 100, 10, 15}, // d5
		{"2024-05-15", 20, 21, 19, 20, 100, 10, 20}, // d6
		{"2024-07-01", 30, 31, 29, 30, 100, 10, 30}, // d7
	}
	one := func(i int, start int64) aggCase {
		d := days[i]
		return aggCase{start, d.o, d.h, d.l, d.c, d.v, d.n, d.vwap}
	}
	var evs []market.Event
	for _, d := range days {
		// Several updates of each day: only the last counts.
		evs = append(evs, bar(market.KindDailyBar, "X", at(d.date+" 00:00"), d.o, d.h+100, d.l, d.c, 1, 1, d.vwap))
		evs = append(evs, bar(market.KindDailyBar, "X", at(d.date+" 00:00"), d.o, d.h, d.l, d.c, uint64(d.v), uint64(d.n), d.vwap))
	}
	var g seqr
	g.seq(evs)
	cases := []struct {
		tf     market.Timeframe
		start  int64
		expect []aggCase
	}{
		{market.OneDay, math.MinInt64, []aggCase{one(0, utc("2024-03-07 05:00")), one(1, utc("2024-03-08 05:00")),
			one(2, utc("2024-03-11 04:00")), one(3, utc("2024-03-12 04:00")), one(4, utc("2024-03-28 04:00")),
			one(5, utc("2024-04-01 04:00")), one(6, utc("2024-05-15 04:00")), one(7, utc("2024-07-01 04:00"))}},
		{market.Timeframe{N: 1, Unit: market.Week}, math.MinInt64, []aggCase{
			// week of Mon 03-04 (EST): d0, d1; vwap (1000+1100)/200
			{utc("2024-03-04 05:00"), 10, 12, 9, 11, 200, 20, 10.5},
			// week of Mon 03-11 (EDT): d2, d3; vwap (2400+2200)/400
			{utc("2024-03-11 04:00"), 11, 13, 10, 10, 400, 40, 11.5},
			one(4, utc("2024-03-25 04:00")), one(5, utc("2024-04-01 04:00")), one(6, utc("2024-05-13 04:00")),
			one(7, utc("2024-07-01 04:00"))}},
		{market.Timeframe{N: 1, Unit: market.Month}, math.MinInt64, []aggCase{
			// March: d0..d4; vwap (1000+1100+2400+2200+1300)/700
			{utc("2024-03-01 05:00"), 10, 15, 9, 14, 700, 70, 8000.0 / 700},
			one(5, utc("2024-04-01 04:00")), one(6, utc("2024-05-01 04:00")), one(7, utc("2024-07-01 04:00"))}},
		{market.Timeframe{N: 3, Unit: market.Month}, math.MinInt64, []aggCase{
			{utc("2024-01-01 05:00"), 10, 15, 9, 14, 700, 70, 8000.0 / 700},
			// April-June: d5, d6; vwap (1500+2000)/200
			{utc("2024-04-01 04:00"), 14, 21, 13, 20, 200, 20, 17.5},
			one(7, utc("2024-07-01 04:00"))}},
		{market.Timeframe{N: 12, Unit: market.Month}, math.MinInt64, []aggCase{
			// the year: vwap (8000+1500+2000+3000)/1000
			{utc("2024-01-01 05:00"), 10, 31, 9, 30, 1000, 100, 14.5}}},
		// From 03-02 on, the March bucket (starting 03-01) is out.
		{market.Timeframe{N: 1, Unit: market.Month}, at("2024-03-02 00:00"), []aggCase{
			one(5, utc("2024-04-01 04:00")), one(6, utc("2024-05-01 04:00")), one(7, utc("2024-07-01 04:00"))}},
	}
	for _, state := range []string{"memory", "flushed", "mixed", "reopened"} {
		t.Run(state, func(t *testing.T) {
			s := storeState(t, state, evs)
			for _, c := range cases {
				checkAgg(t, c.tf.String(), barsOf(t, s, "X", c.tf, c.start, math.MaxInt64, false), c.expect)
			}
		})
	}
}

func TestBadQueries(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx := t.Context()
	q := Query{Symbols: []string{"X"}, Start: 0, End: 1}
	if _, err := s.Trades(ctx, q); !errors.Is(err, ErrBadQuery) {
		t.Fatalf("limit 0: %v", err)
	}
	q.Limit = 10
	for _, tf := range []market.Timeframe{{}, {N: 60, Unit: market.Minute}, {N: 2, Unit: market.Day}, {N: 5, Unit: market.Month}} {
		if _, err := s.Bars(ctx, q, tf); !errors.Is(err, ErrBadQuery) {
			t.Fatalf("timeframe %v: %v", tf, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Trades(ctx, q); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	s.Apply([]market.Event{{Seq: 1, Kind: market.KindTrade, Symbol: "X"}}) // ignored, no panic
}

func TestSymbolNames(t *testing.T) {
	names := []string{"AAPL", "BRK.B", "BTC/USD", "aapl", "AAPL240315C00172500", ".X", "%", "A B"}
	var evs []market.Event
	for i, n := range names {
		evs = append(evs, trade(n, at("2024-06-03 10:00:00")+int64(i), 1, int64(i)))
	}
	evs = append(evs, trade("", 1, 1, 1)) // cannot be stored
	var g seqr
	g.seq(evs)
	dir := t.TempDir()
	s := openStore(t, dir)
	s.Apply(evs)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir + "/symbols")
	if err != nil || len(ents) != len(names) {
		t.Fatalf("%d symbol directories, want %d: %v", len(ents), len(names), err)
	}
	s = openStore(t, dir)
	defer s.Close()
	got := s.Symbols()
	want := sortedUnique(names)
	if len(got) != len(want) {
		t.Fatalf("symbols %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("symbols %q, want %q", got, want)
		}
		if _, ok := s.LatestTrade(got[i]); !ok {
			t.Fatalf("no latest trade for %q", got[i])
		}
	}
}
