package bars

import (
	"strings"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// Expected bars of TestConditions: two regular trades (@100 x100 at :10,
// @101 x100 at :20), then the trade under test (@105 x50 at :40).
// VWAP over all three: (10000+10100+5250)/250 = 101.4; over the first two:
// 20100/200 = 100.5.
const (
	allOf  = "o=100 h=105 l=100 c=105 v=250 n=3 vw=101.4" // updates everything
	hlVol  = "o=100 h=105 l=100 c=101 v=250 n=3 vw=101.4" // high/low and volume
	volOf  = "o=100 h=101 l=100 c=101 v=250 n=3 vw=101.4" // volume only
	noneOf = "o=100 h=101 l=100 c=101 v=200 n=2 vw=100.5" // nothing
	lastOf = "o=100 h=101 l=100 c=105 v=200 n=2 vw=100.5" // last only
)

func conditionsCase(t *testing.T, conds []string, wantMinute, wantDaily string) *Builder {
	t.Helper()
	h := newHarness(t, Options{})
	h.trade("X", "09:30:10", 1, 100, 100)
	h.trade("X", "09:30:20", 2, 101, 100)
	h.trade("X", "09:30:40", 3, 105, 50, conds...)
	h.advance("09:31:00", "b 09:30 X "+wantMinute, "d 2024-06-03 X "+wantDaily)
	return h.b
}

func TestConditions(t *testing.T) {
	classes := []struct {
		name                  string
		codes                 string // one subtest per code
		wantMinute, wantDaily string
		unknown               bool
	}{
		{"regular", "@ ABDFKLOSXY1568", allOf, allOf, false},
		{"high/low and volume", "GPZ4", hlVol, hlVol, false},
		{"volume only", "CHINRVW7E", volOf, volOf, false},
		{"official open/close", "MQ", noneOf, noneOf, false},
		{"corrected close", "9", lastOf, lastOf, false},
		// Extended hours: in the minute bar, volume only in the daily bar.
		{"form T", "T", allOf, volOf, false},
		{"form U", "U", hlVol, volOf, false},
		{"unknown", "a%", allOf, allOf, true},
	}
	for _, c := range classes {
		for _, code := range c.codes {
			t.Run(c.name+"/"+string(code), func(t *testing.T) {
				b := conditionsCase(t, []string{string(code)}, c.wantMinute, c.wantDaily)
				want := uint64(0)
				if c.unknown {
					want = 1
				}
				if got := b.Stats().UnknownConds; got != want {
					t.Errorf("UnknownConds = %d, want %d", got, want)
				}
			})
		}
	}
}

func TestMultipleConditions(t *testing.T) {
	// A trade updates a field only if all its conditions allow it.
	tests := []struct {
		name                  string
		conds                 []string
		wantMinute, wantDaily string
	}{
		{"none", nil, allOf, allOf},
		{"sweep and odd lot", []string{"F", "I"}, volOf, volOf},
		{"regular and out of sequence", []string{"@", "Z"}, hlVol, hlVol},
		{"out of sequence odd lot", []string{"Z", "I"}, volOf, volOf},
		{"sweep in extended hours", []string{"F", "T"}, allOf, volOf},
		{"odd lot in extended hours", []string{"T", "I"}, volOf, volOf},
		{"out of sequence in extended hours", []string{"Z", "T"}, hlVol, volOf},
		{"corrected close", []string{"9", "@"}, lastOf, lastOf},
		{"official close", []string{"M", "@"}, noneOf, noneOf},
		{"four regular codes", []string{"@", "F", "O", "X"}, allOf, allOf},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { conditionsCase(t, tc.conds, tc.wantMinute, tc.wantDaily) })
	}
}

func TestBarExistence(t *testing.T) {
	type tr struct {
		at    string
		price float64
		cond  string
	}
	tests := []struct {
		name   string
		trades []tr // all x100, in minute 09:30
		want   []string
	}{
		{"quiet minute", nil, nil},
		{"odd lots only", []tr{{"09:30:10", 100, "I"}, {"09:30:20", 101, "I"}}, nil},
		{"cash and official close", []tr{{"09:30:10", 100, "C"}, {"09:30:20", 101, "M"}}, nil},
		{"corrected close only", []tr{{"09:30:10", 100, "9"}}, nil},
		{"out of sequence only: open and close from them",
			[]tr{{"09:30:10", 100, "Z"}, {"09:30:30", 101, "Z"}, {"09:30:20", 102, "Z"}},
			[]string{"b 09:30 X o=100 h=102 l=100 c=101 v=300 n=3 vw=101", "d 2024-06-03 X o=100 h=102 l=100 c=101 v=300 n=3 vw=101"}},
		{"extended hours only: a minute bar, no daily bar",
			[]tr{{"09:30:10", 100, "T"}, {"09:30:20", 102, "T"}},
			[]string{"b 09:30 X o=100 h=102 l=100 c=102 v=200 n=2 vw=101"}},
		{"extended hours out of sequence only",
			[]tr{{"09:30:10", 100, "U"}, {"09:30:20", 102, "U"}},
			[]string{"b 09:30 X o=100 h=102 l=100 c=102 v=200 n=2 vw=101"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			for i, x := range tc.trades {
				h.trade("X", x.at, int64(i+1), x.price, 100, x.cond)
			}
			h.advance("09:31:00", tc.want...)
			// A quiet minute: no bar, and no daily bar, which did not change.
			h.advance("09:32:00")
		})
	}
}

