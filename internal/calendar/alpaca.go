package calendar

import (
	"fmt"
	"strings"
	"time"
)

// Alpaca's trading API shapes. Field names and formats are checked against
// the official Go SDK (alpaca-trade-api-go/v3 alpaca.Clock and
// alpaca.CalendarDay, which decode them in this package's tests) and
// against Alpaca's API reference (docs.alpaca.markets/reference/clock and
// "Get Market Calendar info"), whose samples read:
//
//	GET /v2/clock
//	{"timestamp":"2022-04-28T14:07:04.451420928-04:00","is_open":true,
//	 "next_open":"2022-04-29T09:30:00-04:00","next_close":"2022-04-28T16:00:00-04:00"}
//	GET /v2/calendar
//	[{"date":"1970-01-02","open":"09:30","close":"16:00","session_open":"0400",
//	  "session_close":"2000","settlement_date":"1970-01-06"}, ...]
//
// Note the two time formats of the calendar: "HH:MM" for the regular
// session, "HHMM" for the extended one. On early-close days Alpaca reports
// "close":"13:00" and "session_close":"1700" (the reference has no such
// sample; responses captured in public client test fixtures do).

// Clock is the body of GET /v2/clock. The times are RFC 3339 with New
// York's offset (-04:00 or -05:00), as Alpaca sends them; the timestamp
// keeps its nanoseconds.
type Clock struct {
	Timestamp time.Time `json:"timestamp"`  // the instant asked about
	IsOpen    bool      `json:"is_open"`    // the regular session is open (extended hours do not count)
	NextOpen  time.Time `json:"next_open"`  // next regular open strictly after Timestamp
	NextClose time.Time `json:"next_close"` // next regular close strictly after Timestamp
}

// ClockAt returns Alpaca's clock at t. During the regular session
// next_open is the next trading day's open and next_close today's close;
// outside it both belong to the next session to open.
func ClockAt(t time.Time) Clock {
	return Clock{
		Timestamp: t.In(newYork),
		IsOpen:    SessionAt(t) == Regular,
		NextOpen:  NextOpen(t),
		NextClose: NextClose(t),
	}
}

// CalendarDay is one element of the body of GET /v2/calendar.
type CalendarDay struct {
	Date           string `json:"date"`            // trade date, "2006-01-02"
	Open           string `json:"open"`            // regular open, "15:04" New York
	Close          string `json:"close"`           // regular close, "15:04" New York
	SessionOpen    string `json:"session_open"`    // pre-market open, "1504" New York
	SessionClose   string `json:"session_close"`   // after-hours close, "1504" New York
	SettlementDate string `json:"settlement_date"` // "2006-01-02"; see SettlementDate
}

// CalendarDayOf returns Alpaca's calendar entry for the trading day d.
func CalendarDayOf(d Day) CalendarDay {
	return CalendarDay{
		Date:           d.Date.String(),
		Open:           d.Open.Format("15:04"),
		Close:          d.Close.Format("15:04"),
		SessionOpen:    d.SessionOpen.Format("1504"),
		SessionClose:   d.SessionClose.Format("1504"),
		SettlementDate: SettlementDate(d.Date).String(),
	}
}

// DateType is the date_type parameter of GET /v2/calendar: which date of a
// calendar entry start and end select on.
type DateType uint8

const (
	// ByTradeDate selects the entries whose date is in [start, end]
	// (date_type=TRADING, the default).
	ByTradeDate DateType = iota
	// BySettlementDate selects the entries whose settlement_date is in
	// [start, end] (date_type=SETTLEMENT).
	BySettlementDate
)

// ParseDateType parses date_type: "TRADING" or "SETTLEMENT", in any case
// (the trading API documents upper case, the broker API lower case), and
// "" as the default, TRADING.
func ParseDateType(s string) (DateType, error) {
	switch {
	case s == "" || strings.EqualFold(s, "TRADING"):
		return ByTradeDate, nil
	case strings.EqualFold(s, "SETTLEMENT"):
		return BySettlementDate, nil
	}
	return 0, fmt.Errorf("calendar: parsing date_type %q: %w", s, ErrInvalidDateType)
}

// Calendar returns the body of GET /v2/calendar for the inclusive range
// [start, end]: one entry per trading day, in date order, never nil (an
// empty range encodes as []).
//
// Query semantics, as Alpaca documents them (trading API "Get Market
// Calendar info", broker API "Retrieve the Market Calendar"):
//
//   - start, end: optional, inclusive, "YYYY-MM-DD" (the trading API calls
//     them timestamps; the SDKs send dates; ParseDate takes both). Alpaca
//     says the endpoint "serves the full list of market days from 1970 to
//     2029" and that start and/or end narrow it: an omitted start means the
//     first day it knows, an omitted end the last, so a bare request returns
//     the whole table. Tape's table is First..Last (1990-2100); a handler
//     should default start to First and end to Last, and clamp to them.
//   - date_type: TRADING (default) or SETTLEMENT; see DateType and
//     ParseDateType.
//   - start after end yields [].
func Calendar(start, end Date, by DateType) []CalendarDay {
	out := []CalendarDay{}
	if end < start {
		return out
	}
	from := start
	if by == BySettlementDate {
		from = start - maxSettlementLag
	}
	for _, d := range Days(from, end) {
		c := CalendarDayOf(d)
		if by == BySettlementDate {
			if s := SettlementDate(d.Date); s < start || s > end {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}
