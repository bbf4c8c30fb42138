package alpacawire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// This file holds the codec-independent half of the frame decoder: the
// Message and Decoder types, the key→field tables shared by both codecs, and
// the helpers that turn wire values into market types. decode_json.go and
// decode_msgpack.go hold the two scanners.
//
// Design notes.
//
// Field dispatch is two table lookups: a key (at most two bytes for every
// data field but the crypto taker side "tks" and the news keys, which are
// matched as strings) and the message kind select a slot (dataSlot,
// controlSlot); the slot selects a value type (slotTypes), which each codec
// reads with its own scanner, and a destination, which the shared setters
// below write. Keeping the per-kind knowledge in one place means the JSON
// and msgpack decoders cannot disagree about which key means what. The one
// exception is deliberate: in msgpack, stock trades, quotes and bars, crypto
// trades, quotes and order books, and option trades and quotes, nearly all
// of the upstream traffic, take dedicated loops (mpTrade, mpQuote, mpBar,
// mpCryptoTrade, ...) that switch on the key and store directly, about twice
// as fast; the seed frames, which hold both codecs to the same expected
// messages, and the differential tests against the SDK keep them in line
// with the tables.
//
// Errors do not travel up the hot path as error values: a scanner that fails
// records what and where in the Decoder and returns a negative position;
// DecodeFrame turns that into one wrapped ErrMalformed. This keeps the
// per-value functions to two result registers and costs nothing on success.

// ErrMalformed is wrapped by every error DecodeFrame returns: the frame is not
// a well-formed stream frame in the codec it arrived in.
var ErrMalformed = errors.New("alpacawire: malformed frame")

// Message is one decoded item of a frame.
type Message struct {
	// Type is the "T" value: a data letter of the decoder's stream ("t",
	// "q", "b", ... on stocks; "t", "q", "b", "u", "d", "o", "p" on crypto;
	// "t", "q" on options; "n" on news), "success", "error", "subscription"
	// for control messages, or any other value (another stream's types,
	// future ones), which is kept without its fields rather than treated as
	// an error. A map with no "T" at all yields Type "".
	Type string
	// Event is valid when Type is a data type of the decoder's stream
	// (Event.Kind != market.KindInvalid). The hot kinds are inline; the rare
	// kinds' pointer payloads are freshly allocated for each message, so the
	// caller may publish them.
	Event market.Event
	// Msg is the "msg" of a success or error message.
	Msg string
	// Code is the "code" of an error message.
	Code int
	// Sub is the echoed subscription set of a "subscription" message, with
	// the keys of the decoder's stream. Mirror keys (stock corrections and
	// cancelErrors, which follow trades) and other streams' keys are ignored.
	Sub *Subscription
}

// Decoder decodes server→client stream frames, as an Alpaca SDK does.
//
// A Decoder is for one stream (NewDecoderFor; the zero Decoder and
// NewDecoder are for stocks), because the streams share wire letters: "t"
// is a stock trade on /v2/sip, a crypto trade on /v1beta3/crypto/us, an
// option trade on /v1beta1/opra, each with different fields — exactly as
// the SDK has one message handler per client type. Letters a stream does
// not define (a stock "s" on a crypto stream) are kept as Type only, as the
// SDK discards them.
//
// It reuses internal buffers and so is not safe for concurrent use: give each
// connection its own. It interns symbol and other short repeated strings in a
// bounded table (MaxInterned entries; beyond that it allocates), so steady
// state decoding of a known universe allocates nothing per message except the
// payloads of the rare kinds (status, LULD, correction, cancel/error,
// imbalance), which must outlive the frame.
//
// What it accepts mirrors the official Go SDK (v3.9.1), which is what Alpaca's
// servers are tested against, with these deliberate differences:
//   - "T" may be any key of a map, not only the first (the SDK's restriction is
//     a client limitation; decoding is fastest when "T" is first);
//   - a map without "T" is a Message with Type "" rather than an error;
//   - NaN and ±Inf floats are rejected (Tape cannot re-encode them, and they
//     would poison bar arithmetic downstream);
//   - non-string map keys are skipped with their values, where the SDK fails;
//   - bytes after the frame's top-level array are an error (the SDK ignores
//     them); messages before that point are still returned.
//
// JSON, which the SDK does not speak, is read as encoding/json would read it
// into the SDK's structs, with the same rules as msgpack where they apply.
//
// Single-character fields (exchange, tape, LULD indicator, cancel action)
// take the first byte of their string, and condition lists keep codes of
// exactly one byte, at most four; in both cases only ASCII (1..127) counts,
// since every Alpaca code is ASCII and other bytes cannot survive a round trip
// through the JSON encoder. An empty or non-ASCII value is 0.
type Decoder struct {
	stream  *Stream     // nil means StreamStocks
	strs    internTable // ≤ MaxInterned strings
	scratch []byte      // JSON strings with escapes are unescaped here

	// Payloads of the rare kinds are decoded here and copied into a fresh
	// allocation only when the message is complete.
	rare struct {
		status  market.Status
		luld    market.LULD
		corr    market.Correction
		cxl     market.CancelError
		imb     market.Imbalance
		cbar    market.CryptoBar
		bids    []market.BookLevel // reused between messages
		asks    []market.BookLevel
		reset   bool
		pricing market.PerpPricing
		news    market.News
	}
	sub Subscription // decoded here, copied out for a subscription message

	errPos  int    // where the first failure was detected
	errWhat string // what it was
}

