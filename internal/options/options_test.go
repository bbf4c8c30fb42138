package options

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/calendar"
)

func TestSymbolRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		sym  string
		want Contract
	}{
		{"AAPL261218C00230000", Contract{Root: "AAPL", Expiry: calendar.NewDate(2026, 12, 18), StrikeMilli: 230_000}},
		{"SPY270115P00612500", Contract{Root: "SPY", Expiry: calendar.NewDate(2027, 1, 15), Put: true, StrikeMilli: 612_500}},
		{"F261218C00012500", Contract{Root: "F", Expiry: calendar.NewDate(2026, 12, 18), StrikeMilli: 12_500}},
		{"BRKB261218C00500000", Contract{Root: "BRKB", Expiry: calendar.NewDate(2026, 12, 18), StrikeMilli: 500_000}},
	} {
		c, err := Parse(tc.sym)
		if err != nil || c != tc.want {
			t.Fatalf("Parse(%s) = %+v, %v; want %+v", tc.sym, c, err, tc.want)
		}
		if got := c.Symbol(); got != tc.sym {
			t.Fatalf("Symbol() = %s, want %s", got, tc.sym)
		}
		if !IsSymbol(tc.sym) {
			t.Fatalf("IsSymbol(%s) = false", tc.sym)
		}
	}
	// The OCC's padded form and lower case parse to the same contract.
	c, err := Parse("aapl  261218c00230000")
	if err != nil || c.Symbol() != "AAPL261218C00230000" {
		t.Fatalf("padded: %v %v", c, err)
	}
	if IsSymbol("aapl261218c00230000") {
		t.Fatal("IsSymbol accepts lower case, which Alpaca's symbols never are")
	}
	for _, bad := range []string{"", "AAPL", "AAPL261218X00230000", "AAPL261318C00230000", "AAPL260230C00230000",
		"AAPL261218C0023000A", "AAPL261218C00000000", "TOOLONGX261218C00230000", "AA.L261218C00230000", "261218C00230000"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
	if RootOf("BRK.B") != "BRKB" || RootOf("FAKEPACA") != "FAKEPA" {
		t.Fatalf("RootOf: %s %s", RootOf("BRK.B"), RootOf("FAKEPACA"))
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"AAPL261218C00230000", "SPY270115P00612500", "aapl  261218c00230000", "X991231P99999999", "AAPL260230C00230000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			return
		}
		// Whatever parses prints as a symbol that parses back to itself.
		sym := c.Symbol()
		c2, err := Parse(sym)
		if err != nil || c2 != c || !IsSymbol(sym) {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, c, sym, c2, err)
		}
	})
}

func TestExpirations(t *testing.T) {
	d := calendar.NewDate(2026, 3, 30) // a Monday; Good Friday is 2026-04-03
	exps := Expirations("AAPL", d)
	if !slices.IsSorted(exps) || exps[0] < d {
		t.Fatalf("not sorted from d: %v", exps)
	}
	has := func(e calendar.Date) bool { return slices.Contains(exps, e) }
	if !has(calendar.NewDate(2026, 4, 2)) || has(calendar.NewDate(2026, 4, 3)) {
		t.Fatalf("Good Friday's weekly should expire on Thursday 2026-04-02: %v", exps)
	}
	for _, e := range []calendar.Date{calendar.NewDate(2026, 4, 10), calendar.NewDate(2026, 4, 17), calendar.NewDate(2026, 6, 18), // June 19 is Juneteenth
		calendar.NewDate(2026, 12, 18), calendar.NewDate(2027, 1, 15), calendar.NewDate(2028, 1, 21)} {
		if !has(e) {
			t.Errorf("missing expiration %v in %v", e, exps)
		}
	}
	for _, e := range exps {
		if !calendar.IsTradingDay(e) {
			t.Errorf("expiration %v is not a trading day", e)
		}
		if wd := e.Weekday(); wd != time.Friday && wd != time.Thursday {
			t.Errorf("AAPL expiration %v on a %v", e, wd)
		}
	}
	if has(calendar.NewDate(2026, 3, 31)) {
		t.Fatal("AAPL has no daily expirations")
	}
	spy := Expirations("SPY", d)
	for _, e := range []calendar.Date{d, d.AddDays(1), d.AddDays(2), d.AddDays(7)} {
		if !slices.Contains(spy, e) {
			t.Errorf("SPY lacks the daily expiration %v", e)
		}
	}
}

