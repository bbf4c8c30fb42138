package history

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"strings"

	"github.com/tapehq/tape/internal/market"
)

// On-disk layout; docs/history-format.md is the normative description. Every
// data file is a 64-byte header followed by fixed-size little-endian
// records, so record i of a file lives at headerSize + i*recSize and a file
// can be binary searched with a few preads and never needs an index.
const (
	headerSize  = 64
	tickRecSize = 48 // trades and quotes
	barRecSize  = 64 // minute and daily bars

	fileMagic     = "TAPH"
	formatVersion = 1 // bar files, run sidecars and the checkpoint
	tickVersion   = 2 // trade and quote files: the header describes runs
)

var le = binary.LittleEndian

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// fileKind is the kind byte of a file header.
type fileKind uint8

const (
	kindTrades fileKind = iota + 1
	kindQuotes
	kindMinuteBars
	kindDailyBars
	kindRuns // the runs sidecar of a trade or quote file
	kindCryptoTrades
	kindCryptoQuotes
	kindCryptoMinuteBars
	kindCryptoDailyBars
)

func (k fileKind) recSize() int {
	switch k {
	case kindTrades, kindQuotes, kindCryptoTrades, kindCryptoQuotes:
		return tickRecSize
	case kindRuns:
		return runEntrySize
	}
	return barRecSize
}

func (k fileKind) isTick() bool {
	return k == kindTrades || k == kindQuotes || k == kindCryptoTrades || k == kindCryptoQuotes
}

// isQuotes reports whether k is a quote file kind (of either class).
func (k fileKind) isQuotes() bool { return k == kindQuotes || k == kindCryptoQuotes }

// crypto reports whether k holds crypto records.
func (k fileKind) crypto() bool { return k >= kindCryptoTrades && k <= kindCryptoDailyBars }

// inClass returns the kind of the same data (trades, quotes, minute or
// daily bars) for the symbols of a namespace: crypto records differ from
// stock ones (fractional sizes), the file names do not.
func (k fileKind) inClass(crypto bool) fileKind {
	if !crypto || k.crypto() {
		return k
	}
	switch k {
	case kindTrades:
		return kindCryptoTrades
	case kindQuotes:
		return kindCryptoQuotes
	case kindMinuteBars:
		return kindCryptoMinuteBars
	case kindDailyBars:
		return kindCryptoDailyBars
	}
	return k
}

// header is a file header. In a trade or quote file (version 2) it
// describes the file's last run, the open one that appends extend (see
// runs.go): maxTime and maxLate are its largest time and its lateness,
// runStart its first record and runMin its smallest time; prevMax and
// prevLate are the largest time and the lateness of the run before it, and
// closed counts the runs before it, which the runs sidecar describes. The
// statistics may overstate (they are written before the records they
// cover); that only widens searches. A version 1 tick file, written before
// runs existed, is one run: maxTime and maxLate cover the whole file and
// its smallest time is unknown (v1 is set, runMin is math.MinInt64).
// Other kinds use none of these fields.
type header struct {
	kind              fileKind
	maxTime, maxLate  int64
	runStart, runMin  int64
	prevMax, prevLate int64
	closed            uint32
	v1                bool
}

var errBadHeader = errors.New("history: bad file header")

func (h header) encode(b []byte) {
	clear(b[:headerSize])
	copy(b, fileMagic)
	b[4] = formatVersion
	b[5] = byte(h.kind)
	le.PutUint16(b[6:], uint16(h.kind.recSize()))
	if h.kind.isTick() {
		b[4] = tickVersion
		le.PutUint64(b[8:], uint64(h.maxTime))
		le.PutUint64(b[16:], uint64(h.maxLate))
		le.PutUint64(b[24:], uint64(h.runStart))
		le.PutUint64(b[32:], uint64(h.runMin))
		le.PutUint64(b[40:], uint64(h.prevMax))
		le.PutUint64(b[48:], uint64(h.prevLate))
		le.PutUint32(b[56:], h.closed)
	}
	le.PutUint32(b[60:], crc32.Checksum(b[:60], castagnoli))
}