// MaxInterned bounds a Decoder's table of interned strings; MaxInternLen is
// the longest string it interns. Past either, strings are allocated.
const (
	MaxInterned  = 1 << 16
	MaxInternLen = 64
)

// maxSkipDepth bounds the nesting of an unknown JSON value being skipped, so
// a hostile frame cannot recurse the decoder's stack away. (The msgpack
// skipper is iterative and needs no bound.)
const maxSkipDepth = 64

// NewDecoder returns a Decoder for stock streams with an empty intern
// table. (The zero Decoder is ready to use as well, so it can be embedded by
// value.)
func NewDecoder() *Decoder {
	return &Decoder{}
}

// NewDecoderFor returns a Decoder for stream s: its letters decode to s's
// kinds and its subscription echoes to s's channels.
func NewDecoderFor(s *Stream) *Decoder {
	if s == StreamStocks {
		s = nil
	}
	return &Decoder{stream: s}
}

// Stream returns the stream d decodes.
func (d *Decoder) Stream() *Stream {
	if d.stream == nil {
		return StreamStocks
	}
	return d.stream
}

// kindByLetter maps a one-byte "T" value to its kind, per class: the
// first kind with the letter, which for stocks is the consolidated one (a
// received feed is recorded as one view; see market.KindIn).
var kindByLetter = func() (t [market.NumClasses][128]market.Kind) {
	for k := market.KindTrade; k < market.NumKinds; k++ {
		if t[k.Class()][k.Letter()[0]] == market.KindInvalid {
			t[k.Class()][k.Letter()[0]] = k
		}
	}
	return t
}()

// DecodeFrame decodes one frame, a JSON array in a text frame or a msgpack
// array in a binary frame, and appends its messages to dst in order. Codec
// values other than MsgPack mean JSON, as they do for Codec.String.
//
// Empty and nil/null elements of the frame are skipped, as the SDK skips
// them. On malformed input DecodeFrame returns dst with every message that
// was completely decoded before the fault, plus an error wrapping
// ErrMalformed; the message being decoded when the fault was found is not
// appended. It never panics, and its work and allocation are bounded by
// len(frame) whatever lengths the frame claims.
func (d *Decoder) DecodeFrame(c Codec, frame []byte, dst []Message) ([]Message, error) {
	d.errPos, d.errWhat = 0, ""
	var ok bool
	if c == MsgPack {
		dst, ok = d.mpFrame(frame, dst)
	} else {
		dst, ok = d.jsFrame(frame, dst)
	}
	if !ok {
		return dst, fmt.Errorf("%w: %s: %s at offset %d", ErrMalformed, c, d.errWhat, d.errPos)
	}
	return dst, nil
}

// fail records a decoding failure at i and returns the error position -1.
// Only the innermost (first) failure is kept.
func (d *Decoder) fail(i int, what string) int {
	if d.errWhat == "" {
		d.errPos, d.errWhat = i, what
	}
	return -1
}

// intern returns b as a string, shared with earlier equal strings.
func (d *Decoder) intern(b []byte) string { return d.strs.intern(b) }

// internTable is a bounded set of strings, looked up by their bytes without
// allocating. It is an open-addressing hash table rather than a Go map
// because this lookup runs for every message and a specialised hash of a
// short symbol costs a fraction of the map's: symbols are 1-8 bytes, hashed
// with one or two multiplications. The hash is seeded per table, and probe
// sequences are capped, so no input can make a lookup slow.
type internTable struct {
	slots []string // len is a power of two; "" marks a free slot
	n     int      // strings held
	seed  uint64
}

const (
	internInitSlots = 1024
	internMaxProbe  = 16 // past this, a string is allocated and not interned
)

func (t *internTable) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if t.slots == nil {
		t.slots = make([]string, internInitSlots)
		t.seed = rand.Uint64() | 1
	}
	mask := uint64(len(t.slots) - 1)
	h := strHash(b, t.seed)
	for p := range internMaxProbe {
		j := (h + uint64(p)) & mask
		s := t.slots[j]
		if s == "" {
			break
		}
		if s == string(b) {
			return s
		}
	}
	s := string(b)
	if len(b) > MaxInternLen || t.n >= MaxInterned {
		return s
	}
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
		mask = uint64(len(t.slots) - 1)
	}
	if t.insert(s, h, mask) {
		t.n++
	}
	return s
}

// insert puts s in the first free slot of its probe sequence, if it has one.
func (t *internTable) insert(s string, h, mask uint64) bool {
	for p := range internMaxProbe {
		j := (h + uint64(p)) & mask
		if t.slots[j] == "" {
			t.slots[j] = s
			return true
		}
	}
	return false
}

func (t *internTable) grow() {
	old := t.slots
	t.slots = make([]string, 2*len(old))
	mask := uint64(len(t.slots) - 1)
	t.n = 0
	for _, s := range old {
		if s != "" && t.insert(s, strHash([]byte(s), t.seed), mask) {
			t.n++
		}
	}
}

// strHash mixes b, eight bytes at a time, with the seed.
func strHash(b []byte, seed uint64) uint64 {
	h := seed ^ uint64(len(b))*0x9e3779b97f4a7c15
	for len(b) >= 8 {
		h = (h ^ binary.LittleEndian.Uint64(b)) * 0xbf58476d1ce4e5b9
		h ^= h >> 31
		b = b[8:]
	}
	var w uint64
	for i, c := range b {
		w |= uint64(c) << (8 * i)
	}
	h = (h ^ w) * 0x94d049bb133111eb
	return h ^ h>>29
}

