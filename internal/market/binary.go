package market

import (
	"encoding/binary"
	"errors"
	"math"
)

// The binary form of an Event is what the journal stores. It is compact
// (a trade is about 40 bytes), fixed-layout per kind so decoding is a few
// loads, and versioned by its first byte so the format can evolve without
// rewriting old journals. Seq is not part of it: the journal keeps it in
// the record header. Layout (little endian):
//
//	version u8 (=1) | kind u8 | time i64 | symbol len u8 | symbol bytes | payload by kind
//	version u8 (=2) | kind u8 | flags u8 | time i64 | ...            (the same, with Event.Flags)
//
// Version 2 is written only for an event with flags, so the common live
// record keeps its size and old journals read unchanged.
//
//	trade:       id i64 | price f64 | size u32 | exchange u8 | tape u8 | conditions [4]u8
//	quote (and IEX quote): bid f64 | ask f64 | bid size u32 | ask size u32 | bid exch u8 | ask exch u8 | tape u8 | conditions [4]u8
//	bar kinds (and IEX bars): open, high, low, close, vwap f64 | volume u64 | trade count u64
//	status:      4 × (len u8 | bytes) for code, message, reason code, reason message | tape u8
//	luld:        up f64 | down f64 | indicator u8 | tape u8
//	correction:  exchange u8 | tape u8 | orig id i64 | orig price f64 | orig size u32 | orig cond [4]u8 |
//	             corr id i64 | corr price f64 | corr size u32 | corr cond [4]u8
//	cancelError: id i64 | price f64 | size u32 | exchange u8 | tape u8 | action u8
//	imbalance:   price f64 | tape u8
//
// Kinds added later are appended under the same version, since their kind
// byte alone tells old and new records apart (a reader that predates a kind
// rejects its records as malformed rather than misreading them):
//
//	crypto trade:  id i64 | price f64 | size f64 | taker side u8
//	crypto quote:  bid f64 | bid size f64 | ask f64 | ask size f64
//	crypto bars:   open, high, low, close, volume, vwap f64 | trade count u64
//	orderbook:     reset u8 (0/1) | bid count u32 | ask count u32 | (price f64 | size f64) per bid, then per ask
//	pricing:       index, mark, funding rate, open interest f64 | next funding time i64
//	option trade:  price f64 | size u32 | exchange u8 | condition [4]u8
//	option quote:  bid f64 | ask f64 | bid size u32 | ask size u32 | bid exch u8 | ask exch u8 | condition [4]u8
//	news:          id i64 | created i64 | updated i64 | headline, summary, author, url, content, source
//	               (len u32 | bytes each) | symbol count u16 | symbols (len u8 | bytes each)

const (
	binaryVersion      = 1
	binaryVersionFlags = 2
)

// ErrBadBinary is returned by DecodeBinary for input it cannot decode.
var ErrBadBinary = errors.New("market: malformed binary event")

