package bars

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// setStream is a generated stock stream (gen: a fifth of its trades, and of
// the corrections and cancels of them, on IEX) with crypto trades mixed in,
// for the Set tests.
type setStream struct {
	g   *gen
	rng *rand.Rand
	id  int64
}

func newSetStream(seed uint64, p profile, start int64) *setStream {
	return &setStream{g: newGen(seed, p, start), rng: rand.New(rand.NewPCG(seed, 5))}
}

func (s *setStream) step(dst []market.Event) ([]market.Event, int64) {
	dst, now := s.g.step(dst)
	for range s.rng.IntN(3) {
		s.id++
		dst = append(dst, market.Event{Kind: market.KindCryptoTrade, Symbol: "BTC/USD", Time: now - s.rng.Int64N(1e8),
			CryptoTrade: market.CryptoTrade{ID: s.id, Price: 60_000 + float64(s.rng.IntN(1000)), Size: 0.01 * float64(1+s.rng.IntN(50))}})
	}
	return dst, now
}

// asIEX turns the kinds of out[from:] into the iex kinds, as Set does.
func asIEX(out []market.Event, from int) []market.Event {
	for i := from; i < len(out); i++ {
		out[i].Kind = out[i].Kind.IEX()
	}
	return out
}

// sameSetEvents reports whether two event lists are equal, VWAP bits and
// crypto bars' values included (nil and empty are the same).
func sameSetEvents(a, b []market.Event) bool {
	return len(a) == 0 && len(b) == 0 || reflect.DeepEqual(a, b)
}

// splitIEX returns the events of out that are not of an iex kind, and
// those that are.
func splitIEX(out []market.Event) (other, iex []market.Event) {
	for _, e := range out {
		if e.Kind.IsIEX() {
			iex = append(iex, e)
		} else {
			other = append(other, e)
		}
	}
	return other, iex
}

// TestSetIEX is the IEX builder's differential test: a Set with IEX emits,
// batch for batch, exactly what three separate builders emit, in the order
// Stock, IEX, Crypto: a Builder given every stock event, a Builder given
// only the events on IEX (market.Event.OnIEX: IEX trades and the
// corrections and cancels of them) whose kinds become the iex kinds, and a
// CryptoBuilder. A Set without IEX (NewSet) emits the same events less the
// IEX ones: enabling IEX changes nothing else.
func TestSetIEX(t *testing.T) {
	var kinds [market.NumKinds]int
	var iexCorr, iexCancels uint64
	for _, name := range slices.Sorted(maps.Keys(testProfiles)) {
		for _, window := range []time.Duration{0, 3 * time.Minute} {
			for seed := uint64(1); seed <= seeds(2); seed++ {
				t.Run(fmt.Sprintf("%s/window=%v/seed=%d", name, window, seed), func(t *testing.T) {
					p := testProfiles[name]
					p.window = window
					if window == 0 {
						p.window = DefaultWindow
					}
					opts := Options{Window: window}
					start := ts(t, "09:30:00")
					st := newSetStream(seed, p, start)
					set, plain := NewSetWithIEX(opts), NewSet(opts)
					stock, iex, crypto := New(opts), New(opts), NewCryptoBuilder()
					var evs, got, want, gotPlain []market.Event
					for batch := 0; st.g.clock < start+25*minuteNs; batch++ {
						var now int64
						evs, now = st.step(evs[:0])
						for i := range evs {
							e := &evs[i]
							set.Apply(e)
							plain.Apply(e)
							switch {
							case e.Kind.Class() == market.ClassCrypto:
								crypto.Apply(e)
							case e.OnIEX():
								iex.Apply(e)
								stock.Apply(e)
							default:
								stock.Apply(e)
							}
						}
						got = set.Advance(now, got[:0])
						gotPlain = plain.Advance(now, gotPlain[:0])
						want = stock.Advance(now, want[:0])
						want = asIEX(iex.Advance(now, want), len(want))
						want = crypto.Advance(now, want)
						if !sameSetEvents(got, want) {
							t.Fatalf("batch %d: the Set emits\n%s\nthe builders\n%s", batch, showSet(got), showSet(want))
						}
						other, _ := splitIEX(want)
						if !sameSetEvents(gotPlain, other) {
							t.Fatalf("batch %d: without IEX the Set emits\n%s\nwant\n%s", batch, showSet(gotPlain), showSet(other))
						}
						for _, e := range got {
							kinds[e.Kind]++
						}
					}
					if comparableState(set.Stock.Stats()) != comparableState(stock.Stats()) || comparableState(set.IEX.Stats()) != comparableState(iex.Stats()) {
						t.Fatalf("stats differ")
					}
					iexCorr += iex.Stats().Corrections
					iexCancels += iex.Stats().Cancels
				})
			}
		}
	}
	t.Logf("events by kind: %v; IEX corrections %d, cancels %d", kinds, iexCorr, iexCancels)
	for _, k := range []market.Kind{market.KindIEXBar, market.KindIEXUpdatedBar, market.KindIEXDailyBar, market.KindBar, market.KindCryptoBar} {
		if kinds[k] == 0 {
			t.Errorf("no %v event: the test does not exercise it", k)
		}
	}
	if iexCorr == 0 || iexCancels == 0 {
		t.Errorf("no correction or cancel of an IEX trade")
	}
}

