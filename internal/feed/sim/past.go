package sim

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	nyse "github.com/tapehq/tape/internal/calendar"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/market"
)

// PastOptions configures a Past. The zero value works: every zero field
// means its default. Symbols, CryptoSymbols, Seed, Rate and Sessions should
// be those of the simulator that continues the past (Options), so that the
// past's prices end where it starts and its volumes match its Rate.
type PastOptions struct {
	// Symbols and CryptoSymbols are the stocks and pairs, as in Options:
	// nil Symbols means DefaultSymbols, nil CryptoSymbols none.
	Symbols       []string
	CryptoSymbols []string
	// Seed selects the past, with End: the same Seed and End give the
	// same bars (on the same platform and Go release).
	Seed int64
	// Rate is the live simulator's Options.Rate (default 1000): the past's
	// trade counts and volumes are those the simulator would print at it.
	Rate float64
	// End is where the past ends and the live simulator starts (its
	// Options.Start); zero means time.Now() truncated to the second. The
	// stock past ends with the last trading day before End's New York
	// date, the crypto past with the last whole minute before End.
	End time.Time
	// Days is how far back the daily bars go, in calendar days before End;
	// default 365. It is extended to cover the minute bars.
	Days int
	// MinuteDays is how many trading days before End have minute bars
	// (stocks: pre-market, regular session and after-hours; crypto: every
	// minute from the New York date of the first of those days, UTC
	// midnight, to End); default 20, negative for none.
	MinuteDays int
	// Sessions says which New York days trade (see Options.Sessions); nil
	// means NYSESessions, the exchange's calendar, since a past with
	// weekend bars would not look like a market. The live simulator's
	// default (every day trades) suits a developer at the weekend, not a
	// year of history. FAKEPACA's past follows it too: the past does not
	// model its trading around the clock.
	Sessions SessionFunc
	// BatchSize caps the events per batch of Next and Run; default 4096.
	BatchSize int
	// News adds the simulator's news (see Options.News: articles per
	// hour) over the minute bars' span, so that the news API has recent
	// articles from the start; 0 means none. Templates quote the
	// skeleton's prices; updates due after End are left out.
	News float64
}

// NYSESessions is the New York Stock Exchange's calendar as a SessionFunc:
// weekends, holidays and early closes (internal/calendar).
func NYSESessions(day time.Time) (open, close time.Duration, ok bool) {
	d, ok := nyse.TradingDay(nyse.DateOf(day))
	if !ok {
		return 0, 0, false
	}
	return d.Open.Sub(day), d.Close.Sub(day), true
}

const (
	defaultPastDays   = 365
	defaultMinuteDays = 20
	defaultPastBatch  = 4096
	pastStream        = 0x7061_7374_5f73_696d // PCG stream of the past's days
	pastIEXStream     = 0x7061_7374_5f69_6578 // PCG stream of the days' IEX view
	maxDayJumps       = 16                    // jumps placed in a day's minutes; more only move its total
	maxPoints         = 8                     // trade prices simulated per minute bar
	exactSizes        = 32                    // trade sizes drawn one by one up to this many; beyond, their sum's law
	extendedMinutes   = afterHours            // after-hours run this long after the close
	gapPerClosedDay   = 0.25                  // a closed day's share of a weeknight gap's variance
)

// Past is the deterministic history a fresh simulator continues: daily bars
// for a year and minute bars for the last weeks, of every simulated stock
// and crypto pair, and the IEX view of the stocks' (market.KindIEXBar and
// KindIEXDailyBar: the bars of IEX's own prints), flagged
// market.FlagSynthetic. It is a feed.Feed that sends them once, in the
// order they would have gone out live (a bar once its minute or day has
// ended), and then returns; Next exposes the same sequence without a
// channel. Resume says where each symbol's past ends, for the simulator's
// Options.Resume. See "The past" in doc.go for the model. A Past is not
// safe for concurrent use.
type Past struct {
	series  []*pastSeries
	heap    []int32 // series with events left, by (send time of their next event, index)
	batch   int
	now     int64 // send time of the last event handed out
	end     int64
	resume  map[string]SymbolState
	sdays   []stockDay
	cdays   []cryptoDay
	newsNow int64 // the time of the article being written, for priceAt
	sums    map[*dayCurve]*curveSums
	z       [dayMinutes]float64 // scratch: a segment's diffusion increments
	v       [dayMinutes]float64 // scratch: their variances
	slab    []market.CryptoBar  // crypto bar payloads, allocated together
}

// stockDay is a trading day of the past, the same for every stock.
type stockDay struct {
	date     nyse.Date
	start    int64 // New York midnight, ns
	dc       *dayCurve
	minutes  bool    // has minute bars
	nightV   float64 // Σ vol² over the minutes since the previous trading day's extended hours (the gap)
	nightMin int     // those minutes
}

// cryptoDay is a UTC day of the crypto past; the last may be partial.
type cryptoDay struct {
	start   int64 // UTC midnight, ns
	n       int   // minutes in the past: 1440 but for the last day
	minutes bool
	vol2    float64 // Σ vol² over its minutes (the weekly curve)
	shape   float64 // Σ activity over its minutes
}

// curveSums are prefix sums over a day's minutes.
type curveSums struct{ vol2, shape [dayMinutes + 1]float64 }

func (c *curveSums) vol2Over(m0, m1 int) float64  { return c.vol2[m1] - c.vol2[m0] }
func (c *curveSums) shapeOver(m0, m1 int) float64 { return c.shape[m1] - c.shape[m0] }

// dayPx are a stock's log prices at a day's marks: the start of pre-market
// (s), the open (o), the close (c) and the end of after-hours (e).
type dayPx struct{ s, o, c, e float64 }

// pastBar is a bar waiting to be handed out.
type pastBar struct {
	t, send        int64 // event time (the bar's start), send time (its end)
	kind           market.Kind
	o, h, l, c, vw float64
	v              float64 // shares or coins
	n              uint64
	news           *market.News // KindNews
}

// pastSeries generates one symbol's past, a day at a time, oldest first.
type pastSeries struct {
	name   string
	crypto bool
	pcg    *rand.PCG
	rng    *rand.Rand
	seed   uint64
	sigma2 float64 // diffusion variance per ns at a volatility multiplier of 1
	jump   float64 // Laplace scale of a jump in log price
	rate   float64 // trades per ns at an activity of 1

	// stocks
	px         []dayPx
	sizes      tradeSizes
	mom        sizeMoments
	adv        float64 // shares a day, for the crosses
	halfSpread float64 // half the midday spread, fraction of the price

	// The IEX view of a stock's past: its own generator, seeded per day
	// like pcg, so that the consolidated bars are the same as without it.
	ipcg     *rand.PCG
	irng     *rand.Rand
	iexShare float64      // share of the continuous prints on IEX, as live (tradeVenues)
	minute   minuteTrades // the last stock minute bar's trades, for its IEX twin

	// crypto: log prices at the days' boundaries (len(cdays)+1)
	bound    []float64
	pxScale  float64
	szScale  float64
	median   float64 // median trade, size units
	stable   bool
	anchor   float64
	stableSD float64 // a stablecoin's spread around its peg, log

	day  int // next day to generate
	bars []pastBar
	at   int

	news *newsGen // the news "series": articles instead of bars
}

