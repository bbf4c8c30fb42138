package alpacawire

import (
	"encoding/binary"
	"math"

	"github.com/tapehq/tape/internal/market"
)

// The msgpack half of the frame decoder. Every scanner takes the frame and a
// position and returns the value and the position after it, or a negative
// position after recording the failure (see Decoder.fail). Lengths read from
// the wire are always checked against the bytes that remain before they are
// used, so a header claiming gigabytes fails at once and allocates nothing.
//
// Accepted encodings follow vmihailenco/msgpack's Decoder, which the SDK
// uses: nil reads as the zero value of integers, floats, strings and lists;
// strings may be str or bin; integers may use any int/uint width.

// mpFrame decodes a msgpack frame: an array (or nil) of maps.
func (d *Decoder) mpFrame(b []byte, dst []Message) ([]Message, bool) {
	n, i := d.mpArrayLen(b, 0)
	if i < 0 {
		return dst, false
	}
	for ; n > 0; n-- {
		if i >= len(b) {
			d.fail(i, "truncated frame")
			return dst, false
		}
		if isMpExt(b[i]) {
			// The SDK reads each message with DecodeMapLen, which skips
			// an ext header (type and length bytes, not the body) in front
			// of a map; mirror that so we accept what it accepts.
			i += 2 + mpExtLenBytes(b[i])
		}
		var size int
		size, i = d.mpMapLen(b, i)
		if i < 0 {
			return dst, false
		}
		if size <= 0 { // nil or empty: skipped, as by the SDK
			continue
		}
		dst = append(dst, Message{})
		i = d.mpMessage(b, i, size, &dst[len(dst)-1])
		if i < 0 {
			return dst[:len(dst)-1], false
		}
	}
	if i != len(b) {
		d.fail(i, "trailing data after frame")
		return dst, false
	}
	return dst, true
}

// mpMessage decodes the size key/value pairs of one map starting at i.
func (d *Decoder) mpMessage(b []byte, i, size int, m *Message) int {
	start, pairs := i, size
	var t []byte
	found := false
	// Fast path: "T" first, as Alpaca and every SDK-compatible server send.
	if i+2 < len(b) && b[i] == 0xa1 && b[i+1] == 'T' {
		t, i = d.mpStr(b, i+2)
		if i < 0 {
			return i
		}
		found = true
		pairs--
	} else {
		// Look for "T" anywhere, then decode every pair from the start.
		for k := 0; k < size; k++ {
			var key []byte
			var isStr bool
			key, isStr, i = d.mpKey(b, i)
			if i < 0 {
				return i
			}
			if isStr && len(key) == 1 && key[0] == 'T' {
				t, i = d.mpStr(b, i)
				if i < 0 {
					return i
				}
				found = true
				break
			}
			if i = d.mpSkip(b, i, 1); i < 0 {
				return i
			}
		}
		i = start
	}
	cl, kind, typ := classOther, market.KindInvalid, ""
	if found {
		cl, kind, typ = d.classify(t)
	}
	m.Type = typ
	if cl == classOther {
		return d.mpSkip(b, i, 2*pairs)
	}
	m.Event.Kind = kind
	// Trades, quotes and bars are nearly all the traffic: they take
	// dedicated loops that dispatch on the key and store directly. The
	// table-driven loop below handles everything else (and all of JSON);
	// the tests hold both to the same results.
	switch kind {
	case market.KindTrade:
		return d.mpTrade(b, i, pairs, &m.Event)
	case market.KindQuote:
		return d.mpQuote(b, i, pairs, &m.Event)
	case market.KindBar, market.KindUpdatedBar, market.KindDailyBar:
		return d.mpBar(b, i, pairs, &m.Event)
	case market.KindCryptoTrade:
		return d.mpCryptoTrade(b, i, pairs, &m.Event)
	case market.KindCryptoQuote:
		return d.mpCryptoQuote(b, i, pairs, &m.Event)
	case market.KindOptionTrade:
		return d.mpOptionTrade(b, i, pairs, &m.Event)
	case market.KindOptionQuote:
		return d.mpOptionQuote(b, i, pairs, &m.Event)
	case market.KindCryptoOrderbook:
		// Frequent, and per-key table dispatch is most of its decoding
		// cost after the allocation.
		d.startMessage(cl, kind)
		if i = d.mpOrderbook(b, i, pairs, &m.Event); i >= 0 {
			d.finishMessage(m, cl)
		}
		return i
	}
	d.startMessage(cl, kind)
	for ; pairs > 0; pairs-- {
		var key []byte
		// Keys are almost always one- or two-byte fixstrs: take them inline.
		switch {
		case i+2 < len(b) && b[i] == 0xa1:
			key, i = b[i+1:i+2], i+2
		case i+3 < len(b) && b[i] == 0xa2:
			key, i = b[i+1:i+3], i+3
		default:
			var isStr bool
			if key, isStr, i = d.mpKey(b, i); i < 0 {
				return i
			}
			if !isStr {
				key = nil // skip the value
			}
		}
		var s slot
		if cl == classData {
			s = dataSlot(kind, key)
		} else {
			s = d.controlSlot(cl, key)
		}
		if i = d.mpValue(b, i, m, s); i < 0 {
			return i
		}
	}
	d.finishMessage(m, cl)
	return i
}

