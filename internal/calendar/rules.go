package calendar

import (
	"slices"
	"sync"
	"time"
)

// Sources of truth for the rules below, in order of authority:
//
//   - NYSE, "Holidays & Trading Hours" (nyse.com/markets/hours-calendars):
//     the published holiday and early-close lists for the current and next
//     two years, with their footnotes: early closes are at 1:00 p.m. on the
//     day after Thanksgiving, on Christmas Eve, and on the day before
//     Independence Day.
//   - NYSE Rule 7.2 (Holidays): a holiday on a Saturday closes the exchange
//     the Friday before, one on a Sunday the Monday after, "unless unusual
//     business conditions exist, such as the ending of a monthly or yearly
//     accounting period" - which is why a Saturday New Year's Day closes
//     nothing (2010-12-31 and 2021-12-31 traded).
//   - NYSE Group's history of closings ("NYSE Closings", the document
//     pandas_market_calendars cites as Stocks.NYSE-Closings.pdf), for the
//     unscheduled full-day closures and for which years each early-close
//     rule applied; cross-checked against pandas_market_calendars'
//     holidays/nyse.py.
//   - The federal statutes that created the Monday holidays (Uniform Monday
//     Holiday Act 1968, effective 1971; MLK Day 1983, closed by NYSE from
//     1998; Juneteenth 2021, closed by NYSE from 2022).
//
// The rules are complete for 1990 through 2100 (First, Last). Outside that
// range the same rules are extrapolated: the older irregular closings
// (1985's Hurricane Gloria, the 1987 backlog closes, 10:00 opens before
// 1985) are not modelled, and future unscheduled closures are by nature
// unknown.

// First and Last bound the dates whose calendar this package knows: every
// NYSE holiday, unscheduled closure and early close between them is encoded.
// Queries outside still answer, by extrapolating the rules; an API that
// serves the calendar should clamp its default range to these.
const (
	First Date = 7305  // 1990-01-01
	Last  Date = 47846 // 2100-12-31
)

// Regular-session hours, in minutes after midnight New York time. Alpaca's
// calendar reports the same: "open" 09:30, "close" 16:00 or 13:00,
// "session_open" 0400, "session_close" 2000 or 1700.
const (
	preOpenMin    = 4 * 60    // pre-market opens (Alpaca session_open); overnight ends
	openMin       = 9*60 + 30 // regular session opens
	earlyCloseMin = 13 * 60   // early close, 1993 on
	earlyClose92  = 14 * 60   // early close before 1993
	afterEndMin   = 20 * 60   // after-hours ends; the next overnight session begins
	earlyAfterMin = 17 * 60   // after-hours ends on an early-close day

	noClose      = uint16(0)       // dayInfo.close of a day the exchange is closed
	fullDayClose = uint16(16 * 60) // regular session closes
)

// reason identifies why a weekday is closed. The regular holidays come
// first; the unscheduled closures follow, one per entry of specialClosures.
type reason uint8

const (
	notClosed reason = iota
	newYearsDay
	mlkDay
	washingtonsBirthday
	goodFriday
	memorialDay
	juneteenth
	independenceDay
	laborDay
	thanksgiving
	christmas
	firstSpecial // specialClosures[i] has reason firstSpecial+i
)

var holidayNames = [firstSpecial]string{
	notClosed:           "",
	newYearsDay:         "New Year's Day",
	mlkDay:              "Martin Luther King, Jr. Day",
	washingtonsBirthday: "Washington's Birthday",
	goodFriday:          "Good Friday",
	memorialDay:         "Memorial Day",
	juneteenth:          "Juneteenth National Independence Day",
	independenceDay:     "Independence Day",
	laborDay:            "Labor Day",
	thanksgiving:        "Thanksgiving Day",
	christmas:           "Christmas Day",
}

