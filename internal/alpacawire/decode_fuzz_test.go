package alpacawire

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
	"github.com/vmihailenco/msgpack/v5"
)

// Fuzz targets. Run each locally with, e.g.,
//
//	go test -run X -fuzz FuzzDecodeFrameMsgpack -fuzztime 30s ./internal/alpacawire/
//
// Crashers the fuzzer finds are kept under testdata/fuzz/<Target>/ and run
// as regression tests by every go test.

// addFrameSeeds adds the testdata frames with the given extension and frames
// from Tape's encoders.
func addFrameSeeds(f *testing.F, c Codec, ext string) {
	paths, err := filepath.Glob(filepath.Join("testdata", "frames", "*."+ext))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seed frames: %v", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(frameOf(c, sampleEvents()))
	sub := Subscription{}
	sub[market.ChanTrades] = []string{"AAPL", "*"}
	f.Add(AppendSubscription(nil, c, &sub))
	f.Add(AppendError(nil, c, CodeSlowClient))
	f.Add(AppendSuccess(nil, c, "authenticated"))
	r := rand.New(rand.NewPCG(1, 2))
	for range 4 {
		evs := make([]market.Event, 3)
		for i := range evs {
			evs[i] = randomEvent(r)
		}
		f.Add(frameOf(c, evs))
	}
}

func FuzzDecodeFrameJSON(f *testing.F) {
	addFrameSeeds(f, JSON, "json")
	f.Add([]byte(`[{"T":"s","sm":"\ud83d\ude80\ud800x\u00e9","S":"A\u2028"}]`))
	f.Add([]byte(`[{"zz":[[[{"a":-0.5e-7}]]],"T":"q","bp":1e22,"ap":123456789012345678901234}]`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		checkDecodeProperties(t, JSON, frame)
	})
}

func FuzzDecodeFrameMsgpack(f *testing.F) {
	addFrameSeeds(f, MsgPack, "msgpack")
	f.Add([]byte{0x91, 0xd4, 0x05, 0x82, 0xa1, 'T', 0xa1, 't', 0xa1, 'S', 0xa1, 'A'})
	f.Add(mpEncode([]any{omap{{"T", "t"}, {"t", secNsec{-5, 3e9}}, {"p", f32(1.5)}, {"s", int8(-1)}}}))
	f.Fuzz(func(t *testing.T, frame []byte) {
		msgs := checkDecodeProperties(t, MsgPack, frame)
		checkAgainstSDK(t, frame, msgs)
	})
}

// checkDecodeProperties checks what must hold for any input: no panic; any
// error wraps ErrMalformed; messages are well formed; the same bytes decode
// the same with a used decoder; and the data messages, re-encoded with
// Tape's encoder, decode to the same events (the decoder loses nothing the
// encoder can express, and invents nothing).
func checkDecodeProperties(t *testing.T, c Codec, frame []byte) []Message {
	return checkStreamProperties(t, StreamStocks, c, frame)
}