// NewPast validates o and computes the skeleton of the past: each day's
// key prices, generated backwards from the simulator's start prices, so
// that the last close of every symbol is where a fresh simulator with the
// same options starts. Bars are generated lazily, a day at a time, as Next
// or Run hand them out.
func NewPast(o PastOptions) (*Past, error) {
	switch r := o.Rate; {
	case r == 0:
		o.Rate = defaultRate
	case math.IsNaN(r) || r < 0 || r > maxRate:
		return nil, fmt.Errorf("sim: Rate %v out of range (0, %g]", r, float64(maxRate))
	}
	if o.End.IsZero() {
		o.End = time.Now().Truncate(time.Second)
	}
	if y := o.End.Year(); y < 1971 || y >= 2200 {
		return nil, fmt.Errorf("sim: past End %v out of range [1971, 2200)", o.End)
	}
	switch {
	case o.Days == 0:
		o.Days = defaultPastDays
	case o.Days < 0:
		return nil, fmt.Errorf("sim: invalid past Days %d", o.Days)
	}
	switch {
	case o.MinuteDays == 0:
		o.MinuteDays = defaultMinuteDays
	case o.MinuteDays < 0:
		o.MinuteDays = 0
	}
	switch {
	case o.BatchSize == 0:
		o.BatchSize = defaultPastBatch
	case o.BatchSize < 0:
		return nil, fmt.Errorf("sim: invalid BatchSize %d", o.BatchSize)
	}
	if n := o.News; math.IsNaN(n) || n < 0 || n > maxRate {
		return nil, fmt.Errorf("sim: News %v out of range [0, %g]", n, float64(maxRate))
	}
	if o.Sessions == nil {
		o.Sessions = NYSESessions
	}
	if o.Symbols == nil {
		o.Symbols = DefaultSymbols
	}
	if len(o.Symbols) == 0 && len(o.CryptoSymbols) == 0 {
		return nil, errors.New("sim: no symbols")
	}
	profs, pairProfs, stockWeight, cryptoWeight, err := resolve(o.Symbols, o.CryptoSymbols)
	if err != nil {
		return nil, err
	}
	total := stockWeight + cryptoWeight

	p := &Past{batch: o.BatchSize, end: o.End.UnixNano(), resume: map[string]SymbolState{},
		sums: map[*dayCurve]*curveSums{}}
	cal := &calendar{sessions: o.Sessions, rate: 1}
	p.stockDays(cal, o)
	p.cryptoDays(o)

	for i := range profs {
		pr := &profs[i]
		y := p.newSeries(pr.name, o.Seed)
		y.sigma2 = pr.vol * pr.vol / nsPerYear
		y.jump = pr.vol * math.Sqrt((1-diffusionShare)/(252*2*jumpsPerDay))
		y.rate = o.Rate * pr.weight / total * tradeShare / 1e9
		y.sizes = sizesFor(pr.price)
		y.mom = momentsOf(&y.sizes)
		y.adv = pr.adv * 1e6
		y.halfSpread = pr.spread / 2e4
		y.ipcg = rand.NewPCG(0, 0)
		y.irng = rand.New(y.ipcg)
		y.iexShare = iexShareOf(pr.listing)
		p.stockSkeleton(y, math.Log(float64(toCents(pr.price))/100))
		p.series = append(p.series, y)
	}
	for i := range pairProfs {
		pr := &pairProfs[i]
		y := p.newSeries(pr.name, o.Seed)
		y.crypto = true
		y.pxScale, y.szScale = math.Pow10(pr.pxDec), math.Pow10(pr.szDec)
		y.sigma2 = pr.vol * pr.vol * diffusionShare / nsPerCryptoYear
		y.jump = pr.vol * math.Sqrt((1-diffusionShare)/(365*2*jumpsPerDay))
		y.rate = o.Rate * pr.weight / total / cryptoEventsPerArrival * cryptoTradeShare / 1e9
		y.median = pr.notional / pr.usd * y.szScale
		y.halfSpread = pr.spread / 2e4
		y.stable = pr.stable
		// A stablecoin is pulled back to its peg within stableTauNs: its
		// price wanders by about the stationary deviation of that pull.
		y.stableSD = math.Sqrt(y.sigma2 * stableTauNs / 2)
		y.anchor = math.Log(math.Round(pr.price*y.pxScale) / y.pxScale)
		p.cryptoSkeleton(y)
		p.series = append(p.series, y)
	}
	if o.News > 0 && len(p.cdays) > 0 {
		// News over the span of the crypto minute bars, which starts at
		// the first stock minute day. The stream differs from the live
		// simulator's (which starts at End).
		from := p.end
		for _, d := range p.cdays {
			if d.minutes {
				from = d.start
				break
			}
		}
		y := &pastSeries{news: newNewsGen(o.Seed^0x7061_7374, o.News, from, profs, pairProfs, p.priceAt)}
		p.series = append(p.series, y)
	}
	for i, y := range p.series {
		if p.fill(y) {
			p.heap = append(p.heap, int32(i))
		}
	}
	for i := len(p.heap)/2 - 1; i >= 0; i-- {
		p.down(i)
	}
	return p, nil
}

// newSeries seeds a symbol's generator from the Seed and its name, so that
// a symbol's past does not depend on which others are simulated with it.
func (p *Past) newSeries(name string, seed int64) *pastSeries {
	h := fnv.New64a()
	h.Write([]byte(name))
	y := &pastSeries{name: name, seed: mix64(uint64(seed) ^ mix64(h.Sum64()))}
	y.pcg = rand.NewPCG(0, 0)
	y.rng = rand.New(y.pcg)
	return y
}

// seedDay positions the series' generator at the start of a day's draws:
// every day has a stream of its own, so the backwards skeleton and the
// forwards bars draw the same numbers for it.
func (y *pastSeries) seedDay(key int64) {
	y.pcg.Seed(y.seed, mix64(y.seed^uint64(key)*0x9e37_79b9_7f4a_7c15^pastStream))
}

// seedIEX positions the series' IEX generator at the start of a day's
// draws for the IEX view, a stream apart from the day's own.
func (y *pastSeries) seedIEX(key int64) {
	y.ipcg.Seed(y.seed, mix64(y.seed^uint64(key)*0x9e37_79b9_7f4a_7c15^pastIEXStream))
}

// iexShareOf is the share of a stock's continuous prints that the live
// simulator puts on IEX: IEX's slots in its trade venue table.
func iexShareOf(listing byte) float64 {
	n := 0
	for _, v := range venueTable(tradeVenues, listing, 6) {
		if v == market.IEXExchange {
			n++
		}
	}
	return float64(n) / 256
}

// mix64 is SplitMix64's finaliser: it spreads a key over all 64 bits.
func mix64(x uint64) uint64 {
	x += 0x9e37_79b9_7f4a_7c15
	x = (x ^ x>>30) * 0xbf58_476d_1ce4_e5b9
	x = (x ^ x>>27) * 0x94d0_49bb_1331_11eb
	return x ^ x>>31
}