func decodeHeader(b []byte, want fileKind) (header, error) {
	if len(b) < headerSize || string(b[:4]) != fileMagic ||
		fileKind(b[5]) != want || int(le.Uint16(b[6:])) != want.recSize() ||
		le.Uint32(b[60:]) != crc32.Checksum(b[:60], castagnoli) {
		return header{}, errBadHeader
	}
	h := header{kind: want}
	switch {
	case want.isTick() && b[4] == tickVersion:
		h.maxTime, h.maxLate = int64(le.Uint64(b[8:])), int64(le.Uint64(b[16:]))
		h.runStart, h.runMin = int64(le.Uint64(b[24:])), int64(le.Uint64(b[32:]))
		h.prevMax, h.prevLate = int64(le.Uint64(b[40:])), int64(le.Uint64(b[48:]))
		h.closed = le.Uint32(b[56:])
		if h.runStart < 0 || h.maxLate < 0 || h.prevLate < 0 {
			return header{}, errBadHeader
		}
	case b[4] != formatVersion:
		return header{}, errBadHeader
	case want.isTick():
		h.maxTime, h.maxLate = int64(le.Uint64(b[8:])), int64(le.Uint64(b[16:]))
		h.runMin, h.v1 = math.MinInt64, true
		if h.maxLate < 0 {
			return header{}, errBadHeader
		}
	}
	return h, nil
}

// Tick records (trades and quotes) start with time and seq, so generic code
// can order them without knowing the kind.

func recTime(b []byte) int64 { return int64(le.Uint64(b)) }
func recSeq(b []byte) uint64 { return le.Uint64(b[8:]) }

// putTrade writes e's trade record into b[:tickRecSize]:
//
//	time i64 | seq u64 | id i64 | price f64 | size u32 | exchange u8 | tape u8 | conditions [4]u8 | pad [6]
func putTrade(b []byte, e *market.Event) {
	b = b[:tickRecSize]
	t := &e.Trade
	le.PutUint64(b[0:], uint64(e.Time))
	le.PutUint64(b[8:], e.Seq)
	le.PutUint64(b[16:], uint64(t.ID))
	le.PutUint64(b[24:], math.Float64bits(t.Price))
	le.PutUint32(b[32:], t.Size)
	b[36], b[37] = t.Exchange, t.Tape
	copy(b[38:42], t.Conditions[:])
	clear(b[42:48])
}

func decodeTrade(b []byte, sym string, e *market.Event) {
	b = b[:tickRecSize]
	*e = market.Event{Seq: le.Uint64(b[8:]), Time: int64(le.Uint64(b)), Symbol: sym, Kind: market.KindTrade}
	t := &e.Trade
	t.ID = int64(le.Uint64(b[16:]))
	t.Price = math.Float64frombits(le.Uint64(b[24:]))
	t.Size = le.Uint32(b[32:])
	t.Exchange, t.Tape = b[36], b[37]
	copy(t.Conditions[:], b[38:42])
}

// putQuote writes e's quote record into b[:tickRecSize]:
//
//	time i64 | seq u64 | bid f64 | ask f64 | bid size u32 | ask size u32 |
//	bid exch u8 | ask exch u8 | tape u8 | conditions [4]u8 | pad [1]
func putQuote(b []byte, e *market.Event) {
	b = b[:tickRecSize]
	q := &e.Quote
	le.PutUint64(b[0:], uint64(e.Time))
	le.PutUint64(b[8:], e.Seq)
	le.PutUint64(b[16:], math.Float64bits(q.BidPrice))
	le.PutUint64(b[24:], math.Float64bits(q.AskPrice))
	le.PutUint32(b[32:], q.BidSize)
	le.PutUint32(b[36:], q.AskSize)
	b[40], b[41], b[42] = q.BidExchange, q.AskExchange, q.Tape
	copy(b[43:47], q.Conditions[:])
	b[47] = 0
}

