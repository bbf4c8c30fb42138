package forexsim

import (
	"iter"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// Week returns the trading week around t (Unix nanoseconds): open is the
// last Sunday 17:00 New York time at or before t, close the Friday 17:00
// after it. The market is open at t when t < close; from close on it is
// closed until open plus a week.
func Week(t int64) (open, close int64) {
	ny := time.Unix(0, t).In(market.NewYork)
	y, m, d := ny.Date()
	sunday := d - int(ny.Weekday())
	o := time.Date(y, m, sunday, 17, 0, 0, 0, market.NewYork)
	if o.UnixNano() > t {
		sunday -= 7
		o = time.Date(y, m, sunday, 17, 0, 0, 0, market.NewYork)
	}
	c := time.Date(y, m, sunday+5, 17, 0, 0, 0, market.NewYork)
	return o.UnixNano(), c.UnixNano()
}

// IsOpen reports whether the market is open at t.
func IsOpen(t int64) bool {
	_, c := Week(t)
	return t < c
}

// nextOpen returns the open of the week after the one that opened at open:
// a week later on the calendar, which is not always 168 hours later.
func nextOpen(open int64) int64 {
	o := time.Unix(0, open).In(market.NewYork)
	return time.Date(o.Year(), o.Month(), o.Day()+7, 17, 0, 0, 0, market.NewYork).UnixNano()
}

// Bounds of the instants Times walks: within them, the grid arithmetic
// cannot overflow (late 1823 to early 2116).
const (
	minTime = math.MinInt64 / 2
	maxTime = math.MaxInt64 / 2
)

// Times yields the instants of the sampling grid of step (the multiples of
// step since the Unix epoch, so 1Min samples at every UTC minute and 1Day
// at 00:00 UTC) that lie in [start, end] and at which the market is open:
// ascending, or descending with desc. step must be a positive multiple of
// Tick; for any other Times yields nothing. The range is clamped to late
// 1823 to early 2116, where the grid arithmetic cannot overflow.
func Times(start, end int64, step time.Duration, desc bool) iter.Seq[int64] {
	return func(yield func(int64) bool) {
		s := int64(step)
		if s <= 0 || s%tickNS != 0 {
			return
		}
		start, end = max(start, minTime), min(end, maxTime)
		if start > end {
			return
		}
		if desc {
			t := floorDiv(end, s) * s
			open, close := Week(t)
			for t >= start {
				switch {
				case t < open: // into the week before
					open, close = Week(t)
				case t >= close: // the weekend: on to the last instant before the close
					t = floorDiv(close-1, s) * s
				default:
					if !yield(t) {
						return
					}
					t -= s
				}
			}
			return
		}
		t := -floorDiv(-start, s) * s
		open, close := Week(t)
		for t <= end {
			if t >= close { // the weekend: on to the next open
				open = nextOpen(open)
				t = -floorDiv(-open, s) * s
				open, close = Week(t)
				continue
			}
			if !yield(t) {
				return
			}
			t += s
		}
	}
}

// ParseTimeframe parses the timeframe of a rates request into its step:
// Alpaca's 5Sec (5S), 1Min (1T) and 1Day (1D), and, as Tape extends them,
// 10, 15, 20 and 30 seconds, [1-59]Min and [1-23]Hour (H), in any case.
// Weeks and months are refused: the rates are snapshots, and a weekly one
// would fall on a weekend.
func ParseTimeframe(s string) (time.Duration, bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 && i <= 2 {
		if unit := strings.ToLower(s[i:]); unit == "sec" || unit == "s" {
			n, _ := strconv.Atoi(s[:i])
			if n > 0 && n < 60 && n%5 == 0 && 60%n == 0 {
				return time.Duration(n) * time.Second, true
			}
			return 0, false
		}
	}
	tf, err := market.ParseTimeframe(s)
	if err != nil {
		return 0, false
	}
	switch tf.Unit {
	case market.Minute:
		return time.Duration(tf.N) * time.Minute, true
	case market.Hour:
		return time.Duration(tf.N) * time.Hour, true
	case market.Day:
		return 24 * time.Hour, true
	}
	return 0, false
}