func TestDailyVolumeBeforeFirstPrice(t *testing.T) {
	t.Run("odd lots before the first round lot", func(t *testing.T) {
		h := newHarness(t, Options{})
		h.trade("X", "09:30:10", 1, 100, 100, "I")
		h.trade("X", "09:30:20", 2, 101, 100, "I")
		h.advance("09:31:00") // no bar, and no daily bar without a price
		h.trade("X", "09:31:10", 3, 102, 100)
		h.advance("09:32:00",
			"b 09:31 X o=102 h=102 l=102 c=102 v=100 n=1 vw=102",
			"d 2024-06-03 X o=102 h=102 l=102 c=102 v=300 n=3 vw=101") // 30300/300
	})
	t.Run("pre-market form T", func(t *testing.T) {
		h := newHarness(t, Options{})
		h.trade("X", "08:00:10", 1, 99, 100, "T")
		h.advance("08:01:00", "b 08:00 X o=99 h=99 l=99 c=99 v=100 n=1 vw=99")
		h.advance("09:30:00")
		h.trade("X", "09:30:10", 2, 101, 100)
		h.advance("09:31:00",
			"b 09:30 X o=101 h=101 l=101 c=101 v=100 n=1 vw=101",
			"d 2024-06-03 X o=101 h=101 l=101 c=101 v=200 n=2 vw=100") // 20000/200
	})
}

func TestMinuteClose(t *testing.T) {
	h := newHarness(t, Options{})
	h.trade("MSFT", "09:30:05", 1, 400, 10)
	h.trade("AAPL", "09:30:59.999999999", 2, 190, 1)
	h.trade("IBM", "09:30:30", 3, 170, 2)
	h.advance("09:30:59.999999999") // the minute has not closed yet
	h.advance("09:31:00",
		"b 09:30 AAPL o=190 h=190 l=190 c=190 v=1 n=1 vw=190",
		"b 09:30 IBM o=170 h=170 l=170 c=170 v=2 n=1 vw=170",
		"b 09:30 MSFT o=400 h=400 l=400 c=400 v=10 n=1 vw=400",
		"d 2024-06-03 AAPL o=190 h=190 l=190 c=190 v=1 n=1 vw=190",
		"d 2024-06-03 IBM o=170 h=170 l=170 c=170 v=2 n=1 vw=170",
		"d 2024-06-03 MSFT o=400 h=400 l=400 c=400 v=10 n=1 vw=400")
	h.advance("09:31:00") // same clock: nothing new
	h.trade("AAPL", "09:31:10", 4, 191, 1)
	h.advance("09:31:59.5")
	// Only AAPL traded: only its daily bar changed, IBM's and MSFT's are not
	// sent again.
	h.advance("09:32:00",
		"b 09:31 AAPL o=191 h=191 l=191 c=191 v=1 n=1 vw=191",
		"d 2024-06-03 AAPL o=190 h=191 l=190 c=191 v=2 n=2 vw=190.5")
	h.advance("09:31:30") // the clock does not go back
	// A quiet minute: no minute bars, and no daily bars, none having changed.
	h.advance("09:33:00")
	if s := h.b.Stats(); s.BarsEmitted != 4 || s.DailyBars != 4 || s.Symbols != 3 {
		t.Errorf("stats = %+v", s)
	}
}

func TestOrderWhenClockJumps(t *testing.T) {
	// One Advance over two minute closes emits them in time order. The daily
	// bar is the running aggregate of what was applied, so the first one
	// already holds the 09:31 trades, and the second close, with nothing new
	// for the day, sends none.
	h := newHarness(t, Options{})
	h.trade("B", "09:30:10", 1, 10, 1)
	h.trade("A", "09:30:20", 2, 20, 1)
	h.trade("B", "09:31:05", 3, 11, 1)
	h.trade("A", "09:31:06", 4, 21, 1)
	h.advance("09:32:00",
		"b 09:30 A o=20 h=20 l=20 c=20 v=1 n=1 vw=20",
		"b 09:30 B o=10 h=10 l=10 c=10 v=1 n=1 vw=10",
		"d 2024-06-03 A o=20 h=21 l=20 c=21 v=2 n=2 vw=20.5",
		"d 2024-06-03 B o=10 h=11 l=10 c=11 v=2 n=2 vw=10.5",
		"b 09:31 A o=21 h=21 l=21 c=21 v=1 n=1 vw=21",
		"b 09:31 B o=11 h=11 l=11 c=11 v=1 n=1 vw=11")
}