// mpValue reads the value for slot s and stores it.
func (d *Decoder) mpValue(b []byte, i int, m *Message, s slot) int {
	switch vt := slotTypes[s]; vt {
	case vtFloat:
		var f float64
		if f, i = d.mpFloat(b, i); i >= 0 {
			d.setFloat(m, s, f)
		}
	case vtInt64, vtUint32, vtUint64, vtInt:
		var u uint64
		if u, i = d.mpInt(b, i); i >= 0 {
			d.setInt(m, s, u)
		}
	case vtChar:
		var v []byte
		if v, i = d.mpStr(b, i); i >= 0 {
			d.setChar(m, s, v)
		}
	case vtStr, vtMsg, vtMsgOrSkip:
		if vt == vtMsgOrSkip && (i >= len(b) || !isMpStr(b[i])) {
			return d.mpSkip(b, i, 1)
		}
		var v []byte
		if v, i = d.mpStr(b, i); i >= 0 {
			d.setStr(m, s, v)
		}
	case vtTime:
		var t int64
		if t, i = d.mpTime(b, i); i >= 0 {
			d.setTime(m, s, t)
		}
	case vtConds:
		var c market.Conditions
		if c, i = d.mpConds(b, i); i >= 0 {
			d.setConds(m, s, c)
		}
	case vtList:
		var l []string
		if l, i = d.mpList(b, i, false); i >= 0 {
			d.sub[s-slotSubFirst] = l
		}
	case vtSyms:
		var l []string
		if l, i = d.mpList(b, i, true); i >= 0 {
			d.rare.news.Symbols = l
		}
	case vtCode:
		var v []byte
		if v, i = d.mpStr(b, i); i >= 0 {
			d.setCode(m, s, v)
		}
	case vtBool:
		d.rare.reset, i = d.mpBool(b, i) // the one bool field
	case vtLevels:
		if s == slotBookBids {
			d.rare.bids, i = d.mpLevels(b, i, d.rare.bids[:0])
		} else {
			d.rare.asks, i = d.mpLevels(b, i, d.rare.asks[:0])
		}
	default:
		i = d.mpSkip(b, i, 1)
	}
	return i
}

// mpBool reads a bool; nil reads as false, as DecodeBool does.
func (d *Decoder) mpBool(b []byte, i int) (bool, int) {
	if i >= len(b) {
		return false, d.fail(i, "truncated frame")
	}
	switch b[i] {
	case 0xc0, 0xc2:
		return false, i + 1
	case 0xc3:
		return true, i + 1
	}
	return false, d.fail(i, "want bool")
}

// mpLevels reads an order book side: an array (nil is empty) of maps (nil is
// a zero level) whose "p" and "s" are floats, other keys skipped, as the
// SDK's decodeCryptoOrderbookEntry reads them. Levels are appended to dst,
// the decoder's scratch, so steady-state decoding reuses it.
func (d *Decoder) mpLevels(b []byte, i int, dst []market.BookLevel) ([]market.BookLevel, int) {
	n, i := d.mpArrayLen(b, i)
	if i < 0 {
		return dst, i
	}
	for ; n > 0; n-- {
		if i < len(b) && isMpExt(b[i]) {
			i += 2 + mpExtLenBytes(b[i]) // DecodeMapLen skips an ext header, as in mpFrame
		}
		var size int
		if size, i = d.mpMapLen(b, i); i < 0 {
			return dst, i
		}
		var l market.BookLevel
		for ; size > 0; size-- {
			var k uint16
			if k, i = d.mpKeyCode(b, i); i < 0 {
				return dst, i
			}
			switch k {
			case kp:
				l.Price, i = d.mpFloat(b, i)
			case ks:
				l.Size, i = d.mpFloat(b, i)
			default:
				i = d.mpSkip(b, i, 1)
			}
			if i < 0 {
				return dst, i
			}
		}
		dst = append(dst, l)
	}
	return dst, i
}