// checkStreamProperties is checkDecodeProperties for a decoder of stream st.
func checkStreamProperties(t *testing.T, st *Stream, c Codec, frame []byte) []Message {
	msgs, err := NewDecoderFor(st).DecodeFrame(c, frame, nil)
	if err != nil && !errors.Is(err, ErrMalformed) {
		t.Fatalf("error does not wrap ErrMalformed: %v", err)
	}

	// A decoder that has seen other frames (interned strings, scratch
	// buffers) gives the same result.
	used := NewDecoderFor(st)
	used.DecodeFrame(JSON, []byte(`[{"T":"s","S":"AAPL","sm":"a\"b"},{"T":"subscription","trades":["X"]}]`), nil)
	used.DecodeFrame(MsgPack, []byte{0x92, 0x81, 0xa1, 'T', 0xa1, 'c', 0x81}, nil)
	again, err2 := used.DecodeFrame(c, frame, nil)
	if (err == nil) != (err2 == nil) || len(again) != len(msgs) {
		t.Fatalf("used decoder: %d messages, %v; fresh: %d, %v", len(again), err2, len(msgs), err)
	}
	for i := range msgs {
		if d := msgDiff(&again[i], &msgs[i]); d != "" {
			t.Fatalf("used decoder, message %d: %s", i, d)
		}
	}

	var encoded [][]byte
	var events []market.Event
	for i := range msgs {
		m := &msgs[i]
		e := &m.Event
		if e.Kind == market.KindInvalid {
			if (*e != market.Event{}) {
				t.Fatalf("message %q has an event of no kind: %+v", m.Type, e)
			}
			if (m.Sub != nil) != (m.Type == "subscription") {
				t.Fatalf("message %q: Sub %v", m.Type, m.Sub)
			}
			continue
		}
		if m.Type != e.Kind.Letter() || m.Msg != "" || m.Code != 0 || m.Sub != nil {
			t.Fatalf("data message %q: %+v", m.Type, m)
		}
		if e.Kind.Class() != st.Class {
			t.Fatalf("%s decoder produced a %s event", st.Name, e.Kind)
		}
		var want, got int
		for _, p := range []bool{e.Status != nil, e.LULD != nil, e.Correction != nil, e.CancelError != nil, e.Imbalance != nil,
			e.CryptoBar != nil, e.Orderbook != nil, e.Pricing != nil, e.News != nil} {
			if p {
				got++
			}
		}
		switch e.Kind {
		case market.KindStatus, market.KindLULD, market.KindCorrection, market.KindCancelError, market.KindImbalance,
			market.KindCryptoBar, market.KindCryptoUpdatedBar, market.KindCryptoDailyBar, market.KindCryptoOrderbook,
			market.KindCryptoPricing, market.KindNews:
			want = 1
		}
		if got != want {
			t.Fatalf("%s event with %d payload pointers", e.Kind, got)
		}
		switch {
		case e.Seq == 0:
			encoded = append(encoded, AppendEvent(nil, c, e))
		case c == MsgPack:
			encoded = append(encoded, AppendMsgpackSeq(nil, e))
		default:
			encoded = append(encoded, AppendJSONSeq(nil, e))
		}
		events = append(events, *e)
	}
	re := AppendFrame(nil, c, encoded)
	back, err := NewDecoderFor(st).DecodeFrame(c, re, nil)
	if err != nil {
		t.Fatalf("re-encoded frame does not decode: %v\n%q", err, re)
	}
	if len(back) != len(events) {
		t.Fatalf("re-encoded frame: %d messages, want %d", len(back), len(events))
	}
	for i := range back {
		if d := eventDiff(&back[i].Event, &events[i]); d != "" {
			t.Fatalf("re-encoded event %d: %s\nframe %q", i, d, re)
		}
	}
	return msgs
}

// zeroTimeNano is what time.Time{} (which the SDK leaves in a struct whose
// "t" is absent) reads as in nanoseconds; sdkDecode maps it to 0.
var zeroTimeNano = time.Time{}.UnixNano()

// checkAgainstSDK is the differential check: on any frame the SDK's
// algorithm accepts, DecodeFrame reads the same messages, except where it
// deliberately differs (see Decoder): it rejects NaN/Inf and trailing bytes.
func checkAgainstSDK(t *testing.T, frame []byte, msgs []Message) {
	ref, sdkErr := sdkDecode(frame)
	if sdkErr != nil {
		return // the SDK is stricter about T's position, key types, "r", ...
	}
	_, err := NewDecoder().DecodeFrame(MsgPack, frame, nil)
	if err != nil {
		switch {
		case strings.Contains(err.Error(), "NaN or infinite"):
			return
		case strings.Contains(err.Error(), "trailing data"):
			// The SDK ignores trailing bytes; every message was decoded.
		default:
			t.Fatalf("SDK accepts the frame, DecodeFrame does not: %v", err)
		}
	}
	if len(msgs) != len(ref) {
		t.Fatalf("%d messages, SDK %d", len(msgs), len(ref))
	}
	for i := range msgs {
		got := msgs[i]
		if got.Event.Time == zeroTimeNano {
			got.Event.Time = 0
		}
		got.Event.Seq = 0 // Tape's "#" extension: the SDK skips it
		if ref[i].Type == "success" {
			ref[i].Msg = got.Msg // the SDK's frame decoder skips success messages
		}
		if d := msgDiff(&got, &ref[i]); d != "" {
			t.Fatalf("message %d differs from the SDK's: %s", i, d)
		}
	}
}