// stockDays lists the trading days of the past: those from Days before End
// to the day before End's New York date, the last MinuteDays with minute
// bars.
func (p *Past) stockDays(cal *calendar, o PastOptions) {
	endDate := nyse.DateOf(o.End)
	first := nyse.DateOf(o.End.AddDate(0, 0, -o.Days))
	// Enough calendar days for MinuteDays trading days, whatever Days says.
	if lo := endDate.AddDays(-(o.MinuteDays*7/5 + 14)); o.MinuteDays > 0 && lo < first {
		first = lo
	}
	curveOf := func(d nyse.Date) *dayCurve {
		y, m, dd := d.Civil()
		return cal.day(y, m, dd)
	}
	// The gap before a day runs from the end of the previous trading day's
	// after-hours to 04:00. Each closed day in it (a weekend, a holiday)
	// widens it by gapPerClosedDay of a weeknight's variance, not by a
	// whole day's: real weekend gaps are only a little wider than
	// overnight ones, and close-to-close returns then show the symbol's
	// volatility.
	prev := first.AddDays(-1)
	for i := 0; i < 14 && curveOf(prev).open == curveOf(prev).close; i++ {
		prev = prev.AddDays(-1)
	}
	for d := first; d < endDate; d++ {
		dc := curveOf(d)
		if dc.open == dc.close {
			continue
		}
		sd := stockDay{date: d, start: d.Time().UnixNano(), dc: dc}
		pc := curveOf(prev)
		from := min(pc.close+extendedMinutes, dayMinutes)
		f := 1 + gapPerClosedDay*float64(d-prev-1)
		sd.nightV = f * (p.sumsOf(pc).vol2Over(from, dayMinutes) + p.sumsOf(dc).vol2Over(0, preOpen))
		sd.nightMin = int(f * float64(dayMinutes-from+preOpen))
		p.sdays = append(p.sdays, sd)
		prev = d
	}
	// Keep the minute days, then cut the daily-only ones before Days.
	for i := max(0, len(p.sdays)-o.MinuteDays); i < len(p.sdays); i++ {
		p.sdays[i].minutes = true
	}
	keep := nyse.DateOf(o.End.AddDate(0, 0, -o.Days))
	i := 0
	for i < len(p.sdays) && p.sdays[i].date < keep && !p.sdays[i].minutes {
		i++
	}
	p.sdays = p.sdays[i:]
}

// cryptoDays lists the UTC days of the crypto past: whole days from Days
// before End, and the day End falls in up to its last whole minute. Minute
// bars start at the UTC midnight of the first stock minute day's date.
func (p *Past) cryptoDays(o PastOptions) {
	const dayNs = int64(nsPerDay)
	end := p.end / minuteNs * minuteNs
	minuteFrom := int64(math.MaxInt64)
	for _, d := range p.sdays {
		if d.minutes {
			minuteFrom = int64(d.date) * dayNs
			break
		}
	}
	from := min(o.End.AddDate(0, 0, -o.Days).UnixNano(), minuteFrom)
	from = from / dayNs * dayNs
	for t := from; t < end; t += dayNs {
		cd := cryptoDay{start: t, n: int(min(dayNs, end-t) / minuteNs), minutes: t >= minuteFrom}
		for m := 0; m < cd.n; {
			h := hourOfWeek(t + int64(m)*minuteNs)
			k := min(cd.n-m, 60-m%60)
			cd.vol2 += float64(k) * cryptoCurve.vol[h] * cryptoCurve.vol[h]
			cd.shape += float64(k) * cryptoCurve.shape[h]
			m += k
		}
		p.cdays = append(p.cdays, cd)
	}
}

func (p *Past) sumsOf(dc *dayCurve) *curveSums {
	if s := p.sums[dc]; s != nil {
		return s
	}
	s := new(curveSums)
	for m := range dayMinutes {
		s.vol2[m+1] = s.vol2[m] + dc.vol[m]*dc.vol[m]
		s.shape[m+1] = s.shape[m] + dc.shape[m]
	}
	p.sums[dc] = s
	return s
}

// dayDraws are the numbers drawn first for a day, in this order: the
// day's activity, then for each segment (a stock's gap before the day,
// pre-market, regular session and after-hours; a pair's whole day) its
// jumps and its diffusion. The skeleton needs only their totals; the
// minute bars place the jumps.
type dayDraws struct {
	act   float64    // the day's activity multiplier
	ret   [4]float64 // each segment's log return
	jumps [maxDayJumps]struct {
		m    int
		size float64
	}
	nj int
}

// segments returns a stock day's segments after the gap, as minute ranges.
func segments(dc *dayCurve) [3][2]int {
	return [3][2]int{{preOpen, dc.open}, {dc.open, dc.close}, {dc.close, min(dc.close+extendedMinutes, dayMinutes)}}
}

func (p *Past) drawStock(y *pastSeries, d *stockDay) dayDraws {
	y.seedDay(int64(d.date))
	r := y.rng
	var dr dayDraws
	z := r.NormFloat64()
	for range poisson(r, jumpsPerDay*float64(d.nightMin)/dayMinutes) {
		dr.ret[0] += laplace(r) * y.jump
	}
	dr.ret[0] += math.Sqrt(y.sigma2*float64(minuteNs)*d.nightV) * r.NormFloat64()
	sums := p.sumsOf(d.dc)
	regSD := 0.0
	for i, sg := range segments(d.dc) {
		m0, m1 := sg[0], sg[1]
		if m1 <= m0 {
			continue
		}
		for range poisson(r, jumpsPerDay*float64(m1-m0)/dayMinutes) {
			m, size := m0+r.IntN(m1-m0), laplace(r)*y.jump
			dr.ret[i+1] += size
			if dr.nj < maxDayJumps {
				dr.jumps[dr.nj].m, dr.jumps[dr.nj].size = m, size
				dr.nj++
			}
		}
		sd := math.Sqrt(y.sigma2 * float64(minuteNs) * sums.vol2Over(m0, m1))
		dr.ret[i+1] += sd * r.NormFloat64()
		if i == 1 {
			regSD = sd
		}
	}
	dr.act = activityOf(z, dr.ret[2], regSD)
	return dr
}

// activityOf is a day's activity multiplier: lognormal around 1, and
// higher on a day of large moves, as volume is.
func activityOf(z, ret, sd float64) float64 {
	a := math.Exp(0.3*z - 0.045)
	if sd > 0 {
		a *= 0.6 + 0.5*min(math.Abs(ret)/sd, 4)
	}
	return a
}

// stockSkeleton computes a stock's key prices, from the last day back:
// the last after-hours ends at end (the simulator's start price), and each
// mark is the next one less the return drawn for the segment between them.
func (p *Past) stockSkeleton(y *pastSeries, end float64) {
	y.px = make([]dayPx, len(p.sdays))
	clamp := func(x float64) float64 { return min(max(x, 0), maxLogPx) }
	e := end
	for i := len(p.sdays) - 1; i >= 0; i-- {
		dr := p.drawStock(y, &p.sdays[i])
		x := dayPx{e: e}
		x.c = clamp(x.e - dr.ret[3])
		x.o = clamp(x.c - dr.ret[2])
		x.s = clamp(x.o - dr.ret[1])
		y.px[i] = x
		e = clamp(x.s - dr.ret[0])
	}
	if n := len(p.sdays); n > 0 {
		st := SymbolState{LastPrice: cents(toCents(math.Exp(end))), LastTime: p.sdays[n-1].start}
		if d := &p.sdays[n-1]; d.minutes {
			st.LastTime = d.start + int64(segments(d.dc)[2][1]-1)*minuteNs
		} else {
			st.LastPrice = cents(toCents(math.Exp(y.px[n-1].c)))
		}
		p.resume[y.name] = st
	}
}

