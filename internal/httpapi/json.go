package httpapi

import (
	"strconv"

	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/jsonenc"
	"github.com/tapehq/tape/internal/market"
)

// The response bodies are written by hand-written appenders rather than
// encoding/json: a page of 10,000 bars is about 1 MB of JSON, and the
// appenders write it several times faster with no per-item allocation
// (see BenchmarkEncodeBars). The schemas are fixed and small, so there is
// little to get wrong, and the tests decode every shape with the official
// SDK.

// The primitives are shared with the stream encoders (internal/jsonenc).

func appendString(b []byte, s string) []byte { return jsonenc.AppendString(b, s) }
func appendChar(b []byte, c byte) []byte     { return jsonenc.AppendChar(b, c) }
func appendFloat(b []byte, f float64) []byte { return jsonenc.AppendFloat(b, f) }
func appendTime(b []byte, ns int64) []byte   { return jsonenc.AppendTime(b, ns) }
func appendInt(b []byte, v int64) []byte     { return strconv.AppendInt(b, v, 10) }
func appendUint(b []byte, v uint64) []byte   { return strconv.AppendUint(b, v, 10) }

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

// appendCryptoTrade appends a crypto trade: fractional size, taker side
// "tks" ("-" when the source did not say), no exchange, conditions or tape.
func appendCryptoTrade(b []byte, e *market.Event) []byte {
	t := &e.CryptoTrade
	b = append(b, `{"t":`...)
	b = appendTime(b, e.Time)
	b = append(b, `,"p":`...)
	b = appendFloat(b, t.Price)
	b = append(b, `,"s":`...)
	b = appendFloat(b, t.Size)
	b = append(b, `,"tks":`...)
	side := t.TakerSide
	if side == 0 {
		side = '-'
	}
	b = appendChar(b, side)
	b = append(b, `,"i":`...)
	b = appendInt(b, t.ID)
	return append(b, '}')
}

// appendCryptoQuote appends a crypto quote: fractional sizes, no
// exchanges, conditions or tape.
func appendCryptoQuote(b []byte, e *market.Event) []byte {
	q := &e.CryptoQuote
	b = append(b, `{"t":`...)
	b = appendTime(b, e.Time)
	b = append(b, `,"bp":`...)
	b = appendFloat(b, q.BidPrice)
	b = append(b, `,"bs":`...)
	b = appendFloat(b, q.BidSize)
	b = append(b, `,"ap":`...)
	b = appendFloat(b, q.AskPrice)
	b = append(b, `,"as":`...)
	b = appendFloat(b, q.AskSize)
	return append(b, '}')
}

// appendCryptoBar appends a crypto bar: fractional volume. An event
// without a CryptoBar payload appends a zero bar rather than panicking: a
// store's mistake must not take the handler down.
func appendCryptoBar(b []byte, e *market.Event) []byte {
	var r market.CryptoBar
	if e.CryptoBar != nil {
		r = *e.CryptoBar
	}
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
	b = appendFloat(b, r.Volume)
	b = append(b, `,"n":`...)
	b = appendUint(b, r.TradeCount)
	b = append(b, `,"vw":`...)
	b = appendFloat(b, r.VWAP)
	return append(b, '}')
}

// appendOrderbook appends a crypto order book,
// {"t":…,"b":[{"p":…,"s":…},…],"a":[…]}, its levels as the store ordered
// them (best first).
func appendOrderbook(b []byte, e *market.Event) []byte {
	var ob market.Orderbook
	if e.Orderbook != nil {
		ob = *e.Orderbook
	}
	b = append(b, `{"t":`...)
	b = appendTime(b, e.Time)
	b = append(b, `,"b":`...)
	b = appendLevels(b, ob.Bids)
	b = append(b, `,"a":`...)
	b = appendLevels(b, ob.Asks)
	return append(b, '}')
}

func appendLevels(b []byte, levels []market.BookLevel) []byte {
	b = append(b, '[')
	for i := range levels {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"p":`...)
		b = appendFloat(b, levels[i].Price)
		b = append(b, `,"s":`...)
		b = appendFloat(b, levels[i].Size)
		b = append(b, '}')
	}
	return append(b, ']')
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
	case kindBars:
		return appendBar(b, e)
	case kindCryptoTrades:
		return appendCryptoTrade(b, e)
	case kindCryptoQuotes:
		return appendCryptoQuote(b, e)
	default:
		return appendCryptoBar(b, e)
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

// appendSnapshotFields appends the five snapshot fields, without braces,
// as stock items or, with crypto set, crypto items.
func appendSnapshotFields(b []byte, s *history.Snapshot, crypto bool) []byte {
	trades, quotes, bars := kindTrades, kindQuotes, kindBars
	if crypto {
		trades, quotes, bars = kindCryptoTrades, kindCryptoQuotes, kindCryptoBars
	}
	b = append(b, `"latestTrade":`...)
	b = appendOptItem(b, trades, s.LatestTrade)
	b = append(b, `,"latestQuote":`...)
	b = appendOptItem(b, quotes, s.LatestQuote)
	b = append(b, `,"minuteBar":`...)
	b = appendOptItem(b, bars, s.MinuteBar)
	b = append(b, `,"dailyBar":`...)
	b = appendOptItem(b, bars, s.DailyBar)
	b = append(b, `,"prevDailyBar":`...)
	return appendOptItem(b, bars, s.PrevDailyBar)
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
		b = appendSnapshotFields(b, &items[i].snap, false)
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
	b = appendSnapshotFields(b, s, false)
	return append(b, '}')
}

// appendCryptoSnapshots appends {"snapshots":{"BTC/USD":{…},…}} with the
// symbols that have data; the SDK's GetCryptoSnapshot turns a missing key
// into nil, nil.
func appendCryptoSnapshots(b []byte, items []snapshotItem) []byte {
	b = append(b, `{"snapshots":{`...)
	first := true
	for i := range items {
		if !items[i].ok {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, items[i].symbol)
		b = append(b, ':', '{')
		b = appendSnapshotFields(b, &items[i].snap, true)
		b = append(b, '}')
	}
	return append(b, '}', '}')
}
