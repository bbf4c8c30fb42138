package bars

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// profiles of the differential and snapshot tests: a few symbols trading
// sparsely (every trade is a tracked end), busy minutes (most trades are
// not, so corrections and cancels go through the price levels), and
// corrections and cancels aimed at the first and last trades of minutes
// until more than keepEnds of an end go.
var testProfiles = map[string]profile{
	"sparse": {syms: 3, perStep: 4, stepNs: 3e9, late: 0.05, tooLate: 0.01, tie: 0.05,
		corr: 0.1, cancel: 0.08, unknown: 0.02, ends: 0.3, newConds: 0.2, offGrid: 0.01},
	"busy": {syms: 4, perStep: 60, stepNs: 2e9, late: 0.01, tooLate: 0.002, tie: 0.05,
		corr: 0.01, cancel: 0.01, unknown: 0.002, ends: 0.1, newConds: 0.05, offGrid: 0.005, conds: realConds},
	"busy, every class": {syms: 4, perStep: 60, stepNs: 2e9, late: 0.01, tooLate: 0.002, tie: 0.05,
		corr: 0.005, cancel: 0.005, unknown: 0.002, ends: 0.1, newConds: 0.1, offGrid: 0.005},
	"ends": {syms: 2, perStep: 12, stepNs: 2e9, late: 0.02, tie: 0.05,
		corr: 0.03, cancel: 0.06, unknown: 0.01, ends: 0.9, newConds: 0.1},
}

// TestDifferential feeds the same random streams to the builder and to the
// old one (oldbuilder_test.go), which holds every trade and re-aggregates:
// they must emit the same events, VWAP aside up to float rounding (the old
// builder sums price×size as floats, the new one exactly), with the same
// counters, as long as the builder did not have to guess (Stats.GuessedRefs
// and LostEnds stay 0). Once it guessed, the comparison stops for that
// stream. Guessing must stay rare where the tape looks like a real one
// (sparse, busy), and the "ends" profile must reach it, so that the limit
// is exercised rather than avoided.
func TestDifferential(t *testing.T) {
	for _, name := range slices.Sorted(maps.Keys(testProfiles)) {
		t.Run(name, func(t *testing.T) {
			var batches, compared, guessed int
			for _, window := range []time.Duration{0, 3 * time.Minute} {
				for seed := uint64(1); seed <= seeds(6); seed++ {
					p := testProfiles[name]
					p.window = cmp.Or(window, DefaultWindow)
					t.Run(fmt.Sprintf("window=%v/seed=%d", window, seed), func(t *testing.T) {
						n, c, g := differential(t, seed, p, Options{Window: window})
						batches, compared = batches+n, compared+c
						if g {
							guessed++
						}
					})
				}
			}
			t.Logf("compared %d of %d batches; %d of %d streams guessed", compared, batches, guessed, 2*seeds(6))
			if min := minCompared[name]; compared < int(min*float64(batches)) {
				t.Errorf("compared %d of %d batches, want at least %.0f%%", compared, batches, 100*min)
			}
			if name == "ends" && guessed == 0 {
				t.Errorf("no stream lost an end: the test does not reach keepEnds")
			}
		})
	}
}

// seeds scales a randomized test down under -short and -race.
func seeds(n uint64) uint64 {
	if testing.Short() || raceEnabled {
		return max(1, n/3)
	}
	return n
}

// minCompared is the share of batches each profile must compare.
var minCompared = map[string]float64{"sparse": 0.9, "busy": 0.9, "busy, every class": 0.5, "ends": 0.2}

// differential runs one stream of 25 minutes and returns the batches, the
// batches compared and whether the builder guessed.
func differential(t *testing.T, seed uint64, p profile, opts Options) (batches, compared int, guessed bool) {
	t.Helper()
	start := ts(t, "09:30:00")
	g := newGen(seed, p, start)
	nb, ob := New(opts), newOld(opts)
	var evs, gotOut, wantOut []market.Event
	for g.clock < start+25*minuteNs {
		var now int64
		evs, now = g.step(evs[:0])
		for i := range evs {
			nb.Apply(&evs[i])
			ob.Apply(&evs[i])
		}
		gotOut = nb.Advance(now, gotOut[:0])
		wantOut = ob.Advance(now, wantOut[:0])
		batches++
		if s := nb.Stats(); s.GuessedRefs+s.LostEnds > 0 {
			guessed = true
		}
		if guessed {
			continue
		}
		compared++
		if err := sameEvents(gotOut, wantOut); err != nil {
			t.Fatalf("batch %d at %s: %v", batches, time.Unix(0, now).In(ny).Format("15:04:05.000"), err)
		}
		if got, want := comparable(nb.Stats()), comparable(ob.Stats()); got != want {
			t.Fatalf("batch %d: stats\n got %+v\nwant %+v", batches, got, want)
		}
	}
	return batches, compared, guessed
}

// comparable keeps the counters both builders have.
func comparable(s Stats) Stats {
	s.GuessedRefs, s.LostEnds, s.HeldBytes = 0, 0, 0
	return s
}
