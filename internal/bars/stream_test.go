package bars

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// barBuilder is what the tests and benchmarks drive: the builder and the
// old one of oldbuilder_test.go.
type barBuilder interface {
	Apply(e *market.Event)
	Advance(now int64, out []market.Event) []market.Event
	Stats() Stats
}

// profile shapes a generated stream.
type profile struct {
	syms     int                 // symbols
	perStep  int                 // events per step, at most
	stepNs   int64               // clock step, at most
	late     float64             // share of trades late within the window (up to Window)
	tooLate  float64             // share of trades older than the window: daily bar only
	tie      float64             // share of trades stamped like the symbol's previous one
	corr     float64             // share of events that correct a held trade
	cancel   float64             // share of events that cancel one
	unknown  float64             // share of events that refer to a trade never seen
	ends     float64             // share of corrections and cancels aimed at a minute's first or last trades
	newConds float64             // share of corrections that change the conditions
	offGrid  float64             // share of prices off the 1/10,000 grid
	conds    []market.Conditions // drawn uniformly; genConds if nil
	window   time.Duration
}

// genTrade is a trade the generator printed and still considers live.
type genTrade struct {
	sym     int
	t       int64
	arrival int
	id      int64
	price   float64
	size    uint32
	conds   market.Conditions
	exch    byte
	tooLate bool // never held by a builder: not a target
}

// gen produces random but realistic streams: per-symbol trade IDs that grow
// in arrival order (Tape's invariant), prices on a cent grid with some
// sub-penny and a few off-grid ones, odd lots marked "I", late trades,
// corrections and cancels that carry the original trade as SIP messages do.
type gen struct {
	p       profile
	rng     *rand.Rand
	names   []string
	clock   int64
	ids     []int64
	px      []float64
	lastT   []int64
	live    []*genTrade
	arrival int
}

// genConds gives every condition class of the table a fair share.
var genConds = []market.Conditions{
	{'@'}, {'@'}, {'@'}, {'@'}, {'@', 'F'}, {'@', 'F'}, {}, {'@', 'Z'}, {'@', '4'}, {'@', 'O'},
	{'T'}, {'@', 'T'}, {'U'}, {'@', '9'}, {'@', 'M'}, {'@', 'C'}, {'@', '~'}, {'@', 'F', 'T'},
}

// realConds is closer to a regular session's tape: regular trades and
// intermarket sweeps dominate, out-of-sequence, derivatively priced, cash
// and corrected-close prints are rare.
var realConds = func() []market.Conditions {
	var c []market.Conditions
	for range 60 {
		c = append(c, market.Conditions{'@'})
	}
	for range 30 {
		c = append(c, market.Conditions{'@', 'F'})
	}
	return append(c, market.Conditions{'@', 'Z'}, market.Conditions{'@', '4'}, market.Conditions{'@', 'C'},
		market.Conditions{'@', 'O'}, market.Conditions{'@', '9'}, market.Conditions{'@', 'M'})
}()

func newGen(seed uint64, p profile, start int64) *gen {
	if p.conds == nil {
		p.conds = genConds
	}
	g := &gen{p: p, rng: rand.New(rand.NewPCG(seed, 7)), clock: start}
	for i := range p.syms {
		g.names = append(g.names, fmt.Sprintf("S%03d", i))
		g.ids = append(g.ids, int64(1+i*7))
		g.px = append(g.px, 20+float64(g.rng.IntN(20000))/100)
		g.lastT = append(g.lastT, start)
	}
	return g
}

// step advances the clock and returns the events of one batch and its time.
func (g *gen) step(dst []market.Event) ([]market.Event, int64) {
	g.clock += g.rng.Int64N(g.p.stepNs)
	for range g.rng.IntN(g.p.perStep + 1) {
		switch u := g.rng.Float64(); {
		case u < g.p.corr:
			if e, ok := g.correction(); ok {
				dst = append(dst, e)
			}
		case u < g.p.corr+g.p.cancel:
			if e, ok := g.cancelOne(); ok {
				dst = append(dst, e)
			}
		case u < g.p.corr+g.p.cancel+g.p.unknown:
			dst = append(dst, g.unknownRef())
		default:
			dst = append(dst, g.trade())
		}
	}
	g.prune()
	return dst, g.clock
}

func (g *gen) trade() market.Event {
	s := g.rng.IntN(len(g.names))
	w := int64(g.p.window)
	var t int64
	tooLate := false
	switch u := g.rng.Float64(); {
	case u < g.p.tooLate:
		t = g.clock - w - int64(2*time.Minute) - g.rng.Int64N(int64(10*time.Minute))
		tooLate = true
	case u < g.p.tooLate+g.p.late:
		t = g.clock - g.rng.Int64N(w)
	case u < g.p.tooLate+g.p.late+g.p.tie:
		t = g.lastT[s]
	default:
		t = g.clock - g.rng.Int64N(int64(300*time.Millisecond))
	}
	g.lastT[s] = max(g.lastT[s], t)
	g.px[s] = max(1, g.px[s]+float64(g.rng.IntN(5)-2)/100)
	price := g.price(s)
	var size uint32
	conds := g.p.conds[g.rng.IntN(len(g.p.conds))]
	switch u := g.rng.Float64(); {
	case u < 0.4:
		size = 1 + uint32(g.rng.IntN(99))
		if conds[3] == 0 {
			conds[slices.Index(conds[:], 0)] = 'I'
		}
	case u < 0.9:
		size = 100 * uint32(1+g.rng.IntN(5))
	default:
		size = 101 + uint32(g.rng.IntN(900))
	}
	g.ids[s]++
	g.arrival++
	gt := &genTrade{sym: s, t: t, arrival: g.arrival, id: g.ids[s], price: price, size: size,
		conds: conds, exch: "VNQPZ"[g.rng.IntN(5)], tooLate: tooLate}
	g.live = append(g.live, gt)
	return market.Event{Kind: market.KindTrade, Symbol: g.names[s], Time: t,
		Trade: market.Trade{ID: gt.id, Price: gt.price, Size: gt.size, Exchange: gt.exch, Conditions: gt.conds}}
}