// FuzzParseRequest fuzzes the client message parser (request.go) with the
// shapes real SDKs send. Property: no panic; errors wrap ErrInvalidSyntax;
// an accepted request has a valid action and only valid, normalized
// symbols.
func FuzzParseRequest(f *testing.F) {
	mp := func(v any) []byte {
		b, err := msgpack.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	// Go SDK v3.9.1: auth is a map[string]string; subscribe has every
	// channel key, nil slices for unset channels and nil for orderbooks,
	// news and pricing (key order random).
	goAuth := map[string]string{"action": "auth", "key": "AKXXXXXXXXXXXXXXXXXX", "secret": "s3cr3t"}
	goSub := map[string]any{"action": "subscribe", "trades": []string{"AAPL"}, "quotes": []string{"AMD", "CLDR"},
		"bars": []string{"*"}, "updatedBars": []string(nil), "dailyBars": []string{}, "statuses": []string(nil),
		"imbalances": []string(nil), "lulds": []string(nil), "orderbooks": nil, "news": nil, "pricing": nil}
	goUnsub := map[string]any{"action": "unsubscribe", "trades": []string{"AAPL"}, "quotes": []string(nil),
		"bars": []string(nil), "updatedBars": []string(nil), "dailyBars": []string(nil), "statuses": []string(nil),
		"imbalances": []string(nil), "lulds": []string(nil), "orderbooks": nil, "news": nil, "pricing": nil}
	for _, v := range []any{goAuth, goSub, goUnsub} {
		f.Add(byte(MsgPack), mp(v))
	}
	sub := Subscription{}
	sub[market.ChanTrades] = []string{"AAPL"}
	sub[market.ChanBars] = []string{"*", "brk.b"}
	for _, c := range []Codec{JSON, MsgPack} {
		f.Add(byte(c), AppendAuth(nil, c, "key", "secret"))
		f.Add(byte(c), AppendSubscribe(nil, c, true, &sub))
		f.Add(byte(c), AppendSubscribe(nil, c, false, &sub))
	}
	for _, s := range []string{
		// alpaca-py: every stock channel, [] when unset.
		`{"action":"subscribe","trades":["AAPL"],"quotes":[],"bars":["*"],"updatedBars":[],"dailyBars":[],"statuses":[],"lulds":[],"imbalances":[]}`,
		// JS SDK v4.
		`{"action":"subscribe","trades":["AAPL","TSLA"]}`,
		`{"action":"auth","key":"k","secret":"s"}`,
		`{"action":"unsubscribe","quotes":["aapl"],"news":null}`,
		`{"action":"subscribe","trades":["BTC/USD"],"orderbooks":["ETH/USD"],"pricing":null}`,
		`{"action":"subscribe","trades":["AAPL240315C00172500"],"quotes":["*"]}`,
		`{"action":"listen","data":{"streams":["trade_updates"]}}`,
		`{"action":"subscribe","trades":"AAPL"}`,
		`{"action":"subscribe","trades":[1]}`,
		`{"action":"subscribe","trades":["AA PL"]}`,
		`{"action":"auth","key":"k"}`,
		`{"action":"auth","key":"k","secret":"s"} {}`,
		`[]`, `null`, `{}`, ``,
	} {
		f.Add(byte(JSON), []byte(s))
	}
	f.Fuzz(func(t *testing.T, codec byte, data []byte) {
		c := Codec(codec % byte(NumCodecs))
		before := heapAllocBytes()
		r, err := ParseRequest(c, data)
		// A client message must not cost the server more than a small
		// multiple of its size (see mpWellFormed for why this fails
		// today on msgpack headers claiming billions of elements).
		if n := heapAllocBytes() - before; n > 1<<20+100*uint64(len(data)) {
			t.Fatalf("ParseRequest allocated %d bytes for a %d-byte message", n, len(data))
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidSyntax) || r != nil {
				t.Fatalf("r=%v err=%v", r, err)
			}
			return
		}
		if r == nil {
			t.Fatal("nil request without error")
		}
		switch r.Action {
		case ActionAuth:
			if r.Lists != nil {
				t.Fatalf("auth with lists %v", r.Lists)
			}
		case ActionSubscribe, ActionUnsubscribe:
			if r.Key != "" || r.Secret != "" {
				t.Fatalf("subscribe with credentials %+v", r)
			}
			for k, syms := range r.Lists {
				if k == "action" {
					t.Fatal("action listed as a channel")
				}
				for _, s := range syms {
					if n, ok := NormalizeSymbol(s); !ok || n != s || strings.ToUpper(s) != s {
						t.Fatalf("%s: symbol %q not normalized", k, s)
					}
				}
			}
		default:
			t.Fatalf("action %d", r.Action)
		}
	})
}

// heapAllocBytes is the cumulative number of bytes allocated on the heap.
func heapAllocBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
