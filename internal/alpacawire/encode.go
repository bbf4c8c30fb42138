package alpacawire

import (
	"github.com/tapehq/tape/internal/market"
)

// AppendEvent appends the encoding of e in codec c: one JSON object or one
// msgpack map with "T" first and "S" second (news has no "S"), as Alpaca
// sends them. An event of an unknown kind, or of a pointer kind whose
// payload is nil, appends nothing.
func AppendEvent(dst []byte, c Codec, e *market.Event) []byte {
	if c == MsgPack {
		return AppendMsgpack(dst, e)
	}
	return AppendJSON(dst, e)
}

// AppendJSON appends e as a JSON object.
func AppendJSON(b []byte, e *market.Event) []byte {
	if e.Kind > market.KindImbalance && !e.Kind.IsIEX() {
		b, _ = appendJSONStream(b, e)
		return b
	}
	switch e.Kind {
	case market.KindTrade:
		t := &e.Trade
		b = append(b, `{"T":"t","S":`...)
		b = jsStr(b, e.Symbol)
		b = append(b, `,"i":`...)
		b = appendInt(b, t.ID)
		b = append(b, `,"x":`...)
		b = jsChar(b, t.Exchange)
		b = append(b, `,"p":`...)
		b = jsFloat(b, t.Price)
		b = append(b, `,"s":`...)
		b = appendUint(b, uint64(t.Size))
		b = append(b, `,"c":`...)
		b = jsConds(b, t.Conditions[:])
		b = append(b, `,"z":`...)
		b = jsChar(b, t.Tape)
	case market.KindQuote, market.KindIEXQuote: // the iex feed's are the same message
		q := &e.Quote
		b = append(b, `{"T":"q","S":`...)
		b = jsStr(b, e.Symbol)
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
		b = jsConds(b, q.Conditions[:])
		b = append(b, `,"z":`...)
		b = jsChar(b, q.Tape)
	case market.KindBar, market.KindUpdatedBar, market.KindDailyBar, market.KindIEXBar, market.KindIEXUpdatedBar, market.KindIEXDailyBar:
		r := &e.Bar
		b = append(b, `{"T":"`...)
		b = append(b, e.Kind.Letter()...)
		b = append(b, `","S":`...)
		b = jsStr(b, e.Symbol)
		b = append(b, `,"o":`...)
		b = jsFloat(b, r.Open)
		b = append(b, `,"h":`...)
		b = jsFloat(b, r.High)
		b = append(b, `,"l":`...)
		b = jsFloat(b, r.Low)
		b = append(b, `,"c":`...)
		b = jsFloat(b, r.Close)
		b = append(b, `,"v":`...)
		b = appendUint(b, r.Volume)
		b = append(b, `,"n":`...)
		b = appendUint(b, r.TradeCount)
		b = append(b, `,"vw":`...)
		b = jsFloat(b, r.VWAP)
	case market.KindStatus:
		s := e.Status
		if s == nil {
			return b
		}
		b = append(b, `{"T":"s","S":`...)
		b = jsStr(b, e.Symbol)
		b = append(b, `,"sc":`...)
		b = jsStr(b, s.StatusCode)
		b = append(b, `,"sm":`...)
		b = jsStr(b, s.StatusMsg)
		b = append(b, `,"rc":`...)
		b = jsStr(b, s.ReasonCode)
		b = append(b, `,"rm":`...)
		b = jsStr(b, s.ReasonMsg)
		b = append(b, `,"z":`...)
		b = jsChar(b, s.Tape)
	case market.KindLULD:
		l := e.LULD
		if l == nil {
			return b
		}
		b = append(b, `{"T":"l","S":`...)
		b = jsStr(b, e.Symbol)
		b = append(b, `,"u":`...)
		b = jsFloat(b, l.LimitUp)
		b = append(b, `,"d":`...)
		b = jsFloat(b, l.LimitDown)
		b = append(b, `,"i":`...)
		b = jsChar(b, l.Indicator)
		b = append(b, `,"z":`...)
		b = jsChar(b, l.Tape)
	case market.KindCorrection:
		c := e.Correction
		if c == nil {
			return b
		}
		b = append(b, `{"T":"c","S":`...)
		b = jsStr(b, e.Symbol)
		b = append(b, `,"x":`...)
		b = jsChar(b, c.Exchange)
		b = append(b, `,"oi":`...)
		b = appendInt(b, c.OrigID)
		b = append(b, `,"op":`...)
		b = jsFloat(b, c.OrigPrice)
		b = append(b, `,"os":`...)
		b = appendUint(b, uint64(c.OrigSize))
		b = append(b, `,"oc":`...)
		b = jsConds(b, c.OrigConds[:])
		b = append(b, `,"ci":`...)
		b = appendInt(b, c.CorrID)
		b = append(b, `,"cp":`...)
		b = jsFloat(b, c.CorrPrice)
		b = append(b, `,"cs":`...)
		b = appendUint(b, uint64(c.CorrSize))
		b = append(b, `,"cc":`...)
		b = jsConds(b, c.CorrConds[:])
		b = append(b, `,"z":`...)
		b = jsChar(b, c.Tape)
	case market.KindCancelError:
		x := e.CancelError
		if x == nil {
			return b
		}
		b = append(b, `{"T":"x","S":`...)
		b = jsStr(b, e.Symbol)
		b = append(b, `,"i":`...)
		b = appendInt(b, x.ID)
		b = append(b, `,"x":`...)
		b = jsChar(b, x.Exchange)
		b = append(b, `,"p":`...)
		b = jsFloat(b, x.Price)
		b = append(b, `,"s":`...)
		b = appendUint(b, uint64(x.Size))
		b = append(b, `,"a":`...)
		b = jsChar(b, x.Action)
		b = append(b, `,"z":`...)
		b = jsChar(b, x.Tape)
	case market.KindImbalance:
		im := e.Imbalance
		if im == nil {
			return b
		}
		b = append(b, `{"T":"i","S":`...)
		b = jsStr(b, e.Symbol)
		b = append(b, `,"p":`...)
		b = jsFloat(b, im.Price)
		b = append(b, `,"z":`...)
		b = jsChar(b, im.Tape)
	default:
		return b
	}
	b = append(b, `,"t":`...)
	b = jsTime(b, e.Time)
	return append(b, '}')
}

