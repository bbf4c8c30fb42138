package alpacawire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata/stream"
	"github.com/tapehq/tape/internal/market"
	"github.com/vmihailenco/msgpack/v5"
)

// This file holds the side-by-side benchmark of DecodeFrame against the
// official Go SDK's way of decoding the same frames, and the reference
// decoders the cross-check tests also use.
//
// The SDK's decoding functions are unexported, so sdkRef re-implements its
// algorithm (marketdata/stream/message.go, v3.9.1) with the same library
// calls: msgpack.GetDecoder + Reset(bytes.NewReader(frame)), DecodeArrayLen,
// DecodeMapLen, DecodeString for "T" (required first) and for every key, then
// DecodeInt64/DecodeFloat64/DecodeUint32/DecodeUint64/DecodeTime/string-slice
// decoding into the SDK's own entity types (stream.Trade, stream.Quote, ...),
// each message handed to a handler read under an RWMutex, as the SDK does.

// sdkRef decodes msgpack frames the way the SDK's stocks client does.
type sdkRef struct {
	// pooled makes decodeFrame take its msgpack.Decoder from the library's
	// pool, as the SDK does; benchmarks set it. Tests and fuzzing must not:
	// a pooled Decoder keeps the buffer a failed read grew, and readNGrow
	// grows it toward whatever length a corrupt header claims (doubling on
	// every such read), so a fuzzing process pins gigabytes and is killed.
	pooled     bool
	mu         sync.RWMutex
	trade      func(stream.Trade)
	quote      func(stream.Quote)
	bar        func(kind byte, b stream.Bar)
	status     func(stream.TradingStatus)
	luld       func(stream.LULD)
	correction func(stream.TradeCorrection)
	cancel     func(stream.TradeCancelError)
	imbalance  func(stream.Imbalance)
	errMsg     func(code int, msg string)
	sub        func(map[string][]string)
	other      func(typ string)
}

func (h *sdkRef) decodeFrame(frame []byte) error {
	d := refDecoder(h.pooled, frame)
	if h.pooled {
		defer msgpack.PutDecoder(d)
	}
	n, err := d.DecodeArrayLen()
	if err != nil || n < 1 {
		return err
	}
	for range n {
		size, err := d.DecodeMapLen()
		if err != nil {
			return err
		}
		if size < 1 {
			continue
		}
		first, err := d.DecodeString()
		if err != nil {
			return err
		}
		if first != "T" {
			return fmt.Errorf("first key is not T but: %s", first)
		}
		typ, err := d.DecodeString()
		if err != nil {
			return err
		}
		if err := h.message(d, typ, size-1); err != nil {
			return err
		}
	}
	return nil
}

