package sim

import (
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// recording is what a test keeps of a run: the state a record would hold at
// its end (what the lead engineer reads back at start), every trade ID, and
// the price moves between consecutive trades and quotes of each symbol.
type recording struct {
	state   map[string]SymbolState
	ids     map[string]map[int64]bool
	trades  map[string][]float64 // trade prices in generation order
	mids    map[string][]float64 // quote midpoints
	firstTr map[string]int64     // first trade ID seen per symbol
}

func newRecording() *recording {
	return &recording{state: map[string]SymbolState{}, ids: map[string]map[int64]bool{},
		trades: map[string][]float64{}, mids: map[string][]float64{}, firstTr: map[string]int64{}}
}

// add folds events into the recording the way the record is read back:
// the largest trade ID (corrections included), the last trade and the last
// quote in record order.
func (r *recording) add(events []market.Event, _ int64) {
	for _, e := range events {
		st := r.state[e.Symbol]
		st.LastTime = max(st.LastTime, e.Time)
		id := int64(0)
		switch e.Kind {
		case market.KindTrade:
			id, st.LastPrice = e.Trade.ID, e.Trade.Price
			r.trades[e.Symbol] = append(r.trades[e.Symbol], e.Trade.Price)
		case market.KindCorrection:
			id = e.Correction.CorrID
		case market.KindQuote:
			q := e.Quote
			st.BidPrice, st.AskPrice, st.BidSize, st.AskSize = q.BidPrice, q.AskPrice, q.BidSize, q.AskSize
			r.mids[e.Symbol] = append(r.mids[e.Symbol], (q.BidPrice+q.AskPrice)/2)
		}
		if id != 0 {
			if r.ids[e.Symbol] == nil {
				r.ids[e.Symbol] = map[int64]bool{}
				r.firstTr[e.Symbol] = id
			}
			r.ids[e.Symbol][id] = true
			st.LastTradeID = max(st.LastTradeID, id)
		}
		r.state[e.Symbol] = st
	}
}

// moveBound is the largest "normal" move between consecutive prices of a
// series: its 99.9th percentile of absolute log returns, and never below
// two cents (a bid-ask bounce of a one-tick spread and a tick of drift).
func moveBound(prices []float64) float64 {
	var moves []float64
	for i := 1; i < len(prices); i++ {
		moves = append(moves, math.Abs(math.Log(prices[i]/prices[i-1])))
	}
	slices.Sort(moves)
	q := moves[len(moves)*999/1000]
	return max(q, math.Log(1+0.02/prices[len(prices)-1]))
}

// TestResume runs a simulator for a while, reads its end state the way the
// record would, and restarts it from that state a few seconds later. The
// restart must not repeat a trade ID, must continue IDs right above the
// recorded ones, and must continue prices: the first new trade (and quote)
// of each symbol is within the normal move between consecutive trades
// (quotes) of the first run. A fresh start is checked against the same
// bound, so the test shows the bound would catch a jump.
func TestResume(t *testing.T) {
	tests := []struct {
		name  string
		start time.Time
		seed2 int64 // the restart's seed: a restart usually keeps its seed
	}{
		{"midday, same seed", summerDay.Add(11 * time.Hour), 1},
		{"midday, other seed", summerDay.Add(11 * time.Hour), 2},
		{"into the close, winter", winterDay.Add(15*time.Hour + 40*time.Minute), 1},
	}
	const runFor, downtime = 10 * time.Minute, 5 * time.Second
	rate := 1500.0
	if raceEnabled {
		rate = 400
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := newRecording()
			span(mustNew(t, Options{Seed: 1, Rate: rate, Start: tt.start}), tt.start.Add(runFor), first.add)

			restart := tt.start.Add(runFor + downtime)
			run2 := func(resume map[string]SymbolState) *recording {
				r := newRecording()
				s := mustNew(t, Options{Seed: tt.seed2, Rate: rate, Start: restart, Resume: resume})
				c := newChecker(t)
				for sym, st := range resume {
					c.lastID[sym] = st.LastTradeID // IDs must rise above the record's
				}
				span(s, restart.Add(time.Minute), func(events []market.Event, now int64) {
					c.batch(events, now)
					r.add(events, now)
				})
				return r
			}
			second := run2(first.state)

			jumps := func(r *recording) (bad []string) {
				for _, sym := range DefaultSymbols {
					tr, mids := first.trades[sym], first.mids[sym]
					jt := math.Abs(math.Log(r.trades[sym][0] / tr[len(tr)-1]))
					jq := math.Abs(math.Log(r.mids[sym][0] / mids[len(mids)-1]))
					if jt > moveBound(tr) || jq > moveBound(mids) {
						bad = append(bad, sym)
						t.Logf("%s: %.2f -> %.2f (bound %.3f%%), mid %.3f -> %.3f (bound %.3f%%)", sym,
							tr[len(tr)-1], r.trades[sym][0], 100*moveBound(tr), mids[len(mids)-1], r.mids[sym][0], 100*moveBound(mids))
					}
				}
				return bad
			}
			if bad := jumps(second); len(bad) > 0 {
				t.Errorf("prices jump at the restart for %v", bad)
			}
			for _, sym := range DefaultSymbols {
				if want := first.state[sym].LastTradeID + 1; second.firstTr[sym] != want {
					t.Errorf("%s: first ID after the restart %d, want %d", sym, second.firstTr[sym], want)
				}
				for id := range second.ids[sym] {
					if first.ids[sym][id] {
						t.Errorf("%s: trade ID %d repeated after the restart", sym, id)
					}
				}
			}

			// The control: a fresh start jumps for most symbols (about
			// 0.25% of the price after 10 minutes, against moves of a few
			// hundredths of a percent), and repeats IDs.
			fresh := run2(nil)
			if bad := jumps(fresh); len(bad) < len(DefaultSymbols)/2 {
				t.Errorf("a fresh start jumps for %d symbols only: the bound is too loose", len(bad))
			}
		})
	}
}