// Message type constants, shared so that decoded Types never allocate.
const (
	typeSuccess      = "success"
	typeError        = "error"
	typeSubscription = "subscription"
)

// msgClass says how a message's fields are decoded.
type msgClass uint8

const (
	classOther        msgClass = iota // unknown T: fields skipped
	classData                         // stock data: kind says which
	classSuccess                      // msg
	classError                        // code, msg
	classSubscription                 // channel lists
)

// classify maps a T value to its class, kind and a non-allocating Type string.
func (d *Decoder) classify(t []byte) (msgClass, market.Kind, string) {
	if len(t) == 1 && t[0] < 128 {
		cl := market.ClassStocks
		if d.stream != nil {
			cl = d.stream.Class
		}
		if k := kindByLetter[cl][t[0]]; k != market.KindInvalid {
			return classData, k, k.Letter()
		}
	}
	switch string(t) {
	case typeSuccess:
		return classSuccess, market.KindInvalid, typeSuccess
	case typeError:
		return classError, market.KindInvalid, typeError
	case typeSubscription:
		return classSubscription, market.KindInvalid, typeSubscription
	}
	return classOther, market.KindInvalid, d.intern(t)
}

// slot is a destination of a decoded value; slotOf maps (class, kind, key)
// to it.
type slot uint8

const (
	slotSkip slot = iota // unknown key: skip the value
	slotT                // a "T" seen again after the type is known
	slotSymbol
	slotTime
	slotSeq // Tape's "#" sequence number extension

	slotTradeID
	slotTradeExch
	slotTradePrice
	slotTradeSize
	slotTradeConds
	slotTradeTape

	slotQuoteBidExch
	slotQuoteBidPrice
	slotQuoteBidSize
	slotQuoteAskExch
	slotQuoteAskPrice
	slotQuoteAskSize
	slotQuoteConds
	slotQuoteTape

	slotBarOpen
	slotBarHigh
	slotBarLow
	slotBarClose
	slotBarVolume
	slotBarCount
	slotBarVWAP

	slotStatusCode
	slotStatusMsg
	slotStatusReasonCode
	slotStatusReasonMsg
	slotStatusTape

	slotLULDUp
	slotLULDDown
	slotLULDIndicator
	slotLULDTape

	slotCorrExch
	slotCorrTape
	slotCorrOrigID
	slotCorrOrigPrice
	slotCorrOrigSize
	slotCorrOrigConds
	slotCorrCorrID
	slotCorrCorrPrice
	slotCorrCorrSize
	slotCorrCorrConds

	slotCxlID
	slotCxlPrice
	slotCxlSize
	slotCxlExch
	slotCxlTape
	slotCxlAction

	slotImbPrice
	slotImbTape

	slotCTradeID
	slotCTradePrice
	slotCTradeSize
	slotCTradeTaker

	slotCQuoteBidPrice
	slotCQuoteBidSize
	slotCQuoteAskPrice
	slotCQuoteAskSize

	slotCBarOpen
	slotCBarHigh
	slotCBarLow
	slotCBarClose
	slotCBarVolume
	slotCBarCount
	slotCBarVWAP

	slotBookBids
	slotBookAsks
	slotBookReset

	slotPxIndex
	slotPxMark
	slotPxFunding
	slotPxOpenInterest
	slotPxNextFunding

	slotOTradeCond // option trades use the stock trade slots otherwise
	slotOQuoteCond // and option quotes the stock quote slots

	slotNewsID
	slotNewsHeadline
	slotNewsSummary
	slotNewsAuthor
	slotNewsCreated
	slotNewsUpdated
	slotNewsURL
	slotNewsContent
	slotNewsSymbols
	slotNewsSource

	slotMsg        // error msg
	slotSuccessMsg // success msg: any other type is skipped (see controlSlot)
	slotCode

	slotSubFirst // slotSubFirst+ch: the list of channel ch
	slotSubLast  = slotSubFirst + slot(market.NumChannels) - 1
	numSlots     = slotSubLast + 1
)

// valType is how a slot's value is read from the wire.
type valType uint8

const (
	vtSkip      valType = iota
	vtFloat             // float64; msgpack ints accepted, as DecodeFloat64 does
	vtInt64             // any integer, two's complement (DecodeInt64)
	vtUint32            // any integer, truncated (DecodeUint32)
	vtUint64            // any integer (DecodeUint64)
	vtInt               // error code (DecodeInt)
	vtChar              // string, first byte kept
	vtStr               // string, interned
	vtMsg               // string, allocated
	vtMsgOrSkip         // string, allocated; a value of another type is skipped
	vtConds             // list of one-character strings
	vtTime              // timestamp
	vtList              // list of strings (subscription echo)
	vtBool              // true, false or nil (false)
	vtLevels            // list of {"p","s"} order book levels
	vtCode              // one condition string (options), packed into Conditions
	vtSyms              // list of symbols (news), interned
)

