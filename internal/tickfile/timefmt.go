package tickfile

import (
	"errors"
	"time"

	"github.com/tapehq/tape/internal/jsonenc"
	"github.com/tapehq/tape/internal/market"
)

// Times in CSV are RFC 3339 in UTC with exactly nine fraction digits
// ("2026-11-24T15:04:05.123456789Z"): lossless at Tape's nanosecond
// resolution, and one fixed width, so that pandas.to_datetime and
// polars infer a single format for the whole column instead of warning
// about mixed formats. appendTime writes it by hand (it runs once per row;
// time.Time.AppendFormat is several times slower).

// appendTime appends ns since the epoch in the CSV time form.
func appendTime(b []byte, ns int64) []byte {
	sec, nsec := ns/1e9, ns%1e9
	if nsec < 0 {
		sec--
		nsec += 1e9
	}
	days, rem := sec/86400, sec%86400
	if rem < 0 {
		rem += 86400
		days--
	}
	y, m, d := jsonenc.Civil(days)
	hh, mm, ss := rem/3600, rem%3600/60, rem%60
	b = append(b,
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-',
		byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+hh/10), byte('0'+hh%10), ':',
		byte('0'+mm/10), byte('0'+mm%10), ':',
		byte('0'+ss/10), byte('0'+ss%10), '.')
	var frac [9]byte
	for i := 8; i >= 0; i-- {
		frac[i] = byte('0' + nsec%10)
		nsec /= 10
	}
	b = append(b, frac[:]...)
	return append(b, 'Z')
}

// daysFromCivil is the inverse of jsonenc.Civil.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

var errTime = errors.New("want an RFC 3339 time like 2026-11-24T15:04:05.123456789Z")

// newYork is where a bare date starts, as everywhere in Tape.
var newYork = market.NewYork

// parseTime parses a time: the form appendTime writes (fast path), any RFC
// 3339 time (a space instead of the T too, as pandas' to_csv writes
// "2026-11-24 15:04:05.123+00:00"), or a bare date YYYY-MM-DD, which is
// midnight in New York like every date Tape takes. A time without a zone is
// refused: guessing UTC or New York would silently shift a whole file.
func parseTime(s string) (int64, error) {
	if ns, ok := parseUTC(s); ok {
		return ns, nil
	}
	if len(s) == 10 {
		t, err := time.ParseInLocation(time.DateOnly, s, newYork)
		if err != nil {
			return 0, errTime
		}
		return t.UnixNano(), nil
	}
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		if _, err2 := time.Parse("2006-01-02T15:04:05.999999999", s); err2 == nil {
			return 0, errors.New("time has no zone: add Z (UTC) or an offset such as -05:00")
		}
		return 0, errTime
	}
	if t.Year() < 1678 || t.Year() > 2261 {
		return 0, errors.New("time out of range (years 1678-2261)")
	}
	return t.UnixNano(), nil
}

// parseUTC parses YYYY-MM-DDTHH:MM:SS[.fraction]Z by hand, the form Tape
// writes and the common case on import.
func parseUTC(s string) (int64, bool) {
	if len(s) < 20 || s[len(s)-1] != 'Z' || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
		s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	num := func(i, n int) (int64, bool) {
		var v int64
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int64(c-'0')
		}
		return v, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 2)
	d, ok3 := num(8, 2)
	h, ok4 := num(11, 2)
	mi, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) ||
		h > 23 || mi > 59 || sec > 59 || y < 1678 || y > 2261 {
		return 0, false
	}
	var frac int64
	rest := s[19 : len(s)-1]
	if rest != "" {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return 0, false
		}
		f, ok := num(20, len(rest)-1)
		if !ok {
			return 0, false
		}
		for i := len(rest) - 1; i < 9; i++ {
			f *= 10
		}
		frac = f
	}
	days := daysFromCivil(y, mo, d)
	return (days*86400+h*3600+mi*60+sec)*1e9 + frac, true
}

func daysIn(y, m int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
