package bars

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// TestMatchesRecomputation feeds seeded random trades (some late, some with
// equal timestamps), corrections and cancels through the builder on a moving
// clock, then checks the last version of every bar it sent against a plain
// recomputation from the final trade list. Daily bars are sent only when they
// change, so the last one sent must be the final day, and no daily bar may
// repeat the one before it. The reference reads the rules as written in
// doc.go, not through condTable.
func TestMatchesRecomputation(t *testing.T) {
	for _, window := range []time.Duration{0, 2 * time.Minute} {
		for seed := uint64(1); seed <= 8; seed++ {
			t.Run(fmt.Sprintf("window=%v/seed=%d", window, seed), func(t *testing.T) {
				checkAgainstReference(t, seed, window)
			})
		}
	}
}

type refTrade struct {
	sym   string
	t     int64
	id    int64
	price float64
	size  uint32
	conds []string
}

type barKey struct {
	sym string
	t   int64
}

var condPool = [][]string{
	nil, nil, nil, {"@"}, {"F"}, {"I"}, {"I"}, {"Z"}, {"T"}, {"U"}, {"M"}, {"9"},
	{"@", "I"}, {"F", "T"}, {"C"}, {"4"}, {"O", "X"}, {"~"},
}

func checkAgainstReference(t *testing.T, seed uint64, window time.Duration) {
	rng := rand.New(rand.NewPCG(seed, 42))
	b := New(Options{Window: window})
	syms := []string{"AA", "BB", "CC"}
	var (
		trades  []*refTrade // arrival order; cancels remove, corrections replace in place
		amended = map[barKey]bool{}
		got     = map[barKey]market.Bar{} // last minute bar sent
		daily   = map[string]market.Bar{} // last daily bar sent (one day)
		nextID  int64
		lastT   int64
		lastBar barKey // KindBar events must come in (minute, symbol) order
	)
	collect := func(evs []market.Event) {
		for _, e := range evs {
			k := barKey{e.Symbol, e.Time}
			switch e.Kind {
			case market.KindBar:
				if _, dup := got[k]; dup {
					t.Fatalf("second KindBar for %v", k)
				}
				if e.Time < lastBar.t || (e.Time == lastBar.t && e.Symbol <= lastBar.sym) {
					t.Fatalf("KindBar %v after %v", k, lastBar)
				}
				lastBar = k
				got[k] = e.Bar
			case market.KindUpdatedBar:
				got[k] = e.Bar
			case market.KindDailyBar:
				if prev, ok := daily[e.Symbol]; ok && prev == e.Bar {
					t.Fatalf("daily %s: unchanged bar %+v sent again", e.Symbol, e.Bar)
				}
				daily[e.Symbol] = e.Bar
			}
		}
	}
	// pick returns a random live trade recent enough that its minute is held
	// whatever the window (its minute ended less than a minute ago).
	pick := func(clock int64) *refTrade {
		var recent []*refTrade
		for _, r := range trades {
			if floorMinute(r.t)+minuteNs > clock-minuteNs {
				recent = append(recent, r)
			}
		}
		if len(recent) == 0 {
			return nil
		}
		return recent[rng.IntN(len(recent))]
	}

	clock := ts(t, "09:30:00")
	end := clock + 8*minuteNs
	var out []market.Event
	for clock < end {
		clock += rng.Int64N(3e9)
		for range rng.IntN(5) {
			switch r := rng.IntN(10); {
			case r < 7: // a trade, usually on time, sometimes up to 59 s late
				var delay int64
				switch d := rng.IntN(10); {
				case d < 6:
					delay = rng.Int64N(1e9)
				case d < 9:
					delay = rng.Int64N(10e9)
				default:
					delay = rng.Int64N(59e9)
				}
				tt := clock - delay
				if rng.IntN(10) == 0 && lastT != 0 {
					tt = lastT // a timestamp tie
				}
				lastT = tt
				nextID++
				rt := &refTrade{sym: syms[rng.IntN(len(syms))], t: tt, id: nextID,
					price: float64(9000+rng.IntN(200)) / 4, size: uint32(1 + rng.IntN(500)),
					conds: condPool[rng.IntN(len(condPool))]}
				trades = append(trades, rt)
				b.Apply(&market.Event{Kind: market.KindTrade, Symbol: rt.sym, Time: rt.t,
					Trade: market.Trade{ID: rt.id, Price: rt.price, Size: rt.size, Exchange: 'V',
						Conditions: market.MakeConditions(rt.conds...)}})
			case r < 9: // a correction
				rt := pick(clock)
				if rt == nil {
					continue
				}
				nextID++
				c := &market.Correction{Exchange: 'V', OrigID: rt.id, OrigPrice: rt.price, OrigSize: rt.size,
					OrigConds: market.MakeConditions(rt.conds...), CorrID: nextID,
					CorrPrice: float64(9000+rng.IntN(200)) / 4, CorrSize: uint32(1 + rng.IntN(500)),
					CorrConds: market.MakeConditions(condPool[rng.IntN(len(condPool))]...)}
				b.Apply(&market.Event{Kind: market.KindCorrection, Symbol: rt.sym, Time: clock, Correction: c})
				rt.id, rt.price, rt.size, rt.conds = c.CorrID, c.CorrPrice, c.CorrSize, c.CorrConds.Strings()
				amended[barKey{rt.sym, floorMinute(rt.t)}] = true
			default: // a cancel
				rt := pick(clock)
				if rt == nil {
					continue
				}
				b.Apply(&market.Event{Kind: market.KindCancelError, Symbol: rt.sym, Time: clock,
					CancelError: &market.CancelError{ID: rt.id, Price: rt.price, Size: rt.size, Exchange: 'V', Action: 'C'}})
				trades = slices.DeleteFunc(trades, func(x *refTrade) bool { return x == rt })
				amended[barKey{rt.sym, floorMinute(rt.t)}] = true
			}
		}
		out = b.Advance(clock, out[:0])
		collect(out)
	}
	collect(b.Advance(clock+3*minuteNs, nil)) // close and send everything, same day

	// Minute bars.
	groups := map[barKey][]*refTrade{}
	for _, r := range trades {
		k := barKey{r.sym, floorMinute(r.t)}
		groups[k] = append(groups[k], r)
	}
	for k, g := range groups {
		want, ok := refBar(g, false)
		have, sent := got[k]
		switch {
		case ok && !sent:
			t.Errorf("%v: no bar sent, want %+v", k, want)
		case ok:
			compareBars(t, fmt.Sprint(k), have, want)
		case sent && !amended[k]:
			t.Errorf("%v: bar %+v sent for a minute without one", k, have)
		}
	}
	for k, have := range got {
		if _, ok := groups[k]; !ok && !amended[k] {
			t.Errorf("%v: bar %+v sent for a minute without trades", k, have)
		}
	}
	// Daily bars.
	for _, sym := range syms {
		var g []*refTrade
		for _, r := range trades {
			if r.sym == sym {
				g = append(g, r)
			}
		}
		want, ok := refBar(g, true)
		have, sent := daily[sym]
		if ok != sent {
			t.Errorf("daily %s: sent %v, want %v", sym, sent, ok)
		} else if ok {
			compareBars(t, "daily "+sym, have, want)
		}
	}
	s := b.Stats()
	if s.TooLate != 0 || s.UnknownRefs != 0 || s.LateTrades == 0 || s.Corrections == 0 || s.Cancels == 0 {
		t.Errorf("stats = %+v", s)
	}
}