var slotTypes = func() [numSlots]valType {
	t := [numSlots]valType{
		slotSymbol: vtStr, slotTime: vtTime, slotSeq: vtUint64,

		slotTradeID: vtInt64, slotTradeExch: vtChar, slotTradePrice: vtFloat, slotTradeSize: vtUint32,
		slotTradeConds: vtConds, slotTradeTape: vtChar,

		slotQuoteBidExch: vtChar, slotQuoteBidPrice: vtFloat, slotQuoteBidSize: vtUint32,
		slotQuoteAskExch: vtChar, slotQuoteAskPrice: vtFloat, slotQuoteAskSize: vtUint32,
		slotQuoteConds: vtConds, slotQuoteTape: vtChar,

		slotBarOpen: vtFloat, slotBarHigh: vtFloat, slotBarLow: vtFloat, slotBarClose: vtFloat,
		slotBarVolume: vtUint64, slotBarCount: vtUint64, slotBarVWAP: vtFloat,

		slotStatusCode: vtStr, slotStatusMsg: vtStr, slotStatusReasonCode: vtStr, slotStatusReasonMsg: vtStr,
		slotStatusTape: vtChar,

		slotLULDUp: vtFloat, slotLULDDown: vtFloat, slotLULDIndicator: vtChar, slotLULDTape: vtChar,

		slotCorrExch: vtChar, slotCorrTape: vtChar,
		slotCorrOrigID: vtInt64, slotCorrOrigPrice: vtFloat, slotCorrOrigSize: vtUint32, slotCorrOrigConds: vtConds,
		slotCorrCorrID: vtInt64, slotCorrCorrPrice: vtFloat, slotCorrCorrSize: vtUint32, slotCorrCorrConds: vtConds,

		slotCxlID: vtInt64, slotCxlPrice: vtFloat, slotCxlSize: vtUint32, slotCxlExch: vtChar, slotCxlTape: vtChar,
		slotCxlAction: vtChar,

		slotImbPrice: vtFloat, slotImbTape: vtChar,

		slotCTradeID: vtInt64, slotCTradePrice: vtFloat, slotCTradeSize: vtFloat, slotCTradeTaker: vtChar,

		slotCQuoteBidPrice: vtFloat, slotCQuoteBidSize: vtFloat, slotCQuoteAskPrice: vtFloat, slotCQuoteAskSize: vtFloat,

		slotCBarOpen: vtFloat, slotCBarHigh: vtFloat, slotCBarLow: vtFloat, slotCBarClose: vtFloat,
		slotCBarVolume: vtFloat, slotCBarCount: vtUint64, slotCBarVWAP: vtFloat,

		slotBookBids: vtLevels, slotBookAsks: vtLevels, slotBookReset: vtBool,

		slotPxIndex: vtFloat, slotPxMark: vtFloat, slotPxFunding: vtFloat, slotPxOpenInterest: vtFloat,
		slotPxNextFunding: vtTime,

		slotOTradeCond: vtCode, slotOQuoteCond: vtCode,

		slotNewsID: vtInt64, slotNewsHeadline: vtMsg, slotNewsSummary: vtMsg, slotNewsAuthor: vtMsg,
		slotNewsCreated: vtTime, slotNewsUpdated: vtTime, slotNewsURL: vtMsg, slotNewsContent: vtMsg,
		slotNewsSymbols: vtSyms, slotNewsSource: vtMsg,

		slotMsg: vtMsg, slotSuccessMsg: vtMsgOrSkip, slotCode: vtInt,
	}
	for s := slotSubFirst; s <= slotSubLast; s++ {
		t[s] = vtList
	}
	return t
}()

// key2 packs a key of at most two bytes into a switchable integer; longer
// keys (no data field has one) map to 0, which matches no case. A two-byte
// key starting with a NUL byte also maps to 0, so that it cannot pass for a
// one-byte key.
func key2(k []byte) uint16 {
	switch len(k) {
	case 1:
		return uint16(k[0])
	case 2:
		if k[0] != 0 {
			return uint16(k[0])<<8 | uint16(k[1])
		}
	}
	return 0
}

const (
	kT = 'T'
	// kSeq is Tape's sequence number key (see seq.go).
	kSeq = '#'
	kS   = 'S'
	kt   = 't'
	ki   = 'i'
	kx   = 'x'
	kp   = 'p'
	ks   = 's'
	kc   = 'c'
	kz   = 'z'
	ko   = 'o'
	kh   = 'h'
	kl   = 'l'
	kv   = 'v'
	kn   = 'n'
	ku   = 'u'
	kd   = 'd'
	ka   = 'a'
	kbx  = 'b'<<8 | 'x'
	kbp  = 'b'<<8 | 'p'
	kbs  = 'b'<<8 | 's'
	kax  = 'a'<<8 | 'x'
	kap  = 'a'<<8 | 'p'
	kas  = 'a'<<8 | 's'
	kvw  = 'v'<<8 | 'w'
	ksc  = 's'<<8 | 'c'
	ksm  = 's'<<8 | 'm'
	krc  = 'r'<<8 | 'c'
	krm  = 'r'<<8 | 'm'
	koi  = 'o'<<8 | 'i'
	kop  = 'o'<<8 | 'p'
	kos  = 'o'<<8 | 's'
	koc  = 'o'<<8 | 'c'
	kci  = 'c'<<8 | 'i'
	kcp  = 'c'<<8 | 'p'
	kcs  = 'c'<<8 | 's'
	kcc  = 'c'<<8 | 'c'
	kr   = 'r'
	kb   = 'b'
	kip  = 'i'<<8 | 'p'
	kmp  = 'm'<<8 | 'p'
	kfr  = 'f'<<8 | 'r'
	kft  = 'f'<<8 | 't'
)

