package bars

import (
	"reflect"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

func cTrade(sym string, t time.Time, p, s float64) market.Event {
	return market.Event{Kind: market.KindCryptoTrade, Symbol: sym, Time: t.UnixNano(), CryptoTrade: market.CryptoTrade{Price: p, Size: s}}
}

func cQuote(sym string, t time.Time, bid, ask float64) market.Event {
	return market.Event{Kind: market.KindCryptoQuote, Symbol: sym, Time: t.UnixNano(), CryptoQuote: market.CryptoQuote{BidPrice: bid, AskPrice: ask, BidSize: 1, AskSize: 1}}
}

// TestCryptoBars: a bar for every minute of every pair, trades or not (a
// minute without trades is flat at the quote midpoint, volume 0), VWAP and
// fractional volume, and the daily bar of the UTC day every minute, which
// restarts at midnight in Chicago (Alpaca's crypto day).
func TestCryptoBars(t *testing.T) {
	b := NewCryptoBuilder()
	m0 := time.Date(2026, 12, 6, 5, 58, 0, 0, time.UTC) // 23:58 in Chicago
	b.Advance(m0.UnixNano(), nil)
	for _, e := range []market.Event{
		cQuote("ETH/USD", m0.Add(time.Second), 3000, 3002),
		cTrade("BTC/USD", m0.Add(2*time.Second), 100_000, 0.5),
		cTrade("BTC/USD", m0.Add(3*time.Second), 100_010, 0.25),
	} {
		b.Apply(&e)
	}
	out := b.Advance(m0.Add(time.Minute).UnixNano(), nil)
	want := []market.Event{
		{Kind: market.KindCryptoBar, Symbol: "BTC/USD", Time: m0.UnixNano(), CryptoBar: &market.CryptoBar{Open: 100_000, High: 100_010,
			Low: 100_000, Close: 100_010, Volume: 0.75, VWAP: (100_000*0.5 + 100_010*0.25) / 0.75, TradeCount: 2}},
		{Kind: market.KindCryptoDailyBar, Symbol: "BTC/USD", Time: time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC).UnixNano(),
			CryptoBar: &market.CryptoBar{Open: 100_000, High: 100_010, Low: 100_000, Close: 100_010, Volume: 0.75,
				VWAP: (100_000*0.5 + 100_010*0.25) / 0.75, TradeCount: 2}},
		{Kind: market.KindCryptoBar, Symbol: "ETH/USD", Time: m0.UnixNano(), CryptoBar: &market.CryptoBar{Open: 3001, High: 3001, Low: 3001, Close: 3001}},
	}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("minute 1:\n got  %+v\n want %+v", out, want)
	}
	// The next minute has no trades: ETH gets a flat bar at its quote
	// midpoint; BTC, which has no quote, none; no daily bar changed.
	out = b.Advance(m0.Add(2*time.Minute).UnixNano(), nil)
	if len(out) != 1 || out[0].Symbol != "ETH/USD" || out[0].CryptoBar.Volume != 0 || out[0].CryptoBar.Close != 3001 {
		t.Fatalf("minute 2: %+v", out)
	}
	// After midnight in Chicago the daily bar starts again.
	e := cTrade("BTC/USD", m0.Add(2*time.Minute+time.Second), 99_000, 1)
	b.Apply(&e)
	out = b.Advance(m0.Add(3*time.Minute).UnixNano(), nil)
	var daily *market.Event
	for i := range out {
		if out[i].Kind == market.KindCryptoDailyBar {
			daily = &out[i]
		}
	}
	if daily == nil || daily.Time != time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC).UnixNano() || daily.CryptoBar.Volume != 1 || daily.CryptoBar.Open != 99_000 {
		t.Fatalf("daily after midnight: %+v", daily)
	}
}

// TestCryptoStateRoundTrip: a builder restored from its state emits what
// the original does.
func TestCryptoStateRoundTrip(t *testing.T) {
	a := NewCryptoBuilder()
	m0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	a.Advance(m0.UnixNano(), nil)
	for i := range 50 {
		e := cTrade([]string{"BTC/USD", "ETH/USD"}[i%2], m0.Add(time.Duration(i)*3*time.Second), 100+float64(i), 0.1)
		a.Apply(&e)
		q := cQuote("SOL/USD", m0.Add(time.Duration(i)*3*time.Second), 200, 200.2)
		a.Apply(&q)
		a.Advance(m0.Add(time.Duration(i)*3*time.Second).UnixNano(), nil)
	}
	b := NewCryptoBuilder()
	if err := b.RestoreState(a.AppendState(nil)); err != nil {
		t.Fatal(err)
	}
	next := m0.Add(5 * time.Minute).UnixNano()
	if x, y := a.Advance(next, nil), b.Advance(next, nil); !reflect.DeepEqual(x, y) || len(x) == 0 {
		t.Fatalf("restored builder differs:\n%+v\n%+v", x, y)
	}
}