func TestSameTimestampTies(t *testing.T) {
	// Equal timestamps: the first to arrive opens, the last closes, whether
	// open and close come from last-eligible trades or, failing those, from
	// high/low-eligible ones.
	for _, cond := range []string{"@", "Z"} {
		t.Run(cond, func(t *testing.T) {
			h := newHarness(t, Options{})
			h.trade("X", "09:30:10", 1, 100, 1, cond)
			h.trade("X", "09:30:10", 2, 101, 1, cond)
			h.trade("X", "09:30:50", 3, 102, 1, cond)
			h.trade("X", "09:30:50", 4, 99, 1, cond)
			h.advance("09:31:00",
				"b 09:30 X o=100 h=102 l=99 c=99 v=4 n=4 vw=100.5",
				"d 2024-06-03 X o=100 h=102 l=99 c=99 v=4 n=4 vw=100.5")
		})
	}
}

func TestDailyBarsStartAtFirstPricedTrade(t *testing.T) {
	// One Advance over eleven minute closes. A's daily bar goes out at the
	// first and, unchanged, at none of the others. B's aggregate has a price
	// from the first close on (its 09:40 trade was applied before it), yet
	// its daily bar goes out only at the close after its first priced trade;
	// its 09:30 odd lot gives it volume, not a bar.
	h := newHarness(t, Options{})
	h.trade("A", "09:30:10", 1, 10, 1)
	h.trade("B", "09:30:20", 2, 20, 1, "I")
	h.trade("B", "09:40:10", 3, 21, 1)
	h.advance("09:41:00",
		"b 09:30 A o=10 h=10 l=10 c=10 v=1 n=1 vw=10",
		"d 2024-06-03 A o=10 h=10 l=10 c=10 v=1 n=1 vw=10",
		"b 09:40 B o=21 h=21 l=21 c=21 v=1 n=1 vw=21",
		"d 2024-06-03 B o=21 h=21 l=21 c=21 v=2 n=2 vw=20.5")
}