// dataSlot maps a data message's key to its slot. The keys and their types
// are those of the SDK's handlers (marketdata/stream/message.go: stocks,
// crypto, options, news); "r" (received-at, SDK-internal) on stock trades
// and quotes, and the legacy crypto exchange "x" (see encode_streams.go),
// are skipped.
func dataSlot(k market.Kind, key []byte) slot {
	if len(key) == 1 && key[0] == kSeq {
		return slotSeq
	}
	if k == market.KindNews {
		return newsSlot(key) // no "S" or "t": its own keys only
	}
	if k == market.KindCryptoTrade && string(key) == "tks" {
		return slotCTradeTaker
	}
	c := key2(key)
	switch c {
	case kT:
		return slotT
	case kS:
		return slotSymbol
	case kt:
		return slotTime
	}
	switch k {
	case market.KindTrade:
		switch c {
		case ki:
			return slotTradeID
		case kx:
			return slotTradeExch
		case kp:
			return slotTradePrice
		case ks:
			return slotTradeSize
		case kc:
			return slotTradeConds
		case kz:
			return slotTradeTape
		}
	case market.KindQuote:
		switch c {
		case kbx:
			return slotQuoteBidExch
		case kbp:
			return slotQuoteBidPrice
		case kbs:
			return slotQuoteBidSize
		case kax:
			return slotQuoteAskExch
		case kap:
			return slotQuoteAskPrice
		case kas:
			return slotQuoteAskSize
		case kc:
			return slotQuoteConds
		case kz:
			return slotQuoteTape
		}
	case market.KindBar, market.KindUpdatedBar, market.KindDailyBar:
		switch c {
		case ko:
			return slotBarOpen
		case kh:
			return slotBarHigh
		case kl:
			return slotBarLow
		case kc:
			return slotBarClose
		case kv:
			return slotBarVolume
		case kn:
			return slotBarCount
		case kvw:
			return slotBarVWAP
		}
	case market.KindStatus:
		switch c {
		case ksc:
			return slotStatusCode
		case ksm:
			return slotStatusMsg
		case krc:
			return slotStatusReasonCode
		case krm:
			return slotStatusReasonMsg
		case kz:
			return slotStatusTape
		}
	case market.KindLULD:
		switch c {
		case ku:
			return slotLULDUp
		case kd:
			return slotLULDDown
		case ki:
			return slotLULDIndicator
		case kz:
			return slotLULDTape
		}
	case market.KindCorrection:
		switch c {
		case kx:
			return slotCorrExch
		case koi:
			return slotCorrOrigID
		case kop:
			return slotCorrOrigPrice
		case kos:
			return slotCorrOrigSize
		case koc:
			return slotCorrOrigConds
		case kci:
			return slotCorrCorrID
		case kcp:
			return slotCorrCorrPrice
		case kcs:
			return slotCorrCorrSize
		case kcc:
			return slotCorrCorrConds
		case kz:
			return slotCorrTape
		}
	case market.KindCancelError:
		switch c {
		case ki:
			return slotCxlID
		case kx:
			return slotCxlExch
		case kp:
			return slotCxlPrice
		case ks:
			return slotCxlSize
		case ka:
			return slotCxlAction
		case kz:
			return slotCxlTape
		}
	case market.KindImbalance:
		switch c {
		case kp:
			return slotImbPrice
		case kz:
			return slotImbTape
		}
	case market.KindCryptoTrade:
		switch c {
		case ki:
			return slotCTradeID
		case kp:
			return slotCTradePrice
		case ks:
			return slotCTradeSize
		}
	case market.KindCryptoQuote:
		switch c {
		case kbp:
			return slotCQuoteBidPrice
		case kbs:
			return slotCQuoteBidSize
		case kap:
			return slotCQuoteAskPrice
		case kas:
			return slotCQuoteAskSize
		}
	case market.KindCryptoBar, market.KindCryptoUpdatedBar, market.KindCryptoDailyBar:
		switch c {
		case ko:
			return slotCBarOpen
		case kh:
			return slotCBarHigh
		case kl:
			return slotCBarLow
		case kc:
			return slotCBarClose
		case kv:
			return slotCBarVolume
		case kn:
			return slotCBarCount
		case kvw:
			return slotCBarVWAP
		}
	case market.KindCryptoOrderbook:
		switch c {
		case kb:
			return slotBookBids
		case ka:
			return slotBookAsks
		case kr:
			return slotBookReset
		}
	case market.KindCryptoPricing:
		switch c {
		case kip:
			return slotPxIndex
		case kmp:
			return slotPxMark
		case kfr:
			return slotPxFunding
		case koi:
			return slotPxOpenInterest
		case kft:
			return slotPxNextFunding
		}
	case market.KindOptionTrade:
		switch c {
		case kx:
			return slotTradeExch
		case kp:
			return slotTradePrice
		case ks:
			return slotTradeSize
		case kc:
			return slotOTradeCond
		}
	case market.KindOptionQuote:
		switch c {
		case kbx:
			return slotQuoteBidExch
		case kbp:
			return slotQuoteBidPrice
		case kbs:
			return slotQuoteBidSize
		case kax:
			return slotQuoteAskExch
		case kap:
			return slotQuoteAskPrice
		case kas:
			return slotQuoteAskSize
		case kc:
			return slotOQuoteCond
		}
	}
	return slotSkip
}

// newsSlot maps a news message's key to its slot. News has no "S" and no
// "t": its symbols are a list and its times are created_at and updated_at.
func newsSlot(key []byte) slot {
	switch string(key) {
	case "T":
		return slotT
	case "id":
		return slotNewsID
	case "headline":
		return slotNewsHeadline
	case "summary":
		return slotNewsSummary
	case "author":
		return slotNewsAuthor
	case "created_at":
		return slotNewsCreated
	case "updated_at":
		return slotNewsUpdated
	case "url":
		return slotNewsURL
	case "content":
		return slotNewsContent
	case "symbols":
		return slotNewsSymbols
	case "source":
		return slotNewsSource
	}
	return slotSkip
}