// showSet renders events like show, each prefixed by its view ("sip",
// "iex" or "crypto").
func showSet(evs []market.Event) string {
	var b strings.Builder
	for _, e := range evs {
		view := "sip"
		switch {
		case e.Kind.IsIEX():
			view = "iex"
		case e.Kind.Class() == market.ClassCrypto:
			fmt.Fprintf(&b, "  crypto %v %s %d %+v\n", e.Kind, e.Symbol, e.Time, *e.CryptoBar)
			continue
		}
		c := e
		c.Kind = e.Kind.Consolidated()
		fmt.Fprintf(&b, "  %s %s\n", view, show([]market.Event{c})[0])
	}
	return b.String()
}

// setHarness drives a Set with readable times; its events name their
// exchange.
type setHarness struct {
	t *testing.T
	s *Set
}

func (h *setHarness) trade(at string, id int64, exch byte, price float64, size uint32) {
	h.t.Helper()
	h.s.Apply(&market.Event{Kind: market.KindTrade, Symbol: "AAPL", Time: ts(h.t, at),
		Trade: market.Trade{ID: id, Price: price, Size: size, Exchange: exch, Conditions: market.MakeConditions("@")}})
}

func (h *setHarness) correct(at string, exch byte, origID int64, origPrice float64, origSize uint32, corrID int64, price float64, size uint32) {
	h.t.Helper()
	h.s.Apply(&market.Event{Kind: market.KindCorrection, Symbol: "AAPL", Time: ts(h.t, at),
		Correction: &market.Correction{Exchange: exch, OrigID: origID, OrigPrice: origPrice, OrigSize: origSize,
			OrigConds: market.MakeConditions("@"), CorrID: corrID, CorrPrice: price, CorrSize: size, CorrConds: market.MakeConditions("@")}})
}

func (h *setHarness) cancel(at string, exch byte, id int64, price float64, size uint32) {
	h.t.Helper()
	h.s.Apply(&market.Event{Kind: market.KindCancelError, Symbol: "AAPL", Time: ts(h.t, at),
		CancelError: &market.CancelError{ID: id, Price: price, Size: size, Exchange: exch, Action: 'C'}})
}