func compareBars(t *testing.T, what string, have, want market.Bar) {
	t.Helper()
	vw := math.Abs(have.VWAP-want.VWAP) <= 1e-9*math.Abs(want.VWAP)
	have.VWAP, want.VWAP = 0, 0
	if have != want || !vw {
		t.Errorf("%s: got %+v, want %+v", what, have, want)
	}
}

// refFlags applies the rules of doc.go to one trade.
func refFlags(conds []string, daily bool) (hl, last, vol bool) {
	hl, last, vol = true, true, true
	for _, c := range conds {
		var h, l, v bool
		switch {
		case c == "@" || c == " " || strings.Contains("ABDFKLOSXY1568", c):
			h, l, v = true, true, true
		case strings.Contains("GPZ4", c):
			h, v = true, true
		case strings.Contains("CHINRVW7E", c):
			v = true
		case c == "M" || c == "Q":
		case c == "9":
			l = true
		case c == "T":
			h, l, v = !daily, !daily, true
		case c == "U":
			h, v = !daily, true
		default: // unknown: regular
			h, l, v = true, true, true
		}
		hl, last, vol = hl && h, last && l, vol && v
	}
	return hl, last, vol
}

// refBar computes a bar from trades in arrival order, the obvious way.
func refBar(trades []*refTrade, daily bool) (market.Bar, bool) {
	var lastT, hlT []*refTrade
	var bar market.Bar
	var pv float64
	for _, r := range trades {
		hl, last, vol := refFlags(r.conds, daily)
		if hl {
			hlT = append(hlT, r)
		}
		if last {
			lastT = append(lastT, r)
		}
		if vol {
			bar.Volume += uint64(r.size)
			bar.TradeCount++
			pv += r.price * float64(r.size)
		}
	}
	if len(hlT) == 0 {
		return market.Bar{}, false
	}
	bar.High, bar.Low = hlT[0].price, hlT[0].price
	for _, r := range hlT {
		bar.High, bar.Low = max(bar.High, r.price), min(bar.Low, r.price)
	}
	oc := lastT
	if len(oc) == 0 {
		oc = hlT
	}
	first, latest := oc[0], oc[0]
	for _, r := range oc {
		if r.t < first.t { // ties: the earlier arrival stays
			first = r
		}
		if r.t >= latest.t { // ties: the later arrival wins
			latest = r
		}
	}
	bar.Open, bar.Close = first.price, latest.price
	if bar.Volume > 0 {
		bar.VWAP = pv / float64(bar.Volume)
	}
	return bar, true
}