// controlSlot maps a control message's key to its slot.
func (d *Decoder) controlSlot(cl msgClass, key []byte) slot {
	switch cl {
	case classSuccess:
		// The SDK's frame decoder skips success messages whatever their
		// contents (it reads them only in its init flow), so a msg of
		// another type is skipped rather than rejected.
		if string(key) == "msg" {
			return slotSuccessMsg
		}
	case classError:
		switch string(key) {
		case "msg":
			return slotMsg
		case "code":
			return slotCode
		}
	case classSubscription:
		// Mirror keys (stock corrections and cancelErrors) and other
		// streams' keys (orderbooks or news on stocks) are skipped.
		if ch, ok := d.Stream().channelKey(key); ok {
			return slotSubFirst + slot(ch)
		}
	}
	if string(key) == "T" {
		return slotT
	}
	return slotSkip
}

// slotFor dispatches on the message class.
func (d *Decoder) slotFor(cl msgClass, k market.Kind, key []byte) slot {
	if cl == classData {
		return dataSlot(k, key)
	}
	return d.controlSlot(cl, key)
}

// startMessage resets the per-message scratch state.
func (d *Decoder) startMessage(cl msgClass, k market.Kind) {
	switch cl {
	case classData:
		switch k {
		case market.KindStatus:
			d.rare.status = market.Status{}
		case market.KindLULD:
			d.rare.luld = market.LULD{}
		case market.KindCorrection:
			d.rare.corr = market.Correction{}
		case market.KindCancelError:
			d.rare.cxl = market.CancelError{}
		case market.KindImbalance:
			d.rare.imb = market.Imbalance{}
		case market.KindCryptoBar, market.KindCryptoUpdatedBar, market.KindCryptoDailyBar:
			d.rare.cbar = market.CryptoBar{}
		case market.KindCryptoOrderbook:
			d.rare.bids, d.rare.asks, d.rare.reset = d.rare.bids[:0], d.rare.asks[:0], false
		case market.KindCryptoPricing:
			d.rare.pricing = market.PerpPricing{}
		case market.KindNews:
			d.rare.news = market.News{}
		}
	case classSubscription:
		d.sub = Subscription{}
	}
}

// finishMessage attaches the heap payload a message needs once all its
// fields decoded successfully.
func (d *Decoder) finishMessage(m *Message, cl msgClass) {
	switch cl {
	case classData:
		e := &m.Event
		switch e.Kind {
		case market.KindStatus:
			p := new(market.Status)
			*p = d.rare.status
			e.Status = p
		case market.KindLULD:
			p := new(market.LULD)
			*p = d.rare.luld
			e.LULD = p
		case market.KindCorrection:
			p := new(market.Correction)
			*p = d.rare.corr
			e.Correction = p
		case market.KindCancelError:
			p := new(market.CancelError)
			*p = d.rare.cxl
			e.CancelError = p
		case market.KindImbalance:
			p := new(market.Imbalance)
			*p = d.rare.imb
			e.Imbalance = p
		case market.KindCryptoBar, market.KindCryptoUpdatedBar, market.KindCryptoDailyBar:
			p := new(market.CryptoBar)
			*p = d.rare.cbar
			e.CryptoBar = p
		case market.KindCryptoOrderbook:
			e.Orderbook = d.orderbook()
		case market.KindCryptoPricing:
			p := new(market.PerpPricing)
			*p = d.rare.pricing
			e.Pricing = p
		case market.KindNews:
			p := new(market.News)
			*p = d.rare.news
			e.News = p
			// News has no "t"; its event time is when this version of the
			// article was published.
			e.Time = p.UpdatedAt
			if e.Time == 0 {
				e.Time = p.CreatedAt
			}
		}
	case classSubscription:
		p := new(Subscription)
		*p = d.sub
		m.Sub = p
	}
}

// orderbook copies the decoded levels into a fresh allocation (both sides
// share its array, capped so neither can grow into the other). Most updates
// change a level or two, so a small book is allocated together with its
// levels: one allocation per message instead of two.
func (d *Decoder) orderbook() *market.Orderbook {
	nb, na := len(d.rare.bids), len(d.rare.asks)
	var o *market.Orderbook
	var l []market.BookLevel
	if nb+na <= smallBook {
		p := new(struct {
			o market.Orderbook
			l [smallBook]market.BookLevel
		})
		o, l = &p.o, p.l[:nb+na]
	} else {
		o, l = new(market.Orderbook), make([]market.BookLevel, nb+na)
	}
	o.Reset = d.rare.reset
	copy(l, d.rare.bids)
	copy(l[nb:], d.rare.asks)
	if nb > 0 {
		o.Bids = l[:nb:nb]
	}
	if na > 0 {
		o.Asks = l[nb : nb+na : nb+na]
	}
	// Do not pin a huge snapshot's scratch forever.
	if cap(d.rare.bids) > 1<<12 {
		d.rare.bids = nil
	}
	if cap(d.rare.asks) > 1<<12 {
		d.rare.asks = nil
	}
	return o
}

// smallBook is the most levels allocated together with their Orderbook
// (4 levels: a 128-byte allocation).
const smallBook = 4