func TestDailyBarOnlyWhenChanged(t *testing.T) {
	h := newHarness(t, Options{})
	// Minute 1: trades, so bars and the day's first daily bars.
	h.trade("X", "09:30:10", 1, 100, 100)
	h.trade("Y", "09:30:20", 2, 50, 10)
	h.advance("09:31:00",
		"b 09:30 X o=100 h=100 l=100 c=100 v=100 n=1 vw=100",
		"b 09:30 Y o=50 h=50 l=50 c=50 v=10 n=1 vw=50",
		"d 2024-06-03 X o=100 h=100 l=100 c=100 v=100 n=1 vw=100",
		"d 2024-06-03 Y o=50 h=50 l=50 c=50 v=10 n=1 vw=50")
	// Minute 2: no trades, no daily bars.
	h.advance("09:32:00")
	// Minute 3: only X trades, so only X's daily bar goes out.
	h.trade("X", "09:32:10", 3, 101, 100)
	h.advance("09:33:00",
		"b 09:32 X o=101 h=101 l=101 c=101 v=100 n=1 vw=101",
		"d 2024-06-03 X o=100 h=101 l=100 c=101 v=200 n=2 vw=100.5")

	// A late trade changes the day: its daily bar goes out at the next close,
	// after the updated bar at the :30, and once.
	h.trade("X", "09:32:50", 4, 99, 100)
	h.advance("09:33:30", "u 09:32 X o=101 h=101 l=99 c=99 v=200 n=2 vw=100")
	h.advance("09:34:00", "d 2024-06-03 X o=100 h=101 l=99 c=99 v=300 n=3 vw=100")
	h.advance("09:35:00")

	// So does a correction: #1 @100 becomes #10 @97. (9700+10100+9900)/300 = 99.
	h.correct("X", "09:35:05", 1, 10, 97, 100)
	h.advance("09:35:30", "u 09:30 X o=97 h=97 l=97 c=97 v=100 n=1 vw=97")
	h.advance("09:36:00", "d 2024-06-03 X o=97 h=101 l=97 c=99 v=300 n=3 vw=99")

	// Changes that recompute the same values send nothing: two corrections
	// that undo each other before the :30 and the close, a correction to the
	// same price, size and conditions under a new ID, a cancel of a trade
	// the builder does not hold.
	h.correct("X", "09:36:05", 10, 11, 100, 100)
	h.correct("X", "09:36:10", 11, 12, 97, 100)
	h.correct("X", "09:36:15", 3, 30, 101, 100)
	h.cancel("X", "09:36:20", 99, 'V')
	h.advance("09:36:30")
	h.advance("09:37:00")

	// A change only the daily bar sees: #30 becomes form T, which in the
	// daily bar counts only as volume, so the day's high drops to 99. Its
	// minute bar, where T is a regular trade, is not updated.
	h.correct("X", "09:37:05", 30, 31, 101, 100, "T")
	h.advance("09:37:30")
	h.advance("09:38:00", "d 2024-06-03 X o=97 h=99 l=97 c=99 v=300 n=3 vw=99")
	// And one only the minute bar sees: form U does not set the minute's
	// open and close, and counts as volume in the daily bar just as T does.
	h.correct("X", "09:38:05", 31, 32, 101, 100, "U")
	h.advance("09:38:30", "u 09:32 X o=99 h=101 l=99 c=99 v=200 n=2 vw=100")
	h.advance("09:39:00")

	// A trade too late for its minute still changes the day. Close: #4 @99
	// at 09:32:50 stays the latest last-eligible trade. 39900/400 = 99.75.
	h.advance("09:50:00")
	h.trade("X", "09:31:10", 5, 102, 100)
	h.advance("09:50:30")
	h.advance("09:51:00", "d 2024-06-03 X o=97 h=102 l=97 c=99 v=400 n=4 vw=99.75")

	// Nothing changes for the rest of the day, midnight included. The next
	// day's first daily bar goes out even with the values Y last sent the day
	// before; so does the third day's, which reuses the first day's slot.
	h.advance("2024-06-04 09:30:00")
	h.trade("Y", "2024-06-04 09:30:20", 6, 50, 10)
	h.advance("2024-06-04 09:31:00",
		"b 09:30 Y o=50 h=50 l=50 c=50 v=10 n=1 vw=50",
		"d 2024-06-04 Y o=50 h=50 l=50 c=50 v=10 n=1 vw=50")
	h.advance("2024-06-05 09:30:00")
	h.trade("Y", "2024-06-05 09:30:20", 7, 50, 10)
	h.advance("2024-06-05 09:31:00",
		"b 09:30 Y o=50 h=50 l=50 c=50 v=10 n=1 vw=50",
		"d 2024-06-05 Y o=50 h=50 l=50 c=50 v=10 n=1 vw=50")
	h.advance("2024-06-05 09:32:00")

	if s := h.b.Stats(); s.DailyBars != 9 || s.UpdatedBars != 3 || s.TooLate != 1 || s.Corrections != 6 || s.UnknownRefs != 1 {
		t.Errorf("stats = %+v", s)
	}
}

