package history

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// Bars returns a page of bars of the timeframe. 1Min bars are the stored
// minute bars (updated bars applied); 1Day bars are the stored daily bars.
// Other timeframes aggregate them on the fly into buckets:
//
//   - NMin and NHour: aligned in UTC, restarting at each UTC midnight, so a
//     4Hour bar starts at 00:00, 04:00, ... UTC (Alpaca's rule); built from
//     minute bars.
//   - 1Week: Monday to Sunday in Options.Location; NMonth: calendar months
//     there, N-month buckets aligned to January; built from daily bars.
//
// A bucket bar has the first open, highest high, lowest low, last close,
// summed volume and trade count, volume-weighted VWAP, the largest Seq of
// its bars, and Time = bucket start. Only buckets holding a bar appear. A
// bucket is in the result when its start is in [Start, End]; it aggregates
// all of its bars. Cursors order bars by time alone (Seq is ignored): one
// bar per time and symbol.
func (s *Store) Bars(ctx context.Context, q Query, tf market.Timeframe) (Result, error) {
	src, bk, err := s.bucketerFor(tf)
	if err != nil {
		return Result{}, err
	}
	return s.query(ctx, q, func(sym *symState, cur *Cursor, out []market.Event, need int) ([]market.Event, error) {
		return s.readBars(ctx, sym, src, bk, q, cur, out, need)
	})
}

// bucketer maps a bar time to the start of its bucket (floor) and a bucket
// start to the next bucket's start (next).
type bucketer interface {
	floor(t int64) int64
	next(b int64) int64
}

// ceilBucket is the first bucket start at or after t.
func ceilBucket(bk bucketer, t int64) int64 {
	if f := bk.floor(t); f != t {
		return bk.next(f)
	}
	return t
}

const (
	nsPerDay    = 24 * 60 * nsPerMinute
	bucketLimit = int64(1) << 62 // aggregated bars are served within ±146 years of 1970
)

// utcBuckets are fixed-length buckets counted from each UTC midnight; for a
// length that does not divide a day the last bucket of the day is shorter.
type utcBuckets struct{ dur int64 }

func (u utcBuckets) floor(t int64) int64 {
	day := floorDiv(t, nsPerDay) * nsPerDay
	return day + (t-day)/u.dur*u.dur
}

func (u utcBuckets) next(b int64) int64 {
	end := satAdd(floorDiv(b, nsPerDay)*nsPerDay, nsPerDay)
	return min(satAdd(b, u.dur), end)
}

// weekBuckets start on Monday at midnight in loc.
type weekBuckets struct{ loc *time.Location }

func (w weekBuckets) floor(t int64) int64 {
	tm := time.Unix(0, t).In(w.loc)
	y, m, d := tm.Date()
	back := (int(tm.Weekday()) + 6) % 7
	return unixNanoSat(time.Date(y, m, d-back, 0, 0, 0, 0, w.loc))
}

func (w weekBuckets) next(b int64) int64 {
	y, m, d := time.Unix(0, b).In(w.loc).Date()
	return unixNanoSat(time.Date(y, m, d+7, 0, 0, 0, 0, w.loc))
}

// monthBuckets are n calendar months in loc, the first starting in January.
type monthBuckets struct {
	loc *time.Location
	n   int
}

func (mb monthBuckets) floor(t int64) int64 {
	y, m, _ := time.Unix(0, t).In(mb.loc).Date()
	m0 := (int(m)-1)/mb.n*mb.n + 1
	return unixNanoSat(time.Date(y, time.Month(m0), 1, 0, 0, 0, 0, mb.loc))
}

func (mb monthBuckets) next(b int64) int64 {
	y, m, _ := time.Unix(0, b).In(mb.loc).Date()
	return unixNanoSat(time.Date(y, m+time.Month(mb.n), 1, 0, 0, 0, 0, mb.loc))
}