// TestResumeDeterminism: the same Resume gives the same events; another
// state gives others.
func TestResumeDeterminism(t *testing.T) {
	start := summerDay.Add(10 * time.Hour)
	state := map[string]SymbolState{
		"AAPL":  {LastTradeID: 123456, LastPrice: 250.01, LastTime: start.Add(-time.Minute).UnixNano(), BidPrice: 250, AskPrice: 250.02, BidSize: 3, AskSize: 5},
		"SPY":   {LastTradeID: 9, LastPrice: 640.5},
		"NOTIN": {LastTradeID: 5}, // not simulated: ignored
	}
	opts := Options{Seed: 4, Rate: 20_000, Start: start, Symbols: []string{"AAPL", "SPY", "KO"}, Resume: state}
	want := take(mustNew(t, opts), 20_000)[:20_000]
	if got := take(mustNew(t, opts), 20_000)[:20_000]; !reflect.DeepEqual(got, want) {
		t.Fatal("same Resume, different events")
	}
	// The state is used as given: AAPL's first quote continues the
	// recorded one, SPY starts at its last trade, KO from its profile.
	for _, e := range want {
		if e.Kind == market.KindQuote && e.Symbol == "AAPL" {
			if q := e.Quote; math.Abs(q.BidPrice-250) > 0.015 || math.Abs(q.AskPrice-250.02) > 0.015 {
				t.Errorf("AAPL's first quote %v/%v, recorded 250/250.02", q.BidPrice, q.AskPrice)
			}
			break
		}
	}
	other := opts
	other.Resume = map[string]SymbolState{"AAPL": state["AAPL"], "SPY": {LastTradeID: 10, LastPrice: 640.5}}
	if got := take(mustNew(t, other), 20_000)[:20_000]; reflect.DeepEqual(got, want) {
		t.Fatal("another Resume, same events")
	}
}