func (h *sdkRef) message(d *msgpack.Decoder, typ string, n int) error {
	switch typ {
	case "t":
		var v stream.Trade
		var recv time.Time
		err := refFields(d, n, func(key string) (err error) {
			switch key {
			case "i":
				v.ID, err = d.DecodeInt64()
			case "S":
				v.Symbol, err = d.DecodeString()
			case "x":
				v.Exchange, err = d.DecodeString()
			case "p":
				v.Price, err = d.DecodeFloat64()
			case "s":
				v.Size, err = d.DecodeUint32()
			case "t":
				v.Timestamp, err = d.DecodeTime()
			case "r":
				recv, err = d.DecodeTime()
			case "c":
				v.Conditions, err = refStrings(d)
			case "z":
				v.Tape, err = d.DecodeString()
			default:
				err = d.Skip()
			}
			return err
		})
		_ = recv
		if err != nil {
			return err
		}
		h.mu.RLock()
		f := h.trade
		h.mu.RUnlock()
		f(v)
	case "q":
		var v stream.Quote
		var recv time.Time
		err := refFields(d, n, func(key string) (err error) {
			switch key {
			case "S":
				v.Symbol, err = d.DecodeString()
			case "bx":
				v.BidExchange, err = d.DecodeString()
			case "bp":
				v.BidPrice, err = d.DecodeFloat64()
			case "bs":
				v.BidSize, err = d.DecodeUint32()
			case "ax":
				v.AskExchange, err = d.DecodeString()
			case "ap":
				v.AskPrice, err = d.DecodeFloat64()
			case "as":
				v.AskSize, err = d.DecodeUint32()
			case "t":
				v.Timestamp, err = d.DecodeTime()
			case "r":
				recv, err = d.DecodeTime()
			case "c":
				v.Conditions, err = refStrings(d)
			case "z":
				v.Tape, err = d.DecodeString()
			default:
				err = d.Skip()
			}
			return err
		})
		_ = recv
		if err != nil {
			return err
		}
		h.mu.RLock()
		f := h.quote
		h.mu.RUnlock()
		f(v)
	case "b", "u", "d":
		var v stream.Bar
		err := refFields(d, n, func(key string) (err error) {
			switch key {
			case "S":
				v.Symbol, err = d.DecodeString()
			case "o":
				v.Open, err = d.DecodeFloat64()
			case "h":
				v.High, err = d.DecodeFloat64()
			case "l":
				v.Low, err = d.DecodeFloat64()
			case "c":
				v.Close, err = d.DecodeFloat64()
			case "v":
				v.Volume, err = d.DecodeUint64()
			case "t":
				v.Timestamp, err = d.DecodeTime()
			case "n":
				v.TradeCount, err = d.DecodeUint64()
			case "vw":
				v.VWAP, err = d.DecodeFloat64()
			default:
				err = d.Skip()
			}
			return err
		})
		if err != nil {
			return err
		}
		h.mu.RLock()
		f := h.bar
		h.mu.RUnlock()
		f(typ[0], v)
	case "s":
		var v stream.TradingStatus
		err := refFields(d, n, func(key string) (err error) {
			switch key {
			case "S":
				v.Symbol, err = d.DecodeString()
			case "sc":
				v.StatusCode, err = d.DecodeString()
			case "sm":
				v.StatusMsg, err = d.DecodeString()
			case "rc":
				v.ReasonCode, err = d.DecodeString()
			case "rm":
				v.ReasonMsg, err = d.DecodeString()
			case "t":
				v.Timestamp, err = d.DecodeTime()
			case "z":
				v.Tape, err = d.DecodeString()
			default:
				err = d.Skip()
			}
			return err
		})
		if err != nil {
			return err
		}
		h.status(v)
	case "l":
		var v stream.LULD
		err := refFields(d, n, func(key string) (err error) {
			switch key {
			case "S":
				v.Symbol, err = d.DecodeString()
			case "u":
				v.LimitUpPrice, err = d.DecodeFloat64()
			case "d":
				v.LimitDownPrice, err = d.DecodeFloat64()
			case "i":
				v.Indicator, err = d.DecodeString()
			case "t":
				v.Timestamp, err = d.DecodeTime()
			case "z":
				v.Tape, err = d.DecodeString()
			default:
				err = d.Skip()
			}
			return err
		})
		if err != nil {
			return err
		}
		h.luld(v)
	case "c":
		var v stream.TradeCorrection
		err := refFields(d, n, func(key string) (err error) {
			switch key {
			case "S":
				v.Symbol, err = d.DecodeString()
			case "x":
				v.Exchange, err = d.DecodeString()
			case "oi":
				v.OriginalID, err = d.DecodeInt64()
			case "op":
				v.OriginalPrice, err = d.DecodeFloat64()
			case "os":
				v.OriginalSize, err = d.DecodeUint32()
			case "oc":
				v.OriginalConditions, err = refStrings(d)
			case "ci":
				v.CorrectedID, err = d.DecodeInt64()
			case "cp":
				v.CorrectedPrice, err = d.DecodeFloat64()
			case "cs":
				v.CorrectedSize, err = d.DecodeUint32()
			case "cc":
				v.CorrectedConditions, err = refStrings(d)
			case "z":
				v.Tape, err = d.DecodeString()
			case "t":
				v.Timestamp, err = d.DecodeTime()
			default:
				err = d.Skip()
			}
			return err
		})
		if err != nil {
			return err
		}
		h.correction(v)
	case "x":
		var v stream.TradeCancelError
		err := refFields(d, n, func(key string) (err error) {
			switch key {
			case "S":
				v.Symbol, err = d.DecodeString()
			case "i":
				v.ID, err = d.DecodeInt64()
			case "x":
				v.Exchange, err = d.DecodeString()
			case "p":
				v.Price, err = d.DecodeFloat64()
			case "s":
				v.Size, err = d.DecodeUint32()
			case "a":
				v.CancelErrorAction, err = d.DecodeString()
			case "z":
				v.Tape, err = d.DecodeString()
			case "t":
				v.Timestamp, err = d.DecodeTime()
			default:
				err = d.Skip()
			}
			return err
		})
		if err != nil {
			return err
		}
		h.cancel(v)
	case "i":
		var v stream.Imbalance
		err := refFields(d, n, func(key string) (err error) {
			switch key {
			case "S":
				v.Symbol, err = d.DecodeString()
			case "p":
				v.Price, err = d.DecodeFloat64()
			case "t":
				v.Timestamp, err = d.DecodeTime()
			case "z":
				v.Tape, err = d.DecodeString()
			default:
				err = d.Skip()
			}
			return err
		})
		if err != nil {
			return err
		}
		h.imbalance(v)
	case "error":
		var code int
		var msg string
		err := refFields(d, n, func(key string) (err error) {
			switch key {
			case "msg":
				msg, err = d.DecodeString()
			case "code":
				code, err = d.DecodeInt()
			default:
				err = d.Skip()
			}
			return err
		})
		if err != nil {
			return err
		}
		h.errMsg(code, msg)
	case "subscription":
		lists := map[string][]string{}
		err := refFields(d, n, func(key string) (err error) {
			switch key {
			case "trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "imbalances",
				"lulds", "cancelErrors", "corrections", "orderbooks", "news":
				lists[key], err = refStrings(d)
			default:
				err = d.Skip()
			}
			return err
		})
		if err != nil {
			return err
		}
		h.sub(lists)
	default:
		// Other types (success included) are skipped key and value alike,
		// whatever their types.
		for range n {
			if err := d.Skip(); err != nil {
				return err
			}
			if err := d.Skip(); err != nil {
				return err
			}
		}
		h.other(typ)
	}
	return nil
}