// bucketerFor returns the source (minute or daily bars) and the bucketing
// of a timeframe; a nil bucketer returns the source bars as they are.
func (s *Store) bucketerFor(tf market.Timeframe) (fileKind, bucketer, error) {
	bad := fmt.Errorf("%w: timeframe %v", ErrBadQuery, tf)
	switch tf.Unit {
	case market.Minute:
		switch {
		case tf.N == 1:
			return kindMinuteBars, nil, nil
		case tf.N > 1 && tf.N <= 59:
			return kindMinuteBars, utcBuckets{int64(tf.N) * nsPerMinute}, nil
		}
	case market.Hour:
		if tf.N >= 1 && tf.N <= 23 {
			return kindMinuteBars, utcBuckets{int64(tf.N) * 60 * nsPerMinute}, nil
		}
	case market.Day:
		if tf.N == 1 {
			return kindDailyBars, nil, nil
		}
	case market.Week:
		if tf.N == 1 {
			return kindDailyBars, weekBuckets{s.cal.loc}, nil
		}
	case market.Month:
		switch tf.N {
		case 1, 2, 3, 4, 6, 12:
			return kindDailyBars, monthBuckets{s.cal.loc, tf.N}, nil
		}
	}
	return 0, nil, bad
}

// barFile is one file of a bar read: records [a, b) are in the range.
type barFile struct {
	h    *handle
	a, b int
}

// readBars appends sym's bars of the query to out, up to need items.
func (s *Store) readBars(ctx context.Context, sym *symState, src fileKind, bk bucketer, q Query, cur *Cursor, out []market.Event, need int) ([]market.Event, error) {
	lo, hi := q.Start, q.End
	if cur != nil {
		if q.Desc {
			hi = min(hi, satSub(cur.Time, 1))
		} else {
			lo = max(lo, satAdd(cur.Time, 1))
		}
	}
	if lo > hi {
		return out, nil
	}
	// The source bars of the buckets starting in [lo, hi].
	slo, shi := lo, hi
	if bk != nil {
		// Bucket arithmetic near the ends of int64 would overflow; no bar
		// is 146 years away from 1970.
		lo, hi = max(lo, -bucketLimit), min(hi, bucketLimit)
		slo, shi = ceilBucket(bk, lo), satSub(bk.next(bk.floor(hi)), 1)
		if slo > shi {
			return out, nil
		}
	}

	sym.fileMu.RLock()
	defer sym.fileMu.RUnlock()
	var paths []string
	var mem []barVal
	s.mu.RLock()
	if src == kindMinuteBars {
		dlo, _, _ := s.cal.dayOf(slo)
		dhi, _, _ := s.cal.dayOf(shi)
		mlo, mhi := monthOfDay(dlo), monthOfDay(dhi)
		i, _ := slices.BinarySearch(sym.months, mlo)
		for ; i < len(sym.months) && sym.months[i] <= mhi; i++ {
			paths = append(paths, sym.dir+"/"+barFileName(sym.months[i]))
		}
		mem = memBars(sym.bars, slo, shi)
	} else {
		if sym.hasDaily {
			paths = append(paths, sym.dir+"/"+dailyFileName)
		}
		mem = memBars(sym.daily, slo, shi)
	}
	s.mu.RUnlock()

	// Locate the range in each file.
	files := make([]barFile, 0, len(paths))
	defer func() {
		for _, f := range files {
			s.files.release(f.h)
		}
	}()
	total := len(mem)
	for _, p := range paths {
		h, err := s.files.acquire(p, false)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return out, err
		}
		files = append(files, barFile{h: h})
		f := &files[len(files)-1]
		count, err := recordCount(h.f, barRecSize)
		if err != nil {
			return out, err
		}
		if f.a, _, err = searchBarFile(h.f, count, slo); err != nil {
			return out, err
		}
		if f.b, _, err = searchBarFile(h.f, count, satAdd(shi, 1)); err != nil {
			return out, err
		}
		total += f.b - f.a
	}
	if bk == nil {
		out = growEvents(out, total, need)
	}

	em := barEmitter{sym: sym.name, need: need, out: out, bk: bk, mem: mem, desc: q.Desc, crypto: sym.space == crypto}
	if q.Desc {
		em.mi = len(mem) - 1
	}
	bp := blockPool.Get().(*[]byte)
	defer blockPool.Put(bp)
	buf := *bp
	for fi := range files {
		if q.Desc {
			fi = len(files) - 1 - fi
		}
		f := &files[fi]
		a, b := f.a, f.b
		if bk == nil {
			// Plain bars: each record read yields at most one item, so
			// never read more than the page still needs.
			if rem := need - len(em.out); rem < b-a {
				if q.Desc {
					a = b - max(rem, 0)
				} else {
					b = a + max(rem, 0)
				}
			}
		}
		for a < b && !em.done() {
			nb := min(readBlock, b-a)
			var off int
			if q.Desc {
				off = b - nb
			} else {
				off = a
			}
			blk := buf[:nb*barRecSize]
			if err := readFull(f.h.f, blk, recOff(off, barRecSize)); err != nil {
				return em.out, err
			}
			if q.Desc {
				for i := len(blk) - barRecSize; i >= 0 && !em.done(); i -= barRecSize {
					em.disk(blk[i : i+barRecSize])
				}
				b -= nb
			} else {
				for i := 0; i < len(blk) && !em.done(); i += barRecSize {
					em.disk(blk[i : i+barRecSize])
				}
				a += nb
			}
		}
		if err := ctx.Err(); err != nil {
			return em.out, err
		}
	}
	em.finish()
	return em.out, nil
}

