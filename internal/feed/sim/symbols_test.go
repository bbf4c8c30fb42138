package sim

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

func TestValidSymbol(t *testing.T) {
	for _, name := range append(slices.Clone(DefaultSymbols),
		"A", "F", "ROKU", "SOFI", "BRK.B", "BF-B", "PBR.A", "ZVZZT", "GOOGL", "X1", "ABCDEFGHIJKLMNOP", "JPM-PC", "A.B.C") {
		if !validSymbol(name) {
			t.Errorf("%q rejected", name)
		}
	}
	for _, name := range []string{"", "aapl", "Aapl", "AAPl", " AAPL", "AAPL ", "AA PL", "1ABC", ".A", "A.", "-A", "A-",
		"BRK..B", "BRK.-B", "BRK/B", "BRK_B", "A$", "ÄPFEL", "AAPL\n", "ABCDEFGHIJKLMNOPQ", "*", "SPY,QQQ"} {
		if validSymbol(name) {
			t.Errorf("%q accepted", name)
		}
	}
}

func TestInvalidSymbolError(t *testing.T) {
	_, err := New(Options{Symbols: []string{"AAPL", "rOku"}})
	if err == nil || !strings.Contains(err.Error(), `invalid symbol "rOku" (did you mean "ROKU"?)`) ||
		!strings.Contains(err.Error(), "BRK.B") {
		t.Fatalf("New: %v", err)
	}
}

// TestDerivedProfiles checks the profiles made up for symbols without a
// built-in one, over every name of one to three letters and a few thousand
// of four and five.
func TestDerivedProfiles(t *testing.T) {
	for i := range profiles {
		if p := profileFor(profiles[i].name); p != profiles[i] {
			t.Errorf("%s: profile %+v, want the built-in %+v", p.name, p, profiles[i])
		}
	}
	builtinWeights := make([]float64, len(profiles))
	for i, p := range profiles {
		builtinWeights[i] = p.weight
	}
	slices.Sort(builtinWeights)
	median := builtinWeights[len(builtinWeights)/2]

	var names []string
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		if n == 0 {
			names = append(names, prefix)
			return
		}
		for c := 'A'; c <= 'Z'; c++ {
			gen(prefix+string(c), n-1)
		}
	}
	for n := 1; n <= 3; n++ {
		gen("", n)
	}
	short := len(names)
	for i := range 4000 { // four and five letters, spread over the alphabet
		names = append(names, string([]byte{'A' + byte(i%26), 'A' + byte(i/26%26), 'A' + byte(i*7%26), 'A' + byte(i/7%26)}),
			string([]byte{'A' + byte(i*3%26), 'A' + byte(i%26), 'A' + byte(i/26%26), 'A' + byte(i*11%26), 'A' + byte(i/5%26)}))
	}

	type tally struct{ n, nyse, tier2 int }
	byLen := map[int]*tally{}
	minPx, maxPx, sumLog := math.Inf(1), 0.0, 0.0
	derived := 0
	for _, name := range names {
		if lookupProfile(name) != nil {
			continue
		}
		derived++
		p := deriveProfile(name)
		if q := deriveProfile(name); q != p {
			t.Fatalf("%s: two derivations differ: %+v and %+v", name, p, q)
		}
		switch {
		case p.name != name,
			p.price < derivedMinPrice || p.price > derivedMaxPrice || !onTick(p.price),
			p.vol < derivedMinVol || p.vol > derivedMaxVol,
			p.weight < derivedMinWeight || p.weight > derivedMaxWeight || p.weight > median,
			p.spread < derivedMinSpread || p.spread > derivedMaxSpread,
			p.depth < 1, p.adv <= 0, p.flash <= 0,
			p.tier != 1 && p.tier != 2,
			!(p.tape == 'A' && p.listing == 'N' || p.tape == 'C' && p.listing == 'Q'):
			t.Fatalf("implausible profile %+v", p)
		}
		tl := byLen[len(name)]
		if tl == nil {
			tl = &tally{}
			byLen[len(name)] = tl
		}
		tl.n++
		if p.tape == 'A' {
			tl.nyse++
		}
		if p.tier == 2 {
			tl.tier2++
		}
		minPx, maxPx, sumLog = min(minPx, p.price), max(maxPx, p.price), sumLog+math.Log(p.price)
	}
	t.Logf("%d names (%d of 1-3 letters): prices %v to %v", derived, short, minPx, maxPx)
	// Log-uniform prices: the mean log price is the middle of the range.
	if mid := (math.Log(derivedMinPrice) + math.Log(derivedMaxPrice)) / 2; math.Abs(sumLog/float64(derived)-mid) > 0.05 ||
		minPx > 6 || maxPx < 450 {
		t.Errorf("prices %v to %v, mean log %.3f: not log-uniform over [5, 500]", minPx, maxPx, sumLog/float64(derived))
	}
	for n, want := range map[int]float64{2: 0.6, 3: 0.6, 4: 0.2, 5: 0} { // 1 letter: too few names
		tl := byLen[n]
		nyse, tier2 := float64(tl.nyse)/float64(tl.n), float64(tl.tier2)/float64(tl.n)
		t.Logf("%d letters: %d names, %.0f%% NYSE, %.0f%% tier 2", n, tl.n, 100*nyse, 100*tier2)
		if math.Abs(nyse-want) > 0.05 || tier2 < 0.4 || tier2 > 0.6 {
			t.Errorf("%d letters: %.2f NYSE (want %.2f), %.2f tier 2 (want about half)", n, nyse, want, tier2)
		}
	}
	for _, name := range []string{"BRK.B", "BF-B", "JPM-PC"} {
		if p := deriveProfile(name); p.tape != 'A' {
			t.Errorf("%s listed on tape %c, want NYSE (A)", name, p.tape)
		}
	}
}