// mpCryptoTrade decodes the remaining pairs of a crypto trade. Its keys are
// read in full rather than as key2 codes because of the three-byte "tks".
func (d *Decoder) mpCryptoTrade(b []byte, i, pairs int, e *market.Event) int {
	t := &e.CryptoTrade
	for ; pairs > 0; pairs-- {
		var key []byte
		switch {
		case len(b)-i > 2 && b[i] == 0xa1:
			key, i = b[i+1:i+2], i+2
		case len(b)-i > 3 && b[i] == 0xa2:
			key, i = b[i+1:i+3], i+3
		default:
			var isStr bool
			if key, isStr, i = d.mpKey(b, i); i < 0 {
				return i
			}
			if !isStr {
				key = nil // skip the value
			}
		}
		var u uint64
		var s []byte
		switch key2(key) {
		case kS:
			if s, i = d.mpStr(b, i); i >= 0 {
				e.Symbol = d.intern(s)
			}
		case kt:
			e.Time, i = d.mpTime(b, i)
		case ki:
			u, i = d.mpInt(b, i)
			t.ID = int64(u)
		case kp:
			t.Price, i = d.mpFloat(b, i)
		case ks:
			t.Size, i = d.mpFloat(b, i)
		case kSeq:
			e.Seq, i = d.mpInt(b, i)
		default:
			if string(key) == "tks" {
				s, i = d.mpStr(b, i)
				t.TakerSide = charOf(s)
			} else {
				i = d.mpSkip(b, i, 1)
			}
		}
		if i < 0 {
			return i
		}
	}
	return i
}

// mpOptionTrade decodes the remaining pairs of an option trade.
func (d *Decoder) mpOptionTrade(b []byte, i, pairs int, e *market.Event) int {
	t := &e.Trade
	for ; pairs > 0; pairs-- {
		var k uint16
		if k, i = d.mpKeyCode(b, i); i < 0 {
			return i
		}
		var u uint64
		var s []byte
		switch k {
		case kS:
			if s, i = d.mpStr(b, i); i >= 0 {
				e.Symbol = d.intern(s)
			}
		case kt:
			e.Time, i = d.mpTime(b, i)
		case kp:
			t.Price, i = d.mpFloat(b, i)
		case ks:
			u, i = d.mpInt(b, i)
			t.Size = uint32(u)
		case kx:
			s, i = d.mpStr(b, i)
			t.Exchange = charOf(s)
		case kc:
			if s, i = d.mpStr(b, i); i >= 0 {
				t.Conditions = optionCond(s)
			}
		case kSeq:
			var seq uint64
			seq, i = d.mpInt(b, i)
			e.Seq = seq
		default:
			i = d.mpSkip(b, i, 1)
		}
		if i < 0 {
			return i
		}
	}
	return i
}

// mpOptionQuote decodes the remaining pairs of an option quote.
func (d *Decoder) mpOptionQuote(b []byte, i, pairs int, e *market.Event) int {
	q := &e.Quote
	for ; pairs > 0; pairs-- {
		var k uint16
		if k, i = d.mpKeyCode(b, i); i < 0 {
			return i
		}
		var u uint64
		var s []byte
		switch k {
		case kS:
			if s, i = d.mpStr(b, i); i >= 0 {
				e.Symbol = d.intern(s)
			}
		case kt:
			e.Time, i = d.mpTime(b, i)
		case kbx:
			s, i = d.mpStr(b, i)
			q.BidExchange = charOf(s)
		case kbp:
			q.BidPrice, i = d.mpFloat(b, i)
		case kbs:
			u, i = d.mpInt(b, i)
			q.BidSize = uint32(u)
		case kax:
			s, i = d.mpStr(b, i)
			q.AskExchange = charOf(s)
		case kap:
			q.AskPrice, i = d.mpFloat(b, i)
		case kas:
			u, i = d.mpInt(b, i)
			q.AskSize = uint32(u)
		case kc:
			if s, i = d.mpStr(b, i); i >= 0 {
				q.Conditions = optionCond(s)
			}
		case kSeq:
			var seq uint64
			seq, i = d.mpInt(b, i)
			e.Seq = seq
		default:
			i = d.mpSkip(b, i, 1)
		}
		if i < 0 {
			return i
		}
	}
	return i
}