func (g *gen) price(s int) float64 {
	p := g.px[s]
	switch u := g.rng.Float64(); {
	case u < g.p.offGrid:
		return p + 1.0/3
	case u < g.p.offGrid+0.05:
		return math.Round(p*100)/100 + 0.0025 // sub-penny: still on the grid
	}
	return math.Round(p*100) / 100
}

// target picks a held trade to correct or cancel: usually a random recent
// one, sometimes one of the first or last three of its minute.
func (g *gen) target() (*genTrade, bool) {
	horizon := g.clock - int64(g.p.window) // minutes ending before it may be gone
	var cands []*genTrade
	for _, r := range g.live {
		if !r.tooLate && floorMinute(r.t)+minuteNs > horizon {
			cands = append(cands, r)
		}
	}
	if len(cands) == 0 {
		return nil, false
	}
	r := cands[g.rng.IntN(len(cands))]
	if g.rng.Float64() < g.p.ends {
		var same []*genTrade
		for _, x := range cands {
			if x.sym == r.sym && floorMinute(x.t) == floorMinute(r.t) {
				same = append(same, x)
			}
		}
		slices.SortFunc(same, func(a, b *genTrade) int { return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.arrival, b.arrival)) })
		k := min(3, len(same))
		if g.rng.IntN(2) == 0 {
			r = same[g.rng.IntN(k)]
		} else {
			r = same[len(same)-1-g.rng.IntN(k)]
		}
	}
	return r, true
}

func (g *gen) correction() (market.Event, bool) {
	r, ok := g.target()
	if !ok {
		return market.Event{}, false
	}
	g.ids[r.sym]++
	c := &market.Correction{Exchange: r.exch, OrigID: r.id, OrigPrice: r.price, OrigSize: r.size, OrigConds: r.conds,
		CorrID: g.ids[r.sym], CorrPrice: r.price, CorrSize: r.size, CorrConds: r.conds}
	switch g.rng.IntN(3) {
	case 0:
		c.CorrPrice = math.Round((r.price+0.01)*100) / 100
	case 1:
		c.CorrPrice = max(0.01, math.Round((r.price-0.02)*100)/100)
	default:
		c.CorrSize = r.size + 100
	}
	if g.rng.Float64() < g.p.newConds {
		c.CorrConds = g.p.conds[g.rng.IntN(len(g.p.conds))]
	}
	r.id, r.price, r.size, r.conds = c.CorrID, c.CorrPrice, c.CorrSize, c.CorrConds
	return market.Event{Kind: market.KindCorrection, Symbol: g.names[r.sym], Time: g.clock, Correction: c}, true
}

func (g *gen) cancelOne() (market.Event, bool) {
	r, ok := g.target()
	if !ok {
		return market.Event{}, false
	}
	g.live = slices.DeleteFunc(g.live, func(x *genTrade) bool { return x == r })
	action := byte('C')
	if g.rng.IntN(10) == 0 {
		action = 'E'
	}
	return market.Event{Kind: market.KindCancelError, Symbol: g.names[r.sym], Time: g.clock,
		CancelError: &market.CancelError{ID: r.id, Price: r.price, Size: r.size, Exchange: r.exch, Action: action}}, true
}

// unknownRef refers to an ID the symbol never had.
func (g *gen) unknownRef() market.Event {
	s := g.rng.IntN(len(g.names))
	id := g.ids[s] + 1_000_000 + g.rng.Int64N(1000)
	if g.rng.IntN(2) == 0 {
		return market.Event{Kind: market.KindCancelError, Symbol: g.names[s], Time: g.clock,
			CancelError: &market.CancelError{ID: id, Price: g.price(s), Size: 100, Exchange: 'V', Action: 'C'}}
	}
	return market.Event{Kind: market.KindCorrection, Symbol: g.names[s], Time: g.clock,
		Correction: &market.Correction{Exchange: 'V', OrigID: id, OrigPrice: g.price(s), OrigSize: 100,
			OrigConds: market.Conditions{'@'}, CorrID: id + 1, CorrPrice: 1, CorrSize: 1}}
}

// prune forgets trades whose minutes every builder has dropped.
func (g *gen) prune() {
	if len(g.live) < 4096 {
		return
	}
	h := g.clock - int64(g.p.window) - 2*minuteNs
	g.live = slices.DeleteFunc(g.live, func(x *genTrade) bool { return x.tooLate || x.t < h })
}

// sameEvents reports the first difference between two event lists; VWAP
// may differ by float rounding only.
func sameEvents(got, want []market.Event) error {
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) {
			return fmt.Errorf("event %d: got %d events, want %d (%s)", i, len(got), len(want), eventAt(got, want, i))
		}
		g, w := got[i], want[i]
		vw := g.Bar.VWAP == w.Bar.VWAP || math.Abs(g.Bar.VWAP-w.Bar.VWAP) <= 1e-9*math.Abs(w.Bar.VWAP)
		g.Bar.VWAP, w.Bar.VWAP = 0, 0
		if g != w || !vw {
			return fmt.Errorf("event %d:\n got %s\nwant %s", i, show(got[i:i+1]), show(want[i:i+1]))
		}
	}
	return nil
}

func eventAt(got, want []market.Event, i int) string {
	if i < len(got) {
		return "extra " + show(got[i : i+1])[0]
	}
	return "missing " + show(want[i : i+1])[0]
}