// memBars copies the pending bars with time in [lo, hi].
func memBars(bars []barVal, lo, hi int64) []barVal {
	i := sort.Search(len(bars), func(i int) bool { return bars[i].Time >= lo })
	j := sort.Search(len(bars), func(i int) bool { return bars[i].Time > hi })
	if i >= j {
		return nil
	}
	return slices.Clone(bars[i:j])
}

// barEmitter merges file records with pending bars (which win on equal
// time: they are newer) and emits bars or, with a bucketer, bucket bars.
type barEmitter struct {
	sym    string
	crypto bool // crypto bars: KindCryptoBar events, fractional volume
	slab   []market.CryptoBar
	need   int
	out    []market.Event
	bk     bucketer
	mem    []barVal
	mi     int // next pending bar: ascending from 0, descending from the end
	desc   bool
	agg    bucketAgg
}

func (e *barEmitter) done() bool { return len(e.out) >= e.need }

// before reports whether pending bar v comes before time t in the read
// direction.
func (e *barEmitter) before(v *barVal, t int64) bool {
	if e.desc {
		return v.Time > t
	}
	return v.Time < t
}

func (e *barEmitter) memLeft() bool { return e.mi >= 0 && e.mi < len(e.mem) }

func (e *barEmitter) step() {
	if e.desc {
		e.mi--
	} else {
		e.mi++
	}
}

func (e *barEmitter) disk(rec []byte) {
	t := barTime(rec)
	for e.memLeft() && e.before(&e.mem[e.mi], t) && !e.done() {
		e.bar(e.mem[e.mi])
		e.step()
	}
	if e.done() {
		return
	}
	if e.memLeft() && e.mem[e.mi].Time == t {
		e.bar(e.mem[e.mi])
		e.step()
		return
	}
	if e.bk == nil && !e.crypto {
		// The common case, a long run of plain bars: decode straight into
		// the result, without the intermediate copies.
		e.out = append(e.out, market.Event{}) // room reserved by readBars
		decodeBarEvent(rec, e.sym, &e.out[len(e.out)-1])
		return
	}
	e.bar(getBar(rec))
}