// mpOrderbook decodes the remaining pairs of an order book message into the
// decoder's scratch (finishMessage allocates the result).
func (d *Decoder) mpOrderbook(b []byte, i, pairs int, e *market.Event) int {
	for ; pairs > 0; pairs-- {
		var k uint16
		if k, i = d.mpKeyCode(b, i); i < 0 {
			return i
		}
		var s []byte
		switch k {
		case kS:
			if s, i = d.mpStr(b, i); i >= 0 {
				e.Symbol = d.intern(s)
			}
		case kt:
			e.Time, i = d.mpTime(b, i)
		case kb:
			d.rare.bids, i = d.mpLevels(b, i, d.rare.bids[:0])
		case ka:
			d.rare.asks, i = d.mpLevels(b, i, d.rare.asks[:0])
		case kr:
			d.rare.reset, i = d.mpBool(b, i)
		case kSeq:
			var seq uint64
			seq, i = d.mpInt(b, i)
			e.Seq = seq
		default:
			i = d.mpSkip(b, i, 1)
		}
		if i < 0 {
			return i
		}
	}
	return i
}

// mpCryptoQuote decodes the remaining pairs of a crypto quote.
func (d *Decoder) mpCryptoQuote(b []byte, i, pairs int, e *market.Event) int {
	q := &e.CryptoQuote
	for ; pairs > 0; pairs-- {
		var k uint16
		if k, i = d.mpKeyCode(b, i); i < 0 {
			return i
		}
		var s []byte
		switch k {
		case kS:
			if s, i = d.mpStr(b, i); i >= 0 {
				e.Symbol = d.intern(s)
			}
		case kt:
			e.Time, i = d.mpTime(b, i)
		case kbp:
			q.BidPrice, i = d.mpFloat(b, i)
		case kbs:
			q.BidSize, i = d.mpFloat(b, i)
		case kap:
			q.AskPrice, i = d.mpFloat(b, i)
		case kas:
			q.AskSize, i = d.mpFloat(b, i)
		case kSeq:
			var seq uint64
			seq, i = d.mpInt(b, i)
			e.Seq = seq
		default:
			i = d.mpSkip(b, i, 1)
		}
		if i < 0 {
			return i
		}
	}
	return i
}

// mpKeyCode reads a map key as a key2 code: 0 for keys that match no field
// (including non-string keys, which it skips).
func (d *Decoder) mpKeyCode(b []byte, i int) (uint16, int) {
	if len(b)-i > 2 {
		switch b[i] {
		case 0xa1:
			return uint16(b[i+1]), i + 2
		case 0xa2:
			if b[i+1] != 0 && len(b)-i > 3 {
				return uint16(b[i+1])<<8 | uint16(b[i+2]), i + 3
			}
		}
	}
	key, isStr, i := d.mpKey(b, i)
	if !isStr {
		return 0, i
	}
	return key2(key), i
}

// mpTrade decodes the remaining pairs of a trade (see dataSlot for the keys).
func (d *Decoder) mpTrade(b []byte, i, pairs int, e *market.Event) int {
	t := &e.Trade
	for ; pairs > 0; pairs-- {
		var k uint16
		if k, i = d.mpKeyCode(b, i); i < 0 {
			return i
		}
		var u uint64
		var s []byte
		switch k {
		case kS:
			if s, i = d.mpStr(b, i); i >= 0 {
				e.Symbol = d.intern(s)
			}
		case kt:
			e.Time, i = d.mpTime(b, i)
		case ki:
			u, i = d.mpInt(b, i)
			t.ID = int64(u)
		case kx:
			s, i = d.mpStr(b, i)
			t.Exchange = charOf(s)
		case kp:
			t.Price, i = d.mpFloat(b, i)
		case ks:
			u, i = d.mpInt(b, i)
			t.Size = uint32(u)
		case kc:
			t.Conditions, i = d.mpConds(b, i)
		case kz:
			s, i = d.mpStr(b, i)
			t.Tape = charOf(s)
		case kSeq:
			var seq uint64
			seq, i = d.mpInt(b, i)
			e.Seq = seq
		default:
			i = d.mpSkip(b, i, 1)
		}
		if i < 0 {
			return i
		}
	}
	return i
}