// TestDerivedProfilePinned pins a few derived profiles: a symbol must look
// the same in every run, and also from one release of Tape to the next.
// Change these only on purpose, as a visible change for users.
func TestDerivedProfilePinned(t *testing.T) {
	tests := []struct {
		name        string
		tape        byte
		price, vol  float64
		tier        int
		weight      float64
		spread, adv float64
	}{
		{"ROKU", 'C', 11.86, 0.67, 2, 2.4, 2.78, 8.17},
		{"SOFI", 'C', 45.40, 0.78, 1, 2.0, 1.41, 5.37},
		{"BRK.B", 'A', 196.35, 0.53, 1, 2.4, 5.61, 1.48},
	}
	for _, tt := range tests {
		p := deriveProfile(tt.name)
		if p.tape != tt.tape || p.price != tt.price || p.vol != tt.vol || p.tier != tt.tier ||
			p.weight != tt.weight || p.spread != tt.spread || p.adv != tt.adv {
			t.Errorf("%s: %+v, want %+v", tt.name, p, tt)
		}
	}
}

// TestDerivedSymbols runs symbols without a built-in profile next to one
// with, through a whole day, with the stream checker.
func TestDerivedSymbols(t *testing.T) {
	syms := []string{"AAPL", "ROKU", "SOFI", "BRK.B", "ZVZZT", "BF-B"}
	rate := 8.0 // about 700k events
	if testing.Short() || raceEnabled {
		rate = 2
	}
	opts := Options{Seed: 4, Rate: rate, Symbols: syms, Start: summerDay}
	s := mustNew(t, opts)
	c := newChecker(t)
	boot := map[string][]market.Event{}
	span(s, summerDay.Add(24*time.Hour), func(events []market.Event, now int64) {
		if c.batches == 0 {
			for _, e := range events {
				boot[e.Symbol] = append(boot[e.Symbol], e)
			}
		}
		c.batch(events, now)
	})
	t.Logf("%v events: %v; trade conditions %v", c.symbols, c.kinds, c.conds)
	for _, code := range strings.Split("@FIOT6Z", "") {
		if c.conds[code] == 0 {
			t.Errorf("no trade with condition %q", code)
		}
	}
	for _, sym := range syms {
		p := profileFor(sym)
		if c.lastID[sym] < 100 {
			t.Errorf("%s: %d trades", sym, c.lastID[sym])
		}
		if sym != "AAPL" && c.symbols[sym] >= c.symbols["AAPL"] {
			t.Errorf("%s: %d events, as many as AAPL's %d", sym, c.symbols[sym], c.symbols["AAPL"])
		}
		// The start-up snapshot: the listing's status codes, a band of the
		// tier's width around the start price, and a quote at that price.
		b := boot[sym]
		if len(b) != 4 || b[0].Kind != market.KindStatus || b[1].Kind != market.KindLULD || b[2].Kind != market.KindQuote ||
			b[3].Kind != market.KindIEXQuote {
			t.Fatalf("%s: start-up snapshot %v", sym, b)
		}
		wantCode := map[byte]string{'A': "3", 'C': "T"}[p.tape]
		width := map[int]float64{1: 0.05, 2: 0.10}[p.tier]
		l, q := b[1].LULD, b[2].Quote
		if b[0].Status.StatusCode != wantCode || math.Abs(l.LimitUp-p.price*(1+width)) > 0.006 ||
			math.Abs(l.LimitDown-p.price*(1-width)) > 0.006 || math.Abs((q.BidPrice+q.AskPrice)/2/p.price-1) > 0.005 {
			t.Errorf("%s (%+v): status %+v, band %+v, quote %v/%v", sym, p, *b[0].Status, *l, q.BidPrice, q.AskPrice)
		}
	}
}

