package sim

import (
	"math"
	"time"
	_ "time/tzdata" // the session clock must work on hosts without a zoneinfo database

	"github.com/tapehq/tape/internal/market"
)

// Session boundaries in minutes after midnight, New York wall clock.
const (
	preOpen         = 4 * 60      // extended hours start
	regularOpen     = 9*60 + 30   // opening cross
	openBandMinutes = 15          // LULD bands are doubled for the session's first minutes
	regularEnd      = 16 * 60     // closing cross
	afterHours      = 4 * 60      // extended hours after the close (to 20:00); overnight session after
	dayMinutes      = 24 * 60     // buckets of the intraday curve
	minuteNs        = int64(60e9) // one bucket
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
	shape  [dayMinutes]float64 // message intensity relative to Rate; mean 1 over a standard day
	vol    [dayMinutes]float64 // volatility multiplier
	spread [dayMinutes]float64 // spread multiplier; 1 at midday
	phase  [dayMinutes]phase
	open   int // regular session [open, close) in minutes; open == close on a closed day
	close  int
}

// curve is the standard day, 09:30-16:00, which the normalisation refers to.
var curve, shapeNorm, volNorm = standardDay()

// activity is the unnormalised message intensity at minute m of a day
// whose regular session is [open, close), 1 at midday. The regular session
// is the classic U: the first half hour runs at about three times the
// midday pace, and the run into the closing cross about twice it.
// Extended hours keep a trickle (5-50% of midday) so that a developer at
// night still sees a moving market. Pre-market runs from 04:00 and
// after-hours for four hours after the close (to 20:00 on a full day, 17:00
// after an early close).
func activity(m float64, open, close int) float64 {
	o, c := float64(open), float64(close)
	switch {
	case open == close || m < preOpen || m >= c+afterHours:
		return 0.05
	case m < o-90: // early pre-market
		return 0.08 + 0.07*(m-preOpen)/max(1, o-90-preOpen)
	case m < o: // pre-market builds towards the open
		x := (m - (o - 90)) / 90
		return 0.15 + 0.35*x*x
	case m < c:
		x := (m - o) / (c - o)
		return 1 + 3*math.Exp(-x/0.08) + 2*math.Exp(-(1-x)/0.05)
	default: // after-hours: earnings reactions fade out
		return 0.1 + 0.6*math.Exp(-(m-c)/30)
	}
}

// newIntraday builds the unnormalised curves of a day whose regular session
// is [open, close) in minutes; open == close is a closed day, which is all
// night.
func newIntraday(open, close int) *intraday {
	d := &intraday{open: open, close: close}
	for m := range dayMinutes {
		a := activity(float64(m)+0.5, open, close)
		d.shape[m] = a
		switch {
		case m >= open && m < close:
			d.phase[m] = regular
			// Volatility scales like the square root of activity (more
			// trades, more information), and spreads follow volatility.
			d.vol[m] = math.Sqrt(a)
			d.spread[m] = d.vol[m]
		case open == close || m >= close+afterHours:
			d.phase[m], d.vol[m], d.spread[m] = overnight, 0.3, 8
		case m >= preOpen && m < open:
			d.phase[m], d.vol[m], d.spread[m] = premarket, 0.45, 5
		case m >= close:
			d.phase[m], d.vol[m], d.spread[m] = postmarket, 0.45, 5
		default:
			d.phase[m], d.vol[m], d.spread[m] = overnight, 0.3, 8
		}
	}
	return d
}

// standardDay builds the standard day and its normalisation: the activity
// is divided by its mean (so Rate is the average over a standard day) and
// the volatility scaled so that a whole day's diffusion variance is
// diffusionShare of a 6.5-hour session at the symbol's sigma (the
// permanent jumps supply the rest, see step). Other days use the same
// factors, so that a shorter session has fewer messages and less variance,
// as it has in reality.
func standardDay() (d *intraday, shapeNorm, volNorm float64) {
	d = newIntraday(regularOpen, regularEnd)
	sum, v2 := 0.0, 0.0
	for m := range dayMinutes {
		sum += d.shape[m]
		v2 += d.vol[m] * d.vol[m]
	}
	shapeNorm, volNorm = dayMinutes/sum, math.Sqrt(diffusionShare*(regularEnd-regularOpen)/v2)
	d.normalise(shapeNorm, volNorm)
	return d, shapeNorm, volNorm
}