func decodeQuote(b []byte, sym string, e *market.Event) {
	b = b[:tickRecSize]
	*e = market.Event{Seq: le.Uint64(b[8:]), Time: int64(le.Uint64(b)), Symbol: sym, Kind: market.KindQuote}
	q := &e.Quote
	q.BidPrice = math.Float64frombits(le.Uint64(b[16:]))
	q.AskPrice = math.Float64frombits(le.Uint64(b[24:]))
	q.BidSize, q.AskSize = le.Uint32(b[32:]), le.Uint32(b[36:])
	q.BidExchange, q.AskExchange, q.Tape = b[40], b[41], b[42]
	copy(q.Conditions[:], b[43:47])
}

// putCryptoTrade writes e's crypto trade record into b[:tickRecSize]:
//
//	time i64 | seq u64 | id i64 | price f64 | size f64 | taker side u8 | pad [7]
func putCryptoTrade(b []byte, e *market.Event) {
	b = b[:tickRecSize]
	t := &e.CryptoTrade
	le.PutUint64(b[0:], uint64(e.Time))
	le.PutUint64(b[8:], e.Seq)
	le.PutUint64(b[16:], uint64(t.ID))
	le.PutUint64(b[24:], math.Float64bits(t.Price))
	le.PutUint64(b[32:], math.Float64bits(t.Size))
	b[40] = t.TakerSide
	clear(b[41:48])
}

func decodeCryptoTrade(b []byte, sym string, e *market.Event) {
	b = b[:tickRecSize]
	*e = market.Event{Seq: le.Uint64(b[8:]), Time: int64(le.Uint64(b)), Symbol: sym, Kind: market.KindCryptoTrade}
	e.CryptoTrade = market.CryptoTrade{ID: int64(le.Uint64(b[16:])), Price: math.Float64frombits(le.Uint64(b[24:])),
		Size: math.Float64frombits(le.Uint64(b[32:])), TakerSide: b[40]}
}

// putCryptoQuote writes e's crypto quote record into b[:tickRecSize]:
//
//	time i64 | seq u64 | bid price f64 | bid size f64 | ask price f64 | ask size f64
func putCryptoQuote(b []byte, e *market.Event) {
	b = b[:tickRecSize]
	q := &e.CryptoQuote
	le.PutUint64(b[0:], uint64(e.Time))
	le.PutUint64(b[8:], e.Seq)
	le.PutUint64(b[16:], math.Float64bits(q.BidPrice))
	le.PutUint64(b[24:], math.Float64bits(q.BidSize))
	le.PutUint64(b[32:], math.Float64bits(q.AskPrice))
	le.PutUint64(b[40:], math.Float64bits(q.AskSize))
}

func decodeCryptoQuote(b []byte, sym string, e *market.Event) {
	b = b[:tickRecSize]
	*e = market.Event{Seq: le.Uint64(b[8:]), Time: int64(le.Uint64(b)), Symbol: sym, Kind: market.KindCryptoQuote}
	e.CryptoQuote = market.CryptoQuote{BidPrice: math.Float64frombits(le.Uint64(b[16:])), BidSize: math.Float64frombits(le.Uint64(b[24:])),
		AskPrice: math.Float64frombits(le.Uint64(b[32:])), AskSize: math.Float64frombits(le.Uint64(b[40:]))}
}

func decodeTick(k fileKind, b []byte, sym string, e *market.Event) {
	switch k {
	case kindTrades:
		decodeTrade(b, sym, e)
	case kindQuotes:
		decodeQuote(b, sym, e)
	case kindCryptoTrades:
		decodeCryptoTrade(b, sym, e)
	case kindCryptoQuotes:
		decodeCryptoQuote(b, sym, e)
	}
}

