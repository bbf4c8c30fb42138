package jsonenc

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// Minimal JSON appenders for the stream protocol's fixed schemas.

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string, escaping what RFC 8259 requires plus
// <, > and & (as encoding/json does, so the output is safe in HTML contexts).
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendChar appends a one-character string ("" for 0). The codes Tape carries
// are printable ASCII; anything else goes through the escaping path.
func AppendChar(b []byte, c byte) []byte {
	if c == 0 {
		return append(b, '"', '"')
	}
	if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
		return append(b, '"', c, '"')
	}
	return AppendString(b, string(rune(c)))
}

// AppendCharBody appends the ASCII character c (1..127) as it appears inside a
// JSON string, escaped as AppendString escapes it.
func AppendCharBody(b []byte, c byte) []byte {
	if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
		return append(b, c)
	}
	s := AppendString(nil, string(rune(c)))
	return append(b, s[1:len(s)-1]...)
}

// AppendFloat appends f in the shortest form that reads back as f, like
// strconv.AppendFloat(b, f, 'f', -1, 64). Prices are nearly always whole
// cents, and for those a fast path writes the digits directly: it is exact
// because c/100 == f proves the two-decimal string reads back as f, and no
// shorter string can, since below 1e13 distinct cent values are more than
// an ulp apart. Crypto prices and sizes carry up to nine decimals; the same
// argument holds for nine decimals below 2^22, where an ulp is under 1e-9
// (c = f·1e9 < 2^53 is exact, and c/1e9 is one correctly rounded division,
// as reading the decimal string is).
func AppendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, '0')
	}
	if a := math.Abs(f); a < 1e13 && f != 0 {
		if c := math.Round(a * 100); c/100 == a {
			if f < 0 {
				b = append(b, '-')
			}
			ci := int64(c)
			b = strconv.AppendInt(b, ci/100, 10)
			if r := ci % 100; r != 0 {
				b = append(b, '.', byte('0'+r/10))
				if r%10 != 0 {
					b = append(b, byte('0'+r%10))
				}
			}
			return b
		}
		if a < 1<<22 {
			if c := math.Round(a * 1e9); c/1e9 == a {
				if f < 0 {
					b = append(b, '-')
				}
				ci := int64(c)
				b = strconv.AppendInt(b, ci/1e9, 10)
				if r := ci % 1e9; r != 0 {
					var frac [10]byte
					frac[0] = '.'
					for i := 9; i >= 1; i-- {
						frac[i] = byte('0' + r%10)
						r /= 10
					}
					end := 10
					for frac[end-1] == '0' {
						end--
					}
					b = append(b, frac[:end]...)
				}
				return b
			}
		}
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// AppendConds appends single-character condition codes (up to the first
// zero) as an array of one-character strings.
func AppendConds(b []byte, c []byte) []byte {
	b = append(b, '[')
	for i := 0; i < len(c) && c[i] != 0; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendChar(b, c[i])
	}
	return append(b, ']')
}

// AppendStrings appends a JSON array of strings.
func AppendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, s)
	}
	return append(b, ']')
}

// AppendTime appends ns as a quoted RFC 3339 UTC timestamp with the fractional
// seconds trimmed of trailing zeros, like time.RFC3339Nano
// ("2021-02-22T15:45:44.208Z"). It is hand-written because time.AppendFormat
// is several times slower and this runs for every event.
func AppendTime(b []byte, ns int64) []byte {
	sec := ns / 1e9
	nsec := ns % 1e9
	if nsec < 0 {
		sec--
		nsec += 1e9
	}
	days := sec / 86400
	rem := sec % 86400
	if rem < 0 {
		rem += 86400
		days--
	}
	y, m, d := Civil(days)
	if y < 0 || y > 9999 {
		return append(b, `"0001-01-01T00:00:00Z"`...)
	}
	hh, mm, ss := rem/3600, rem%3600/60, rem%60
	b = append(b, '"',
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-',
		byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+hh/10), byte('0'+hh%10), ':',
		byte('0'+mm/10), byte('0'+mm%10), ':',
		byte('0'+ss/10), byte('0'+ss%10))
	if nsec != 0 {
		var frac [10]byte
		frac[0] = '.'
		n := nsec
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + n%10)
			n /= 10
		}
		end := 10
		for frac[end-1] == '0' {
			end--
		}
		b = append(b, frac[:end]...)
	}
	return append(b, 'Z', '"')
}

// Civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil inverse).
func Civil(z int64) (y, m, d int64) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}
