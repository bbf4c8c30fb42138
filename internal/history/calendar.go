package history

import (
	"math"
	"math/bits"
	"slices"
	"time"

	"github.com/tapehq/tape/internal/jsonenc"
)

// Days and months are numbered on the civil calendar of Options.Location: a
// day number is the count of days from 1970-01-01 to the local date, a month
// number is year*12 + month-1. Converting an instant to its local date goes
// through time.Location, which is slow (a zone lookup), so the hot paths use
// dayCache.

// civilDay returns the day number of y-m-d (proleptic Gregorian; Howard
// Hinnant's days_from_civil).
func civilDay(y, m, d int) int32 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int32(era*146097 + doe - 719468)
}

// civilFromDay is the inverse of civilDay.
func civilFromDay(day int32) (y int, m time.Month, d int) {
	yy, mm, dd := jsonenc.Civil(int64(day))
	return int(yy), time.Month(mm), int(dd)
}

func monthOfDay(day int32) int32 {
	y, m, _ := civilFromDay(day)
	return int32(y*12 + int(m) - 1)
}

func monthYM(month int32) (y int, m int) {
	y = int(floorDiv(int64(month), 12))
	return y, int(int64(month)-int64(y)*12) + 1
}

// firstDayOfMonth is the day number of the 1st of the month.
func firstDayOfMonth(month int32) int32 {
	y, m := monthYM(month)
	return civilDay(y, m, 1)
}

// calendar converts between instants and local days.
type calendar struct{ loc *time.Location }

// dayOf returns the local day of t and that day's [start, end) in ns.
func (c calendar) dayOf(t int64) (day int32, start, end int64) {
	tm := time.Unix(0, t).In(c.loc)
	y, m, d := tm.Date()
	day = civilDay(y, int(m), d)
	return day, c.dayStart(day), c.dayStart(day + 1)
}

// dayStart returns local midnight of day in ns (saturating far outside the
// int64 range, which only hostile query bounds reach).
func (c calendar) dayStart(day int32) int64 {
	y, m, d := civilFromDay(day)
	return unixNanoSat(time.Date(y, m, d, 0, 0, 0, 0, c.loc))
}

func unixNanoSat(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// dayCache remembers the two most recent days: trades arrive in time order
// except late reports, which may belong to yesterday right after midnight.
type dayCache struct {
	cal calendar
	e   [2]struct {
		day        int32
		start, end int64
	}
	n int
}

func (dc *dayCache) day(t int64) int32 {
	for i := 0; i < dc.n; i++ {
		if e := &dc.e[i]; t >= e.start && t < e.end {
			return e.day
		}
	}
	day, start, end := dc.cal.dayOf(t)
	dc.e[1] = dc.e[0]
	dc.e[0].day, dc.e[0].start, dc.e[0].end = day, start, end
	if dc.n < 2 {
		dc.n++
	}
	return day
}

// daySet is a set of day numbers: a sorted list of 64-day bitmap words, so a
// year of trading days costs about 70 bytes however many symbols there are.
type daySet []dayWord

type dayWord struct {
	w    int32 // day >> 6
	bits uint64
}

func (s *daySet) add(day int32) {
	w, bit := day>>6, uint64(1)<<(uint32(day)&63)
	ws := *s
	i := len(ws)
	for i > 0 && ws[i-1].w > w {
		i--
	}
	if i > 0 && ws[i-1].w == w {
		ws[i-1].bits |= bit
		return
	}
	ws = append(ws, dayWord{})
	copy(ws[i+1:], ws[i:])
	ws[i] = dayWord{w: w, bits: bit}
	*s = ws
}

func (s *daySet) remove(day int32) {
	w, bit := day>>6, uint64(1)<<(uint32(day)&63)
	for i, x := range *s {
		if x.w == w {
			if (*s)[i].bits &^= bit; (*s)[i].bits == 0 {
				*s = slices.Delete(*s, i, i+1)
			}
			return
		}
	}
}

func (s daySet) has(day int32) bool {
	w, bit := day>>6, uint64(1)<<(uint32(day)&63)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i].w == w {
			return s[i].bits&bit != 0
		}
		if s[i].w < w {
			return false
		}
	}
	return false
}

// appendRange appends the days in [lo, hi] in ascending order.
func (s daySet) appendRange(dst []int32, lo, hi int32) []int32 {
	for _, x := range s {
		if (x.w+1)<<6 <= lo || x.w<<6 > hi {
			continue
		}
		for b := x.bits; b != 0; b &= b - 1 {
			d := x.w<<6 + int32(bits.TrailingZeros64(b))
			if d >= lo && d <= hi {
				dst = append(dst, d)
			}
		}
	}
	return dst
}

// last returns the largest day, if any.
func (s daySet) last() (int32, bool) {
	if len(s) == 0 {
		return 0, false
	}
	x := s[len(s)-1]
	return x.w<<6 + int32(63-bits.LeadingZeros64(x.bits)), true
}

// first returns the smallest day, if any.
func (s daySet) first() (int32, bool) {
	if len(s) == 0 {
		return 0, false
	}
	return s[0].w<<6 + int32(bits.TrailingZeros64(s[0].bits)), true
}