func TestLateTrades(t *testing.T) {
	h := newHarness(t, Options{})
	h.trade("AAPL", "09:30:10", 1, 100, 100)
	h.advance("09:31:00",
		"b 09:30 AAPL o=100 h=100 l=100 c=100 v=100 n=1 vw=100",
		"d 2024-06-03 AAPL o=100 h=100 l=100 c=100 v=100 n=1 vw=100")
	// Alpaca's example: a 09:30:55 trade reported 4 s after the close.
	h.advance("09:31:04")
	h.trade("AAPL", "09:30:55", 2, 102, 100)
	h.advance("09:31:20")
	h.trade("AAPL", "09:30:58", 3, 99, 200)
	h.advance("09:31:29.999999999") // due at the :30, not before
	// Two late trades, one update. VWAP (10000+10200+19800)/400 = 100.
	h.advance("09:31:30", "u 09:30 AAPL o=100 h=102 l=99 c=99 v=400 n=3 vw=100")
	h.advance("09:32:00", "d 2024-06-03 AAPL o=100 h=102 l=99 c=99 v=400 n=3 vw=100")
	h.advance("09:32:10") // sent once

	// A late trade gives 09:29, which had none, its bar.
	h.trade("AAPL", "09:29:50", 4, 98, 100)
	h.advance("09:32:30", "u 09:29 AAPL o=98 h=98 l=98 c=98 v=100 n=1 vw=98")
	// 49800/500 = 99.6
	h.advance("09:33:00", "d 2024-06-03 AAPL o=98 h=102 l=98 c=99 v=500 n=4 vw=99.6")

	// A late odd lot in a minute without a bar: no bar, daily volume only.
	h.trade("AAPL", "09:31:40", 5, 150, 100, "I")
	h.advance("09:33:30")
	h.advance("09:34:00", "d 2024-06-03 AAPL o=98 h=102 l=98 c=99 v=600 n=5 vw=108") // 64800/600
	// Nothing changed since.
	h.advance("09:35:00")

	if s := h.b.Stats(); s.LateTrades != 4 || s.UpdatedBars != 2 || s.BarsEmitted != 1 || s.TooLate != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestTooLate(t *testing.T) {
	h := newHarness(t, Options{})
	h.trade("AAPL", "09:30:10", 1, 100, 100)
	h.advance("09:31:00",
		"b 09:30 AAPL o=100 h=100 l=100 c=100 v=100 n=1 vw=100",
		"d 2024-06-03 AAPL o=100 h=100 l=100 c=100 v=100 n=1 vw=100")
	h.advance("09:50:00") // nineteen quiet minutes: the daily bar is not repeated
	// 19 minutes late: the minute bar is final, the daily bar takes it.
	h.trade("AAPL", "09:30:20", 2, 110, 100)
	h.advance("09:50:30")
	h.advance("09:51:00", "d 2024-06-03 AAPL o=100 h=110 l=100 c=110 v=200 n=2 vw=105")
	if s := h.b.Stats(); s.TooLate != 1 || s.LateTrades != 0 || s.UpdatedBars != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestWindowEdge(t *testing.T) {
	// Minute 09:30 ends at 09:31:00 and is dropped at the first :30 mark at
	// or after 09:31:00 + Window. A change just before that mark still goes
	// out at it; a trade after it is too late.
	tests := []struct {
		name           string
		window         time.Duration
		lastOK, dropAt string
	}{
		{"default 15m", 0, "09:46:29.999", "09:46:30"},
		{"2m", 2 * time.Minute, "09:33:29.999", "09:33:30"},
		{"90s", 90 * time.Second, "09:32:29.999", "09:32:30"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{Window: tc.window})
			h.trade("A", "09:30:10", 1, 100, 100)
			h.b.Advance(ts(t, tc.lastOK), nil)
			h.trade("A", "09:30:20", 2, 101, 100)
			const want = "u 09:30 A o=100 h=101 l=100 c=101 v=200 n=2 vw=100.5"
			if got := show(h.b.Advance(ts(t, tc.dropAt), nil)); len(got) != 1 || got[0] != want {
				t.Errorf("at %s got %q, want %q", tc.dropAt, got, want)
			}
			h.trade("A", "09:30:30", 3, 102, 100)
			if s := h.b.Stats(); s.LateTrades != 1 || s.TooLate != 1 || s.HeldTrades != 0 {
				t.Errorf("stats = %+v", s)
			}
		})
	}
}

func TestCorrectionsAndCancels(t *testing.T) {
	// Minute 09:30: #1 @100 at :10, #2 @101 at :20, #3 @102 at :30, x100
	// each; its bar goes out at 09:31, then the change arrives at 09:31:05.
	// The day is that one minute, so the daily bar changes exactly when the
	// minute bar does: it goes out again at 09:32 then, and only then.
	const base = "o=100 h=102 l=100 c=102 v=300 n=3 vw=101"
	tests := []struct {
		name   string
		change func(h *harness)
		want   string // the bar after the change; "" if no update is due
		refs   uint64 // UnknownRefs
	}{
		{"correct price and size", func(h *harness) { h.correct("X", "09:31:05", 2, 20, 100.5, 300) },
			"o=100 h=102 l=100 c=102 v=500 n=3 vw=100.7", 0}, // 50350/500
		{"correct the high down", func(h *harness) { h.correct("X", "09:31:05", 3, 30, 99, 100) },
			"o=100 h=101 l=99 c=99 v=300 n=3 vw=100", 0},
		{"correct to an odd lot", func(h *harness) { h.correct("X", "09:31:05", 3, 30, 102, 100, "I") },
			"o=100 h=101 l=100 c=101 v=300 n=3 vw=101", 0},
		{"correction that changes no value", func(h *harness) { h.correct("X", "09:31:05", 2, 20, 101, 100, "F") },
			"", 0},
		{"corrected twice before the mark", func(h *harness) {
			h.correct("X", "09:31:05", 3, 30, 103, 100)
			h.correct("X", "09:31:06", 30, 31, 105, 100)
		}, "o=100 h=105 l=100 c=105 v=300 n=3 vw=102", 0},
		{"cancel the high", func(h *harness) { h.cancel("X", "09:31:05", 3, 'V') },
			"o=100 h=101 l=100 c=101 v=200 n=2 vw=100.5", 0},
		{"cancel the open", func(h *harness) { h.cancel("X", "09:31:05", 1, 'V') },
			"o=101 h=102 l=101 c=102 v=200 n=2 vw=101.5", 0},
		{"cancel without exchange", func(h *harness) { h.cancel("X", "09:31:05", 3, 0) },
			"o=100 h=101 l=100 c=101 v=200 n=2 vw=100.5", 0},
		{"cancel of an unknown ID", func(h *harness) { h.cancel("X", "09:31:05", 99, 'V') }, "", 1},
		{"cancel from another exchange", func(h *harness) { h.cancel("X", "09:31:05", 3, 'N') }, "", 1},
		{"cancel of an unknown symbol", func(h *harness) { h.cancel("Y", "09:31:05", 3, 'V') }, "", 1},
		{"correction of an unknown ID", func(h *harness) { h.correct("X", "09:31:05", 77, 78, 1, 1) }, "", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			h.trade("X", "09:30:10", 1, 100, 100)
			h.trade("X", "09:30:20", 2, 101, 100)
			h.trade("X", "09:30:30", 3, 102, 100)
			h.advance("09:31:00", "b 09:30 X "+base, "d 2024-06-03 X "+base)
			h.advance("09:31:05")
			tc.change(h)
			h.advance("09:31:29.999")
			if tc.want != "" {
				h.advance("09:31:30", "u 09:30 X "+tc.want)
				h.advance("09:32:00", "d 2024-06-03 X "+tc.want)
			} else {
				h.advance("09:31:30")
				h.advance("09:32:00") // the day did not change: no daily bar
			}
			h.advance("09:33:00")
			if got := h.b.Stats().UnknownRefs; got != tc.refs {
				t.Errorf("UnknownRefs = %d, want %d", got, tc.refs)
			}
		})
	}
}