// specialClosures are the full-day closures no rule predicts, 1990 on, from
// NYSE's history of closings and its press releases. Add a national day of
// mourning here when NYSE announces one.
var specialClosures = []struct {
	year  int
	month time.Month
	days  []int
	name  string
}{
	{1994, time.April, []int{27}, "National Day of Mourning for former President Richard Nixon"},
	{2001, time.September, []int{11, 12, 13, 14}, "Closed after the September 11 attacks"},
	{2004, time.June, []int{11}, "National Day of Mourning for former President Ronald Reagan"},
	{2007, time.January, []int{2}, "National Day of Mourning for former President Gerald Ford"},
	{2012, time.October, []int{29, 30}, "Closed for Hurricane Sandy"},
	{2018, time.December, []int{5}, "National Day of Mourning for former President George H. W. Bush"},
	{2025, time.January, []int{9}, "National Day of Mourning for former President Jimmy Carter"},
}

// adHocEarlyCloses are the 1:00 p.m. closes no rule predicts, from NYSE's
// history of closings: the Fridays after Christmas in 1997 and 2003.
var adHocEarlyCloses = []Date{
	NewDate(1997, time.December, 26),
	NewDate(2003, time.December, 26),
}

// Fed bank holidays on which NYSE trades but DTC does not settle (the
// Federal Reserve's holiday schedule: Columbus Day, the second Monday of
// October; Veterans Day, November 11, observed on Monday when it falls on a
// Sunday and not at all when it falls on a Saturday). Only settlement dates
// skip them.
func isSettlementHoliday(d Date) bool {
	y, m, _ := d.Civil()
	switch m {
	case time.October:
		return d == nthWeekday(y, time.October, time.Monday, 2)
	case time.November:
		v := NewDate(y, time.November, 11)
		switch v.Weekday() {
		case time.Saturday:
			return false
		case time.Sunday:
			v++
		}
		return d == v
	}
	return false
}

// dayInfo is what the calendar stores per date.
type dayInfo struct {
	close uint16 // regular close in minutes after midnight; noClose when closed
	why   reason // why a weekday is closed
}

// holiday is a regular holiday observed on a date.
type holiday struct {
	date Date
	why  reason
}

// holidays returns the regular full-day holidays NYSE observes in year,
// already moved to their observed weekday. No observance crosses a year
// boundary: New Year's Day on a Saturday is simply not observed, and
// Christmas on a Saturday is observed on December 24.
func holidays(year int) []holiday {
	h := make([]holiday, 0, 10)
	add := func(d Date, why reason) { h = append(h, holiday{d, why}) }

	// New Year's Day: Sunday -> Monday; Saturday -> none (Rule 7.2).
	if d := NewDate(year, time.January, 1); d.Weekday() != time.Saturday {
		add(sundayToMonday(d), newYearsDay)
	}
	// Martin Luther King, Jr. Day: third Monday of January. A federal
	// holiday since 1986; NYSE first closed for it in 1998.
	if year >= 1998 {
		add(nthWeekday(year, time.January, time.Monday, 3), mlkDay)
	}
	// Washington's Birthday ("Presidents' Day"): third Monday of February
	// since 1971.
	add(nthWeekday(year, time.February, time.Monday, 3), washingtonsBirthday)
	// Good Friday: two days before Western Easter. Not a federal holiday;
	// NYSE has closed every year since 1908.
	add(easter(year)-2, goodFriday)
	// Memorial Day: last Monday of May since 1971.
	add(lastWeekday(year, time.May, time.Monday), memorialDay)
	// Juneteenth: June 19, from 2022 (federal from 2021, too late in the year
	// for NYSE to close); nearest weekday.
	if year >= 2022 {
		add(nearestWeekday(NewDate(year, time.June, 19)), juneteenth)
	}
	// Independence Day: July 4, nearest weekday.
	add(nearestWeekday(NewDate(year, time.July, 4)), independenceDay)
	// Labor Day: first Monday of September.
	add(nthWeekday(year, time.September, time.Monday, 1), laborDay)
	// Thanksgiving: fourth Thursday of November.
	add(nthWeekday(year, time.November, time.Thursday, 4), thanksgiving)
	// Christmas: December 25, nearest weekday.
	add(nearestWeekday(NewDate(year, time.December, 25)), christmas)
	return h
}

