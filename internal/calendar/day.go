package calendar

import "time"

// Day is one trading day of the US equities market. All times are in New
// York. The sessions of the day, in order, are:
//
//	[OvernightOpen, SessionOpen)  overnight, from 20:00 the calendar day before
//	[SessionOpen, Open)           pre-market, 04:00-09:30
//	[Open, Close)                 regular, 09:30-16:00 (13:00 on early closes)
//	[Close, SessionClose)         after-hours, to 20:00 (17:00 on early closes)
type Day struct {
	Date          Date
	OvernightOpen time.Time // 20:00 on the previous calendar day
	SessionOpen   time.Time // pre-market open, 04:00 (Alpaca's session_open)
	Open          time.Time // regular open, 09:30
	Close         time.Time // regular close, 16:00, or 13:00 on an early close
	SessionClose  time.Time // after-hours close, 20:00, or 17:00 on an early close (Alpaca's session_close)
	EarlyClose    bool      // the regular session closes before 16:00
}

// TradingDay returns the trading day on date d, and false if the exchange
// is closed all day (a weekend, a holiday or an unscheduled closure); then
// the Day holds only the Date.
func TradingDay(d Date) (Day, bool) {
	in := info(d)
	if in.close == noClose {
		return Day{Date: d}, false
	}
	return makeDay(d, in), true
}

func makeDay(d Date, in dayInfo) Day {
	y, m, day := d.Civil()
	at := func(min int) time.Time {
		// time.Date normalises day+1 and negative days, so the overnight
		// open (the evening before) needs no special case.
		return time.Date(y, m, day, 0, min, 0, 0, newYork)
	}
	early := in.close < fullDayClose
	after := afterEndMin
	if early {
		after = earlyAfterMin
	}
	return Day{
		Date:          d,
		OvernightOpen: at(afterEndMin - 24*60),
		SessionOpen:   at(preOpenMin),
		Open:          at(openMin),
		Close:         at(int(in.close)),
		SessionClose:  at(after),
		EarlyClose:    early,
	}
}

// IsTradingDay reports whether the exchange opens on d.
func IsTradingDay(d Date) bool { return info(d).close != noClose }

// Holiday reports why the exchange is closed all day on the weekday d: the
// holiday's name (as NYSE lists it) or the unscheduled closure's reason.
// Weekends and trading days report false.
func Holiday(d Date) (name string, ok bool) {
	why := info(d).why
	switch {
	case why == notClosed:
		return "", false
	case why < firstSpecial:
		return holidayNames[why], true
	default:
		return specialClosures[why-firstSpecial].name, true
	}
}

// NextTradingDay returns the first trading day strictly after d.
func NextTradingDay(d Date) Date {
	for d++; !IsTradingDay(d); d++ {
	}
	return d
}

// PrevTradingDay returns the last trading day strictly before d.
func PrevTradingDay(d Date) Date {
	for d--; !IsTradingDay(d); d-- {
	}
	return d
}

// Days returns the trading days from through to, both inclusive; nil when
// to is before from.
func Days(from, to Date) []Day {
	if to < from {
		return nil
	}
	// About 252 of 365 days trade; size for that rather than the worst case.
	days := make([]Day, 0, (to-from+1)*7/10+2)
	for d := from; d <= to; d++ {
		if in := info(d); in.close != noClose {
			days = append(days, makeDay(d, in))
		}
	}
	return days
}

// NextOpen returns the first regular-session open strictly after t, as
// Alpaca's clock reports next_open: during the regular session it is the
// next trading day's open.
func NextOpen(t time.Time) time.Time {
	for d := DateOf(t); ; d = NextTradingDay(d) {
		if day, ok := TradingDay(d); ok && day.Open.After(t) {
			return day.Open
		}
	}
}

// NextClose returns the first regular-session close strictly after t, as
// Alpaca's clock reports next_close: outside the regular session it is the
// close of the next session to open.
func NextClose(t time.Time) time.Time {
	for d := DateOf(t); ; d = NextTradingDay(d) {
		if day, ok := TradingDay(d); ok && day.Close.After(t) {
			return day.Close
		}
	}
}

// T1Start is the first trade date that settles T+1 (SEC Release 34-96930,
// compliance date 2024-05-28). Earlier trades settle T+2: historically T+3
// before 2017-09-05 and T+5 before 1995, but Alpaca's calendar reports T+2
// for every earlier date (its documented sample maps 1970-01-02 to
// 1970-01-06), and Tape follows Alpaca.
const T1Start Date = 19871 // 2024-05-28

// SettlementDate returns the date a trade executed on trade date d settles:
// one settlement day later from T1Start, two before. A settlement day is a
// day the exchange trades that is not also a Federal Reserve bank holiday
// (Columbus Day, Veterans Day): DTC does not settle when the banks are
// closed, so a trade on the Friday before Columbus Day settles on Tuesday.
// Trades made on 2024-05-24 (T+2) and 2024-05-28 (T+1) both settle on
// 2024-05-29.
func SettlementDate(d Date) Date {
	n := 2
	if d >= T1Start {
		n = 1
	}
	s := d
	for n > 0 {
		s++
		if IsTradingDay(s) && !isSettlementHoliday(s) {
			n--
		}
	}
	return s
}

// maxSettlementLag bounds how many calendar days a settlement date can
// follow its trade date: T+2 across a weekend and a holiday is 5 days,
// across the September 2001 closure 8. Calendar's settlement-date query
// relies on it.
const maxSettlementLag = 15
