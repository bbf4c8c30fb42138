package alpacawire

import "github.com/tapehq/tape/internal/market"

// Encoders of the crypto, option and news kinds. Keys, their order and their
// numeric types follow Alpaca's documented messages (alpaca-protocol.md §1.4)
// and what the official Go SDK decodes (marketdata/stream/message.go:
// cryptoMsgHandler, optionsMsgHandler, newsMsgHandler):
//
//   - "T" is first, "S" second (news has no "S": its symbols are a list);
//   - crypto sizes and volumes ("s", "bs", "as", "v") are floats, always
//     written as float64, while "n" (trade count), "i" and news "id" are
//     integers; option sizes are integers (the SDK reads them as uint32);
//   - an option's condition "c" is one string, not a list;
//   - an order book update carries "r" only when it is a reset (a full
//     snapshot), as Alpaca sends it;
//   - the legacy crypto exchange "x" (v1beta1/v1beta2) is not written: the
//     v1beta3 and perpetual futures streams Tape serves and consumes do not
//     send it, and the SDK reads "" for it either way.
//
// The stock encoders in encode.go put "t" last; these follow the key order
// of Alpaca's documentation examples instead, "t" after "S" for crypto and
// options. No client depends on key order beyond "T" first.

// appendJSONStream appends e as a JSON object if it is of a non-stock kind;
// ok is false for the stock kinds, which encode.go handles.
func appendJSONStream(b []byte, e *market.Event) (_ []byte, ok bool) {
	switch e.Kind {
	case market.KindCryptoTrade:
		t := &e.CryptoTrade
		b = jsHead(b, "t", e.Symbol)
		b = append(b, `,"p":`...)
		b = jsFloat(b, t.Price)
		b = append(b, `,"s":`...)
		b = jsFloat(b, t.Size)
		b = append(b, `,"t":`...)
		b = jsTime(b, e.Time)
		b = append(b, `,"i":`...)
		b = appendInt(b, t.ID)
		b = append(b, `,"tks":`...)
		b = jsChar(b, t.TakerSide)
	case market.KindCryptoQuote:
		q := &e.CryptoQuote
		b = jsHead(b, "q", e.Symbol)
		b = append(b, `,"bp":`...)
		b = jsFloat(b, q.BidPrice)
		b = append(b, `,"bs":`...)
		b = jsFloat(b, q.BidSize)
		b = append(b, `,"ap":`...)
		b = jsFloat(b, q.AskPrice)
		b = append(b, `,"as":`...)
		b = jsFloat(b, q.AskSize)
		b = append(b, `,"t":`...)
		b = jsTime(b, e.Time)
	case market.KindCryptoBar, market.KindCryptoUpdatedBar, market.KindCryptoDailyBar:
		r := e.CryptoBar
		if r == nil {
			return b, true
		}
		b = jsHead(b, e.Kind.Letter(), e.Symbol)
		b = append(b, `,"o":`...)
		b = jsFloat(b, r.Open)
		b = append(b, `,"h":`...)
		b = jsFloat(b, r.High)
		b = append(b, `,"l":`...)
		b = jsFloat(b, r.Low)
		b = append(b, `,"c":`...)
		b = jsFloat(b, r.Close)
		b = append(b, `,"v":`...)
		b = jsFloat(b, r.Volume)
		b = append(b, `,"t":`...)
		b = jsTime(b, e.Time)
		b = append(b, `,"n":`...)
		b = appendUint(b, r.TradeCount)
		b = append(b, `,"vw":`...)
		b = jsFloat(b, r.VWAP)
	case market.KindCryptoOrderbook:
		o := e.Orderbook
		if o == nil {
			return b, true
		}
		b = jsHead(b, "o", e.Symbol)
		b = append(b, `,"t":`...)
		b = jsTime(b, e.Time)
		b = append(b, `,"b":`...)
		b = jsLevels(b, o.Bids)
		b = append(b, `,"a":`...)
		b = jsLevels(b, o.Asks)
		if o.Reset {
			b = append(b, `,"r":true`...)
		}
	case market.KindCryptoPricing:
		p := e.Pricing
		if p == nil {
			return b, true
		}
		b = jsHead(b, "p", e.Symbol)
		b = append(b, `,"t":`...)
		b = jsTime(b, e.Time)
		b = append(b, `,"ip":`...)
		b = jsFloat(b, p.IndexPrice)
		b = append(b, `,"mp":`...)
		b = jsFloat(b, p.MarkPrice)
		b = append(b, `,"fr":`...)
		b = jsFloat(b, p.FundingRate)
		b = append(b, `,"oi":`...)
		b = jsFloat(b, p.OpenInterest)
		b = append(b, `,"ft":`...)
		b = jsTime(b, p.NextFundingTime)
	case market.KindOptionTrade:
		t := &e.Trade
		b = jsHead(b, "t", e.Symbol)
		b = append(b, `,"t":`...)
		b = jsTime(b, e.Time)
		b = append(b, `,"p":`...)
		b = jsFloat(b, t.Price)
		b = append(b, `,"s":`...)
		b = appendUint(b, uint64(t.Size))
		b = append(b, `,"x":`...)
		b = jsChar(b, t.Exchange)
		b = append(b, `,"c":`...)
		b = jsCode(b, &t.Conditions)
	case market.KindOptionQuote:
		q := &e.Quote
		b = jsHead(b, "q", e.Symbol)
		b = append(b, `,"t":`...)
		b = jsTime(b, e.Time)
		b = append(b, `,"bx":`...)
		b = jsChar(b, q.BidExchange)
		b = append(b, `,"bp":`...)
		b = jsFloat(b, q.BidPrice)
		b = append(b, `,"bs":`...)
		b = appendUint(b, uint64(q.BidSize))
		b = append(b, `,"ax":`...)
		b = jsChar(b, q.AskExchange)
		b = append(b, `,"ap":`...)
		b = jsFloat(b, q.AskPrice)
		b = append(b, `,"as":`...)
		b = appendUint(b, uint64(q.AskSize))
		b = append(b, `,"c":`...)
		b = jsCode(b, &q.Conditions)
	case market.KindNews:
		n := e.News
		if n == nil {
			return b, true
		}
		b = append(b, `{"T":"n","id":`...)
		b = appendInt(b, n.ID)
		b = append(b, `,"headline":`...)
		b = jsStr(b, n.Headline)
		b = append(b, `,"summary":`...)
		b = jsStr(b, n.Summary)
		b = append(b, `,"author":`...)
		b = jsStr(b, n.Author)
		b = append(b, `,"created_at":`...)
		b = jsTime(b, n.CreatedAt)
		b = append(b, `,"updated_at":`...)
		b = jsTime(b, n.UpdatedAt)
		b = append(b, `,"url":`...)
		b = jsStr(b, n.URL)
		b = append(b, `,"content":`...)
		b = jsStr(b, n.Content)
		b = append(b, `,"symbols":`...)
		b = jsStrs(b, n.Symbols)
		b = append(b, `,"source":`...)
		b = jsStr(b, n.Source)
	default:
		return b, false
	}
	return append(b, '}'), true
}