// drawCrypto draws a pair's day: activity, then jumps and diffusion (a
// stablecoin: its deviation from the peg at the day's start instead).
func (p *Past) drawCrypto(y *pastSeries, d *cryptoDay) dayDraws {
	y.seedDay(d.start / int64(nsPerDay))
	r := y.rng
	var dr dayDraws
	z := r.NormFloat64()
	if y.stable {
		dr.ret[0] = y.stableSD * r.NormFloat64()
		dr.act = activityOf(z, 0, 0)
		return dr
	}
	for range poisson(r, jumpsPerDay*float64(d.n)/dayMinutes) {
		m, size := r.IntN(d.n), laplace(r)*y.jump
		dr.ret[0] += size
		if dr.nj < maxDayJumps {
			dr.jumps[dr.nj].m, dr.jumps[dr.nj].size = m, size
			dr.nj++
		}
	}
	sd := math.Sqrt(y.sigma2 * float64(minuteNs) * d.vol2)
	dr.ret[0] += sd * r.NormFloat64()
	dr.act = activityOf(z, dr.ret[0], sd)
	return dr
}

// cryptoSkeleton computes a pair's prices at the days' boundaries, from
// the end back (a stablecoin: around its peg).
func (p *Past) cryptoSkeleton(y *pastSeries) {
	n := len(p.cdays)
	y.bound = make([]float64, n+1)
	y.bound[n] = y.anchor
	for i := n - 1; i >= 0; i-- {
		dr := p.drawCrypto(y, &p.cdays[i])
		if y.stable {
			y.bound[i] = y.anchor + dr.ret[0]
			continue
		}
		y.bound[i] = min(max(y.bound[i+1]-dr.ret[0], y.anchor-maxCryptoDrift), y.anchor+maxCryptoDrift)
	}
	if n == 0 {
		return
	}
	st := SymbolState{LastPrice: y.ticks(y.anchor), LastTime: p.end/minuteNs*minuteNs - minuteNs}
	if !p.cdays[n-1].minutes {
		// Without minute bars the record ends with the last whole day.
		last := n - 1
		if p.cdays[last].n < dayMinutes {
			last--
		}
		if last < 0 {
			return
		}
		st = SymbolState{LastPrice: y.ticks(y.bound[last+1]), LastTime: p.cdays[last].start}
	}
	p.resume[y.name] = st
}

// priceAt is a symbol's price at t as the skeleton has it (the latest
// mark at or before t), for the news templates; 0 if unknown.
func (p *Past) priceAt(sym string) float64 {
	t := p.newsNow
	for _, y := range p.series {
		if y.name != sym || y.news != nil {
			continue
		}
		if y.crypto {
			i := max(0, min(sort.Search(len(p.cdays), func(i int) bool { return p.cdays[i].start > t })-1, len(y.bound)-1))
			return y.ticks(y.bound[i])
		}
		i := sort.Search(len(p.sdays), func(i int) bool { return p.sdays[i].start > t }) - 1
		if i < 0 {
			return 0
		}
		d, x := &p.sdays[i], y.px[i]
		segs := segments(d.dc)
		switch m := int((t - d.start) / minuteNs); {
		case m < segs[1][0]:
			return cents(toCents(math.Exp(x.s)))
		case m < segs[1][1]:
			return cents(toCents(math.Exp(x.o)))
		case m < segs[2][1]:
			return cents(toCents(math.Exp(x.c)))
		}
		return cents(toCents(math.Exp(x.e)))
	}
	return 0
}

// ticks rounds a log price to the pair's price increment.
func (y *pastSeries) ticks(x float64) float64 {
	return math.Round(math.Exp(x)*y.pxScale) / y.pxScale
}

// Resume returns, for every symbol with a past, where it ends: the last
// bar's close (LastPrice) and time, to pass as Options.Resume (with a
// simulator Start at or after End). The past ends where a fresh simulator
// with the same symbols starts anyway, so Resume only matters to one that
// starts from somewhere else. The map is the caller's.
func (p *Past) Resume() map[string]SymbolState {
	out := make(map[string]SymbolState, len(p.resume))
	for k, v := range p.resume {
		out[k] = v
	}
	return out
}

// Done reports whether every event has been handed out.
func (p *Past) Done() bool { return len(p.heap) == 0 }

// Next appends the next events, at most BatchSize of them, in send order
// (a bar once its minute or day has ended; among equal send times stocks
// before crypto pairs, each in option order, a minute bar before its
// day's daily bar, a consolidated bar right before its IEX twin) and
// returns the extended slice and the send time of the last event: the
// clock a live feed would have shown when sending it. It returns dst
// unchanged once Done.
func (p *Past) Next(dst []market.Event) ([]market.Event, int64) {
	limit := len(dst) + p.batch
	for len(dst) < limit && len(p.heap) > 0 {
		y := p.series[p.heap[0]]
		b := &y.bars[y.at]
		dst = append(dst, p.event(y, b))
		p.now = b.send
		y.at++
		if y.at == len(y.bars) && !p.fill(y) {
			last := len(p.heap) - 1
			p.heap[0] = p.heap[last]
			p.heap = p.heap[:last]
		}
		if len(p.heap) > 0 {
			p.down(0)
		}
	}
	return dst, p.now
}