func TestStrikes(t *testing.T) {
	ks := Strikes(230)
	if ks[0] != 185_000 || ks[len(ks)-1] != 275_000 || len(ks) != 37 {
		t.Fatalf("strikes around 230: %d from %d to %d", len(ks), ks[0], ks[len(ks)-1])
	}
	for i := 1; i < len(ks); i++ {
		if ks[i]-ks[i-1] != 2500 {
			t.Fatalf("step %d", ks[i]-ks[i-1])
		}
	}
	// However high the price, a chain stays small.
	for _, ref := range []float64{999, 2999, 3000, 12_345, 85_000, 700_000, 1e12} {
		if n := len(Strikes(ref)); n > 130 {
			t.Errorf("%d strikes around %v", n, ref)
		}
	}
	if got := StrikeStep(12_345); got != 50 {
		t.Errorf("step at 12,345: %v, want 50", got)
	}
	if Strikes(0) != nil || Strikes(math.NaN()) != nil {
		t.Fatal("strikes without a price")
	}
	ch := Chain("AAPL", calendar.NewDate(2026, 3, 30), 230)
	syms := make([]string, len(ch))
	for i, c := range ch {
		syms[i] = c.Symbol()
	}
	if !slices.IsSorted(syms) || len(slices.Compact(slices.Clone(syms))) != len(syms) {
		t.Fatal("chain not sorted by symbol, or duplicated")
	}
}

func TestPricing(t *testing.T) {
	now := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC).UnixNano()
	exp := calendar.NewDate(2026, 12, 18)
	for _, k := range []int64{150_000, 200_000, 230_000, 260_000, 300_000} {
		call := Contract{Root: "AAPL", Expiry: exp, StrikeMilli: k}
		put := call
		put.Put = true
		const s = 231.4
		c, p := call.Value(s, now), put.Value(s, now)
		// Put-call parity, with each side at its own volatility (the
		// same strike and expiry have the same one).
		tt := call.Years(now)
		if got, want := c.Price-p.Price, s-call.Strike()*math.Exp(-Rate*tt); math.Abs(got-want) > 1e-6 {
			t.Errorf("K=%v: C-P = %v, want %v", call.Strike(), got, want)
		}
		if c.Greeks.Delta <= 0 || c.Greeks.Delta >= 1 || p.Greeks.Delta >= 0 || p.Greeks.Delta <= -1 {
			t.Errorf("K=%v: deltas %v %v", call.Strike(), c.Greeks.Delta, p.Greeks.Delta)
		}
		// The greeks are the derivatives of the price at the contract's
		// implied volatility (Alpaca's, as every broker's, hold it fixed).
		const h = 0.01
		k, vol := call.Strike(), c.Vol
		at := func(s, tt float64) float64 { return blackScholes(false, s, k, tt, Rate, vol).Price }
		if fd := (at(s+h, tt) - at(s-h, tt)) / (2 * h); math.Abs(fd-c.Greeks.Delta) > 1e-4 {
			t.Errorf("K=%v: delta %v, finite difference %v", k, c.Greeks.Delta, fd)
		}
		if fd := (at(s+h, tt) - 2*at(s, tt) + at(s-h, tt)) / (h * h); math.Abs(fd-c.Greeks.Gamma) > 1e-3 {
			t.Errorf("K=%v: gamma %v, finite difference %v", k, c.Greeks.Gamma, fd)
		}
		minute := 1.0 / (365 * 24 * 60)
		if fd := (at(s, tt-minute) - at(s, tt+minute)) / 2 * 24 * 60; math.Abs(fd-c.Greeks.Theta) > 1e-4 {
			t.Errorf("K=%v: theta %v per day, finite difference %v", k, c.Greeks.Theta, fd)
		}
		if fd := (blackScholes(false, s, k, tt, Rate, vol+0.005).Price - blackScholes(false, s, k, tt, Rate, vol-0.005).Price); math.Abs(fd-c.Greeks.Vega) > 1e-4 {
			t.Errorf("K=%v: vega %v per point, finite difference %v", k, c.Greeks.Vega, fd)
		}
		if c.Greeks.Theta >= 0 || c.Greeks.Vega <= 0 || c.Greeks.Gamma <= 0 {
			t.Errorf("K=%v: greeks %+v", call.Strike(), c.Greeks)
		}
		bid, ask := call.BidAsk(c.Price)
		if bid < 0 || ask <= bid || bid > c.Price || ask < c.Price {
			t.Errorf("K=%v: %v around %v", call.Strike(), [2]float64{bid, ask}, c.Price)
		}
		if math.Abs(bid*100-math.Round(bid*100)) > 1e-9 {
			t.Errorf("bid %v not in cents", bid)
		}
	}
	// Skew: a lower strike has the higher volatility.
	if Vol("AAPL", 230, 200, 0.05) <= Vol("AAPL", 230, 230, 0.05) {
		t.Fatal("no put skew")
	}
	// Expired: intrinsic value.
	call := Contract{Root: "AAPL", Expiry: calendar.NewDate(2026, 11, 20), StrikeMilli: 200_000}
	if v := call.Value(231, now); v.Price != 31 || v.Greeks.Delta != 1 {
		t.Fatalf("expired call %+v", v)
	}
}