// AppendMsgpack appends e as a msgpack map.
func AppendMsgpack(b []byte, e *market.Event) []byte {
	if e.Kind > market.KindImbalance && !e.Kind.IsIEX() {
		b, _ = appendMsgpackStream(b, e)
		return b
	}
	switch e.Kind {
	case market.KindTrade:
		t := &e.Trade
		b = append(b, 0x80|9, 0xa1, 'T', 0xa1, 't', 0xa1, 'S')
		b = mpStr(b, e.Symbol)
		b = append(b, 0xa1, 'i')
		b = mpInt(b, t.ID)
		b = append(b, 0xa1, 'x')
		b = mpChar(b, t.Exchange)
		b = append(b, 0xa1, 'p')
		b = mpFloat(b, t.Price)
		b = append(b, 0xa1, 's')
		b = mpUint(b, uint64(t.Size))
		b = append(b, 0xa1, 'c')
		b = mpConds(b, t.Conditions[:])
		b = append(b, 0xa1, 'z')
		b = mpChar(b, t.Tape)
	case market.KindQuote, market.KindIEXQuote: // the iex feed's are the same message
		q := &e.Quote
		b = append(b, 0x80|11, 0xa1, 'T', 0xa1, 'q', 0xa1, 'S')
		b = mpStr(b, e.Symbol)
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
		b = mpConds(b, q.Conditions[:])
		b = append(b, 0xa1, 'z')
		b = mpChar(b, q.Tape)
	case market.KindBar, market.KindUpdatedBar, market.KindDailyBar, market.KindIEXBar, market.KindIEXUpdatedBar, market.KindIEXDailyBar:
		r := &e.Bar
		b = append(b, 0x80|10, 0xa1, 'T', 0xa1, e.Kind.Letter()[0], 0xa1, 'S')
		b = mpStr(b, e.Symbol)
		b = append(b, 0xa1, 'o')
		b = mpFloat(b, r.Open)
		b = append(b, 0xa1, 'h')
		b = mpFloat(b, r.High)
		b = append(b, 0xa1, 'l')
		b = mpFloat(b, r.Low)
		b = append(b, 0xa1, 'c')
		b = mpFloat(b, r.Close)
		b = append(b, 0xa1, 'v')
		b = mpUint(b, r.Volume)
		b = append(b, 0xa1, 'n')
		b = mpUint(b, r.TradeCount)
		b = append(b, 0xa2, 'v', 'w')
		b = mpFloat(b, r.VWAP)
	case market.KindStatus:
		s := e.Status
		if s == nil {
			return b
		}
		b = append(b, 0x80|8, 0xa1, 'T', 0xa1, 's', 0xa1, 'S')
		b = mpStr(b, e.Symbol)
		b = append(b, 0xa2, 's', 'c')
		b = mpStr(b, s.StatusCode)
		b = append(b, 0xa2, 's', 'm')
		b = mpStr(b, s.StatusMsg)
		b = append(b, 0xa2, 'r', 'c')
		b = mpStr(b, s.ReasonCode)
		b = append(b, 0xa2, 'r', 'm')
		b = mpStr(b, s.ReasonMsg)
		b = append(b, 0xa1, 'z')
		b = mpChar(b, s.Tape)
	case market.KindLULD:
		l := e.LULD
		if l == nil {
			return b
		}
		b = append(b, 0x80|7, 0xa1, 'T', 0xa1, 'l', 0xa1, 'S')
		b = mpStr(b, e.Symbol)
		b = append(b, 0xa1, 'u')
		b = mpFloat(b, l.LimitUp)
		b = append(b, 0xa1, 'd')
		b = mpFloat(b, l.LimitDown)
		b = append(b, 0xa1, 'i')
		b = mpChar(b, l.Indicator)
		b = append(b, 0xa1, 'z')
		b = mpChar(b, l.Tape)
	case market.KindCorrection:
		c := e.Correction
		if c == nil {
			return b
		}
		b = append(b, 0x80|13, 0xa1, 'T', 0xa1, 'c', 0xa1, 'S')
		b = mpStr(b, e.Symbol)
		b = append(b, 0xa1, 'x')
		b = mpChar(b, c.Exchange)
		b = append(b, 0xa2, 'o', 'i')
		b = mpInt(b, c.OrigID)
		b = append(b, 0xa2, 'o', 'p')
		b = mpFloat(b, c.OrigPrice)
		b = append(b, 0xa2, 'o', 's')
		b = mpUint(b, uint64(c.OrigSize))
		b = append(b, 0xa2, 'o', 'c')
		b = mpConds(b, c.OrigConds[:])
		b = append(b, 0xa2, 'c', 'i')
		b = mpInt(b, c.CorrID)
		b = append(b, 0xa2, 'c', 'p')
		b = mpFloat(b, c.CorrPrice)
		b = append(b, 0xa2, 'c', 's')
		b = mpUint(b, uint64(c.CorrSize))
		b = append(b, 0xa2, 'c', 'c')
		b = mpConds(b, c.CorrConds[:])
		b = append(b, 0xa1, 'z')
		b = mpChar(b, c.Tape)
	case market.KindCancelError:
		x := e.CancelError
		if x == nil {
			return b
		}
		b = append(b, 0x80|9, 0xa1, 'T', 0xa1, 'x', 0xa1, 'S')
		b = mpStr(b, e.Symbol)
		b = append(b, 0xa1, 'i')
		b = mpInt(b, x.ID)
		b = append(b, 0xa1, 'x')
		b = mpChar(b, x.Exchange)
		b = append(b, 0xa1, 'p')
		b = mpFloat(b, x.Price)
		b = append(b, 0xa1, 's')
		b = mpUint(b, uint64(x.Size))
		b = append(b, 0xa1, 'a')
		b = mpChar(b, x.Action)
		b = append(b, 0xa1, 'z')
		b = mpChar(b, x.Tape)
	case market.KindImbalance:
		im := e.Imbalance
		if im == nil {
			return b
		}
		b = append(b, 0x80|5, 0xa1, 'T', 0xa1, 'i', 0xa1, 'S')
		b = mpStr(b, e.Symbol)
		b = append(b, 0xa1, 'p')
		b = mpFloat(b, im.Price)
		b = append(b, 0xa1, 'z')
		b = mpChar(b, im.Tape)
	default:
		return b
	}
	b = append(b, 0xa1, 't')
	return mpTime(b, e.Time)
}
