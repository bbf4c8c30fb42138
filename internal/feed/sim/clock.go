package sim

import (
	"math"
	"time"
	_ "time/tzdata" // the session clock must work on hosts without a zoneinfo database
)

// Session boundaries in minutes after midnight, New York wall clock.
const (
	preOpen     = 4 * 60      // extended hours start
	regularOpen = 9*60 + 30   // opening cross
	openBandEnd = 9*60 + 45   // LULD bands are doubled until here
	regularEnd  = 16 * 60     // closing cross
	postEnd     = 20 * 60     // extended hours end; overnight session after
	dayMinutes  = 24 * 60     // buckets of the intraday curve
	minuteNs    = int64(60e9) // one bucket
)

type phase uint8

const (
	overnight phase = iota
	premarket
	regular
	postmarket
)

// intraday holds the daily profile of the simulated market, one entry per
// New York minute. Arrivals are a Poisson process whose intensity is
// Rate*shape, constant within a minute, so the shape is the only place the
// time of day enters the generator.
type intraday struct {
	shape  [dayMinutes]float64 // message intensity relative to Rate; mean 1 over the day
	vol    [dayMinutes]float64 // volatility multiplier
	spread [dayMinutes]float64 // spread multiplier; 1 at midday
	phase  [dayMinutes]phase
}

var curve = newIntraday()

// activity is the unnormalised message intensity at minute m of the day,
// 1 at midday. The regular session is the classic U: the first half hour
// runs at about three times the midday pace, and the run into the closing
// cross about twice it. Extended hours keep a trickle (5-50% of midday)
// so that a developer at night still sees a moving market.
func activity(m float64) float64 {
	switch {
	case m < preOpen || m >= postEnd:
		return 0.05
	case m < 8*60: // early pre-market
		return 0.08 + 0.07*(m-preOpen)/(8*60-preOpen)
	case m < regularOpen: // pre-market builds towards the open
		x := (m - 8*60) / (regularOpen - 8*60)
		return 0.15 + 0.35*x*x
	case m < regularEnd:
		x := (m - regularOpen) / (regularEnd - regularOpen)
		return 1 + 3*math.Exp(-x/0.08) + 2*math.Exp(-(1-x)/0.05)
	default: // after-hours: earnings reactions fade out
		return 0.1 + 0.6*math.Exp(-(m-regularEnd)/30)
	}
}

func newIntraday() *intraday {
	d := new(intraday)
	sum := 0.0
	for m := range dayMinutes {
		a := activity(float64(m) + 0.5)
		d.shape[m] = a
		sum += a
		switch {
		case m >= regularOpen && m < regularEnd:
			d.phase[m] = regular
			// Volatility scales like the square root of activity (more
			// trades, more information), and spreads follow volatility.
			d.vol[m] = math.Sqrt(a)
			d.spread[m] = d.vol[m]
		case m >= preOpen && m < regularOpen:
			d.phase[m], d.vol[m], d.spread[m] = premarket, 0.45, 5
		case m >= regularEnd && m < postEnd:
			d.phase[m], d.vol[m], d.spread[m] = postmarket, 0.45, 5
		default:
			d.phase[m], d.vol[m], d.spread[m] = overnight, 0.3, 8
		}
	}
	// Normalise the activity to mean 1 (so Rate is the daily average) and
	// the volatility so that a whole day's diffusion variance is
	// diffusionShare of a 6.5-hour session at the symbol's sigma: the
	// permanent jumps supply the rest (see step).
	mean, v2 := sum/dayMinutes, 0.0
	for m := range d.shape {
		d.shape[m] /= mean
		v2 += d.vol[m] * d.vol[m]
	}
	k := math.Sqrt(diffusionShare * (regularEnd - regularOpen) / v2)
	for m := range d.vol {
		d.vol[m] *= k
	}
	return d
}

// newYork is loaded once; the embedded tzdata makes the error impossible in
// practice, but New still reports it rather than panicking.
var newYork, newYorkErr = time.LoadLocation("America/New_York")

// nyClock maps simulated UTC nanoseconds to New York wall-clock time of day.
// time.Time.In is far too slow for the hot path, so it caches one span of
// constant UTC offset within one local day: inside [lo, hi) the wall-clock
// time of day is simply t - mid. DST days just produce two spans.
type nyClock struct {
	lo, hi, mid int64
}

// tod returns the New York wall-clock time of day at t, in ns.
func (c *nyClock) tod(t int64) int64 {
	if t < c.lo || t >= c.hi {
		c.load(t)
	}
	return t - c.mid
}

func (c *nyClock) load(t int64) {
	tt := time.Unix(0, t).In(newYork)
	h, m, s := tt.Clock()
	c.mid = t - (int64(h*3600+m*60+s)*1e9 + int64(tt.Nanosecond()))
	y, mo, d := tt.Date()
	c.lo = time.Date(y, mo, d, 0, 0, 0, 0, newYork).UnixNano()
	c.hi = time.Date(y, mo, d+1, 0, 0, 0, 0, newYork).UnixNano()
	zlo, zhi := tt.ZoneBounds()
	if !zlo.IsZero() {
		c.lo = max(c.lo, zlo.UnixNano())
	}
	if !zhi.IsZero() {
		c.hi = min(c.hi, zhi.UnixNano())
	}
}

// minute returns the bucket of the intraday curve that t falls in.
func (c *nyClock) minute(t int64) int {
	return int(c.tod(t) / minuteNs)
}

// phaseAt returns the session phase at t, which may lie before the clock's
// cached span (a late report's time): it leaves the cache alone, so the
// caller's later lookups stay cheap.
func (s *Sim) phaseAt(t int64) phase {
	if t >= s.ny.lo && t < s.ny.hi {
		return curve.phase[(t-s.ny.mid)/minuteNs]
	}
	var c nyClock
	return curve.phase[c.minute(t)]
}