func TestCancelOnlyTrade(t *testing.T) {
	// The bar loses its only trade: nothing can retract it, so nothing more
	// is sent for it, and the daily bar, now empty, stops.
	h := newHarness(t, Options{})
	h.trade("X", "09:30:10", 1, 100, 100)
	h.advance("09:31:00",
		"b 09:30 X o=100 h=100 l=100 c=100 v=100 n=1 vw=100",
		"d 2024-06-03 X o=100 h=100 l=100 c=100 v=100 n=1 vw=100")
	h.cancel("X", "09:31:05", 1, 'V')
	h.advance("09:31:30")
	h.advance("09:32:00")
	if s := h.b.Stats(); s.Cancels != 1 || s.UpdatedBars != 0 || s.HeldTrades != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestCorrectionBeforeClose(t *testing.T) {
	// A correction in a minute still open changes the bar it will close with.
	h := newHarness(t, Options{})
	h.trade("X", "09:30:10", 1, 100, 100)
	h.trade("X", "09:30:15", 2, 101, 100)
	h.correct("X", "09:30:20", 1, 10, 99, 100)
	h.cancel("X", "09:30:25", 2, 'V')
	h.advance("09:31:00",
		"b 09:30 X o=99 h=99 l=99 c=99 v=100 n=1 vw=99",
		"d 2024-06-03 X o=99 h=99 l=99 c=99 v=100 n=1 vw=99")
	h.advance("09:31:30")
	if s := h.b.Stats(); s.Corrections != 1 || s.Cancels != 1 || s.UpdatedBars != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestDailyBarDayBoundary(t *testing.T) {
	// The session day is the New York calendar day, and its daily bar is
	// stamped at New York midnight, whatever the UTC offset that day.
	tests := []struct {
		name                string
		before, after       string // trades on either side of midnight, NY time
		beforeMin, afterMin string // their minutes' closes
		dayBefore, dayAfter string // NY dates
		utcBefore, utcAfter string // their midnights in UTC
	}{
		{"summer", "2024-06-03 23:59:10", "2024-06-04 00:00:20", "2024-06-04 00:00:00", "2024-06-04 00:01:00",
			"2024-06-03", "2024-06-04", "2024-06-03T04:00:00Z", "2024-06-04T04:00:00Z"},
		// Clocks went forward at 2:00 on March 10: a 23-hour day.
		{"spring forward", "2024-03-10 23:59:10", "2024-03-11 00:00:20", "2024-03-11 00:00:00", "2024-03-11 00:01:00",
			"2024-03-10", "2024-03-11", "2024-03-10T05:00:00Z", "2024-03-11T04:00:00Z"},
		// Clocks went back at 2:00 on November 3: a 25-hour day.
		{"fall back", "2024-11-03 23:59:10", "2024-11-04 00:00:20", "2024-11-04 00:00:00", "2024-11-04 00:01:00",
			"2024-11-03", "2024-11-04", "2024-11-03T04:00:00Z", "2024-11-04T05:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			h.trade("X", tc.before, 1, 10, 1)
			h.trade("X", tc.before[:11]+"23:59:20", 2, 12, 1)
			got := h.b.Advance(ts(t, tc.beforeMin), nil)
			h.advance(tc.beforeMin) // nothing more
			want := []string{
				"b 23:59 X o=10 h=12 l=10 c=12 v=2 n=2 vw=11",
				"d " + tc.dayBefore + " X o=10 h=12 l=10 c=12 v=2 n=2 vw=11",
			}
			checkShow(t, got, want)
			checkUTC(t, got[1].Time, tc.utcBefore)

			h.trade("X", tc.after, 3, 20, 2)
			got = h.b.Advance(ts(t, tc.afterMin), nil)
			want = []string{
				"b 00:00 X o=20 h=20 l=20 c=20 v=2 n=1 vw=20",
				"d " + tc.dayAfter + " X o=20 h=20 l=20 c=20 v=2 n=1 vw=20", // a fresh day
			}
			checkShow(t, got, want)
			checkUTC(t, got[1].Time, tc.utcAfter)
		})
	}
}

func TestLateTradeAcrossMidnight(t *testing.T) {
	h := newHarness(t, Options{})
	h.trade("X", "2024-06-03 23:59:50", 1, 10, 1)
	h.advance("2024-06-04 00:00:00",
		"b 23:59 X o=10 h=10 l=10 c=10 v=1 n=1 vw=10",
		"d 2024-06-03 X o=10 h=10 l=10 c=10 v=1 n=1 vw=10")
	// Yesterday's minute still takes a late trade; yesterday's daily bar has
	// no minute close left, so only the minute bar is updated.
	h.trade("X", "2024-06-03 23:59:55", 2, 12, 1)
	h.trade("X", "2024-06-04 00:00:10", 3, 20, 1)
	h.advance("2024-06-04 00:00:30", "u 23:59 X o=10 h=12 l=10 c=12 v=2 n=2 vw=11")
	h.advance("2024-06-04 00:01:00",
		"b 00:00 X o=20 h=20 l=20 c=20 v=1 n=1 vw=20",
		"d 2024-06-04 X o=20 h=20 l=20 c=20 v=1 n=1 vw=20")
	// Two days old: too late for a minute bar, and neither tracked day takes
	// it, so today's daily bar, unchanged, is not sent again.
	h.trade("X", "2024-06-02 12:00:00", 4, 5, 1)
	h.advance("2024-06-04 00:02:00")
	if s := h.b.Stats(); s.TooLate != 1 || s.StaleDays != 1 || s.LateTrades != 1 {
		t.Errorf("stats = %+v", s)
	}
}

func TestOtherLocation(t *testing.T) {
	h := newHarness(t, Options{Location: time.UTC})
	h.trade("X", "2024-06-03 20:00:10", 1, 10, 1) // 2024-06-04 00:00:10 UTC
	got := h.b.Advance(ts(t, "2024-06-03 20:01:00"), nil)
	if len(got) != 2 || got[1].Kind != market.KindDailyBar {
		t.Fatalf("got %q", show(got))
	}
	checkUTC(t, got[1].Time, "2024-06-04T00:00:00Z")
}

func checkShow(t *testing.T, got []market.Event, want []string) {
	t.Helper()
	s := show(got)
	if strings.Join(s, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(s, "\n"), strings.Join(want, "\n"))
	}
}