// cryptoBar returns a new CryptoBar for an event, from a slab: one
// allocation per 256 bars rather than per bar.
func (e *barEmitter) cryptoBar(c market.CryptoBar) *market.CryptoBar {
	if len(e.slab) == cap(e.slab) {
		e.slab = make([]market.CryptoBar, 0, 256)
	}
	e.slab = append(e.slab, c)
	return &e.slab[len(e.slab)-1]
}

// event returns a plain (not aggregated) bar's event.
func (e *barEmitter) event(v *barVal) market.Event {
	if e.crypto {
		return market.Event{Seq: v.Seq, Time: v.Time, Symbol: e.sym, Kind: market.KindCryptoBar, CryptoBar: e.cryptoBar(v.cryptoBar())}
	}
	return v.event(e.sym, false)
}

func (e *barEmitter) finish() {
	for e.memLeft() && !e.done() {
		e.bar(e.mem[e.mi])
		e.step()
	}
	if e.agg.n > 0 && !e.done() {
		e.out = append(e.out, e.aggEvent())
		e.agg.n = 0
	}
}

func (e *barEmitter) aggEvent() market.Event {
	v := e.agg.bar(e.crypto)
	return e.event(&v)
}

func (e *barEmitter) bar(v barVal) {
	if e.bk == nil {
		e.out = append(e.out, e.event(&v))
		return
	}
	b := e.bk.floor(v.Time)
	if e.agg.n > 0 && b != e.agg.start {
		e.out = append(growEvents(e.out, 1, e.need), e.aggEvent())
		e.agg.n = 0
		if e.done() {
			return
		}
	}
	e.agg.add(b, &v, e.crypto)
}

// bucketAgg accumulates the bars of one bucket, in either time direction.
type bucketAgg struct {
	start          int64
	n              int
	openT, closeT  int64
	open, close    float64
	high, low      float64
	closeVWAP      float64
	volume, trades uint64
	fvolume        float64 // crypto: fractional volume
	pv             float64 // sum of VWAP*volume
	seq            uint64
}

func (a *bucketAgg) add(start int64, v *barVal, crypto bool) {
	if a.n == 0 {
		*a = bucketAgg{start: start, openT: v.Time, closeT: v.Time, open: v.Bar.Open, close: v.Bar.Close,
			high: v.Bar.High, low: v.Bar.Low, closeVWAP: v.Bar.VWAP}
	}
	a.n++
	if v.Time < a.openT {
		a.openT, a.open = v.Time, v.Bar.Open
	}
	if v.Time > a.closeT {
		a.closeT, a.close, a.closeVWAP = v.Time, v.Bar.Close, v.Bar.VWAP
	}
	a.high = max(a.high, v.Bar.High)
	a.low = min(a.low, v.Bar.Low)
	a.trades += v.Bar.TradeCount
	if crypto {
		vol := math.Float64frombits(v.Bar.Volume)
		a.fvolume += vol
		a.pv += v.Bar.VWAP * vol
	} else {
		a.volume += v.Bar.Volume
		a.pv += v.Bar.VWAP * float64(v.Bar.Volume)
	}
	a.seq = max(a.seq, v.Seq)
}

// bar returns the bucket's bar (a crypto bar's volume as float64 bits, as
// barVal keeps it).
func (a *bucketAgg) bar(crypto bool) barVal {
	vol := float64(a.volume)
	if crypto {
		vol = a.fvolume
	}
	vwap := a.closeVWAP // no volume at all (zero-volume bars): the last VWAP
	if vol > 0 {
		vwap = a.pv / vol
	}
	if math.IsNaN(vwap) {
		vwap = 0
	}
	v := barVal{Time: a.start, Seq: a.seq, Bar: market.Bar{
		Open: a.open, High: a.high, Low: a.low, Close: a.close, VWAP: vwap, Volume: a.volume, TradeCount: a.trades}}
	if crypto {
		v.Bar.Volume = math.Float64bits(a.fvolume)
	}
	return v
}