// barVal is a minute or daily bar in memory: the pending (unflushed) bars
// and the latest state hold these, not Events, so nothing retains a string
// or pointer per bar. A crypto bar's fractional volume is kept as its
// float64 bits in Bar.Volume, which is also how its record stores it.
type barVal struct {
	Time int64 // bar start, ns; a whole minute
	Seq  uint64
	Bar  market.Bar
}

// cryptoBarVal is the barVal of a crypto bar event.
func cryptoBarVal(t int64, seq uint64, c *market.CryptoBar) barVal {
	var b market.CryptoBar
	if c != nil {
		b = *c
	}
	return barVal{Time: t, Seq: seq, Bar: market.Bar{Open: b.Open, High: b.High, Low: b.Low, Close: b.Close,
		VWAP: b.VWAP, Volume: math.Float64bits(b.Volume), TradeCount: b.TradeCount}}
}

// cryptoBar returns v as a crypto bar.
func (v *barVal) cryptoBar() market.CryptoBar {
	return market.CryptoBar{Open: v.Bar.Open, High: v.Bar.High, Low: v.Bar.Low, Close: v.Bar.Close,
		Volume: math.Float64frombits(v.Bar.Volume), VWAP: v.Bar.VWAP, TradeCount: v.Bar.TradeCount}
}

const nsPerMinute = int64(60e9)

// floorDiv is division rounding toward negative infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// putBar writes v's record into b[:barRecSize]. Time is stored as whole
// minutes so that the record fits in 64 bytes with the trade count:
//
//	minute i32 | trade count u32 | seq u64 | open, high, low, close, vwap f64 | volume u64
//
// A crypto bar's record is the same with volume f64 (its bits, as barVal
// keeps them).
func putBar(b []byte, v *barVal) {
	b = b[:barRecSize]
	n := v.Bar.TradeCount
	if n > math.MaxUint32 {
		n = math.MaxUint32 // saturate: no instrument trades 4 billion times in a day
	}
	le.PutUint32(b[0:], uint32(int32(floorDiv(v.Time, nsPerMinute))))
	le.PutUint32(b[4:], uint32(n))
	le.PutUint64(b[8:], v.Seq)
	le.PutUint64(b[16:], math.Float64bits(v.Bar.Open))
	le.PutUint64(b[24:], math.Float64bits(v.Bar.High))
	le.PutUint64(b[32:], math.Float64bits(v.Bar.Low))
	le.PutUint64(b[40:], math.Float64bits(v.Bar.Close))
	le.PutUint64(b[48:], math.Float64bits(v.Bar.VWAP))
	le.PutUint64(b[56:], v.Bar.Volume)
}

func barTime(b []byte) int64 { return int64(int32(le.Uint32(b))) * nsPerMinute }

func getBar(b []byte) barVal {
	b = b[:barRecSize]
	return barVal{
		Time: int64(int32(le.Uint32(b))) * nsPerMinute,
		Seq:  le.Uint64(b[8:]),
		Bar: market.Bar{
			Open:       math.Float64frombits(le.Uint64(b[16:])),
			High:       math.Float64frombits(le.Uint64(b[24:])),
			Low:        math.Float64frombits(le.Uint64(b[32:])),
			Close:      math.Float64frombits(le.Uint64(b[40:])),
			VWAP:       math.Float64frombits(le.Uint64(b[48:])),
			Volume:     le.Uint64(b[56:]),
			TradeCount: uint64(le.Uint32(b[4:])),
		},
	}
}

