package calendar

import (
	"fmt"
	"time"
	_ "time/tzdata" // sessions must be right on hosts without a zoneinfo database

	"github.com/tapehq/tape/internal/market"
)

// newYork is the exchange's time zone: market.NewYork, the one place it is
// loaded.
var newYork = market.NewYork

// NewYork returns the America/New_York location every time in this package
// is expressed in.
func NewYork() *time.Location { return newYork }

// Date is a calendar day with no time zone: the number of days since
// 1970-01-01, so that consecutive dates are consecutive integers and d+1 is
// the next day. The zero Date is 1970-01-01. Dates compare with < and ==.
type Date int32

const secondsPerDay = 86400

// NewDate returns the date year-month-day. Out-of-range values are
// normalised as time.Date does: NewDate(2025, time.January, 32) is
// 2025-02-01.
func NewDate(year int, month time.Month, day int) Date {
	// Noon UTC keeps the division away from any boundary.
	sec := time.Date(year, month, day, 12, 0, 0, 0, time.UTC).Unix()
	return Date(floorDiv(sec, secondsPerDay))
}

// DateOf returns the New York date of the instant t: the trading date an
// event at t belongs to.
func DateOf(t time.Time) Date {
	y, m, d := t.In(newYork).Date()
	return NewDate(y, m, d)
}

// ParseDate parses "2006-01-02". As Alpaca's query parameters are documented
// as dates or timestamps, an RFC 3339 timestamp is accepted too, and its date
// is taken as written (2025-07-03T23:00:00-04:00 is 2025-07-03), not
// converted to New York.
func ParseDate(s string) (Date, error) {
	layout := time.DateOnly
	if len(s) > len(time.DateOnly) {
		layout = time.RFC3339Nano
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return 0, fmt.Errorf("calendar: parsing date %q: %w", s, ErrInvalidDate)
	}
	y, m, d := t.Date()
	return NewDate(y, m, d), nil
}

// Civil returns the year, month and day of d.
func (d Date) Civil() (year int, month time.Month, day int) {
	return time.Unix(int64(d)*secondsPerDay, 0).UTC().Date()
}

// Year returns the year of d.
func (d Date) Year() int {
	y, _, _ := d.Civil()
	return y
}

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday {
	// 1970-01-01 was a Thursday.
	return time.Weekday(floorMod(int64(d)+int64(time.Thursday), 7))
}

// AddDays returns the date n days after d (before, for negative n).
func (d Date) AddDays(n int) Date { return d + Date(n) }

// At returns the instant at hour:minute New York wall-clock time on d. On
// the two DST transition days, 02:00-03:00 is resolved as time.Date does;
// no session boundary falls in that hour.
func (d Date) At(hour, minute int) time.Time {
	y, m, day := d.Civil()
	return time.Date(y, m, day, hour, minute, 0, 0, newYork)
}

// Time returns midnight at the start of d in New York.
func (d Date) Time() time.Time { return d.At(0, 0) }

// String returns d as "2006-01-02".
func (d Date) String() string {
	return string(d.AppendFormat(make([]byte, 0, len(time.DateOnly))))
}

// AppendFormat appends d as "2006-01-02" to b.
func (d Date) AppendFormat(b []byte) []byte {
	y, m, day := d.Civil()
	if y < 0 || y > 9999 {
		return fmt.Appendf(b, "%04d-%02d-%02d", y, int(m), day)
	}
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	b = append(b, byte('0'+m/10), byte('0'+m%10), '-')
	return append(b, byte('0'+day/10), byte('0'+day%10))
}

// MarshalText encodes d as "2006-01-02", so that Dates are JSON strings.
func (d Date) MarshalText() ([]byte, error) {
	return d.AppendFormat(make([]byte, 0, len(time.DateOnly))), nil
}

// UnmarshalText decodes what ParseDate accepts.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