// setFloat stores a float value.
func (d *Decoder) setFloat(m *Message, s slot, f float64) {
	e := &m.Event
	switch s {
	case slotTradePrice:
		e.Trade.Price = f
	case slotQuoteBidPrice:
		e.Quote.BidPrice = f
	case slotQuoteAskPrice:
		e.Quote.AskPrice = f
	case slotBarOpen:
		e.Bar.Open = f
	case slotBarHigh:
		e.Bar.High = f
	case slotBarLow:
		e.Bar.Low = f
	case slotBarClose:
		e.Bar.Close = f
	case slotBarVWAP:
		e.Bar.VWAP = f
	case slotLULDUp:
		d.rare.luld.LimitUp = f
	case slotLULDDown:
		d.rare.luld.LimitDown = f
	case slotCorrOrigPrice:
		d.rare.corr.OrigPrice = f
	case slotCorrCorrPrice:
		d.rare.corr.CorrPrice = f
	case slotCxlPrice:
		d.rare.cxl.Price = f
	case slotImbPrice:
		d.rare.imb.Price = f
	case slotCTradePrice:
		e.CryptoTrade.Price = f
	case slotCTradeSize:
		e.CryptoTrade.Size = f
	case slotCQuoteBidPrice:
		e.CryptoQuote.BidPrice = f
	case slotCQuoteBidSize:
		e.CryptoQuote.BidSize = f
	case slotCQuoteAskPrice:
		e.CryptoQuote.AskPrice = f
	case slotCQuoteAskSize:
		e.CryptoQuote.AskSize = f
	case slotCBarOpen:
		d.rare.cbar.Open = f
	case slotCBarHigh:
		d.rare.cbar.High = f
	case slotCBarLow:
		d.rare.cbar.Low = f
	case slotCBarClose:
		d.rare.cbar.Close = f
	case slotCBarVolume:
		d.rare.cbar.Volume = f
	case slotCBarVWAP:
		d.rare.cbar.VWAP = f
	case slotPxIndex:
		d.rare.pricing.IndexPrice = f
	case slotPxMark:
		d.rare.pricing.MarkPrice = f
	case slotPxFunding:
		d.rare.pricing.FundingRate = f
	case slotPxOpenInterest:
		d.rare.pricing.OpenInterest = f
	}
}

// setInt stores an integer given as its 64-bit two's complement pattern;
// narrower fields truncate, as the SDK's DecodeUint32 does.
func (d *Decoder) setInt(m *Message, s slot, u uint64) {
	e := &m.Event
	switch s {
	case slotSeq:
		e.Seq = u
	case slotTradeID:
		e.Trade.ID = int64(u)
	case slotTradeSize:
		e.Trade.Size = uint32(u)
	case slotQuoteBidSize:
		e.Quote.BidSize = uint32(u)
	case slotQuoteAskSize:
		e.Quote.AskSize = uint32(u)
	case slotBarVolume:
		e.Bar.Volume = u
	case slotBarCount:
		e.Bar.TradeCount = u
	case slotCorrOrigID:
		d.rare.corr.OrigID = int64(u)
	case slotCorrOrigSize:
		d.rare.corr.OrigSize = uint32(u)
	case slotCorrCorrID:
		d.rare.corr.CorrID = int64(u)
	case slotCorrCorrSize:
		d.rare.corr.CorrSize = uint32(u)
	case slotCxlID:
		d.rare.cxl.ID = int64(u)
	case slotCxlSize:
		d.rare.cxl.Size = uint32(u)
	case slotCTradeID:
		e.CryptoTrade.ID = int64(u)
	case slotCBarCount:
		d.rare.cbar.TradeCount = u
	case slotNewsID:
		d.rare.news.ID = int64(u)
	case slotCode:
		m.Code = int(int64(u))
	}
}

// setTime stores a timestamp.
func (d *Decoder) setTime(m *Message, s slot, ns int64) {
	switch s {
	case slotTime:
		m.Event.Time = ns
	case slotPxNextFunding:
		d.rare.pricing.NextFundingTime = ns
	case slotNewsCreated:
		d.rare.news.CreatedAt = ns
	case slotNewsUpdated:
		d.rare.news.UpdatedAt = ns
	}
}

// setCode stores an option's condition string (see market.OptionCondition:
// one that does not fit is dropped).
func (d *Decoder) setCode(m *Message, s slot, b []byte) {
	c := optionCond(b)
	switch s {
	case slotOTradeCond:
		m.Event.Trade.Conditions = c
	case slotOQuoteCond:
		m.Event.Quote.Conditions = c
	}
}

// setChar stores a one-character code.
func (d *Decoder) setChar(m *Message, s slot, b []byte) {
	c := charOf(b)
	e := &m.Event
	switch s {
	case slotTradeExch:
		e.Trade.Exchange = c
	case slotTradeTape:
		e.Trade.Tape = c
	case slotQuoteBidExch:
		e.Quote.BidExchange = c
	case slotQuoteAskExch:
		e.Quote.AskExchange = c
	case slotQuoteTape:
		e.Quote.Tape = c
	case slotStatusTape:
		d.rare.status.Tape = c
	case slotLULDIndicator:
		d.rare.luld.Indicator = c
	case slotLULDTape:
		d.rare.luld.Tape = c
	case slotCorrExch:
		d.rare.corr.Exchange = c
	case slotCorrTape:
		d.rare.corr.Tape = c
	case slotCxlExch:
		d.rare.cxl.Exchange = c
	case slotCxlTape:
		d.rare.cxl.Tape = c
	case slotCxlAction:
		d.rare.cxl.Action = c
	case slotImbTape:
		d.rare.imb.Tape = c
	case slotCTradeTaker:
		e.CryptoTrade.TakerSide = c
	}
}