// FuzzCryptoRestoreState: state comes from disk; restoring never panics.
func FuzzCryptoRestoreState(f *testing.F) {
	b := NewCryptoBuilder()
	e := cTrade("BTC/USD", time.Unix(0, 0), 1, 1)
	b.Apply(&e)
	f.Add(b.AppendState(nil))
	f.Fuzz(func(t *testing.T, p []byte) { NewCryptoBuilder().RestoreState(p) })
}

// TestCryptoDayIncludesGivenMinutes: minute bars given before the live
// clock (a synthetic past earlier in the day) count in the day's bar.
func TestCryptoDayIncludesGivenMinutes(t *testing.T) {
	b := NewCryptoBuilder()
	noon := time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC) // noon in Chicago
	past := market.Event{Kind: market.KindCryptoBar, Symbol: "BTC/USD", Time: noon.Add(-time.Hour).UnixNano(),
		CryptoBar: &market.CryptoBar{Open: 90, High: 120, Low: 80, Close: 100, Volume: 10, VWAP: 100, TradeCount: 40}}
	b.Apply(&past)
	b.Advance(noon.UnixNano(), nil)
	e := cTrade("BTC/USD", noon.Add(time.Second), 110, 1)
	b.Apply(&e)
	out := b.Advance(noon.Add(time.Minute).UnixNano(), nil)
	var daily *market.CryptoBar
	for _, e := range out {
		if e.Kind == market.KindCryptoDailyBar {
			daily = e.CryptoBar
		}
	}
	if daily == nil || daily.Open != 90 || daily.High != 120 || daily.Low != 80 || daily.Close != 110 || daily.Volume != 11 || daily.TradeCount != 41 {
		t.Fatalf("daily bar %+v", daily)
	}
}

// TestCryptoDayIncludesSyntheticMinutesAheadOfTheClock: the simulator's
// past arrives in batches spanning hours, applied before the batch clock
// advances the builder, so its minutes are often at or after the builder's
// clock. They still count towards the day; a feed's bar for a minute the
// builder is building from trades does not.
func TestCryptoDayIncludesSyntheticMinutesAheadOfTheClock(t *testing.T) {
	noon := time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC) // noon in Chicago
	for _, tc := range []struct {
		flags market.Flags
		want  market.CryptoBar
	}{
		{market.FlagSynthetic, market.CryptoBar{Open: 90, High: 120, Low: 80, Close: 110, Volume: 11, TradeCount: 41}},
		{0, market.CryptoBar{Open: 110, High: 110, Low: 110, Close: 110, Volume: 1, TradeCount: 1}},
	} {
		b := NewCryptoBuilder()
		b.Advance(noon.Add(-3*time.Hour).UnixNano(), nil) // the clock of the previous batch
		past := market.Event{Kind: market.KindCryptoBar, Symbol: "BTC/USD", Time: noon.Add(-time.Hour).UnixNano(), Flags: tc.flags,
			CryptoBar: &market.CryptoBar{Open: 90, High: 120, Low: 80, Close: 100, Volume: 10, VWAP: 100, TradeCount: 40}}
		b.Apply(&past)
		b.Advance(noon.UnixNano(), nil)
		e := cTrade("BTC/USD", noon.Add(time.Second), 110, 1)
		b.Apply(&e)
		var daily *market.CryptoBar
		for _, e := range b.Advance(noon.Add(time.Minute).UnixNano(), nil) {
			if e.Kind == market.KindCryptoDailyBar {
				daily = e.CryptoBar
			}
		}
		if daily == nil {
			t.Fatalf("flags %v: no daily bar", tc.flags)
		}
		got := *daily
		got.VWAP = 0
		if got != tc.want {
			t.Errorf("flags %v: daily bar %+v, want %+v", tc.flags, got, tc.want)
		}
	}
}