// Run implements feed.Feed: it sends every event of the past in batches
// of at most BatchSize, each with the send time of its last event as the
// batch clock, and returns nil once all are sent (or ctx.Err()). The past
// ends at End, so the record clock never passes where the live simulator
// starts. Run never closes out and starts no goroutines.
func (p *Past) Run(ctx context.Context, out chan<- feed.Batch) error {
	for !p.Done() {
		evs, now := p.Next(make([]market.Event, 0, p.batch))
		select {
		case out <- feed.Batch{Events: evs, Now: now}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

var _ feed.Feed = (*Past)(nil)

func (p *Past) event(y *pastSeries, b *pastBar) market.Event {
	e := market.Event{Time: b.t, Symbol: y.name, Kind: b.kind, Flags: market.FlagSynthetic}
	switch {
	case b.news != nil:
		e.News = b.news
		return e
	case !y.crypto:
		e.Bar = market.Bar{Open: b.o, High: b.h, Low: b.l, Close: b.c, VWAP: b.vw, Volume: uint64(b.v), TradeCount: b.n}
		return e
	}
	if len(p.slab) == 0 {
		p.slab = make([]market.CryptoBar, 256)
	}
	cb := &p.slab[0]
	p.slab = p.slab[1:]
	*cb = market.CryptoBar{Open: b.o, High: b.h, Low: b.l, Close: b.c, Volume: b.v, VWAP: b.vw, TradeCount: b.n}
	e.CryptoBar = cb
	return e
}

// less orders series by the send time of their next event, then index.
func (p *Past) less(i, j int) bool {
	a, b := p.series[p.heap[i]], p.series[p.heap[j]]
	sa, sb := a.bars[a.at].send, b.bars[b.at].send
	return sa < sb || sa == sb && p.heap[i] < p.heap[j]
}

func (p *Past) down(i int) {
	n := len(p.heap)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && p.less(c+1, c) {
			c++
		}
		if !p.less(c, i) {
			return
		}
		p.heap[i], p.heap[c] = p.heap[c], p.heap[i]
		i = c
	}
}

// fill generates the series' next day that has bars; false when none is
// left.
func (p *Past) fill(y *pastSeries) bool {
	y.bars, y.at = y.bars[:0], 0
	if g := y.news; g != nil {
		// A day of articles at a time (or to End); updates due after End
		// are not part of the past.
		var evs []market.Event
		for t := g.when(); t < p.end && len(evs) < 512; t = g.when() {
			p.newsNow = t
			evs = g.emit(evs, t)
		}
		for i := range evs {
			y.bars = append(y.bars, pastBar{t: evs[i].Time, send: evs[i].Time, kind: market.KindNews, news: evs[i].News})
		}
		return len(y.bars) > 0
	}
	for len(y.bars) == 0 {
		switch {
		case !y.crypto && y.day < len(p.sdays):
			p.stockDay(y, y.day)
		case y.crypto && y.day < len(p.cdays):
			p.cryptoDayBars(y, y.day)
		default:
			return false
		}
		y.day++
	}
	return true
}

// nextMidnight is when a New York day's daily bar goes out: at the end of
// the day (staged.SendTime).
func nextMidnight(d nyse.Date) int64 { return d.AddDays(1).Time().UnixNano() }

// stockDay appends a stock's bars of day i: its minute bars, if it has
// them, and its daily bar, each followed by its IEX twin if IEX printed
// (iexMinute, iexDaily).
func (p *Past) stockDay(y *pastSeries, i int) {
	d := &p.sdays[i]
	px := y.px[i]
	dr := p.drawStock(y, d)
	r := y.rng
	sums := p.sumsOf(d.dc)
	segs := segments(d.dc)
	if !d.minutes {
		openC, closeC := cents(toCents(math.Exp(px.o))), cents(toCents(math.Exp(px.c)))
		// A day without minute bars: the regular session's extremes are
		// those of a Brownian bridge from the open to the close.
		v := y.sigma2 * float64(minuteNs) * sums.vol2Over(segs[1][0], segs[1][1])
		hi, lo := bridgeExtremes(r, px.o, px.c, v)
		h, l := cents(toCents(math.Exp(hi))), cents(toCents(math.Exp(lo)))
		trades := y.rate * float64(minuteNs) * sums.shapeOver(segs[0][0], segs[2][1]) * dr.act
		nOdd := poisson(r, trades*y.sizes.pOdd)
		nEl := poisson(r, trades*(1-y.sizes.pOdd))
		cont := y.mom.sum(r, &y.sizes, nEl, false) + y.mom.sum(r, &y.sizes, nOdd, true)
		vol := cont + y.cross(r, 0.01) + y.cross(r, 0.08)
		b := pastBar{t: d.start, send: nextMidnight(d.date), kind: market.KindDailyBar, o: openC, c: closeC,
			h: max(h, openC, closeC), l: max(0.01, min(l, openC, closeC)), v: vol, n: uint64(nEl + nOdd + 2)}
		b.vw = (b.h + b.l + b.c) / 3
		y.bars = append(y.bars, b)
		y.seedIEX(int64(d.date))
		if ib, ok := y.iexDaily(&b, px, nEl, nOdd, cont); ok {
			y.bars = append(y.bars, ib)
		}
		return
	}

	// Place the day's jumps in minute order.
	js := dr.jumps[:dr.nj]
	for a := 1; a < len(js); a++ {
		for b := a; b > 0 && js[b].m < js[b-1].m; b-- {
			js[b], js[b-1] = js[b-1], js[b]
		}
	}
	last := i == len(p.sdays)-1
	daily := pastBar{t: d.start, send: nextMidnight(d.date), kind: market.KindDailyBar}
	var pv float64 // Σ price × volume
	// IEX's daily bar aggregates its minute bars by the same rules.
	y.seedIEX(int64(d.date))
	idaily := pastBar{t: d.start, send: daily.send, kind: market.KindIEXDailyBar}
	var ipv float64
	// The latent path first, for the whole day: diffusion increments,
	// bridged so that each segment (with its jumps) ends exactly at its
	// mark, so that the path does not depend on the bars' draws (nor so on
	// the Rate or the other symbols).
	bounds := [4]float64{px.s, px.o, px.c, px.e}
	var corr [3]float64
	for si, sg := range segs {
		sumZ, sumV, sumJ := 0.0, 0.0, 0.0
		for m := sg[0]; m < sg[1]; m++ {
			p.v[m] = y.sigma2 * float64(minuteNs) * d.dc.vol[m] * d.dc.vol[m]
			p.z[m] = math.Sqrt(p.v[m]) * r.NormFloat64()
			sumZ += p.z[m]
			sumV += p.v[m]
		}
		for _, j := range js {
			if j.m >= sg[0] && j.m < sg[1] {
				sumJ += j.size
			}
		}
		if sumV > 0 {
			corr[si] = (bounds[si+1] - bounds[si] - sumZ - sumJ) / sumV
		}
	}
	for si, sg := range segs {
		m0, m1 := sg[0], sg[1]
		x, ji := bounds[si], 0
		for m := m0; m < m1; m++ {
			inc := p.z[m] + p.v[m]*corr[si]
			for ji < len(js) && js[ji].m < m {
				ji++
			}
			for ji < len(js) && js[ji].m == m {
				inc += js[ji].size
				ji++
			}
			xe := x + inc
			if m == m1-1 {
				xe = bounds[si+1] // no rounding drift at the marks
			}
			mk := minuteMarks{open: si == 1 && m == m0, close: si == 1 && m == m1-1, last: last && si == 2 && m == m1-1}
			if bar, ok := y.stockMinute(r, d, m, x, xe, p.v[m], dr.act, mk); ok {
				y.bars = append(y.bars, bar)
				if si == 1 {
					if daily.o == 0 {
						daily.o, daily.h, daily.l = bar.o, bar.h, bar.l
					}
					daily.h, daily.l, daily.c = max(daily.h, bar.h), min(daily.l, bar.l), bar.c
				}
				daily.v += bar.v
				daily.n += bar.n
				pv += bar.vw * bar.v
				if ib, ok := y.iexMinute(&bar); ok {
					y.bars = append(y.bars, ib)
					idaily.add(&ib, si == 1)
					ipv += ib.vw * ib.v
				}
			}
			x = xe
		}
	}
	if daily.v > 0 {
		daily.vw = pv / daily.v
	}
	if daily.o != 0 { // a day with a regular session has its open cross
		y.bars = append(y.bars, daily)
	}
	if idaily.o != 0 && daily.o != 0 { // IEX printed in the session
		idaily.vw = min(max(ipv/idaily.v, idaily.l), idaily.h)
		y.bars = append(y.bars, idaily)
	}
}

// add folds a minute bar into a daily bar, by the bar builder's rules:
// open, high, low and close over the regular session's minutes (prices),
// volume and count over all. The VWAP is the caller's.
func (b *pastBar) add(m *pastBar, prices bool) {
	b.v += m.v
	b.n += m.n
	if !prices {
		return
	}
	if b.o == 0 {
		b.o, b.h, b.l = m.o, m.h, m.l
	}
	b.h, b.l, b.c = max(b.h, m.h), min(b.l, m.l), m.c
}

// minuteTrades are a stock minute bar's continuous trades: what its IEX
// twin (iexMinute) is a share of.
type minuteTrades struct {
	nEl, nOdd int                // trades that may set the bar's prices, odd lots
	cont      float64            // their volume (the crosses' aside)
	pts       [maxPoints]float64 // the prices of up to maxPoints of the nEl, in time order, on the cent
	k         int                // how many
}

// iexMinute makes the IEX twin of the stock minute bar sip, which
// stockMinute has just made (its trades are y.minute): ok is false when
// none of IEX's prints may set a bar's prices. IEX has each continuous
// print of the minute with the live simulator's probability (iexShare),
// and none of the crosses, which are the listing venue's. Its prices are
// some of the minute's sampled prices (all of them, and a range reaching
// further towards the minute's, when IEX has more prints than were
// sampled); its volume is drawn from the symbol's trade sizes, and leaves
// the other prints at least a share each of the minute's volume. So the
// IEX bar lies within the consolidated one: its prices within its range,
// its volume and count at most the minute's.
func (y *pastSeries) iexMinute(sip *pastBar) (pastBar, bool) {
	r, mt := y.irng, &y.minute
	kEl := min(poisson(r, float64(mt.nEl)*y.iexShare), mt.nEl)
	kOdd := min(poisson(r, float64(mt.nOdd)*y.iexShare), mt.nOdd)
	if kEl == 0 || mt.k == 0 {
		return pastBar{}, false // odd lots set no prices: dropped with the minute, as the consolidated rule has it
	}
	var sel [maxPoints]float64
	m := 0
	if kEl >= mt.k {
		m = copy(sel[:], mt.pts[:mt.k])
	} else {
		// kEl of the k sampled prices, in time order (selection sampling).
		for j, need := 0, kEl; need > 0; j++ {
			if r.IntN(mt.k-j) < need {
				sel[m], m, need = mt.pts[j], m+1, need-1
			}
		}
	}
	b := pastBar{t: sip.t, send: sip.send, kind: market.KindIEXBar, o: sel[0], c: sel[m-1], h: sel[0], l: sel[0]}
	sum := 0.0
	for _, x := range sel[:m] {
		b.h, b.l = max(b.h, x), min(b.l, x)
		sum += x
	}
	if kEl > mt.k {
		// More IEX prints than sampled prices: with IEX's share of the
		// prints it has the minute's extreme, else one between.
		f := float64(kEl) / float64(mt.nEl)
		reach := func(from, to float64) float64 {
			if r.Float64() < f {
				return to
			}
			return cents(toCents(from + (to-from)*r.Float64()))
		}
		b.h = min(max(reach(b.h, sip.h), b.h), sip.h)
		b.l = max(min(reach(b.l, sip.l), b.l), sip.l)
	}
	b.n = uint64(kEl + kOdd)
	vol := y.mom.sum(r, &y.sizes, kEl, false) + y.mom.sum(r, &y.sizes, kOdd, true)
	b.v = max(float64(100*kEl+kOdd), min(vol, mt.cont-float64(100*(mt.nEl-kEl)+mt.nOdd-kOdd)))
	b.vw = min(max(sum/float64(m), b.l), b.h)
	return b, true
}

// iexDaily makes the IEX twin of a daily bar without minute bars (sip,
// whose day's marks are px): nEl and nOdd are the day's continuous trades
// and cont their volume. IEX has each print with the live probability;
// its range is that of so many prints within the consolidated range, its
// open and close are near the consolidated ones, its volume is drawn as
// iexMinute draws it.
func (y *pastSeries) iexDaily(sip *pastBar, px dayPx, nEl, nOdd int, cont float64) (pastBar, bool) {
	r := y.irng
	kEl := min(poisson(r, float64(nEl)*y.iexShare), nEl)
	kOdd := min(poisson(r, float64(nOdd)*y.iexShare), nOdd)
	if kEl == 0 {
		return pastBar{}, false
	}
	b := pastBar{t: sip.t, send: sip.send, kind: market.KindIEXDailyBar, n: uint64(kEl + kOdd)}
	// The highest and lowest of kEl prints spread over the range: each
	// 1-U^(1/k) of the range inside it.
	rng := sip.h - sip.l
	in := func() float64 { return rng * (1 - math.Pow(r.Float64(), 1/float64(kEl))) }
	b.h = min(max(cents(toCents(sip.h-in())), sip.l), sip.h)
	b.l = min(max(cents(toCents(sip.l+in())), sip.l), b.h)
	near := func(x float64) float64 {
		c := cents(toCents(math.Exp(x) * (1 + 2*y.halfSpread*r.NormFloat64())))
		return min(max(c, b.l), b.h)
	}
	b.o, b.c = near(px.o), near(px.c)
	vol := y.mom.sum(r, &y.sizes, kEl, false) + y.mom.sum(r, &y.sizes, kOdd, true)
	b.v = max(float64(100*kEl+kOdd), min(vol, cont-float64(100*(nEl-kEl)+nOdd-kOdd)))
	b.vw = min(max((b.h+b.l+b.c)/3, b.l), b.h)
	return b, true
}

// minuteMarks say what a minute holds besides continuous trading.
type minuteMarks struct {
	open  bool // the opening cross, at the minute's start, at the open mark
	close bool // the closing cross, at its end, at the close mark
	last  bool // the past's last minute: its close is the simulator's start price
}

// cross sizes an auction print as the simulator does: a fraction of the
// symbol's real daily volume, in round lots.
func (y *pastSeries) cross(r *rand.Rand, frac float64) float64 {
	size := y.adv * frac * math.Exp(0.4*r.NormFloat64())
	return float64(uint32(min(max(100, size), 4e9)) / 100 * 100)
}

// stockMinute makes the bar of minute m, whose latent log price goes from
// a to b with diffusion variance v: ok is false when the minute has no
// trade that may set a bar's prices (none, or odd lots only: see doc.go).
func (y *pastSeries) stockMinute(r *rand.Rand, d *stockDay, m int, a, b, v, act float64, mk minuteMarks) (pastBar, bool) {
	trades := y.rate * float64(minuteNs) * d.dc.shape[m] * act * math.Exp(0.35*r.NormFloat64()-0.06125)
	nOdd := poisson(r, trades*y.sizes.pOdd)
	nEl := poisson(r, trades*(1-y.sizes.pOdd))
	if mk.last {
		nEl = max(nEl, 1)
	}
	if nEl == 0 && !mk.open && !mk.close {
		return pastBar{}, false
	}
	var pts [maxPoints]float64
	k := samplePath(r, pts[:min(nEl, maxPoints)], nEl, a, b, v)
	hs := y.halfSpread * d.dc.spread[m]
	bar := pastBar{t: d.start + int64(m)*minuteNs, kind: market.KindBar, h: 0, l: math.MaxFloat64}
	mt := &y.minute
	mt.nEl, mt.nOdd, mt.k = nEl, nOdd, k
	bar.send = bar.t + minuteNs
	sumPx := 0.0
	for j := range k {
		c := cents(max(1, toCents(math.Exp(pts[j])*(1+hs*sign(r)))))
		if mk.last && j == k-1 {
			c = cents(toCents(math.Exp(b)))
		}
		pts[j] = c
		sumPx += c
	}
	if nEl > maxPoints {
		hi, lo := bridgeExtremes(r, a, b, v)
		bar.h = cents(toCents(math.Exp(hi) * (1 + hs)))
		bar.l = cents(max(1, toCents(math.Exp(lo)*(1-hs))))
	}
	vol := y.mom.sum(r, &y.sizes, nEl, false) + y.mom.sum(r, &y.sizes, nOdd, true)
	mt.pts, mt.cont = pts, vol
	bar.n = uint64(nEl + nOdd)
	pv := 0.0
	if k > 0 {
		pv = sumPx / float64(k) * vol
		bar.o, bar.c = pts[0], pts[k-1]
	}
	for j := range k {
		bar.h, bar.l = max(bar.h, pts[j]), min(bar.l, pts[j])
	}
	if mk.open {
		c, size := cents(toCents(math.Exp(a))), y.cross(r, 0.01)
		bar.o, bar.h, bar.l = c, max(bar.h, c), min(bar.l, c)
		if k == 0 {
			bar.c = c
		}
		vol, pv, bar.n = vol+size, pv+c*size, bar.n+1
	}
	if mk.close {
		c, size := cents(toCents(math.Exp(b))), y.cross(r, 0.08)
		bar.c, bar.h, bar.l = c, max(bar.h, c), min(bar.l, c)
		if k == 0 && !mk.open {
			bar.o = c
		}
		vol, pv, bar.n = vol+size, pv+c*size, bar.n+1
	}
	bar.h, bar.l = max(bar.h, bar.o, bar.c), min(bar.l, bar.o, bar.c)
	bar.v, bar.vw = vol, min(max(pv/vol, bar.l), bar.h)
	return bar, true
}

// cryptoDayBars appends a pair's bars of UTC day i: a bar for every minute
// (trades or not) if it has minute bars, and its daily bar if the day is
// whole.
func (p *Past) cryptoDayBars(y *pastSeries, i int) {
	d := &p.cdays[i]
	dr := p.drawCrypto(y, d)
	r := y.rng
	a0, b0 := y.bound[i], y.bound[i+1]
	whole := d.n == dayMinutes
	// Alpaca stamps crypto daily bars with midnight in Chicago; the past's
	// crypto days are UTC days, labelled with that date's Chicago midnight
	// (a few hours later, still before the day ends and the bar is sent).
	daily := pastBar{t: chicagoMidnight(d.start), send: d.start + int64(nsPerDay), kind: market.KindCryptoDailyBar}
	dayV := y.sigma2 * float64(minuteNs) * d.vol2
	if y.stable {
		dayV = 2 * y.stableSD * y.stableSD
	}
	if !d.minutes {
		if !whole {
			return
		}
		hi, lo := bridgeExtremes(r, a0, b0, dayV)
		trades := y.rate * float64(minuteNs) * d.shape * dr.act
		n := poisson(r, trades)
		daily.o, daily.c = y.ticks(a0), y.ticks(b0)
		daily.h, daily.l = max(y.ticks(hi), daily.o, daily.c), min(y.ticks(lo), daily.o, daily.c)
		daily.v, daily.n = y.cryptoVolume(r, n), uint64(n)
		daily.vw = (daily.h + daily.l + daily.c) / 3
		y.bars = append(y.bars, daily)
		return
	}
	js := dr.jumps[:dr.nj]
	for a := 1; a < len(js); a++ {
		for b := a; b > 0 && js[b].m < js[b-1].m; b-- {
			js[b], js[b-1] = js[b-1], js[b]
		}
	}
	sumZ, sumV, sumJ := 0.0, 0.0, 0.0
	for m := range d.n {
		t := d.start + int64(m)*minuteNs
		vol := cryptoCurve.vol[hourOfWeek(t)]
		p.v[m] = y.sigma2 * float64(minuteNs) * vol * vol
		if y.stable {
			p.v[m] = dayV / float64(d.n)
		}
		p.z[m] = math.Sqrt(p.v[m]) * r.NormFloat64()
		sumZ += p.z[m]
		sumV += p.v[m]
	}
	for _, j := range js {
		sumJ += j.size
	}
	corr := (b0 - a0 - sumZ - sumJ) / sumV
	last := i == len(p.cdays)-1
	x, ji := a0, 0
	pv := 0.0
	for m := range d.n {
		inc := p.z[m] + p.v[m]*corr
		for ji < len(js) && js[ji].m == m {
			inc += js[ji].size
			ji++
		}
		xe := x + inc
		if m == d.n-1 {
			xe = b0
		}
		bar := y.cryptoMinute(r, d.start+int64(m)*minuteNs, x, xe, p.v[m], dr.act, last && m == d.n-1)
		y.bars = append(y.bars, bar)
		if m == 0 {
			daily.o, daily.h, daily.l = bar.o, bar.h, bar.l
		}
		daily.h, daily.l, daily.c = max(daily.h, bar.h), min(daily.l, bar.l), bar.c
		daily.v += bar.v
		daily.n += bar.n
		pv += bar.vw * bar.v
		x = xe
	}
	if whole {
		daily.vw = daily.c
		if daily.v > 0 {
			daily.vw = pv / daily.v
		}
		y.bars = append(y.bars, daily)
	}
}

// cryptoMinute makes a pair's minute bar. A minute without trades still
// has one, priced from the quotes' midpoints at its start and end, with
// volume 0, as Alpaca's crypto bars are.
func (y *pastSeries) cryptoMinute(r *rand.Rand, t int64, a, b, v, act float64, last bool) pastBar {
	h := hourOfWeek(t)
	n := poisson(r, y.rate*float64(minuteNs)*cryptoCurve.shape[h]*act*math.Exp(0.35*r.NormFloat64()-0.06125))
	bar := pastBar{t: t, send: t + minuteNs, kind: market.KindCryptoBar}
	if n == 0 {
		bar.o, bar.c = y.ticks(a), y.ticks(b)
		bar.h, bar.l, bar.vw = max(bar.o, bar.c), min(bar.o, bar.c), bar.c
		return bar
	}
	var pts [maxPoints]float64
	k := samplePath(r, pts[:min(n, maxPoints)], n, a, b, v)
	hs := y.halfSpread * cryptoCurve.spread[h]
	sum := 0.0
	bar.h, bar.l = 0, math.MaxFloat64
	for j := range k {
		c := y.ticks(pts[j] + math.Log1p(hs*sign(r)))
		if last && j == k-1 {
			c = y.ticks(b)
		}
		pts[j] = c
		sum += c
		bar.h, bar.l = max(bar.h, c), min(bar.l, c)
	}
	if n > maxPoints {
		hi, lo := bridgeExtremes(r, a, b, v)
		bar.h, bar.l = max(bar.h, y.ticks(hi+math.Log1p(hs))), min(bar.l, y.ticks(lo+math.Log1p(-hs)))
	}
	bar.o, bar.c = pts[0], pts[k-1]
	bar.v, bar.n = y.cryptoVolume(r, n), uint64(n)
	bar.vw = min(max(sum/float64(k), bar.l), bar.h)
	return bar
}

// cryptoVolume is the volume of n trades, in coins on the size grid: the
// simulator's lognormal sizes, summed one by one or, for many, by their
// sum's mean and variance.
func (y *pastSeries) cryptoVolume(r *rand.Rand, n int) float64 {
	units := 0.0
	if n <= exactSizes {
		for range n {
			units += max(1, math.Round(y.median*math.Exp(1.2*r.NormFloat64())))
		}
	} else {
		const s2 = 1.2 * 1.2
		mean := y.median * math.Exp(s2/2)
		sd := y.median * math.Sqrt(math.Exp(s2)*(math.Exp(s2)-1))
		units = max(float64(n), math.Round(float64(n)*mean+math.Sqrt(float64(n))*sd*r.NormFloat64()))
	}
	return units / y.szScale
}

// samplePath fills pts with the latent log price at the times of up to
// len(pts) of a minute's n trades: a Brownian bridge from a to b with
// variance v, at sorted uniform times (for n beyond len(pts), the first
// and last trades' times as the first and last of n, the others between).
// It returns how many it filled.
func samplePath(r *rand.Rand, pts []float64, n int, a, b, v float64) int {
	k := len(pts)
	if k == 0 {
		return 0
	}
	// Sorted uniform times from exponential spacings.
	var ts [maxPoints]float64
	total := 0.0
	for j := range k {
		total += r.ExpFloat64()
		ts[j] = total
	}
	total += r.ExpFloat64()
	for j := range k {
		ts[j] /= total
	}
	if n > k && k > 1 {
		first, last := min(0.5, r.ExpFloat64()/float64(n)), max(0.5, 1-r.ExpFloat64()/float64(n))
		for j := range k {
			ts[j] = first + (last-first)*(ts[j]-ts[0])/(ts[k-1]-ts[0])
		}
	}
	tp, xp := 0.0, a
	for j := range k {
		t := min(max(ts[j], tp), 1)
		rem := 1 - tp
		x := b
		if rem > 0 {
			dt := t - tp
			x = xp + dt/rem*(b-xp) + math.Sqrt(max(0, v*dt*(1-t)/rem))*r.NormFloat64()
		}
		pts[j], tp, xp = x, t, x
	}
	return k
}

// bridgeExtremes draws the maximum and minimum of a Brownian bridge from a
// to b with variance v (each exactly, by inversion of its law; they are
// drawn independently, which is close enough for a bar).
func bridgeExtremes(r *rand.Rand, a, b, v float64) (hi, lo float64) {
	d2 := (b - a) * (b - a)
	hi = (a + b + math.Sqrt(d2-2*v*math.Log(1-r.Float64()))) / 2
	lo = (a + b - math.Sqrt(d2-2*v*math.Log(1-r.Float64()))) / 2
	return hi, lo
}

func sign(r *rand.Rand) float64 {
	if r.Uint64()&1 == 0 {
		return -1
	}
	return 1
}

func laplace(r *rand.Rand) float64 { return r.ExpFloat64() * sign(r) }

// poisson draws a Poisson variate: by inversion for small means, by its
// normal approximation for large ones (trade counts of busy minutes).
func poisson(r *rand.Rand, mean float64) int {
	switch {
	case !(mean > 0):
		return 0
	case mean >= 30:
		return max(0, int(mean+math.Sqrt(mean)*r.NormFloat64()+0.5))
	}
	u := r.Float64()
	p := math.Exp(-mean)
	s := p
	k := 0
	for u > s && k < 200 {
		k++
		p *= mean / float64(k)
		s += p
	}
	return k
}

// sizeMoments are the mean and variance of a symbol's trade sizes (see
// tradeSizes.draw): odd lots, and the round and mixed lots that are not
// blocks, for summing many trades at once.
type sizeMoments struct {
	oddMean, oddVar float64
	lotMean, lotVar float64 // round and mixed lots
	pBlock          float64 // share of blocks among the trades that are not odd lots
}

// truncGeo returns the first two moments of floor(min(cap, scale·X)) for
// X ~ Exp(1): P(K >= k) = exp(-k/scale) for k = 1..cap.
func truncGeo(scale float64, cap int) (m1, m2 float64) {
	for k := 1; k <= cap; k++ {
		p := math.Exp(-float64(k) / scale)
		m1 += p
		m2 += float64(2*k-1) * p
	}
	return m1, m2
}

func momentsOf(z *tradeSizes) sizeMoments {
	var s sizeMoments
	k1, k2 := truncGeo(z.oddScale, 98)
	s.oddMean, s.oddVar = 1+k1, k2-k1*k1
	l1, l2 := truncGeo(z.lotScale, 49)
	lm, lv := 1+l1, l2-l1*l1 // lots: 1 + K
	// A mixed lot adds 1-99 shares: mean 50, second moment 3316.67.
	q := mixedRate / (1 - z.pOdd - blockRate)
	const w1, w2 = 50.0, 99.0 * 100 * 199 / 6 / 99
	s.lotMean = 100*lm + q*w1
	second := 1e4*(lv+lm*lm) + q*(200*lm*w1+w2)
	s.lotVar = second - s.lotMean*s.lotMean
	s.pBlock = blockRate / (1 - z.pOdd)
	return s
}

// sum draws the total size of n trades, odd lots or not: one by one up to
// exactSizes, else blocks one by one and the rest by the normal law of
// their sum.
func (s *sizeMoments) sum(r *rand.Rand, z *tradeSizes, n int, odd bool) float64 {
	if n <= 0 {
		return 0
	}
	total := 0.0
	if n <= exactSizes {
		for range n {
			total += float64(z.drawClass(r, odd))
		}
		return total
	}
	mean, vr := s.lotMean, s.lotVar
	if odd {
		mean, vr = s.oddMean, s.oddVar
	} else {
		blocks := poisson(r, float64(n)*s.pBlock)
		for range min(blocks, n) {
			total += float64(z.drawBlock(r))
		}
		n -= min(blocks, n)
	}
	lo := float64(n)
	if !odd {
		lo *= 100
	}
	return total + max(lo, math.Round(float64(n)*mean+math.Sqrt(float64(n)*vr)*r.NormFloat64()))
}

// drawClass draws a trade size given whether it is an odd lot, from the
// same law as draw.
func (z *tradeSizes) drawClass(r *rand.Rand, odd bool) uint32 {
	if odd {
		return 1 + uint32(min(98, z.oddScale*r.ExpFloat64()))
	}
	v := r.Float64() * (1 - z.pOdd)
	if v < blockRate {
		return z.drawBlock(r)
	}
	lots := 1 + uint32(min(49, z.lotScale*r.ExpFloat64()))
	if v < blockRate+mixedRate {
		return 100*lots + 1 + uint32(r.IntN(99))
	}
	return 100 * lots
}

// drawBlock draws a block print's size, as draw does.
func (z *tradeSizes) drawBlock(r *rand.Rand) uint32 {
	notional := 0.5e6 * math.Pow(20, r.Float64())
	return 100 * uint32(min(max(1, notional*z.block/100+0.5), 1e6))
}

// chicago is America/Chicago, where Alpaca's crypto days begin.
var chicago = func() *time.Location {
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		panic(err) // unreachable: time/tzdata is embedded
	}
	return loc
}()

// chicagoMidnight is midnight in Chicago on the UTC date of t.
func chicagoMidnight(t int64) int64 {
	y, m, d := time.Unix(0, t).UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, chicago).UnixNano()
}