// setStr stores a string field (b may be scratch memory: it is copied or
// interned here).
func (d *Decoder) setStr(m *Message, s slot, b []byte) {
	switch s {
	case slotSymbol:
		m.Event.Symbol = d.intern(b)
	case slotStatusCode:
		d.rare.status.StatusCode = d.intern(b)
	case slotStatusMsg:
		d.rare.status.StatusMsg = d.intern(b)
	case slotStatusReasonCode:
		d.rare.status.ReasonCode = d.intern(b)
	case slotStatusReasonMsg:
		d.rare.status.ReasonMsg = d.intern(b)
	case slotMsg, slotSuccessMsg:
		m.Msg = string(b)
	// News texts are allocated, not interned: they are long and unique, and
	// would only crowd symbols out of the intern table.
	case slotNewsHeadline:
		d.rare.news.Headline = string(b)
	case slotNewsSummary:
		d.rare.news.Summary = string(b)
	case slotNewsAuthor:
		d.rare.news.Author = string(b)
	case slotNewsURL:
		d.rare.news.URL = string(b)
	case slotNewsContent:
		d.rare.news.Content = string(b)
	case slotNewsSource:
		d.rare.news.Source = string(b)
	}
}

// setConds stores a condition list.
func (d *Decoder) setConds(m *Message, s slot, c market.Conditions) {
	switch s {
	case slotTradeConds:
		m.Event.Trade.Conditions = c
	case slotQuoteConds:
		m.Event.Quote.Conditions = c
	case slotCorrOrigConds:
		d.rare.corr.OrigConds = c
	case slotCorrCorrConds:
		d.rare.corr.CorrConds = c
	}
}

// optionCond packs an option condition as market.OptionCondition does,
// without allocating: at most four ASCII bytes, else nothing.
func optionCond(b []byte) market.Conditions {
	var c market.Conditions
	if len(b) > len(c) {
		return c
	}
	for i, x := range b {
		if x == 0 || x >= 0x80 {
			return market.Conditions{}
		}
		c[i] = x
	}
	return c
}

// charOf is the one-character code of a string: its first byte if that is
// ASCII, else 0.
func charOf(b []byte) byte {
	if len(b) == 0 || b[0] >= 0x80 {
		return 0
	}
	return b[0]
}

// addCond adds one element of a condition list: codes of exactly one ASCII
// byte count, at most four of them.
func addCond(c *market.Conditions, n *int, b []byte) {
	if len(b) != 1 || b[0] == 0 || b[0] >= 0x80 || *n == len(c) {
		return
	}
	c[*n] = b[0]
	*n++
}

// parseTime parses a timestamp string exactly as the SDK's
// time.Parse(time.RFC3339Nano, s) followed by UnixNano does. Alpaca's form
// ("2021-02-22T15:45:44.208Z", UTC, 0-9 fraction digits) is parsed by hand;
// anything else (offsets, unusual forms) goes through time.Parse. Times
// outside int64 nanoseconds (years before 1678 or after 2261) wrap, as
// UnixNano does.
func parseTime(s []byte) (int64, bool) {
	if ns, ok := parseTimeFast(s); ok {
		return ns, true
	}
	t, err := time.Parse(time.RFC3339Nano, string(s))
	if err != nil {
		return 0, false
	}
	return t.UnixNano(), true
}

// parseTimeFast accepts only "YYYY-MM-DDTHH:MM:SS[.fffffffff...]Z", with the
// ranges Go's RFC 3339 parser checks; fraction digits past the ninth are
// truncated, as Go does.
func parseTimeFast(s []byte) (int64, bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
		s[len(s)-1] != 'Z' {
		return 0, false
	}
	y1, ok1 := digits2(s[0], s[1])
	y2, ok2 := digits2(s[2], s[3])
	month, ok3 := digits2(s[5], s[6])
	day, ok4 := digits2(s[8], s[9])
	hour, ok5 := digits2(s[11], s[12])
	minute, ok6 := digits2(s[14], s[15])
	sec, ok7 := digits2(s[17], s[18])
	year := y1*100 + y2
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	var nsec int64
	if rest := s[19 : len(s)-1]; len(rest) > 0 {
		if len(rest) < 2 || rest[0] != '.' {
			return 0, false
		}
		digits := rest[1:]
		for i, c := range digits {
			if c-'0' > 9 {
				return 0, false
			}
			if i < 9 {
				nsec = nsec*10 + int64(c-'0')
			}
		}
		for i := len(digits); i < 9; i++ {
			nsec *= 10
		}
	}
	secs := daysFromCivil(year, month, day)*86400 + hour*3600 + minute*60 + sec
	return secs*1e9 + nsec, true // wraps like time.Time.UnixNano
}

// digits2 parses two decimal digits.
func digits2(a, b byte) (int64, bool) {
	a, b = a-'0', b-'0'
	return int64(a)*10 + int64(b), a <= 9 && b <= 9
}

func daysIn(month, year int64) int64 {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm; the inverse of civil in json.go).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := m - 3
	if m <= 2 {
		mp = m + 9
	}
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// unixNano combines seconds and nanoseconds as time.Unix(sec, nsec).UnixNano
// does, including its wrap-around outside the int64 range.
func unixNano(sec, nsec int64) int64 { return sec*1e9 + nsec }
