package bars

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

var ny = func() *time.Location {
	l, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	return l
}()

// testDay is a plain Monday in June (EDT, UTC-4).
const testDay = "2024-06-03"

// ts parses a New York wall time: "15:04:05[.fff]" on testDay, or a full
// "2006-01-02 15:04:05[.fff]".
func ts(t testing.TB, s string) int64 {
	t.Helper()
	if !strings.Contains(s, " ") {
		s = testDay + " " + s
	}
	v, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", s, ny)
	if err != nil {
		t.Fatalf("bad time %q: %v", s, err)
	}
	return v.UnixNano()
}

// harness drives a Builder with readable wall times and renders what it
// emits as strings, so expectations are easy to check by hand.
type harness struct {
	t testing.TB
	b *Builder
}

func newHarness(t testing.TB, opts Options) *harness { return &harness{t, New(opts)} }

func (h *harness) trade(sym, at string, id int64, price float64, size uint32, conds ...string) {
	h.t.Helper()
	h.b.Apply(&market.Event{Kind: market.KindTrade, Symbol: sym, Time: ts(h.t, at),
		Trade: market.Trade{ID: id, Price: price, Size: size, Exchange: 'V', Conditions: market.MakeConditions(conds...)}})
}

// correct reports, at wall time at, that trade origID became corrID with the
// given price, size and conditions.
func (h *harness) correct(sym, at string, origID, corrID int64, price float64, size uint32, conds ...string) {
	h.t.Helper()
	h.b.Apply(&market.Event{Kind: market.KindCorrection, Symbol: sym, Time: ts(h.t, at),
		Correction: &market.Correction{Exchange: 'V', OrigID: origID, CorrID: corrID, CorrPrice: price,
			CorrSize: size, CorrConds: market.MakeConditions(conds...)}})
}

func (h *harness) cancel(sym, at string, id int64, exch byte) {
	h.t.Helper()
	h.b.Apply(&market.Event{Kind: market.KindCancelError, Symbol: sym, Time: ts(h.t, at),
		CancelError: &market.CancelError{ID: id, Exchange: exch, Action: 'C'}})
}

// advance moves the clock and checks what came out.
func (h *harness) advance(at string, want ...string) {
	h.t.Helper()
	got := show(h.b.Advance(ts(h.t, at), nil))
	if !slices.Equal(got, want) {
		h.t.Errorf("Advance(%s):\n got: %s\nwant: %s", at, strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

// show renders events as "b 09:30 AAPL o=100 h=105 l=100 c=105 v=250 n=3 vw=101.4":
// the kind letter, the start in New York time (a date for daily bars, plus
// the hour if it is not midnight), the symbol and the bar.
func show(evs []market.Event) []string {
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		tm := time.Unix(0, e.Time).In(ny)
		var when string
		switch {
		case e.Kind != market.KindDailyBar:
			when = tm.Format("15:04:05")
			when = strings.TrimSuffix(when, ":00")
		case tm.Hour() == 0 && tm.Minute() == 0 && tm.Second() == 0 && tm.Nanosecond() == 0:
			when = tm.Format("2006-01-02")
		default:
			when = tm.Format("2006-01-02T15:04:05")
		}
		b := e.Bar
		out = append(out, fmt.Sprintf("%s %s %s o=%g h=%g l=%g c=%g v=%d n=%d vw=%g",
			e.Kind.Letter(), when, e.Symbol, b.Open, b.High, b.Low, b.Close, b.Volume, b.TradeCount, b.VWAP))
	}
	return out
}