// decodeBarEvent decodes a stock bar record into e, as a KindBar event.
func decodeBarEvent(b []byte, sym string, e *market.Event) {
	b = b[:barRecSize]
	e.Seq = le.Uint64(b[8:])
	e.Time = int64(int32(le.Uint32(b))) * nsPerMinute
	e.Symbol = sym
	e.Kind = market.KindBar
	e.Bar = market.Bar{
		Open:       math.Float64frombits(le.Uint64(b[16:])),
		High:       math.Float64frombits(le.Uint64(b[24:])),
		Low:        math.Float64frombits(le.Uint64(b[32:])),
		Close:      math.Float64frombits(le.Uint64(b[40:])),
		VWAP:       math.Float64frombits(le.Uint64(b[48:])),
		Volume:     le.Uint64(b[56:]),
		TradeCount: uint64(le.Uint32(b[4:])),
	}
}

// event returns v as a KindBar event, or for a crypto bar a KindCryptoBar
// event (with a new CryptoBar).
func (v *barVal) event(sym string, crypto bool) market.Event {
	if crypto {
		c := v.cryptoBar()
		return market.Event{Seq: v.Seq, Time: v.Time, Symbol: sym, Kind: market.KindCryptoBar, CryptoBar: &c}
	}
	return market.Event{Seq: v.Seq, Time: v.Time, Symbol: sym, Kind: market.KindBar, Bar: v.Bar}
}

// File names inside a symbol's directory. Days and months are calendar days
// and months in Options.Location.

func tickFileName(k fileKind, day int32) string {
	y, m, d := civilFromDay(day)
	p := "trades"
	if k.isQuotes() {
		p = "quotes"
	}
	return fmt.Sprintf("%s-%04d-%02d-%02d.dat", p, y, int(m), d)
}

// runsFileName is the runs sidecar of a tick file: same name, ".runs".
func runsFileName(k fileKind, day int32) string {
	n := tickFileName(k, day)
	return n[:len(n)-len(".dat")] + ".runs"
}

func barFileName(month int32) string {
	y, m := monthYM(month)
	return fmt.Sprintf("bars-%04d-%02d.dat", y, m)
}

const dailyFileName = "daily.dat"

// parseFileName recognises a data file name; kind 0 means not a data file.
// For ticks n is the day number, for minute bars the month number.
func parseFileName(name string) (k fileKind, n int32) {
	var y, m, d int
	switch {
	case name == dailyFileName:
		return kindDailyBars, 0
	case len(name) == len("trades-2006-01-02.dat") && strings.HasSuffix(name, ".dat"):
		var p string
		switch name[:7] {
		case "trades-":
			k, p = kindTrades, name[7:17]
		case "quotes-":
			k, p = kindQuotes, name[7:17]
		default:
			return 0, 0
		}
		if _, err := fmt.Sscanf(p, "%04d-%02d-%02d", &y, &m, &d); err != nil || m < 1 || m > 12 || d < 1 || d > 31 {
			return 0, 0
		}
		return k, civilDay(y, m, d)
	case len(name) == len("bars-2006-01.dat") && strings.HasPrefix(name, "bars-") && strings.HasSuffix(name, ".dat"):
		if _, err := fmt.Sscanf(name[5:12], "%04d-%02d", &y, &m); err != nil || m < 1 || m > 12 {
			return 0, 0
		}
		return kindMinuteBars, int32(y*12 + m - 1)
	}
	return 0, 0
}

// escapeSymbol turns a symbol into a directory name: A-Z, 0-9, '-', '_' and
// a non-leading '.' stay; every other byte (lower case included, so that
// case-insensitive file systems cannot merge two symbols; '/' of crypto
// pairs; '%') becomes %XX. ok is false for symbols that cannot be stored.
func escapeSymbol(s string) (string, bool) {
	if s == "" || len(s) > 80 {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || (c == '.' && i > 0) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String(), true
}

func unescapeSymbol(name string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(name) {
			return "", false
		}
		var x byte
		if _, err := fmt.Sscanf(name[i+1:i+3], "%02X", &x); err != nil {
			return "", false
		}
		b.WriteByte(x)
		i += 2
	}
	s := b.String()
	if e, ok := escapeSymbol(s); !ok || e != name {
		return "", false // not a name we wrote
	}
	return s, true
}