// AppendBinary appends the binary form of e to b. Strings longer than 255
// bytes are truncated (no market symbol or status text comes close).
func AppendBinary(b []byte, e *Event) []byte {
	if e.Flags == 0 {
		b = append(b, binaryVersion, byte(e.Kind))
	} else {
		b = append(b, binaryVersionFlags, byte(e.Kind), byte(e.Flags))
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(e.Time))
	b = appendStr8(b, e.Symbol)
	switch e.Kind {
	case KindTrade:
		t := &e.Trade
		b = appendU64(b, uint64(t.ID))
		b = appendF64(b, t.Price)
		b = binary.LittleEndian.AppendUint32(b, t.Size)
		b = append(b, t.Exchange, t.Tape)
		b = append(b, t.Conditions[:]...)
	case KindQuote, KindIEXQuote:
		q := &e.Quote
		b = appendF64(b, q.BidPrice)
		b = appendF64(b, q.AskPrice)
		b = binary.LittleEndian.AppendUint32(b, q.BidSize)
		b = binary.LittleEndian.AppendUint32(b, q.AskSize)
		b = append(b, q.BidExchange, q.AskExchange, q.Tape)
		b = append(b, q.Conditions[:]...)
	case KindBar, KindUpdatedBar, KindDailyBar, KindIEXBar, KindIEXUpdatedBar, KindIEXDailyBar:
		r := &e.Bar
		b = appendF64(b, r.Open)
		b = appendF64(b, r.High)
		b = appendF64(b, r.Low)
		b = appendF64(b, r.Close)
		b = appendF64(b, r.VWAP)
		b = appendU64(b, r.Volume)
		b = appendU64(b, r.TradeCount)
	case KindStatus:
		s := e.Status
		if s == nil {
			s = &Status{}
		}
		b = appendStr8(b, s.StatusCode)
		b = appendStr8(b, s.StatusMsg)
		b = appendStr8(b, s.ReasonCode)
		b = appendStr8(b, s.ReasonMsg)
		b = append(b, s.Tape)
	case KindLULD:
		l := e.LULD
		if l == nil {
			l = &LULD{}
		}
		b = appendF64(b, l.LimitUp)
		b = appendF64(b, l.LimitDown)
		b = append(b, l.Indicator, l.Tape)
	case KindCorrection:
		c := e.Correction
		if c == nil {
			c = &Correction{}
		}
		b = append(b, c.Exchange, c.Tape)
		b = appendU64(b, uint64(c.OrigID))
		b = appendF64(b, c.OrigPrice)
		b = binary.LittleEndian.AppendUint32(b, c.OrigSize)
		b = append(b, c.OrigConds[:]...)
		b = appendU64(b, uint64(c.CorrID))
		b = appendF64(b, c.CorrPrice)
		b = binary.LittleEndian.AppendUint32(b, c.CorrSize)
		b = append(b, c.CorrConds[:]...)
	case KindCancelError:
		x := e.CancelError
		if x == nil {
			x = &CancelError{}
		}
		b = appendU64(b, uint64(x.ID))
		b = appendF64(b, x.Price)
		b = binary.LittleEndian.AppendUint32(b, x.Size)
		b = append(b, x.Exchange, x.Tape, x.Action)
	case KindImbalance:
		im := e.Imbalance
		if im == nil {
			im = &Imbalance{}
		}
		b = appendF64(b, im.Price)
		b = append(b, im.Tape)
	case KindCryptoTrade:
		t := &e.CryptoTrade
		b = appendU64(b, uint64(t.ID))
		b = appendF64(b, t.Price)
		b = appendF64(b, t.Size)
		b = append(b, t.TakerSide)
	case KindCryptoQuote:
		q := &e.CryptoQuote
		b = appendF64(b, q.BidPrice)
		b = appendF64(b, q.BidSize)
		b = appendF64(b, q.AskPrice)
		b = appendF64(b, q.AskSize)
	case KindCryptoBar, KindCryptoUpdatedBar, KindCryptoDailyBar:
		r := e.CryptoBar
		if r == nil {
			r = &CryptoBar{}
		}
		b = appendF64(b, r.Open)
		b = appendF64(b, r.High)
		b = appendF64(b, r.Low)
		b = appendF64(b, r.Close)
		b = appendF64(b, r.Volume)
		b = appendF64(b, r.VWAP)
		b = appendU64(b, r.TradeCount)
	case KindCryptoOrderbook:
		o := e.Orderbook
		if o == nil {
			o = &Orderbook{}
		}
		reset := byte(0)
		if o.Reset {
			reset = 1
		}
		b = append(b, reset)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(o.Bids)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(o.Asks)))
		for _, l := range o.Bids {
			b = appendF64(appendF64(b, l.Price), l.Size)
		}
		for _, l := range o.Asks {
			b = appendF64(appendF64(b, l.Price), l.Size)
		}
	case KindCryptoPricing:
		p := e.Pricing
		if p == nil {
			p = &PerpPricing{}
		}
		b = appendF64(b, p.IndexPrice)
		b = appendF64(b, p.MarkPrice)
		b = appendF64(b, p.FundingRate)
		b = appendF64(b, p.OpenInterest)
		b = appendU64(b, uint64(p.NextFundingTime))
	case KindOptionTrade:
		t := &e.Trade
		b = appendF64(b, t.Price)
		b = binary.LittleEndian.AppendUint32(b, t.Size)
		b = append(b, t.Exchange)
		b = append(b, t.Conditions[:]...)
	case KindOptionQuote:
		q := &e.Quote
		b = appendF64(b, q.BidPrice)
		b = appendF64(b, q.AskPrice)
		b = binary.LittleEndian.AppendUint32(b, q.BidSize)
		b = binary.LittleEndian.AppendUint32(b, q.AskSize)
		b = append(b, q.BidExchange, q.AskExchange)
		b = append(b, q.Conditions[:]...)
	case KindNews:
		n := e.News
		if n == nil {
			n = &News{}
		}
		b = appendU64(b, uint64(n.ID))
		b = appendU64(b, uint64(n.CreatedAt))
		b = appendU64(b, uint64(n.UpdatedAt))
		for _, s := range [...]string{n.Headline, n.Summary, n.Author, n.URL, n.Content, n.Source} {
			b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
			b = append(b, s...)
		}
		syms := n.Symbols
		if len(syms) > math.MaxUint16 {
			syms = syms[:math.MaxUint16]
		}
		b = binary.LittleEndian.AppendUint16(b, uint16(len(syms)))
		for _, s := range syms {
			b = appendStr8(b, s)
		}
	}
	return b
}