// regularClose returns the regular close, in minutes after midnight, of
// the trading day d: 16:00, or earlier on an early-close day. Holidays are
// decided before it is called.
func regularClose(d Date) uint16 {
	y, m, day := d.Civil()
	wd := d.Weekday()
	var early bool
	switch {
	case m == time.November && wd == time.Friday && d-1 == nthWeekday(y, time.November, time.Thursday, 4):
		// The day after Thanksgiving, from 1992 (a full day in 1990 and
		// 1991).
		early = y >= 1992
	case m == time.December && day == 24:
		// Christmas Eve on a Monday to Thursday (on a Friday it is the
		// observed Christmas). NYSE's history shows it as an early close in
		// every such year from 1990 (1990-1992 at 2:00 p.m.); 1993-1995 had
		// no weekday Christmas Eve.
		early = wd >= time.Monday && wd <= time.Thursday
	case m == time.July && day == 3 && y >= 1995:
		// The day before Independence Day, from 1995: a Monday, Tuesday or
		// Thursday July 3 always; a Wednesday July 3 (July 4 on a Thursday)
		// only from 2013. A Friday July 3 is itself the observed holiday.
		early = wd == time.Monday || wd == time.Tuesday || wd == time.Thursday ||
			wd == time.Wednesday && y >= 2013
	case m == time.July && day == 5 && wd == time.Friday:
		// Before 2013, a Thursday July 4 was followed by an early close on
		// Friday July 5 instead of one on Wednesday July 3.
		early = y >= 1996 && y <= 2012
	default:
		early = slices.Contains(adHocEarlyCloses, d)
	}
	switch {
	case !early:
		return fullDayClose
	case y < 1993:
		// The standard early close was 2:00 p.m. until 1993.
		return earlyClose92
	default:
		return earlyCloseMin
	}
}

// classify computes the calendar entry of d from the rules. The table
// caches it for First..Last; dates outside are classified on demand.
func classify(d Date) dayInfo { return classifyIn(d, holidays(d.Year())) }

// classifyIn is classify with the holidays of d's year already computed.
func classifyIn(d Date, hs []holiday) dayInfo {
	if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return dayInfo{close: noClose}
	}
	for _, h := range hs {
		if h.date == d {
			return dayInfo{close: noClose, why: h.why}
		}
	}
	y, m, day := d.Civil()
	for i, s := range specialClosures {
		if s.year == y && s.month == m && slices.Contains(s.days, day) {
			return dayInfo{close: noClose, why: firstSpecial + reason(i)}
		}
	}
	return dayInfo{close: regularClose(d)}
}

// table holds dayInfo for First..Last (First and Last are January 1 and
// December 31), built on first use in a few milliseconds rather than at
// init, so that programs importing the package without using it pay
// nothing.
var table = sync.OnceValue(func() []dayInfo {
	t := make([]dayInfo, 0, Last-First+1)
	for y := First.Year(); y <= Last.Year(); y++ {
		hs := holidays(y)
		for d := NewDate(y, time.January, 1); d <= NewDate(y, time.December, 31); d++ {
			t = append(t, classifyIn(d, hs))
		}
	}
	return t
})

// info returns the calendar entry of d.
func info(d Date) dayInfo {
	if d >= First && d <= Last {
		return table()[d-First]
	}
	return classify(d)
}

// nthWeekday returns the n-th (1-based) weekday wd of month.
func nthWeekday(year int, month time.Month, wd time.Weekday, n int) Date {
	first := NewDate(year, month, 1)
	offset := (int(wd) - int(first.Weekday()) + 7) % 7
	return first + Date(offset+7*(n-1))
}

// lastWeekday returns the last weekday wd of month.
func lastWeekday(year int, month time.Month, wd time.Weekday) Date {
	last := NewDate(year, month+1, 1) - 1
	back := (int(last.Weekday()) - int(wd) + 7) % 7
	return last - Date(back)
}

// nearestWeekday moves a Saturday holiday to Friday and a Sunday holiday to
// Monday.
func nearestWeekday(d Date) Date {
	switch d.Weekday() {
	case time.Saturday:
		return d - 1
	case time.Sunday:
		return d + 1
	}
	return d
}

func sundayToMonday(d Date) Date {
	if d.Weekday() == time.Sunday {
		return d + 1
	}
	return d
}

// easter returns Western (Gregorian) Easter Sunday: the anonymous Gregorian
// computus of Meeus, Astronomical Algorithms ch. 8, valid for every
// Gregorian year.
func easter(year int) Date {
	a := year % 19
	b, c := year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return NewDate(year, time.Month(month), day)
}