// mpQuote decodes the remaining pairs of a quote.
func (d *Decoder) mpQuote(b []byte, i, pairs int, e *market.Event) int {
	q := &e.Quote
	for ; pairs > 0; pairs-- {
		var k uint16
		if k, i = d.mpKeyCode(b, i); i < 0 {
			return i
		}
		var u uint64
		var s []byte
		switch k {
		case kS:
			if s, i = d.mpStr(b, i); i >= 0 {
				e.Symbol = d.intern(s)
			}
		case kt:
			e.Time, i = d.mpTime(b, i)
		case kbx:
			s, i = d.mpStr(b, i)
			q.BidExchange = charOf(s)
		case kbp:
			q.BidPrice, i = d.mpFloat(b, i)
		case kbs:
			u, i = d.mpInt(b, i)
			q.BidSize = uint32(u)
		case kax:
			s, i = d.mpStr(b, i)
			q.AskExchange = charOf(s)
		case kap:
			q.AskPrice, i = d.mpFloat(b, i)
		case kas:
			u, i = d.mpInt(b, i)
			q.AskSize = uint32(u)
		case kc:
			q.Conditions, i = d.mpConds(b, i)
		case kz:
			s, i = d.mpStr(b, i)
			q.Tape = charOf(s)
		case kSeq:
			var seq uint64
			seq, i = d.mpInt(b, i)
			e.Seq = seq
		default:
			i = d.mpSkip(b, i, 1)
		}
		if i < 0 {
			return i
		}
	}
	return i
}

// mpBar decodes the remaining pairs of a bar, updated bar or daily bar.
func (d *Decoder) mpBar(b []byte, i, pairs int, e *market.Event) int {
	r := &e.Bar
	for ; pairs > 0; pairs-- {
		var k uint16
		if k, i = d.mpKeyCode(b, i); i < 0 {
			return i
		}
		var s []byte
		switch k {
		case kS:
			if s, i = d.mpStr(b, i); i >= 0 {
				e.Symbol = d.intern(s)
			}
		case kt:
			e.Time, i = d.mpTime(b, i)
		case ko:
			r.Open, i = d.mpFloat(b, i)
		case kh:
			r.High, i = d.mpFloat(b, i)
		case kl:
			r.Low, i = d.mpFloat(b, i)
		case kc:
			r.Close, i = d.mpFloat(b, i)
		case kv:
			r.Volume, i = d.mpInt(b, i)
		case kn:
			r.TradeCount, i = d.mpInt(b, i)
		case kvw:
			r.VWAP, i = d.mpFloat(b, i)
		case kSeq:
			var seq uint64
			seq, i = d.mpInt(b, i)
			e.Seq = seq
		default:
			i = d.mpSkip(b, i, 1)
		}
		if i < 0 {
			return i
		}
	}
	return i
}

// mpKey reads a map key. A string, bin or nil (which the SDK reads as "")
// key is returned with isStr true; any other key is skipped here and
// reported with isStr false, so the caller skips its value (the SDK would
// fail on it; being lenient costs nothing).
func (d *Decoder) mpKey(b []byte, i int) (key []byte, isStr bool, _ int) {
	if i >= len(b) {
		return nil, false, d.fail(i, "truncated frame")
	}
	if isMpStr(b[i]) {
		key, i = d.mpStr(b, i)
		return key, true, i
	}
	return nil, false, d.mpSkip(b, i, 1)
}

func isMpStr(c byte) bool {
	return c&0xe0 == 0xa0 || c == 0xc0 || (c >= 0xc4 && c <= 0xc6) || (c >= 0xd9 && c <= 0xdb)
}

func isMpExt(c byte) bool { return (c >= 0xd4 && c <= 0xd8) || (c >= 0xc7 && c <= 0xc9) }

// mpExtLenBytes is the number of length bytes of an ext header.
func mpExtLenBytes(c byte) int {
	switch c {
	case 0xc7:
		return 1
	case 0xc8:
		return 2
	case 0xc9:
		return 4
	}
	return 0
}

// mpLen reads a big-endian length or count of w bytes at i. No length or
// count can exceed the size of the frame (every element takes at least a
// byte), so a larger one fails here; that also keeps later arithmetic on it
// from overflowing.
func (d *Decoder) mpLen(b []byte, i, w int) (int, int) {
	if w > len(b)-i {
		return 0, d.fail(i, "truncated frame")
	}
	var v uint64
	switch w {
	case 1:
		v = uint64(b[i])
	case 2:
		v = uint64(binary.BigEndian.Uint16(b[i:]))
	default:
		v = uint64(binary.BigEndian.Uint32(b[i:]))
	}
	if v > uint64(len(b)) {
		return 0, d.fail(i, "length exceeds frame")
	}
	return int(v), i + w
}