// allDayCurve is the day of a stock that trades around the clock
// (profile.allDay), as FAKEPACA does on Alpaca's test stream: every minute
// of every day is a regular-session minute, at the standard session's
// average activity, spread and volatility (its root mean square, so that
// a 6.5-hour stretch has a session's variance). It is flat because such a
// market never opens or closes, so it has no U, and its phase never
// changes, so it has no crosses either.
var allDayCurve = aroundTheClock(curve)

func aroundTheClock(std *intraday) *intraday {
	n := float64(std.close - std.open)
	shape, v2, spread := 0.0, 0.0, 0.0
	for m := std.open; m < std.close; m++ {
		shape += std.shape[m]
		v2 += std.vol[m] * std.vol[m]
		spread += std.spread[m]
	}
	d := &intraday{open: 0, close: dayMinutes}
	for m := range dayMinutes {
		d.shape[m], d.vol[m], d.spread[m], d.phase[m] = shape/n, math.Sqrt(v2/n), spread/n, regular
	}
	return d
}

func (d *intraday) normalise(shapeNorm, volNorm float64) {
	for m := range dayMinutes {
		d.shape[m] *= shapeNorm
		d.vol[m] *= volNorm
	}
}

// dayCurve is a day's curves with the Rate applied.
type dayCurve struct {
	*intraday
	rate [dayMinutes]float64 // arrival intensity per ns for each minute
}

// SessionFunc says when the US stock market trades on a New York calendar
// day: the regular session's open and close as offsets from midnight
// (09:30 and 16:00 on a normal day, 13:00 close on an early one), or ok
// false when it is closed (weekends, holidays). day is midnight in
// America/New_York. See Options.Sessions.
type SessionFunc func(day time.Time) (open, close time.Duration, ok bool)

// calendar resolves the curves of each New York day through a SessionFunc,
// keeping one dayCurve per distinct session (a handful: normal, early
// close, closed). It is consulted when the clock enters a new day.
type calendar struct {
	sessions SessionFunc // nil: every day is a standard trading day
	rate     float64     // Options.Rate
	cache    map[[2]int]*dayCurve
}

func (c *calendar) day(y int, mo time.Month, d int) *dayCurve {
	open, close := regularOpen, regularEnd
	if c.sessions != nil {
		o, cl, ok := c.sessions(time.Date(y, mo, d, 0, 0, 0, 0, newYork))
		// Whole minutes within the day; an empty or reversed session is a
		// closed day.
		open = min(max(int(o/time.Minute), 0), dayMinutes)
		close = min(max(int(cl/time.Minute), open), dayMinutes)
		if !ok {
			open, close = 0, 0
		}
		if open == close {
			open, close = 0, 0
		}
	}
	key := [2]int{open, close}
	if dc := c.cache[key]; dc != nil {
		return dc
	}
	in := curve
	if key != [2]int{regularOpen, regularEnd} {
		in = newIntraday(open, close)
		in.normalise(shapeNorm, volNorm)
	}
	dc := &dayCurve{intraday: in}
	for m, x := range in.shape {
		dc.rate[m] = c.rate * x / 1e9
	}
	if c.cache == nil {
		c.cache = map[[2]int]*dayCurve{}
	}
	c.cache[key] = dc
	return dc
}

// newYork is the exchange's time zone (market.NewYork).
var newYork = market.NewYork

// nyClock maps simulated UTC nanoseconds to New York wall-clock time of day.
// time.Time.In is far too slow for the hot path, so it caches one span of
// constant UTC offset within one local day: inside [lo, hi) the wall-clock
// time of day is simply t - mid. DST days just produce two spans.
//
// Entering a span is also where the simulator learns the day's session:
// with a calendar, day is that day's curves (the seam for Options.Sessions).
type nyClock struct {
	lo, hi, mid int64
	cal         *calendar // nil in tests of the clock alone
	day         *dayCurve // the curves of the cached span's day
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
	if c.cal != nil {
		c.day = c.cal.day(y, mo, d)
	}
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
		return s.ny.day.phase[(t-s.ny.mid)/minuteNs]
	}
	c := nyClock{cal: s.ny.cal}
	m := c.minute(t)
	return c.day.phase[m]
}