func checkUTC(t *testing.T, ns int64, want string) {
	t.Helper()
	if got := time.Unix(0, ns).UTC().Format(time.RFC3339); got != want {
		t.Errorf("daily bar time = %s, want %s", got, want)
	}
}

func TestIgnoredKinds(t *testing.T) {
	b := New(Options{})
	for _, e := range []market.Event{
		{Kind: market.KindQuote, Symbol: "X", Time: ts(t, "09:30:01"), Quote: market.Quote{BidPrice: 1, AskPrice: 2}},
		{Kind: market.KindBar, Symbol: "X", Time: ts(t, "09:30:00"), Bar: market.Bar{Open: 1}},
		{Kind: market.KindStatus, Symbol: "X", Time: ts(t, "09:30:02")},
		{Kind: market.KindCorrection, Symbol: "X", Time: ts(t, "09:30:03")}, // no payload
		{Kind: market.KindCancelError, Symbol: "X", Time: ts(t, "09:30:03")},
	} {
		b.Apply(&e)
	}
	if got := b.Advance(ts(t, "09:35:00"), nil); len(got) != 0 {
		t.Errorf("got %q", show(got))
	}
	if s := b.Stats(); s != (Stats{}) {
		t.Errorf("stats = %+v", s)
	}
}

func TestStateIsBounded(t *testing.T) {
	// Two hours of trades for three symbols with a 2-minute window: the
	// builder never holds more than the window's minutes, and nothing once
	// the clock has moved past the last one.
	b := New(Options{Window: 2 * time.Minute})
	start := ts(t, "09:30:00")
	syms := []string{"A", "B", "C"}
	var out []market.Event
	for i := range 7200 {
		now := start + int64(i)*int64(time.Second)
		e := market.Event{Kind: market.KindTrade, Symbol: syms[i%3], Time: now,
			Trade: market.Trade{ID: int64(i), Price: 100, Size: 1}}
		b.Apply(&e)
		out = b.Advance(now, out[:0])
		for _, s := range b.syms {
			// Minutes held: the open one, the 2-minute window and the half
			// minute until the drop mark.
			if len(s.mins) > 4 {
				t.Fatalf("%s holds %d minutes at %d", s.name, len(s.mins), i)
			}
		}
	}
	b.Advance(start+3*int64(time.Hour), nil)
	if s := b.Stats(); s.HeldTrades != 0 || len(b.buckets) != 0 || s.BarsEmitted != 360 {
		t.Errorf("held %d trades, %d buckets, stats %+v", s.HeldTrades, len(b.buckets), s)
	}
	for _, s := range b.syms {
		if len(s.mins) != 0 {
			t.Errorf("%s still holds %d minutes", s.name, len(s.mins))
		}
	}
}

