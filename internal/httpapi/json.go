package httpapi

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/market"
)

// The response bodies are written by hand-written appenders rather than
// encoding/json: a page of 10,000 bars is about 1 MB of JSON, and the
// appenders write it several times faster with no per-item allocation
// (see BenchmarkEncodeBars). The schemas are fixed and small, so there is
// little to get wrong, and the tests decode every shape with the official
// SDK.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping what RFC 8259 requires
// plus <, > and & (as encoding/json does). Invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
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

// appendChar appends a one-character code as a string ("" for 0, which
// market uses for "not set").
func appendChar(b []byte, c byte) []byte {
	if c == 0 {
		return append(b, '"', '"')
	}
	if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
		return append(b, '"', c, '"')
	}
	return appendString(b, string(rune(c)))
}

func appendInt(b []byte, v int64) []byte   { return strconv.AppendInt(b, v, 10) }
func appendUint(b []byte, v uint64) []byte { return strconv.AppendUint(b, v, 10) }

// appendFloat appends f in the shortest form that parses back to f. Most
// prices are whole cents, and for those the digits are written directly,
// which is exact: c/100 == a proves the two-decimal string reads back as
// a, and below 1e13 no shorter string can. NaN and ±Inf have no JSON form
// and are written as 0; no market value is ever either.
func appendFloat(b []byte, f float64) []byte {
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
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// appendConds appends condition codes as an array of one-character strings.
func appendConds(b []byte, c *market.Conditions) []byte {
	b = append(b, '[')
	for i := 0; i < len(c) && c[i] != 0; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendChar(b, c[i])
	}
	return append(b, ']')
}

// appendTime appends ns (since the Unix epoch) as a quoted RFC 3339 UTC
// timestamp with trailing zeros of the fraction trimmed, exactly as
// time.RFC3339Nano formats it ("2021-02-22T15:45:44.208Z"). It is
// hand-written because time.Time.AppendFormat is several times slower and
// this runs once per item.
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
	y, m, d := civilDate(days)
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

// civilDate converts days since 1970-01-01 to a proleptic Gregorian date
// (the inverse of Howard Hinnant's days_from_civil). Every int64 nanosecond
// time falls in years 1677–2262, so four year digits always suffice.
func civilDate(z int64) (y, m, d int64) {
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

// appendTrade appends a trade in the REST shape: the stream's fields
// without "T" and "S".
func appendTrade(b []byte, e *market.Event) []byte {
	t := &e.Trade
	b = append(b, `{"t":`...)
	b = appendTime(b, e.Time)
	b = append(b, `,"x":`...)
	b = appendChar(b, t.Exchange)
	b = append(b, `,"p":`...)
	b = appendFloat(b, t.Price)
	b = append(b, `,"s":`...)
	b = appendUint(b, uint64(t.Size))
	b = append(b, `,"c":`...)
	b = appendConds(b, &t.Conditions)
	b = append(b, `,"i":`...)
	b = appendInt(b, t.ID)
	b = append(b, `,"z":`...)
	b = appendChar(b, t.Tape)
	return append(b, '}')
}

// appendQuote appends a quote in the REST shape.
func appendQuote(b []byte, e *market.Event) []byte {
	q := &e.Quote
	b = append(b, `{"t":`...)
	b = appendTime(b, e.Time)
	b = append(b, `,"ax":`...)
	b = appendChar(b, q.AskExchange)
	b = append(b, `,"ap":`...)
	b = appendFloat(b, q.AskPrice)
	b = append(b, `,"as":`...)
	b = appendUint(b, uint64(q.AskSize))
	b = append(b, `,"bx":`...)
	b = appendChar(b, q.BidExchange)
	b = append(b, `,"bp":`...)
	b = appendFloat(b, q.BidPrice)
	b = append(b, `,"bs":`...)
	b = appendUint(b, uint64(q.BidSize))
	b = append(b, `,"c":`...)
	b = appendConds(b, &q.Conditions)
	b = append(b, `,"z":`...)
	b = appendChar(b, q.Tape)
	return append(b, '}')
}

// appendBar appends a bar in the REST shape; "t" is the bar's start.
func appendBar(b []byte, e *market.Event) []byte {
	r := &e.Bar
	b = append(b, `{"t":`...)
	b = appendTime(b, e.Time)
	b = append(b, `,"o":`...)
	b = appendFloat(b, r.Open)
	b = append(b, `,"h":`...)
	b = appendFloat(b, r.High)
	b = append(b, `,"l":`...)
	b = appendFloat(b, r.Low)
	b = append(b, `,"c":`...)
	b = appendFloat(b, r.Close)
	b = append(b, `,"v":`...)
	b = appendUint(b, r.Volume)
	b = append(b, `,"n":`...)
	b = appendUint(b, r.TradeCount)
	b = append(b, `,"vw":`...)
	b = appendFloat(b, r.VWAP)
	return append(b, '}')
}

// appendItem appends e as an item of kind k. The request's kind decides
// the shape, not e.Kind, so a store may return daily or updated bars on
// the bars endpoint.
func appendItem(b []byte, k kind, e *market.Event) []byte {
	switch k {
	case kindTrades:
		return appendTrade(b, e)
	case kindQuotes:
		return appendQuote(b, e)
	default:
		return appendBar(b, e)
	}
}

// appendOptItem appends e, or null when it is nil.
func appendOptItem(b []byte, k kind, e *market.Event) []byte {
	if e == nil {
		return append(b, "null"...)
	}
	return appendItem(b, k, e)
}

// page is one response of a history endpoint.
type page struct {
	kind   kind
	single string // the symbol of the single-symbol form; "" for multi
	events []market.Event
	token  string // next_page_token; "" means null
	// currency is echoed as Alpaca does when the request names one.
	currency string
}

// appendPage appends p as the multi-symbol object
// {"bars":{"AAPL":[…],…},"next_page_token":…} or, for the single-symbol
// form, {"bars":[…],"symbol":"AAPL","next_page_token":…}. Events arrive
// grouped by symbol (history.Result's contract), so the multi form opens a
// new key whenever the symbol changes.
func appendPage(b []byte, p *page) []byte {
	b = append(b, '{', '"')
	b = append(b, p.kind.String()...)
	b = append(b, '"', ':')
	if p.single != "" {
		b = append(b, '[')
		for i := range p.events {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendItem(b, p.kind, &p.events[i])
		}
		b = append(b, `],"symbol":`...)
		b = appendString(b, p.single)
	} else {
		b = append(b, '{')
		prev := ""
		for i := range p.events {
			e := &p.events[i]
			switch {
			case i == 0:
				b = appendString(b, e.Symbol)
				b = append(b, ':', '[')
			case e.Symbol != prev:
				b = append(b, ']', ',')
				b = appendString(b, e.Symbol)
				b = append(b, ':', '[')
			default:
				b = append(b, ',')
			}
			prev = e.Symbol
			b = appendItem(b, p.kind, e)
		}
		if len(p.events) > 0 {
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	if p.currency != "" {
		b = append(b, `,"currency":`...)
		b = appendString(b, p.currency)
	}
	b = append(b, `,"next_page_token":`...)
	if p.token == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, p.token)
	}
	return append(b, '}')
}

// latestItem is one symbol's answer to a latest request.
type latestItem struct {
	symbol string
	event  market.Event
}

// appendLatest appends a multi-symbol latest response,
// {"trades":{"AAPL":{…}},…}, with one key per symbol that has data.
func appendLatest(b []byte, k kind, items []latestItem, currency string) []byte {
	b = append(b, '{', '"')
	b = append(b, k.String()...)
	b = append(b, '"', ':', '{')
	for i := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, items[i].symbol)
		b = append(b, ':')
		b = appendItem(b, k, &items[i].event)
	}
	b = append(b, '}')
	if currency != "" {
		b = append(b, `,"currency":`...)
		b = appendString(b, currency)
	}
	return append(b, '}')
}

