package history

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tapehq/tape/internal/market"
)

// tickDataset returns trades and quotes of three symbols over two days, with
// bursts sharing a timestamp and late reports (a few seconds, one an hour
// late, one crossing midnight into the previous day's file).
func tickDataset() []market.Event {
	r := rand.New(rand.NewPCG(1, 2))
	var evs []market.Event
	id := int64(0)
	for _, day := range []string{"2024-06-03", "2024-06-04"} {
		t := at(day + " 09:30:00")
		for i := 0; i < 600; i++ {
			sym := []string{"AAPL", "MSFT", "SPY"}[r.IntN(3)]
			switch {
			case i%50 == 7: // a burst sharing one timestamp
				for range 5 {
					id++
					evs = append(evs, trade(sym, t, 100+float64(id%7), id))
				}
			case i%40 == 3: // a late report, up to 5 s
				id++
				evs = append(evs, trade(sym, t-int64(r.IntN(5_000))*1e6, 100, id))
			case i == 500: // one an hour late
				id++
				evs = append(evs, trade(sym, t-3600e9, 99, id))
			}
			id++
			evs = append(evs, trade(sym, t, 100+float64(id%11)/10, id))
			evs = append(evs, quote(sym, t+int64(r.IntN(3))*1e6, 100+float64(i%13)/10))
			t += int64(r.IntN(40)) * 1e6 // often the same millisecond
		}
	}
	// Just after midnight, a late report of the day before.
	id++
	evs = append(evs, trade("AAPL", at("2024-06-04 23:59:59.5"), 101, id))
	id++
	evs = append(evs, trade("AAPL", at("2024-06-05 00:00:01"), 102, id))
	id++
	evs = append(evs, trade("AAPL", at("2024-06-04 23:59:58"), 103, id))
	return evs
}