func TestApplyDoesNotAllocate(t *testing.T) {
	b := New(Options{Window: 2 * time.Minute})
	syms := []string{"A", "B", "C", "D"}
	now := ts(t, "09:30:00")
	var out []market.Event
	e := market.Event{Kind: market.KindTrade, Trade: market.Trade{Price: 100, Size: 1}}
	i := 0
	step := func() {
		i++
		now += int64(time.Millisecond)
		e.Symbol, e.Time, e.Trade.ID = syms[i%len(syms)], now, int64(i)
		b.Apply(&e)
		if i%100 == 0 {
			out = b.Advance(now, out[:0])
		}
	}
	// Warm up past the window so minutes and their slices are recycled.
	for range 10 * 60 * 1000 {
		step()
	}
	if avg := testing.AllocsPerRun(100_000, step); avg > 0.001 {
		t.Errorf("%.4f allocations per trade", avg)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		conds   []string
		minute  uint8
		daily   uint8
		unknown bool
	}{
		{nil, updHL | updLast | updVol, updHL | updLast | updVol, false},
		{[]string{"@"}, updHL | updLast | updVol, updHL | updLast | updVol, false},
		{[]string{"Z"}, updHL | updVol, updHL | updVol, false},
		{[]string{"I"}, updVol, updVol, false},
		{[]string{"Q"}, 0, 0, false},
		{[]string{"9"}, updLast, updLast, false},
		{[]string{"T"}, updHL | updLast | updVol, updVol, false},
		{[]string{"U"}, updHL | updVol, updVol, false},
		{[]string{"F", "I", "T"}, updVol, updVol, false},
		{[]string{"@", "~"}, updHL | updLast | updVol, updHL | updLast | updVol, true},
		{[]string{"~", "I"}, updVol, updVol, true},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.conds, "+"), func(t *testing.T) {
			f, unknown := classify(market.MakeConditions(tc.conds...))
			if f&minuteMask != tc.minute || f>>dayShift != tc.daily || unknown != tc.unknown {
				t.Errorf("classify = minute %03b daily %03b unknown %v, want %03b %03b %v",
					f&minuteMask, f>>dayShift, unknown, tc.minute, tc.daily, tc.unknown)
			}
		})
	}
}

// TestMemoryFlatInRate feeds the same symbols three minutes of trades at
// 1,000 and at 20,000 trades a second (corrections, cancels and late trades
// included): the builder holds 20 times the trades but not 20 times the
// memory, since busy minutes hold levels and tracked ends, not trades.
func TestMemoryFlatInRate(t *testing.T) {
	held := func(rate float64) Stats {
		n := int(rate * 180)
		f := newBenchFeed(benchStream(8, n, rate, mixReal), 8, benchStart)
		b := New(Options{})
		var out []market.Event
		for i := range n {
			b.Apply(f.next())
			if i%256 == 255 {
				out = b.Advance(f.now, out[:0])
			}
		}
		return b.Stats()
	}
	base := 1_000.0
	if testing.Short() || raceEnabled {
		base = 250
	}
	slow, fast := held(base), held(20*base)
	t.Logf("%v/s: %d trades in %d bytes; 20 times that: %d trades in %d bytes", base, slow.HeldTrades, slow.HeldBytes, fast.HeldTrades, fast.HeldBytes)
	if fast.HeldTrades < 15*slow.HeldTrades {
		t.Fatalf("held %d and %d trades: the streams are not what the test needs", slow.HeldTrades, fast.HeldTrades)
	}
	if fast.HeldBytes > 2*slow.HeldBytes {
		t.Errorf("20 times the rate holds %d bytes, %.1f times the %d at %v/s", fast.HeldBytes,
			float64(fast.HeldBytes)/float64(slow.HeldBytes), slow.HeldBytes, base)
	}
}