// mpArrayLen reads an array header; nil is an empty array.
func (d *Decoder) mpArrayLen(b []byte, i int) (int, int) {
	if i >= len(b) {
		return 0, d.fail(i, "truncated frame")
	}
	c := b[i]
	switch {
	case c&0xf0 == 0x90:
		return int(c & 0x0f), i + 1
	case c == 0xc0:
		return 0, i + 1
	case c == 0xdc:
		return d.mpLen(b, i+1, 2)
	case c == 0xdd:
		return d.mpLen(b, i+1, 4)
	}
	return 0, d.fail(i, "want array")
}

// mpMapLen reads a map header; nil is -1.
func (d *Decoder) mpMapLen(b []byte, i int) (int, int) {
	if i >= len(b) {
		return 0, d.fail(i, "truncated frame")
	}
	c := b[i]
	switch {
	case c&0xf0 == 0x80:
		return int(c & 0x0f), i + 1
	case c == 0xc0:
		return -1, i + 1
	case c == 0xde:
		return d.mpLen(b, i+1, 2)
	case c == 0xdf:
		return d.mpLen(b, i+1, 4)
	}
	return 0, d.fail(i, "want map")
}

// mpStr reads a str or bin (or nil, as empty) and returns a view of b.
func (d *Decoder) mpStr(b []byte, i int) ([]byte, int) {
	if i >= len(b) {
		return nil, d.fail(i, "truncated frame")
	}
	c := b[i]
	var n int
	switch {
	case c&0xe0 == 0xa0:
		n, i = int(c&0x1f), i+1
	case c == 0xc0:
		return nil, i + 1
	case c == 0xd9 || c == 0xc4:
		n, i = d.mpLen(b, i+1, 1)
	case c == 0xda || c == 0xc5:
		n, i = d.mpLen(b, i+1, 2)
	case c == 0xdb || c == 0xc6:
		n, i = d.mpLen(b, i+1, 4)
	default:
		return nil, d.fail(i, "want string")
	}
	if i < 0 {
		return nil, i
	}
	if n > len(b)-i {
		return nil, d.fail(i, "string longer than frame")
	}
	return b[i : i+n], i + n
}

// mpInt reads any integer (nil as 0) as its 64-bit two's complement pattern,
// which is what the SDK's DecodeInt64/DecodeUint64 produce; callers narrow.
func (d *Decoder) mpInt(b []byte, i int) (uint64, int) {
	if i >= len(b) {
		return 0, d.fail(i, "truncated frame")
	}
	c := b[i]
	if c <= 0x7f || c >= 0xe0 {
		return uint64(int64(int8(c))), i + 1
	}
	var w int
	switch c {
	case 0xc0:
		return 0, i + 1
	case 0xcc, 0xd0:
		w = 1
	case 0xcd, 0xd1:
		w = 2
	case 0xce, 0xd2:
		w = 4
	case 0xcf, 0xd3:
		w = 8
	default:
		return 0, d.fail(i, "want integer")
	}
	if w >= len(b)-i {
		return 0, d.fail(i, "truncated frame")
	}
	p := b[i+1:]
	var u uint64
	switch c {
	case 0xcc:
		u = uint64(p[0])
	case 0xd0:
		u = uint64(int64(int8(p[0])))
	case 0xcd:
		u = uint64(binary.BigEndian.Uint16(p))
	case 0xd1:
		u = uint64(int64(int16(binary.BigEndian.Uint16(p))))
	case 0xce:
		u = uint64(binary.BigEndian.Uint32(p))
	case 0xd2:
		u = uint64(int64(int32(binary.BigEndian.Uint32(p))))
	default:
		u = binary.BigEndian.Uint64(p)
	}
	return u, i + 1 + w
}

// mpFloat reads a float32/float64, or any integer as the SDK's
// DecodeFloat64 does (via int64). NaN and ±Inf are rejected.
func (d *Decoder) mpFloat(b []byte, i int) (float64, int) {
	if i >= len(b) {
		return 0, d.fail(i, "truncated frame")
	}
	switch b[i] {
	case 0xcb:
		if 8 >= len(b)-i {
			return 0, d.fail(i, "truncated frame")
		}
		u := binary.BigEndian.Uint64(b[i+1:])
		if u&0x7ff0000000000000 == 0x7ff0000000000000 { // exponent all ones
			return 0, d.fail(i, "NaN or infinite float")
		}
		return math.Float64frombits(u), i + 9
	case 0xca:
		if 4 >= len(b)-i {
			return 0, d.fail(i, "truncated frame")
		}
		u := binary.BigEndian.Uint32(b[i+1:])
		if u&0x7f800000 == 0x7f800000 {
			return 0, d.fail(i, "NaN or infinite float")
		}
		return float64(math.Float32frombits(u)), i + 5
	}
	u, i := d.mpInt(b, i)
	return float64(int64(u)), i
}