func appendU64(b []byte, v uint64) []byte  { return binary.LittleEndian.AppendUint64(b, v) }
func appendF64(b []byte, f float64) []byte { return appendU64(b, math.Float64bits(f)) }

func appendStr8(b []byte, s string) []byte {
	if len(s) > 255 {
		s = s[:255]
	}
	b = append(b, byte(len(s)))
	return append(b, s...)
}

// Interner deduplicates symbol strings while decoding, so decoding a known
// universe allocates no strings. The zero value is ready; it stops adding
// entries past a bound so hostile input cannot grow it without limit.
type Interner struct{ m map[string]string }

const maxInterned = 1 << 16

// Intern returns a string equal to b, shared with earlier calls.
func (in *Interner) Intern(b []byte) string {
	if s, ok := in.m[string(b)]; ok { // no allocation: the compiler optimises this lookup
		return s
	}
	s := string(b)
	if in.m == nil {
		in.m = make(map[string]string)
	}
	if len(in.m) < maxInterned {
		in.m[s] = s
	}
	return s
}

// binReader walks a binary event; the first short read sets bad.
type binReader struct {
	b   []byte
	bad bool
}

func (r *binReader) take(n int) []byte {
	if r.bad || len(r.b) < n {
		r.bad = true
		return make([]byte, n)
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

// bytes is take for a length read from the input: past the end it returns
// nil instead of allocating whatever a corrupt length claims.
func (r *binReader) bytes(n int) []byte {
	if r.bad || n < 0 || len(r.b) < n {
		r.bad = true
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *binReader) u8() byte     { return r.take(1)[0] }
func (r *binReader) u16() uint16  { return binary.LittleEndian.Uint16(r.take(2)) }
func (r *binReader) u32() uint32  { return binary.LittleEndian.Uint32(r.take(4)) }
func (r *binReader) u64() uint64  { return binary.LittleEndian.Uint64(r.take(8)) }
func (r *binReader) f64() float64 { return math.Float64frombits(r.u64()) }
func (r *binReader) cond() (c Conditions) {
	copy(c[:], r.take(4))
	return c
}
func (r *binReader) str(in *Interner) string {
	n := int(r.u8())
	p := r.take(n)
	if r.bad {
		return ""
	}
	if in != nil {
		return in.Intern(p)
	}
	return string(p)
}

// str32 reads a string with a u32 length (news texts), never interned.
func (r *binReader) str32() string {
	p := r.bytes(int(r.u32()))
	if r.bad {
		return ""
	}
	return string(p)
}

// levels reads n order book levels; the count is checked against the bytes
// left before anything is allocated.
func (r *binReader) levels(n uint32) []BookLevel {
	if r.bad || uint64(n)*16 > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	if n == 0 {
		return nil
	}
	l := make([]BookLevel, n)
	for i := range l {
		l[i] = BookLevel{Price: r.f64(), Size: r.f64()}
	}
	return l
}

// DecodeBinary decodes AppendBinary's output into e (whose Seq it leaves
// alone). in may be nil. Rare kinds allocate their payload.
func DecodeBinary(b []byte, e *Event, in *Interner) error {
	r := binReader{b: b}
	v := r.u8()
	if v != binaryVersion && v != binaryVersionFlags {
		return ErrBadBinary
	}
	seq := e.Seq
	*e = Event{Seq: seq, Kind: Kind(r.u8())}
	if v == binaryVersionFlags {
		e.Flags = Flags(r.u8())
	}
	e.Time = int64(r.u64())
	e.Symbol = r.str(in)
	switch e.Kind {
	case KindTrade:
		t := &e.Trade
		t.ID = int64(r.u64())
		t.Price = r.f64()
		t.Size = r.u32()
		t.Exchange, t.Tape = r.u8(), r.u8()
		t.Conditions = r.cond()
	case KindQuote, KindIEXQuote:
		q := &e.Quote
		q.BidPrice, q.AskPrice = r.f64(), r.f64()
		q.BidSize, q.AskSize = r.u32(), r.u32()
		q.BidExchange, q.AskExchange, q.Tape = r.u8(), r.u8(), r.u8()
		q.Conditions = r.cond()
	case KindBar, KindUpdatedBar, KindDailyBar, KindIEXBar, KindIEXUpdatedBar, KindIEXDailyBar:
		x := &e.Bar
		x.Open, x.High, x.Low, x.Close, x.VWAP = r.f64(), r.f64(), r.f64(), r.f64(), r.f64()
		x.Volume, x.TradeCount = r.u64(), r.u64()
	case KindStatus:
		e.Status = &Status{StatusCode: r.str(nil), StatusMsg: r.str(nil), ReasonCode: r.str(nil), ReasonMsg: r.str(nil), Tape: r.u8()}
	case KindLULD:
		e.LULD = &LULD{LimitUp: r.f64(), LimitDown: r.f64(), Indicator: r.u8(), Tape: r.u8()}
	case KindCorrection:
		c := &Correction{Exchange: r.u8(), Tape: r.u8()}
		c.OrigID, c.OrigPrice, c.OrigSize, c.OrigConds = int64(r.u64()), r.f64(), r.u32(), r.cond()
		c.CorrID, c.CorrPrice, c.CorrSize, c.CorrConds = int64(r.u64()), r.f64(), r.u32(), r.cond()
		e.Correction = c
	case KindCancelError:
		e.CancelError = &CancelError{ID: int64(r.u64()), Price: r.f64(), Size: r.u32(), Exchange: r.u8(), Tape: r.u8(), Action: r.u8()}
	case KindImbalance:
		e.Imbalance = &Imbalance{Price: r.f64(), Tape: r.u8()}
	case KindCryptoTrade:
		t := &e.CryptoTrade
		t.ID, t.Price, t.Size, t.TakerSide = int64(r.u64()), r.f64(), r.f64(), r.u8()
	case KindCryptoQuote:
		q := &e.CryptoQuote
		q.BidPrice, q.BidSize, q.AskPrice, q.AskSize = r.f64(), r.f64(), r.f64(), r.f64()
	case KindCryptoBar, KindCryptoUpdatedBar, KindCryptoDailyBar:
		e.CryptoBar = &CryptoBar{Open: r.f64(), High: r.f64(), Low: r.f64(), Close: r.f64(), Volume: r.f64(),
			VWAP: r.f64(), TradeCount: r.u64()}
	case KindCryptoOrderbook:
		reset := r.u8()
		if reset > 1 { // one encoding per value: what decodes re-encodes to the same bytes
			r.bad = true
		}
		nb, na := r.u32(), r.u32()
		o := &Orderbook{Reset: reset == 1}
		o.Bids = r.levels(nb)
		o.Asks = r.levels(na)
		e.Orderbook = o
	case KindCryptoPricing:
		e.Pricing = &PerpPricing{IndexPrice: r.f64(), MarkPrice: r.f64(), FundingRate: r.f64(), OpenInterest: r.f64(),
			NextFundingTime: int64(r.u64())}
	case KindOptionTrade:
		t := &e.Trade
		t.Price, t.Size, t.Exchange, t.Conditions = r.f64(), r.u32(), r.u8(), r.cond()
	case KindOptionQuote:
		q := &e.Quote
		q.BidPrice, q.AskPrice = r.f64(), r.f64()
		q.BidSize, q.AskSize = r.u32(), r.u32()
		q.BidExchange, q.AskExchange = r.u8(), r.u8()
		q.Conditions = r.cond()
	case KindNews:
		n := &News{ID: int64(r.u64()), CreatedAt: int64(r.u64()), UpdatedAt: int64(r.u64())}
		n.Headline, n.Summary, n.Author, n.URL, n.Content, n.Source = r.str32(), r.str32(), r.str32(), r.str32(), r.str32(), r.str32()
		if k := int(r.u16()); k > 0 && k <= len(r.b) { // each symbol takes at least its length byte
			n.Symbols = make([]string, k)
			for i := range n.Symbols {
				n.Symbols[i] = r.str(in)
			}
		} else if k > 0 {
			r.bad = true
		}
		e.News = n
	default:
		return ErrBadBinary
	}
	if r.bad || len(r.b) != 0 {
		*e = Event{Seq: seq}
		return ErrBadBinary
	}
	return nil
}