// refDecoder returns a msgpack.Decoder reading frame: the SDK's pooled one,
// or a fresh one (see sdkRef.pooled).
func refDecoder(pooled bool, frame []byte) *msgpack.Decoder {
	if !pooled {
		return msgpack.NewDecoder(bytes.NewReader(frame))
	}
	d := msgpack.GetDecoder()
	d.Reset(bytes.NewReader(frame))
	return d
}

// refFields reads n keys with DecodeString and lets field decode each value.
func refFields(d *msgpack.Decoder, n int, field func(key string) error) error {
	for range n {
		key, err := d.DecodeString()
		if err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
	}
	return nil
}

// refStrings decodes a string slice as the SDK does (nil gives an empty,
// non-nil slice).
func refStrings(d *msgpack.Decoder) ([]string, error) {
	n, err := d.DecodeArrayLen()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return []string{}, nil
	}
	if n > 1<<20 {
		// The SDK would allocate n strings up front; a fuzzed header
		// claiming billions would exhaust memory before it failed.
		return nil, errors.New("refStrings: array too long")
	}
	out := make([]string, n)
	for i := range out {
		if out[i], err = d.DecodeString(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// JSON reference: what a Go client without a hand-written decoder does —
// encoding/json into SDK-like structs, the frame split into raw messages and
// each one unmarshalled twice (once for its type, once into its struct),
// since keys such as "c" mean different things in different types.

type jsRefTrade struct {
	T          string    `json:"T"` // else "T" would match "t" case-insensitively
	ID         int64     `json:"i"`
	Symbol     string    `json:"S"`
	Exchange   string    `json:"x"`
	Price      float64   `json:"p"`
	Size       uint32    `json:"s"`
	Timestamp  time.Time `json:"t"`
	Conditions []string  `json:"c"`
	Tape       string    `json:"z"`
}

type jsRefQuote struct {
	T           string    `json:"T"` // else "T" would match "t" case-insensitively
	Symbol      string    `json:"S"`
	BidExchange string    `json:"bx"`
	BidPrice    float64   `json:"bp"`
	BidSize     uint32    `json:"bs"`
	AskExchange string    `json:"ax"`
	AskPrice    float64   `json:"ap"`
	AskSize     uint32    `json:"as"`
	Timestamp   time.Time `json:"t"`
	Conditions  []string  `json:"c"`
	Tape        string    `json:"z"`
}

type jsRefBar struct {
	T          string    `json:"T"` // else "T" would match "t" case-insensitively
	Symbol     string    `json:"S"`
	Open       float64   `json:"o"`
	High       float64   `json:"h"`
	Low        float64   `json:"l"`
	Close      float64   `json:"c"`
	Volume     uint64    `json:"v"`
	Timestamp  time.Time `json:"t"`
	TradeCount uint64    `json:"n"`
	VWAP       float64   `json:"vw"`
}

type jsRef struct {
	trade func(jsRefTrade)
	quote func(jsRefQuote)
	bar   func(byte, jsRefBar)
}

func (h *jsRef) decodeFrame(frame []byte) error {
	var raws []json.RawMessage
	if err := json.Unmarshal(frame, &raws); err != nil {
		return err
	}
	for _, raw := range raws {
		var head struct {
			T string `json:"T"`
			// encoding/json matches keys case-insensitively when no field
			// matches exactly, so without this field "t" would overwrite T.
			Time json.RawMessage `json:"t"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return err
		}
		switch head.T {
		case "t":
			var v jsRefTrade
			if err := json.Unmarshal(raw, &v); err != nil {
				return err
			}
			h.trade(v)
		case "q":
			var v jsRefQuote
			if err := json.Unmarshal(raw, &v); err != nil {
				return err
			}
			h.quote(v)
		case "b", "u", "d":
			var v jsRefBar
			if err := json.Unmarshal(raw, &v); err != nil {
				return err
			}
			h.bar(head.T[0], v)
		}
	}
	return nil
}

// benchEvents builds the benchmark frames' events: a universe of 20 symbols,
// realistic prices, sizes, conditions and nanosecond timestamps.
func benchEvents(kind market.Kind, n int, seed uint64) []market.Event {
	r := rand.New(rand.NewPCG(seed, 7))
	syms := []string{"AAPL", "MSFT", "AMZN", "NVDA", "GOOGL", "META", "TSLA", "BRK.B", "JPM", "V",
		"SPY", "QQQ", "AMD", "NFLX", "INTC", "CSCO", "PEP", "KO", "XOM", "WMT"}
	exch := []byte("VQNPKZBYJX")
	conds := [][]string{{"@"}, {"@", "F"}, {"@", "I"}, {"@", "F", "T"}, {"R"}}
	t0 := time.Date(2024, 3, 15, 13, 30, 0, 0, time.UTC).UnixNano()
	evs := make([]market.Event, n)
	for i := range evs {
		k := kind
		if k == market.KindInvalid { // mixed: 55% quotes, 35% trades, 10% bars
			switch x := r.IntN(100); {
			case x < 55:
				k = market.KindQuote
			case x < 90:
				k = market.KindTrade
			default:
				k = market.KindBar + market.Kind(r.IntN(3))
			}
		}
		px := float64(1000+r.IntN(400000)) / 100
		e := market.Event{Kind: k, Symbol: syms[r.IntN(len(syms))], Time: t0 + r.Int64N(6*3600e9)}
		switch k {
		case market.KindTrade:
			e.Trade = market.Trade{ID: 52983525029461 + r.Int64N(1e6), Price: px, Size: uint32(1 + r.IntN(500)),
				Exchange: exch[r.IntN(len(exch))], Tape: "ABC"[r.IntN(3)], Conditions: market.MakeConditions(conds[r.IntN(4)]...)}
		case market.KindQuote:
			e.Quote = market.Quote{BidPrice: px, AskPrice: px + 0.01, BidSize: uint32(1 + r.IntN(20)), AskSize: uint32(1 + r.IntN(20)),
				BidExchange: exch[r.IntN(len(exch))], AskExchange: exch[r.IntN(len(exch))], Tape: "ABC"[r.IntN(3)],
				Conditions: market.MakeConditions("R")}
		default:
			e.Time = e.Time / 60e9 * 60e9
			e.Bar = market.Bar{Open: px, High: px + 0.25, Low: px - 0.13, Close: px + 0.07, VWAP: px + 0.031,
				Volume: uint64(r.IntN(1e6)), TradeCount: uint64(r.IntN(5000))}
		}
		evs[i] = e
	}
	return evs
}

func frameOf(c Codec, evs []market.Event) []byte {
	msgs := make([][]byte, len(evs))
	for i := range evs {
		msgs[i] = AppendEvent(nil, c, &evs[i])
	}
	return AppendFrame(nil, c, msgs)
}

var benchFrames = []struct {
	name string
	evs  []market.Event
}{
	{"trade", benchEvents(market.KindTrade, 1, 1)},
	{"quote", benchEvents(market.KindQuote, 1, 2)},
	{"bar", benchEvents(market.KindBar, 1, 3)},
	{"mixed100", benchEvents(market.KindInvalid, 100, 4)},
}

// Sinks keep the compiler from discarding decoded values.
var (
	sinkTrade stream.Trade
	sinkQuote stream.Quote
	sinkBar   stream.Bar
	sinkJT    jsRefTrade
	sinkJQ    jsRefQuote
	sinkJB    jsRefBar
	sinkN     int
)

func newBenchSDKRef() *sdkRef {
	return &sdkRef{pooled: true,
		trade: func(t stream.Trade) { sinkTrade = t },
		quote: func(q stream.Quote) { sinkQuote = q },
		bar:   func(_ byte, b stream.Bar) { sinkBar = b },
	}
}

// BenchmarkDecodeFrame compares DecodeFrame with the SDK's algorithm
// (msgpack) and with encoding/json into SDK-like structs (JSON) on the same
// frames. Run: go test -run X -bench DecodeFrame ./internal/alpacawire/
func BenchmarkDecodeFrame(b *testing.B) {
	for _, c := range []Codec{MsgPack, JSON} {
		for _, f := range benchFrames {
			frame := frameOf(c, f.evs)
			b.Run(fmt.Sprintf("%s/%s/tape", c, f.name), func(b *testing.B) {
				d := NewDecoder()
				msgs, err := d.DecodeFrame(c, frame, nil)
				if err != nil || len(msgs) != len(f.evs) {
					b.Fatal(err, len(msgs))
				}
				b.SetBytes(int64(len(frame)))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					msgs, _ = d.DecodeFrame(c, frame, msgs[:0])
				}
				sinkN += len(msgs)
			})
			ref := "sdk"
			if c == JSON {
				ref = "encoding_json"
			}
			b.Run(fmt.Sprintf("%s/%s/%s", c, f.name, ref), func(b *testing.B) {
				var decode func([]byte) error
				if c == MsgPack {
					decode = newBenchSDKRef().decodeFrame
				} else {
					h := &jsRef{
						trade: func(t jsRefTrade) { sinkJT = t },
						quote: func(q jsRefQuote) { sinkJQ = q },
						bar:   func(_ byte, v jsRefBar) { sinkJB = v },
					}
					decode = h.decodeFrame
				}
				if err := decode(frame); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(frame)))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					_ = decode(frame)
				}
			})
		}
	}
}