// mpTime reads a timestamp in any form the SDK's DecodeTime accepts: the
// timestamp extension (type -1, or 13 as some Node encoders write) with a 4,
// 8 or 12 byte body in any ext header; an RFC 3339 string; or the legacy
// two-element array [sec, nsec].
func (d *Decoder) mpTime(b []byte, i int) (int64, int) {
	if i >= len(b) {
		return 0, d.fail(i, "truncated frame")
	}
	c := b[i]
	// Tape's and Alpaca's encoders write the 8-byte form whenever there are
	// nanoseconds: decode it first.
	if c == 0xd7 && len(b)-i >= 10 && b[i+1] == 0xff {
		v := binary.BigEndian.Uint64(b[i+2:])
		return unixNano(int64(v&(1<<34-1)), int64(v>>34)), i + 10
	}
	if c == 0x92 { // exactly a fixarray of two, as DecodeTime checks
		var sec, nsec uint64
		if sec, i = d.mpInt(b, i+1); i < 0 {
			return 0, i
		}
		if nsec, i = d.mpInt(b, i); i < 0 {
			return 0, i
		}
		return unixNano(int64(sec), int64(nsec)), i
	}
	if c&0xe0 == 0xa0 || (c >= 0xd9 && c <= 0xdb) { // str, not bin
		var s []byte
		if s, i = d.mpStr(b, i); i < 0 {
			return 0, i
		}
		ns, ok := parseTime(s)
		if !ok {
			return 0, d.fail(i, "bad timestamp string")
		}
		return ns, i
	}
	var n int
	pos := i
	switch c {
	case 0xd4:
		n, i = 1, i+1
	case 0xd5:
		n, i = 2, i+1
	case 0xd6:
		n, i = 4, i+1
	case 0xd7:
		n, i = 8, i+1
	case 0xd8:
		n, i = 16, i+1
	case 0xc7:
		n, i = d.mpLen(b, i+1, 1)
	case 0xc8:
		n, i = d.mpLen(b, i+1, 2)
	case 0xc9:
		n, i = d.mpLen(b, i+1, 4)
	default:
		return 0, d.fail(i, "want timestamp")
	}
	if i < 0 {
		return 0, i
	}
	if i >= len(b) || n > len(b)-i-1 {
		return 0, d.fail(pos, "truncated frame")
	}
	if id := int8(b[i]); id != -1 && id != 13 {
		return 0, d.fail(pos, "ext is not a timestamp")
	}
	p := b[i+1 : i+1+n]
	i += 1 + n
	switch n {
	case 4:
		return unixNano(int64(binary.BigEndian.Uint32(p)), 0), i
	case 8:
		v := binary.BigEndian.Uint64(p)
		return unixNano(int64(v&(1<<34-1)), int64(v>>34)), i
	case 12:
		return unixNano(int64(binary.BigEndian.Uint64(p[4:])), int64(binary.BigEndian.Uint32(p))), i
	}
	return 0, d.fail(pos, "bad timestamp length")
}

// mpConds reads a condition list (nil is empty; elements are strings or nil).
func (d *Decoder) mpConds(b []byte, i int) (market.Conditions, int) {
	var c market.Conditions
	n, i := d.mpArrayLen(b, i)
	if i < 0 {
		return c, i
	}
	k := 0
	for ; n > 0; n-- {
		var s []byte
		// Each element takes at least one byte, so a bogus count ends at
		// the end of the frame.
		if s, i = d.mpStr(b, i); i < 0 {
			return c, i
		}
		addCond(&c, &k, s)
	}
	return c, i
}

// mpList reads a list of strings (nil and empty give nil), interned if
// intern is set.
func (d *Decoder) mpList(b []byte, i int, intern bool) ([]string, int) {
	n, i := d.mpArrayLen(b, i)
	if i < 0 || n == 0 {
		return nil, i
	}
	// Never trust the count for the allocation: each element is ≥ 1 byte.
	l := make([]string, 0, min(n, len(b)-i))
	for ; n > 0; n-- {
		var s []byte
		if s, i = d.mpStr(b, i); i < 0 {
			return nil, i
		}
		if intern {
			l = append(l, d.intern(s))
		} else {
			l = append(l, string(s))
		}
	}
	return l, i
}