// TestDerivedDeterminism checks that a derived symbol is the same whatever
// the seed, the start and the other symbols, and that runs with derived
// symbols are as deterministic as any.
func TestDerivedDeterminism(t *testing.T) {
	// The parts of a symbol's state that come from its profile.
	type static struct {
		tape, listing                    byte
		tier                             int
		sigma, spread, depth, adv, logPx float64
		qx, tx                           [256]byte
	}
	of := func(s *Sim, name string) static {
		for _, y := range s.syms {
			if y.name == name {
				return static{y.tape, y.listing, y.tier, y.sigma, y.spread, y.depth, y.adv, y.logPx, *y.qx, *y.tx}
			}
		}
		t.Fatalf("no %s", name)
		return static{}
	}
	a := mustNew(t, Options{Seed: 1, Symbols: []string{"ROKU"}, Start: summerDay.Add(11 * time.Hour)})
	b := mustNew(t, Options{Seed: 99, Symbols: []string{"SPY", "ROKU", "KO"}, Start: winterDay.Add(3 * time.Hour)})
	if of(a, "ROKU") != of(b, "ROKU") {
		t.Errorf("ROKU differs between runs:\n%+v\n%+v", of(a, "ROKU"), of(b, "ROKU"))
	}

	n := 100_000
	if testing.Short() || raceEnabled {
		n = 25_000
	}
	base := Options{Seed: 8, Rate: 20_000, Symbols: []string{"ROKU", "SPY", "BRK.B", "SOFI"},
		Start: summerDay.Add(9*time.Hour + 29*time.Minute)}
	want := take(mustNew(t, base), n)[:n]
	same := base
	same.BatchSize = 13
	if got := take(mustNew(t, same), n)[:n]; !reflect.DeepEqual(got, want) {
		t.Error("same seed, start and symbols: different events")
	}
	other := base
	other.Seed = 9
	if got := take(mustNew(t, other), n)[:n]; reflect.DeepEqual(got, want) {
		t.Error("another seed: the same events")
	}
}

func TestBandWidth(t *testing.T) {
	tests := []struct {
		tier      int
		ref       float64
		mid, open float64 // at 12:00 and at 09:35
	}{
		{1, 230, 0.05, 0.10},
		{2, 100, 0.10, 0.20},
		{1, 3.01, 0.05, 0.10},
		{1, 3, 0.20, 0.40},
		{2, 2.5, 0.20, 0.40},
		{1, 1, 0.20, 0.40},
	}
	for _, tt := range tests {
		y := symbol{tier: tt.tier, ref: tt.ref}
		if mid, open := y.bandWidth(12*60, regularOpen), y.bandWidth(9*60+35, regularOpen); mid != tt.mid || open != tt.open {
			t.Errorf("tier %d at $%v: %v at midday and %v at the open, want %v and %v", tt.tier, tt.ref, mid, open, tt.mid, tt.open)
		}
	}
	// A symbol that trades around the clock has no open to widen its band.
	y := symbol{tier: 2, ref: 100, allDay: true}
	if w := y.bandWidth(9*60+35, regularOpen); w != 0.10 {
		t.Errorf("all-day tier 2 at $100: %v at 09:35, want 0.10", w)
	}
}