func (h *setHarness) advance(at string, want ...string) {
	h.t.Helper()
	var got []string
	for _, e := range h.s.Advance(ts(h.t, at), nil) {
		got = append(got, fmt.Sprintf("%v %s o=%g h=%g l=%g c=%g v=%d n=%d vw=%.4f",
			e.Kind, time.Unix(0, e.Time).In(ny).Format("15:04"), e.Bar.Open, e.Bar.High, e.Bar.Low, e.Bar.Close,
			e.Bar.Volume, e.Bar.TradeCount, e.Bar.VWAP))
	}
	if !slices.Equal(got, want) {
		h.t.Errorf("Advance(%s):\n got: %s\nwant: %s", at, strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

// TestSetIEXCorrections: the IEX bars are those of the IEX trades alone,
// a correction or cancel of an IEX trade corrects the IEX minute bar (at
// the next :30) and daily bar (at the next minute close) as it corrects
// the consolidated ones, and a correction of a trade on another exchange
// leaves the IEX bars alone.
func TestSetIEXCorrections(t *testing.T) {
	h := &setHarness{t, NewSetWithIEX(Options{})}
	h.trade("09:30:05", 1, 'V', 10, 100)
	h.trade("09:30:10", 2, 'Q', 11, 100)
	h.trade("09:30:20", 3, 'V', 10.5, 200)
	h.trade("09:30:30", 4, 'V', 10.2, 100)
	h.advance("09:31:00",
		"bar 09:30 o=10 h=11 l=10 c=10.2 v=500 n=4 vw=10.4400",
		"dailyBar 00:00 o=10 h=11 l=10 c=10.2 v=500 n=4 vw=10.4400",
		"iexBar 09:30 o=10 h=10.5 l=10 c=10.2 v=400 n=3 vw=10.3000",
		"iexDailyBar 00:00 o=10 h=10.5 l=10 c=10.2 v=400 n=3 vw=10.3000")
	h.correct("09:31:05", 'V', 3, 10.5, 200, 5, 10.4, 200) // IEX: both views change
	h.cancel("09:31:06", 'V', 4, 10.2, 100)                // IEX: both views change
	h.correct("09:31:07", 'Q', 2, 11, 100, 6, 9, 100)      // Nasdaq: the consolidated view only
	h.advance("09:31:30",
		"updatedBar 09:30 o=10 h=10.4 l=9 c=10.4 v=400 n=3 vw=9.9500",
		"iexUpdatedBar 09:30 o=10 h=10.4 l=10 c=10.4 v=300 n=2 vw=10.2667")
	h.advance("09:32:00",
		"dailyBar 00:00 o=10 h=10.4 l=9 c=10.4 v=400 n=3 vw=9.9500",
		"iexDailyBar 00:00 o=10 h=10.4 l=10 c=10.4 v=300 n=2 vw=10.2667")
	// A correction of a trade on another exchange only: no IEX bar.
	h.cancel("09:32:05", 'Q', 6, 9, 100)
	h.advance("09:33:00",
		"updatedBar 09:30 o=10 h=10.4 l=10 c=10.4 v=300 n=2 vw=10.2667",
		"dailyBar 00:00 o=10 h=10.4 l=10 c=10.4 v=300 n=2 vw=10.2667")
	if st := h.s.IEX.Stats(); st.Trades != 3 || st.Corrections != 1 || st.Cancels != 1 || st.UnknownRefs != 0 {
		t.Errorf("IEX builder stats %+v: want 3 trades, 1 correction, 1 cancel", st)
	}
}

// TestSetIEXStateSplit is TestStateSplit for a Set with IEX: a stream fed
// to one Set, and to one snapshotted and replaced by a fresh Set restored
// from the snapshot at random points (between batches and inside them, so
// mid-minute), emit the same events; every snapshot reads back to the same
// bytes. (TestStateSplit covers the builder's own snapshot; this covers
// the Set's, so the busy profiles, slow to snapshot, run one seed.)
func TestSetIEXStateSplit(t *testing.T) {
	for _, name := range slices.Sorted(maps.Keys(testProfiles)) {
		n := seeds(3)
		if strings.HasPrefix(name, "busy") {
			n = 1
		}
		for seed := uint64(1); seed <= n; seed++ {
			t.Run(fmt.Sprintf("%s/seed=%d", name, seed), func(t *testing.T) {
				p := testProfiles[name]
				p.window = DefaultWindow
				opts := Options{}
				rng := rand.New(rand.NewPCG(seed, 98))
				start := ts(t, "09:30:00")
				st := newSetStream(seed, p, start)
				whole, part := NewSetWithIEX(opts), NewSetWithIEX(opts)
				restore := func() {
					t.Helper()
					snap := part.AppendState(nil)
					if !bytes.HasPrefix(snap, []byte(setMagic)) {
						t.Fatalf("a Set with IEX writes no marked state")
					}
					part = NewSetWithIEX(opts)
					if err := part.RestoreState(snap); err != nil {
						t.Fatalf("RestoreState: %v", err)
					}
					if again := part.AppendState(nil); !bytes.Equal(again, snap) {
						t.Fatalf("a restored Set snapshots to other bytes")
					}
				}
				var evs, got, want []market.Event
				restores, iexBars := 0, 0
				for batch := 0; st.g.clock < start+25*minuteNs; batch++ {
					var now int64
					evs, now = st.step(evs[:0])
					for i := range evs {
						whole.Apply(&evs[i])
						part.Apply(&evs[i])
						if rng.IntN(200) == 0 {
							restore()
							restores++
						}
					}
					want = whole.Advance(now, want[:0])
					got = part.Advance(now, got[:0])
					if !sameSetEvents(got, want) {
						t.Fatalf("batch %d after %d restores:\n got\n%s\nwant\n%s", batch, restores, showSet(got), showSet(want))
					}
					_, x := splitIEX(want)
					iexBars += len(x)
					if rng.IntN(20) == 0 {
						restore()
						restores++
					}
				}
				if restores < 10 || iexBars == 0 {
					t.Errorf("%d restores, %d IEX bars", restores, iexBars)
				}
				if comparableState(part.IEX.Stats()) != comparableState(whole.IEX.Stats()) {
					t.Errorf("IEX stats differ:\n got %+v\nwant %+v", part.IEX.Stats(), whole.IEX.Stats())
				}
			})
		}
	}
}

// feedSet runs the stream into sets until the clock passes end, and
// returns the events they emitted.
func feedSet(st *setStream, end int64, sets ...*Set) [][]market.Event {
	outs := make([][]market.Event, len(sets))
	var evs []market.Event
	for st.g.clock < end {
		var now int64
		evs, now = st.step(evs[:0])
		for i := range evs {
			for _, s := range sets {
				s.Apply(&evs[i])
			}
		}
		for i, s := range sets {
			outs[i] = s.Advance(now, outs[i])
		}
	}
	return outs
}

// TestSetStateForms: a Set without IEX writes the state of before IEX
// bars, byte for byte (stock len u32 | stock | crypto); a Set with IEX
// restores it with a fresh IEX builder, which from then on builds the bars
// of the IEX trades it is given; a Set without IEX restores a state with
// IEX, ignoring its IEX part.
func TestSetStateForms(t *testing.T) {
	opts := Options{}
	start := ts(t, "09:30:00")
	p := testProfiles["busy"]
	p.window = DefaultWindow
	st := newSetStream(1, p, start)
	old, withIEX := NewSet(opts), NewSetWithIEX(opts)
	feedSet(st, start+5*minuteNs+20e9, old, withIEX)

	snap := old.AppendState(nil)
	stockSnap := old.Stock.AppendState(nil)
	legacy := binary.LittleEndian.AppendUint32(nil, uint32(len(stockSnap)))
	legacy = old.Crypto.AppendState(append(legacy, stockSnap...))
	if !bytes.Equal(snap, legacy) {
		t.Fatalf("a Set without IEX no longer writes the version 1 form")
	}

	// Version 1 into a Set with IEX, whose IEX builder held trades: they
	// go, the rest is restored.
	s := NewSetWithIEX(opts)
	feedSet(newSetStream(2, p, start), start+2*minuteNs, s)
	if err := s.RestoreState(snap); err != nil {
		t.Fatalf("RestoreState of a version 1 state: %v", err)
	}
	if !bytes.Equal(s.Stock.AppendState(nil), stockSnap) || !bytes.Equal(s.Crypto.AppendState(nil), old.Crypto.AppendState(nil)) {
		t.Fatalf("the stock or crypto builder was not restored")
	}
	if !bytes.Equal(s.IEX.AppendState(nil), New(opts).AppendState(nil)) {
		t.Fatalf("the IEX builder is not fresh after a version 1 restore")
	}

	// A version 2 state into a Set without IEX.
	s2 := NewSet(opts)
	if err := s2.RestoreState(withIEX.AppendState(nil)); err != nil {
		t.Fatalf("RestoreState of a version 2 state without IEX: %v", err)
	}
	if !bytes.Equal(s2.AppendState(nil), snap) {
		t.Fatalf("a Set without IEX restored from a version 2 state differs")
	}

	// From here on: s emits what the old Set does, plus the IEX bars of a
	// fresh builder given the IEX trades from now on.
	iex := NewSetWithIEX(opts) // fresh: only its IEX bars are compared
	outs := feedSet(st, start+12*minuteNs, old, s, s2, iex)
	other, gotIEX := splitIEX(outs[1])
	_, wantIEX := splitIEX(outs[3])
	if !sameSetEvents(other, outs[0]) || !sameSetEvents(outs[2], outs[0]) {
		t.Fatalf("a restored Set's stock or crypto bars differ")
	}
	if len(gotIEX) == 0 || !sameSetEvents(gotIEX, wantIEX) {
		t.Fatalf("IEX bars after a version 1 restore: got %d, want %d (or other ones)", len(gotIEX), len(wantIEX))
	}
}

// TestSetStateDamaged: a state the Set cannot read returns an error and
// changes no builder, even when the stock part was good.
func TestSetStateDamaged(t *testing.T) {
	opts := Options{}
	start := ts(t, "09:30:00")
	p := testProfiles["sparse"]
	p.window = DefaultWindow
	src := NewSetWithIEX(opts)
	feedSet(newSetStream(3, p, start), start+4*minuteNs, src)
	snap := src.AppendState(nil)
	stockLen := int(binary.LittleEndian.Uint32(snap[5:]))
	iexAt := 5 + 4 + stockLen + 4 // the IEX snapshot's first byte
	damaged := map[string][]byte{
		"empty":          nil,
		"version":        append(append([]byte(setMagic), 3), snap[5:]...),
		"no IEX section": snap[:5+4+stockLen],
		"IEX truncated":  snap[:iexAt+10],
		"IEX flipped":    flip(snap, iexAt+2),
		"crypto damaged": append(slices.Clone(snap), 1),
		"v1 truncated":   snap[5 : 5+4+stockLen/2],
	}
	for _, name := range slices.Sorted(maps.Keys(damaged)) {
		t.Run(name, func(t *testing.T) {
			s := NewSetWithIEX(opts)
			feedSet(newSetStream(4, p, start), start+3*minuteNs, s)
			before := s.AppendState(nil)
			err := s.RestoreState(damaged[name])
			if err == nil {
				t.Fatal("RestoreState accepted it")
			}
			if name != "crypto damaged" && !errors.Is(err, ErrBadState) {
				t.Errorf("RestoreState = %v, want ErrBadState", err)
			}
			if after := s.AppendState(nil); !bytes.Equal(before, after) {
				t.Errorf("a failed RestoreState changed the Set")
			}
		})
	}
}
