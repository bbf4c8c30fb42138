package calendar

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Session is the trading session in force at an instant, as Alpaca names
// them for US equities.
type Session uint8

const (
	// Closed: no session. Weekends, holidays, and the gaps between sessions
	// (17:00-20:00 after an early close; 20:00-04:00 before a closed day).
	Closed Session = iota
	// Overnight: 20:00-04:00 New York, Alpaca's 24/5 session (Blue Ocean
	// ATS), Sunday night through Thursday night.
	Overnight
	// PreMarket: 04:00-09:30.
	PreMarket
	// Regular: 09:30-16:00, or to 13:00 on an early-close day.
	Regular
	// AfterHours: from the regular close to 20:00, or 13:00-17:00 on an
	// early-close day.
	AfterHours
)

var sessionNames = [...]string{
	Closed:     "closed",
	Overnight:  "overnight",
	PreMarket:  "pre-market",
	Regular:    "regular",
	AfterHours: "after-hours",
}

// String returns the session's name: "closed", "overnight", "pre-market",
// "regular" or "after-hours".
func (s Session) String() string {
	if int(s) < len(sessionNames) {
		return sessionNames[s]
	}
	return fmt.Sprintf("Session(%d)", uint8(s))
}

// MarshalText encodes the session as its name.
func (s Session) MarshalText() ([]byte, error) {
	if int(s) >= len(sessionNames) {
		return nil, fmt.Errorf("calendar: marshaling %v: %w", s, ErrInvalidSession)
	}
	return []byte(sessionNames[s]), nil
}

// UnmarshalText decodes a session's name.
func (s *Session) UnmarshalText(b []byte) error {
	for i, name := range sessionNames {
		if string(b) == name {
			*s = Session(i)
			return nil
		}
	}
	return fmt.Errorf("calendar: parsing session %q: %w", b, ErrInvalidSession)
}

// Span is a session and the half-open interval [Start, End) over which it
// holds, in New York time.
type Span struct {
	Session    Session
	Start, End time.Time
}

// SessionAt returns the session in force at t.
//
// The overnight session belongs to the trading day it leads into: it runs
// from 20:00 on the calendar day before a trading day to 04:00 on that day.
// So holidays and weekends interrupt it exactly as they interrupt the day
// session: there is none on Friday or Saturday night, none on the eve of a
// holiday (Wednesday night before Thanksgiving, Christmas Eve), and one on
// the evening of a holiday that precedes a trading day (Labor Day night,
// Sunday night). That is Tape's decision: it follows from Blue Ocean ATS
// (the venue of Alpaca's overnight session) assigning each overnight
// session to the next day's trade date, but Blue Ocean's holiday schedule
// could not be checked offline.
//
// SessionAt is safe for concurrent use and cheap to call repeatedly: it
// remembers the span of the last answer, so every call inside it costs a
// couple of comparisons and allocates nothing.
func SessionAt(t time.Time) Session {
	sec := t.Unix()
	if c := lastSpan.Load(); c != nil && sec >= c.lo && sec < c.hi {
		return c.session
	}
	return lookup(t).session
}

// SpanAt returns the session in force at t and the interval it covers:
// after-hours from 16:00 to 20:00, say, or Closed from Friday 20:00 to
// Sunday 20:00. A closed gap longer than a month (beyond any real one) is
// reported cut at the month.
func SpanAt(t time.Time) Span {
	c := lastSpan.Load()
	if sec := t.Unix(); c == nil || sec < c.lo || sec >= c.hi {
		c = lookup(t)
	}
	return Span{
		Session: c.session,
		Start:   time.Unix(c.lo, 0).In(newYork),
		End:     time.Unix(c.hi, 0).In(newYork),
	}
}

// span is a session over [lo, hi) in Unix seconds. Every boundary is a
// whole minute, so comparing t.Unix() (which floors) is exact.
type span struct {
	lo, hi  int64
	session Session
}

// lastSpan caches the last span looked up. One shared entry suits the
// callers: the simulator asks about consecutive minutes, the REST clock
// about now. Callers that alternate between distant instants only miss.
var lastSpan atomic.Pointer[span]

func lookup(t time.Time) *span {
	s := spanOf(t.Unix(), DateOf(t))
	lastSpan.Store(&s)
	return &s
}

// maxScan bounds the search for the ends of a closed gap, in days. The
// longest closure since 1990 (September 2001) is six days.
const maxScan = 31

// spanOf returns the span containing sec, whose New York date is d.
func spanOf(sec int64, d Date) span {
	// The sessions of trading day x lie within [x-1 20:00, x 20:00), so
	// only d and d+1 (whose overnight starts at 20:00 on d) can hold sec.
	for x := d; x <= d+1; x++ {
		ss, n := sessionsOf(x)
		for _, s := range ss[:n] {
			if sec >= s.lo && sec < s.hi {
				return s
			}
		}
	}
	// Closed: from the end of the last session before to the start of the
	// first after. Failing those, the ends of the scanned window, which no
	// session crosses.
	gap := span{
		lo:      d.AddDays(-maxScan).Time().Unix(),
		hi:      d.AddDays(maxScan).At(20, 0).Unix(),
		session: Closed,
	}
	for x := d + 1; x >= d-maxScan; x-- {
		ss, n := sessionsOf(x)
		if n > 0 && ss[0].lo <= sec {
			for _, s := range ss[:n] {
				if s.hi <= sec {
					gap.lo = s.hi
				}
			}
			break
		}
	}
	for x := d; x <= d+maxScan; x++ {
		ss, n := sessionsOf(x)
		if n > 0 && ss[n-1].hi > sec {
			for i := n - 1; i >= 0 && ss[i].lo > sec; i-- {
				gap.hi = ss[i].lo
			}
			break
		}
	}
	return gap
}

// sessionsOf returns the sessions of date x in order, none if x does not
// trade.
func sessionsOf(x Date) (ss [4]span, n int) {
	day, ok := TradingDay(x)
	if !ok {
		return ss, 0
	}
	ss = [4]span{
		{day.OvernightOpen.Unix(), day.SessionOpen.Unix(), Overnight},
		{day.SessionOpen.Unix(), day.Open.Unix(), PreMarket},
		{day.Open.Unix(), day.Close.Unix(), Regular},
		{day.Close.Unix(), day.SessionClose.Unix(), AfterHours},
	}
	return ss, len(ss)
}