// storeState builds a store holding evs in one of the states queries must
// not be able to tell apart.
func storeState(t *testing.T, state string, evs []market.Event) *Store {
	t.Helper()
	dir := t.TempDir()
	s := openStore(t, dir)
	half := len(evs) / 2
	switch state {
	case "memory":
		s.Apply(evs)
	case "flushed":
		s.Apply(evs)
		mustFlush(t, s)
	case "mixed": // the first half on disk, the rest in memory
		s.Apply(evs[:half])
		mustFlush(t, s)
		s.Apply(evs[half:])
	case "flushed-in-pieces":
		for i := 0; i < len(evs); i += 97 {
			s.Apply(evs[i:min(i+97, len(evs))])
			mustFlush(t, s)
		}
	case "reopened":
		s.Apply(evs[:half])
		mustFlush(t, s)
		s.Apply(evs[half:])
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openStore(t, dir)
	default:
		t.Fatalf("unknown state %q", state)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var states = []string{"memory", "flushed", "mixed", "flushed-in-pieces", "reopened"}

func TestTickQueries(t *testing.T) {
	var g seqr
	evs := g.seq(tickDataset())
	o := newOracle()
	o.apply(evs)
	all := []string{"AAPL", "MSFT", "SPY"}
	queries := []struct {
		name string
		q    Query
	}{
		{"one symbol, whole range", Query{Symbols: []string{"MSFT"}, Start: math.MinInt64, End: math.MaxInt64}},
		{"one symbol, desc", Query{Symbols: []string{"MSFT"}, Start: math.MinInt64, End: math.MaxInt64, Desc: true}},
		{"all symbols", Query{Symbols: all, Start: at("2024-06-03 00:00:00"), End: at("2024-06-05 23:00:00")}},
		{"all symbols, desc", Query{Symbols: all, Start: at("2024-06-03 00:00:00"), End: at("2024-06-05 23:00:00"), Desc: true}},
		{"one day", Query{Symbols: all, Start: at("2024-06-04 00:00:00"), End: at("2024-06-04 23:59:59.999999999")}},
		{"inside a day", Query{Symbols: all, Start: at("2024-06-03 09:31:00"), End: at("2024-06-03 09:33:00")}},
		{"start equals end", Query{Symbols: all, Start: evs[100].Time, End: evs[100].Time}},
		{"start after end", Query{Symbols: all, Start: at("2024-06-04 00:00:00"), End: at("2024-06-03 00:00:00")}},
		{"range with nothing", Query{Symbols: all, Start: at("2024-06-01 00:00:00"), End: at("2024-06-02 23:00:00")}},
		{"unknown symbols only", Query{Symbols: []string{"NOPE", "ZZZ"}, Start: math.MinInt64, End: math.MaxInt64}},
		{"known and unknown", Query{Symbols: []string{"AAPL", "BBB", "SPY", "ZZZ"}, Start: math.MinInt64, End: math.MaxInt64}},
		{"unsorted symbols", Query{Symbols: []string{"SPY", "AAPL", "SPY"}, Start: at("2024-06-03 09:30:00"), End: at("2024-06-03 09:40:00")}},
		{"across midnight", Query{Symbols: []string{"AAPL"}, Start: at("2024-06-04 23:59:58"), End: at("2024-06-05 00:00:01"), Desc: true}},
		{"the hour-late trade", Query{Symbols: all, Start: at("2024-06-03 08:00:00"), End: at("2024-06-03 09:30:00")}},
	}
	// Inclusive bounds: start and end exactly at shared timestamps.
	burst := evs[0].Time
	for _, e := range evs {
		if e.Kind == market.KindTrade && e.Symbol == "SPY" {
			burst = e.Time
			break
		}
	}
	queries = append(queries,
		struct {
			name string
			q    Query
		}{"start inclusive", Query{Symbols: []string{"SPY"}, Start: burst, End: burst + 50e6}},
		struct {
			name string
			q    Query
		}{"end inclusive", Query{Symbols: []string{"SPY"}, Start: burst - 50e6, End: burst}},
	)

	for _, state := range states {
		t.Run(state, func(t *testing.T) {
			s := storeState(t, state, evs)
			for _, tc := range queries {
				for _, limit := range []int{3, 10000} {
					for _, kind := range []market.Kind{market.KindTrade, market.KindQuote} {
						q := tc.q
						q.Limit = limit
						fetch := s.Trades
						if kind == market.KindQuote {
							fetch = s.Quotes
						}
						want := o.expectTicks(kind, q)
						got := walk(t, fetch, q)
						sameEvents(t, state+"/"+tc.name+"/"+kind.String(), got, want)
					}
				}
			}
		})
	}
}

func TestLimitIsTotalAcrossSymbols(t *testing.T) {
	var g seqr
	evs := g.seq([]market.Event{
		trade("A", at("2024-06-03 10:00:00"), 1, 1),
		trade("A", at("2024-06-03 10:00:01"), 1, 2),
		trade("B", at("2024-06-03 10:00:00"), 1, 3),
		trade("B", at("2024-06-03 10:00:02"), 1, 4),
		trade("C", at("2024-06-03 10:00:00"), 1, 5),
	})
	for _, state := range states {
		t.Run(state, func(t *testing.T) {
			s := storeState(t, state, evs)
			q := Query{Symbols: []string{"A", "B", "C"}, Start: math.MinInt64, End: math.MaxInt64, Limit: 3}
			res, err := s.Trades(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			sameEvents(t, "page 1", res.Events, []market.Event{evs[0], evs[1], evs[2]})
			if res.Next == nil || *res.Next != (Cursor{Symbol: "B", Time: evs[2].Time, Seq: evs[2].Seq}) {
				t.Fatalf("Next = %+v", res.Next)
			}
			q.After = res.Next
			res, err = s.Trades(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			sameEvents(t, "page 2", res.Events, []market.Event{evs[3], evs[4]})
			if res.Next != nil {
				t.Fatalf("Next = %+v after the last page", res.Next)
			}
			// A limit equal to the total fits in one page: no Next.
			q.After, q.Limit = nil, 5
			if res, err = s.Trades(t.Context(), q); err != nil || res.Next != nil || len(res.Events) != 5 {
				t.Fatalf("limit = total: %d events, Next %+v, %v", len(res.Events), res.Next, err)
			}
		})
	}
}

// TestLateTrades checks exact time order over many random ranges of a
// stream whose trades are reported up to seconds (and once an hour) late,
// with the late ones both on disk and in memory.
func TestLateTrades(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var evs []market.Event
	base := at("2024-06-03 09:30:00")
	now := base
	for i := range 5000 {
		now += int64(r.IntN(20)) * 1e6
		ts := now
		switch {
		case r.IntN(10) == 0:
			ts -= int64(r.IntN(3000)) * 1e6
		case i == 3000:
			ts -= 3600e9
		case i == 4500:
			ts -= 120e9
		}
		evs = append(evs, trade("X", ts, float64(i), int64(i)))
	}
	var g seqr
	g.seq(evs)
	o := newOracle()
	o.apply(evs)
	for _, state := range states {
		t.Run(state, func(t *testing.T) {
			s := storeState(t, state, evs)
			for i := range 60 {
				a := base - 3700e9 + int64(r.IntN(int(now-base+3800e9)))
				b := a + int64(r.IntN(30e9))
				if i%10 == 0 {
					b = a + int64(r.IntN(4000e9))
				}
				q := Query{Symbols: []string{"X"}, Start: a, End: b, Desc: i%2 == 1, Limit: 1 + r.IntN(300)}
				sameEvents(t, "range", walk(t, s.Trades, q), o.expectTicks(market.KindTrade, q))
			}
		})
	}
}

// TestPaginationLarge walks results of more than 10,000 items, many of them
// sharing timestamps, in pages of several sizes.
func TestPaginationLarge(t *testing.T) {
	var evs []market.Event
	syms := []string{"AAPL", "MSFT", "QQQ"}
	start := at("2024-06-03 04:00:00")
	for i := range 4000 { // 4000 minutes × 3 symbols = 12,000 bars over 3 days
		for _, sym := range syms {
			tm := start + int64(i)*nsPerMinute
			evs = append(evs, bar(market.KindBar, sym, tm, 1, 2, 0.5, 1.5, uint64(i), 3, 1.2))
		}
	}
	for i := range 12_000 { // 12,000 trades, eight per timestamp
		tm := start + int64(i/8)*1e6
		evs = append(evs, trade(syms[i%2], tm, float64(i), int64(i)))
	}
	var g seqr
	g.seq(evs)
	o := newOracle()
	o.apply(evs)
	for _, state := range []string{"memory", "mixed", "reopened"} {
		t.Run(state, func(t *testing.T) {
			s := storeState(t, state, evs)
			limits := []int{7, 1000, 10000}
			if state != "reopened" {
				// Memory tails are copied per page; in production they hold
				// one flush interval, here all 24,000 items: skip the
				// thousands of 7-item pages.
				limits = limits[1:]
			}
			for _, limit := range limits {
				for _, desc := range []bool{false, true} {
					q := Query{Symbols: syms, Start: math.MinInt64, End: math.MaxInt64, Desc: desc, Limit: limit}
					gotBars := walk(t, func(ctx contextT, q Query) (Result, error) { return s.Bars(ctx, q, market.OneMinute) }, q)
					wantBars := o.expectBars("m", q)
					if len(wantBars) < 10_000 {
						t.Fatalf("only %d bars", len(wantBars))
					}
					sameEvents(t, "bars", gotBars, wantBars)
					sameEvents(t, "trades", walk(t, s.Trades, q), o.expectTicks(market.KindTrade, q))
				}
			}
		})
	}
}