// mpSkip skips n values. It is iterative: pending counts the values still to
// skip, nested containers add their elements to it, so nesting costs no
// stack. Because every value takes at least one byte, pending can never
// usefully exceed the bytes left, which bounds it and the loop.
func (d *Decoder) mpSkip(b []byte, i, pending int) int {
	for pending > 0 {
		if pending > len(b)-i {
			return d.fail(i, "truncated frame")
		}
		pending--
		c := b[i]
		i++
		var n int // bytes to skip after the header
		switch {
		case c <= 0x7f || c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		case c&0xf0 == 0x80:
			pending += 2 * int(c&0x0f)
		case c&0xf0 == 0x90:
			pending += int(c & 0x0f)
		case c&0xe0 == 0xa0:
			n = int(c & 0x1f)
		case c == 0xcc || c == 0xd0:
			n = 1
		case c == 0xcd || c == 0xd1:
			n = 2
		case c == 0xce || c == 0xd2 || c == 0xca:
			n = 4
		case c == 0xcf || c == 0xd3 || c == 0xcb:
			n = 8
		case c == 0xd4:
			n = 2
		case c == 0xd5:
			n = 3
		case c == 0xd6:
			n = 5
		case c == 0xd7:
			n = 9
		case c == 0xd8:
			n = 17
		case c == 0xc4 || c == 0xd9:
			n, i = d.mpLen(b, i, 1)
		case c == 0xc5 || c == 0xda:
			n, i = d.mpLen(b, i, 2)
		case c == 0xc6 || c == 0xdb:
			n, i = d.mpLen(b, i, 4)
		case c == 0xc7:
			n, i = d.mpLen(b, i, 1)
			n++ // type byte
		case c == 0xc8:
			n, i = d.mpLen(b, i, 2)
			n++
		case c == 0xc9:
			n, i = d.mpLen(b, i, 4)
			n++
		case c == 0xdc:
			n, i = d.mpLen(b, i, 2)
			pending, n = pending+n, 0
		case c == 0xdd:
			n, i = d.mpLen(b, i, 4)
			pending, n = pending+n, 0
		case c == 0xde:
			n, i = d.mpLen(b, i, 2)
			pending, n = pending+2*n, 0
		case c == 0xdf:
			n, i = d.mpLen(b, i, 4)
			pending, n = pending+2*n, 0
		default: // 0xc1, never used
			return d.fail(i-1, "invalid msgpack code")
		}
		if i < 0 {
			return i
		}
		if n > len(b)-i {
			return d.fail(i, "truncated frame")
		}
		i += n
	}
	return i
}

// mpWellFormed reports whether b is exactly one msgpack value whose headers
// are consistent with its length and whose containers nest at most maxDepth
// deep. It allocates nothing and runs in time linear in len(b).
//
// It exists for ParseRequest (request.go), which hands client bytes to
// vmihailenco/msgpack's Decode into a map[string]any: that decoder
// preallocates whatever element count an array or map header claims (13
// bytes claiming 2^32 elements make it allocate 64 GB, a fatal "out of
// memory" that no recover catches) and recurses once per nesting level (a
// 1 MB message of nested arrays takes 512 MB of stack). Checked first, the
// counts it trusts are bounded by the message length and the recursion by
// maxDepth.
func mpWellFormed(b []byte, maxDepth int) bool {
	var d Decoder
	depth, left := 0, 1 // open containers; values left in the current one
	var stack [64]int   // the outer containers' values left
	if maxDepth > len(stack) {
		maxDepth = len(stack)
	}
	i := 0
	for {
		for left == 0 {
			if depth == 0 {
				return i == len(b)
			}
			depth--
			left = stack[depth]
		}
		left--
		if i >= len(b) {
			return false
		}
		c := b[i]
		n := -1 // values in a container starting here
		switch {
		case c&0xf0 == 0x80:
			n, i = 2*int(c&0x0f), i+1
		case c&0xf0 == 0x90:
			n, i = int(c&0x0f), i+1
		case c == 0xdc:
			n, i = d.mpLen(b, i+1, 2)
		case c == 0xdd:
			n, i = d.mpLen(b, i+1, 4)
		case c == 0xde:
			n, i = d.mpLen(b, i+1, 2)
			n *= 2
		case c == 0xdf:
			n, i = d.mpLen(b, i+1, 4)
			n *= 2
		default:
			if i = d.mpSkip(b, i, 1); i < 0 {
				return false
			}
			continue
		}
		if i < 0 || n > len(b)-i {
			return false
		}
		if n > 0 {
			if depth == maxDepth {
				return false
			}
			stack[depth] = left
			depth++
			left = n
		}
	}
}