// appendLatestSingle appends {"symbol":"AAPL","trade":{…}}.
func appendLatestSingle(b []byte, k kind, symbol string, e *market.Event, currency string) []byte {
	b = append(b, `{"symbol":`...)
	b = appendString(b, symbol)
	b = append(b, ',', '"')
	b = append(b, k.singular()...)
	b = append(b, '"', ':')
	b = appendItem(b, k, e)
	if currency != "" {
		b = append(b, `,"currency":`...)
		b = appendString(b, currency)
	}
	return append(b, '}')
}

// appendSnapshotFields appends the five snapshot fields, without braces.
func appendSnapshotFields(b []byte, s *history.Snapshot) []byte {
	b = append(b, `"latestTrade":`...)
	b = appendOptItem(b, kindTrades, s.LatestTrade)
	b = append(b, `,"latestQuote":`...)
	b = appendOptItem(b, kindQuotes, s.LatestQuote)
	b = append(b, `,"minuteBar":`...)
	b = appendOptItem(b, kindBars, s.MinuteBar)
	b = append(b, `,"dailyBar":`...)
	b = appendOptItem(b, kindBars, s.DailyBar)
	b = append(b, `,"prevDailyBar":`...)
	return appendOptItem(b, kindBars, s.PrevDailyBar)
}

// snapshotItem is one symbol's snapshot; ok is false when the store has
// nothing for it.
type snapshotItem struct {
	symbol string
	snap   history.Snapshot
	ok     bool
}

// appendSnapshots appends the multi-symbol snapshot response: a bare map
// from symbol to snapshot, with null for a symbol Tape has no data for
// (Alpaca answers an unknown symbol the same way; the SDK's own tests
// decode {"INVALID":null}).
func appendSnapshots(b []byte, items []snapshotItem) []byte {
	b = append(b, '{')
	for i := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, items[i].symbol)
		b = append(b, ':')
		if !items[i].ok {
			b = append(b, "null"...)
			continue
		}
		b = append(b, '{')
		b = appendSnapshotFields(b, &items[i].snap)
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendSnapshot appends the single-symbol snapshot: the snapshot object
// plus "symbol".
func appendSnapshot(b []byte, symbol string, s *history.Snapshot) []byte {
	b = append(b, `{"symbol":`...)
	b = appendString(b, symbol)
	b = append(b, ',')
	b = appendSnapshotFields(b, s)
	return append(b, '}')
}