// jsHead opens an object with "T" and "S".
func jsHead(b []byte, typ, sym string) []byte {
	b = append(b, `{"T":"`...)
	b = append(b, typ...)
	b = append(b, `","S":`...)
	return jsStr(b, sym)
}

func jsLevels(b []byte, l []market.BookLevel) []byte {
	b = append(b, '[')
	for i := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"p":`...)
		b = jsFloat(b, l[i].Price)
		b = append(b, `,"s":`...)
		b = jsFloat(b, l[i].Size)
		b = append(b, '}')
	}
	return append(b, ']')
}

// jsCode appends an option condition (Conditions packed by
// market.OptionCondition) as one string.
func jsCode(b []byte, c *market.Conditions) []byte {
	b = append(b, '"')
	for i := 0; i < len(c) && c[i] != 0; i++ {
		b = jsCharBody(b, c[i])
	}
	return append(b, '"')
}

// appendMsgpackStream is appendJSONStream's msgpack twin.
func appendMsgpackStream(b []byte, e *market.Event) (_ []byte, ok bool) {
	switch e.Kind {
	case market.KindCryptoTrade:
		t := &e.CryptoTrade
		b = mpHead(b, 7, 't', e.Symbol)
		b = append(b, 0xa1, 'p')
		b = mpFloat(b, t.Price)
		b = append(b, 0xa1, 's')
		b = mpFloat(b, t.Size)
		b = append(b, 0xa1, 't')
		b = mpTime(b, e.Time)
		b = append(b, 0xa1, 'i')
		b = mpInt(b, t.ID)
		b = append(b, 0xa3, 't', 'k', 's')
		b = mpChar(b, t.TakerSide)
	case market.KindCryptoQuote:
		q := &e.CryptoQuote
		b = mpHead(b, 7, 'q', e.Symbol)
		b = append(b, 0xa2, 'b', 'p')
		b = mpFloat(b, q.BidPrice)
		b = append(b, 0xa2, 'b', 's')
		b = mpFloat(b, q.BidSize)
		b = append(b, 0xa2, 'a', 'p')
		b = mpFloat(b, q.AskPrice)
		b = append(b, 0xa2, 'a', 's')
		b = mpFloat(b, q.AskSize)
		b = append(b, 0xa1, 't')
		b = mpTime(b, e.Time)
	case market.KindCryptoBar, market.KindCryptoUpdatedBar, market.KindCryptoDailyBar:
		r := e.CryptoBar
		if r == nil {
			return b, true
		}
		b = mpHead(b, 10, e.Kind.Letter()[0], e.Symbol)
		b = append(b, 0xa1, 'o')
		b = mpFloat(b, r.Open)
		b = append(b, 0xa1, 'h')
		b = mpFloat(b, r.High)
		b = append(b, 0xa1, 'l')
		b = mpFloat(b, r.Low)
		b = append(b, 0xa1, 'c')
		b = mpFloat(b, r.Close)
		b = append(b, 0xa1, 'v')
		b = mpFloat(b, r.Volume)
		b = append(b, 0xa1, 't')
		b = mpTime(b, e.Time)
		b = append(b, 0xa1, 'n')
		b = mpUint(b, r.TradeCount)
		b = append(b, 0xa2, 'v', 'w')
		b = mpFloat(b, r.VWAP)
	case market.KindCryptoOrderbook:
		o := e.Orderbook
		if o == nil {
			return b, true
		}
		n := 5
		if o.Reset {
			n = 6
		}
		b = mpHead(b, n, 'o', e.Symbol)
		b = append(b, 0xa1, 't')
		b = mpTime(b, e.Time)
		b = append(b, 0xa1, 'b')
		b = mpLevels(b, o.Bids)
		b = append(b, 0xa1, 'a')
		b = mpLevels(b, o.Asks)
		if o.Reset {
			b = append(b, 0xa1, 'r', 0xc3)
		}
	case market.KindCryptoPricing:
		p := e.Pricing
		if p == nil {
			return b, true
		}
		b = mpHead(b, 8, 'p', e.Symbol)
		b = append(b, 0xa1, 't')
		b = mpTime(b, e.Time)
		b = append(b, 0xa2, 'i', 'p')
		b = mpFloat(b, p.IndexPrice)
		b = append(b, 0xa2, 'm', 'p')
		b = mpFloat(b, p.MarkPrice)
		b = append(b, 0xa2, 'f', 'r')
		b = mpFloat(b, p.FundingRate)
		b = append(b, 0xa2, 'o', 'i')
		b = mpFloat(b, p.OpenInterest)
		b = append(b, 0xa2, 'f', 't')
		b = mpTime(b, p.NextFundingTime)
	case market.KindOptionTrade:
		t := &e.Trade
		b = mpHead(b, 7, 't', e.Symbol)
		b = append(b, 0xa1, 't')
		b = mpTime(b, e.Time)
		b = append(b, 0xa1, 'p')
		b = mpFloat(b, t.Price)
		b = append(b, 0xa1, 's')
		b = mpUint(b, uint64(t.Size))
		b = append(b, 0xa1, 'x')
		b = mpChar(b, t.Exchange)
		b = append(b, 0xa1, 'c')
		b = mpCode(b, &t.Conditions)
	case market.KindOptionQuote:
		q := &e.Quote
		b = mpHead(b, 10, 'q', e.Symbol)
		b = append(b, 0xa1, 't')
		b = mpTime(b, e.Time)
		b = append(b, 0xa2, 'b', 'x')
		b = mpChar(b, q.BidExchange)
		b = append(b, 0xa2, 'b', 'p')
		b = mpFloat(b, q.BidPrice)
		b = append(b, 0xa2, 'b', 's')
		b = mpUint(b, uint64(q.BidSize))
		b = append(b, 0xa2, 'a', 'x')
		b = mpChar(b, q.AskExchange)
		b = append(b, 0xa2, 'a', 'p')
		b = mpFloat(b, q.AskPrice)
		b = append(b, 0xa2, 'a', 's')
		b = mpUint(b, uint64(q.AskSize))
		b = append(b, 0xa1, 'c')
		b = mpCode(b, &q.Conditions)
	case market.KindNews:
		n := e.News
		if n == nil {
			return b, true
		}
		b = append(b, 0x80|11, 0xa1, 'T', 0xa1, 'n', 0xa2, 'i', 'd')
		b = mpInt(b, n.ID)
		b = mpStr(b, "headline")
		b = mpStr(b, n.Headline)
		b = mpStr(b, "summary")
		b = mpStr(b, n.Summary)
		b = mpStr(b, "author")
		b = mpStr(b, n.Author)
		b = mpStr(b, "created_at")
		b = mpTime(b, n.CreatedAt)
		b = mpStr(b, "updated_at")
		b = mpTime(b, n.UpdatedAt)
		b = mpStr(b, "url")
		b = mpStr(b, n.URL)
		b = mpStr(b, "content")
		b = mpStr(b, n.Content)
		b = mpStr(b, "symbols")
		b = mpStrs(b, n.Symbols)
		b = mpStr(b, "source")
		b = mpStr(b, n.Source)
	default:
		return b, false
	}
	return b, true
}

// mpHead opens a map of n pairs with "T" (a one-letter type) and "S".
func mpHead(b []byte, n int, typ byte, sym string) []byte {
	b = append(b, 0x80|byte(n), 0xa1, 'T', 0xa1, typ, 0xa1, 'S')
	return mpStr(b, sym)
}

func mpLevels(b []byte, l []market.BookLevel) []byte {
	b = mpArrayHeader(b, len(l))
	for i := range l {
		b = append(b, 0x82, 0xa1, 'p')
		b = mpFloat(b, l[i].Price)
		b = append(b, 0xa1, 's')
		b = mpFloat(b, l[i].Size)
	}
	return b
}

// mpCode writes an option condition as one string.
func mpCode(b []byte, c *market.Conditions) []byte {
	n := c.Len()
	b = append(b, 0xa0|byte(n))
	return append(b, c[:n]...)
}