// session returns the regular-session minutes of a trading day with the
// underlying on a gentle walk around p.
func session(d calendar.Date, p float64) []Minute {
	td, _ := calendar.TradingDay(d)
	var out []Minute
	for t := td.Open; t.Before(td.Close); t = t.Add(time.Minute) {
		x := p + math.Sin(float64(len(out))/30)
		out = append(out, Minute{Start: t.UnixNano(), Open: x, High: x + 0.2, Low: x - 0.15, Close: x + 0.05, Trades: 60})
	}
	return out
}

func TestTrades(t *testing.T) {
	day := calendar.NewDate(2026, 12, 1)
	mins := session(day, 230)
	atm := Contract{Root: "AAPL", Expiry: calendar.NewDate(2026, 12, 18), StrikeMilli: 230_000}
	far := Contract{Root: "AAPL", Expiry: calendar.NewDate(2026, 12, 18), StrikeMilli: 275_000}
	count := func(c Contract) int {
		n := 0
		for _, m := range mins {
			tr := c.TradesIn(m, nil)
			for i, x := range tr {
				if x.Time < m.Start || x.Time >= m.Start+int64(time.Minute) {
					t.Fatalf("trade at %v outside its minute %v", x.Time, m.Start)
				}
				if i > 0 && x.Time < tr[i-1].Time {
					t.Fatal("trades out of order")
				}
				if x.Price <= 0 || x.Size == 0 || !slices.Contains([]byte(Exchanges), x.Exchange) {
					t.Fatalf("bad trade %+v", x)
				}
			}
			if again := c.TradesIn(m, nil); !slices.Equal(tr, again) {
				t.Fatal("trades of a minute differ between calls")
			}
			n += len(tr)
		}
		return n
	}
	na, nf := count(atm), count(far)
	if na < 100 || nf >= na/5 {
		t.Fatalf("at the money %d trades, far out %d: want a busy ATM and a quiet wing", na, nf)
	}
	// Nothing trades after the expiration's close.
	expired := Contract{Root: "AAPL", Expiry: calendar.NewDate(2026, 11, 30), StrikeMilli: 230_000}
	if n := count(expired); n != 0 {
		t.Fatalf("%d trades after expiry", n)
	}
	var s Sessions
	td, _ := calendar.TradingDay(day)
	if !s.Regular(td.Open.UnixNano()) || s.Regular(td.Close.UnixNano()) || s.Regular(td.Open.Add(-time.Minute).UnixNano()) ||
		s.Regular(calendar.NewDate(2026, 12, 5).At(12, 0).UnixNano()) {
		t.Fatal("Sessions.Regular")
	}
}

func BenchmarkTradesIn(b *testing.B) {
	mins := session(calendar.NewDate(2026, 12, 1), 230)
	tape := Contract{Root: "AAPL", Expiry: calendar.NewDate(2026, 12, 18), StrikeMilli: 230_000}.Tape()
	var buf []Trade
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf = tape.TradesIn(mins[i%len(mins)], buf[:0])
	}
}

func TestListed(t *testing.T) {
	for _, tc := range []struct {
		exp, listed calendar.Date
		root        string
	}{
		{calendar.NewDate(2027, 1, 15), calendar.NewDate(2025, 1, 1), "AAPL"},    // January monthly: LEAPS
		{calendar.NewDate(2026, 12, 18), calendar.NewDate(2026, 3, 1), "AAPL"},   // monthly
		{calendar.NewDate(2026, 12, 11), calendar.NewDate(2026, 10, 31), "AAPL"}, // weekly
		{calendar.NewDate(2026, 4, 2), calendar.NewDate(2026, 2, 21), "AAPL"},    // Good Friday's weekly, on Thursday
		{calendar.NewDate(2026, 12, 8), calendar.NewDate(2026, 11, 24), "SPY"},   // daily
	} {
		c := Contract{Root: tc.root, Expiry: tc.exp, StrikeMilli: 100_000}
		got := c.Listed()
		if got != tc.listed {
			t.Errorf("%s listed %v, want %v", c.Symbol(), got, tc.listed)
		}
		// Consistent with the listings: listed on its first day, not the day before.
		if !slices.Contains(Expirations(tc.root, got), tc.exp) {
			t.Errorf("%s: not among the expirations listed on %v", c.Symbol(), got)
		}
		if slices.Contains(Expirations(tc.root, got.AddDays(-1)), tc.exp) {
			t.Errorf("%s: already listed the day before %v", c.Symbol(), got)
		}
	}
	// Before its listing a contract does not trade.
	c := Contract{Root: "AAPL", Expiry: calendar.NewDate(2026, 12, 11), StrikeMilli: 230_000}
	for _, m := range session(calendar.NewDate(2026, 10, 30), 230) {
		if tr := c.TradesIn(m, nil); len(tr) > 0 {
			t.Fatalf("a trade on %v, before the listing", time.Unix(0, m.Start))
		}
	}
}
