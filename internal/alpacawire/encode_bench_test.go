package alpacawire

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// sdkTrade mirrors the wire shape with struct tags, the way a reflection
// based encoder would produce it; field order puts T first.
type sdkTrade struct {
	T          string    `json:"T" msgpack:"T"`
	Symbol     string    `json:"S" msgpack:"S"`
	ID         int64     `json:"i" msgpack:"i"`
	Exchange   string    `json:"x" msgpack:"x"`
	Price      float64   `json:"p" msgpack:"p"`
	Size       uint32    `json:"s" msgpack:"s"`
	Conditions []string  `json:"c" msgpack:"c"`
	Tape       string    `json:"z" msgpack:"z"`
	Timestamp  time.Time `json:"t" msgpack:"t"`
}

// BenchmarkEncodeTrade compares the hand-written encoders with
// encoding/json and vmihailenco/msgpack (struct encoding with tags) on the
// same trade, side by side: the justification for hand-writing them.
func BenchmarkEncodeTrade(b *testing.B) {
	e := sampleEvents()[0]
	st := sdkTrade{T: "t", Symbol: e.Symbol, ID: e.Trade.ID, Exchange: "V", Price: e.Trade.Price, Size: e.Trade.Size,
		Conditions: e.Trade.Conditions.Strings(), Tape: "C", Timestamp: e.Timestamp()}
	buf := make([]byte, 0, 512)
	b.Run("tape-json", func(b *testing.B) {
		b.SetBytes(int64(len(AppendJSON(nil, &e))))
		b.ReportAllocs()
		for b.Loop() {
			buf = AppendJSON(buf[:0], &e)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		out, _ := json.Marshal(&st)
		b.SetBytes(int64(len(out)))
		b.ReportAllocs()
		for b.Loop() {
			out, _ = json.Marshal(&st)
		}
		_ = out
	})
	b.Run("tape-msgpack", func(b *testing.B) {
		b.SetBytes(int64(len(AppendMsgpack(nil, &e))))
		b.ReportAllocs()
		for b.Loop() {
			buf = AppendMsgpack(buf[:0], &e)
		}
	})
	b.Run("vmihailenco-msgpack", func(b *testing.B) {
		out, _ := msgpack.Marshal(&st)
		b.SetBytes(int64(len(out)))
		b.ReportAllocs()
		for b.Loop() {
			out, _ = msgpack.Marshal(&st)
		}
		_ = out
	})
}

// BenchmarkEncodeEach encodes every sample kind in both codecs.
func BenchmarkEncodeEach(b *testing.B) {
	buf := make([]byte, 0, 512)
	for _, e := range sampleEvents() {
		for _, c := range []Codec{JSON, MsgPack} {
			b.Run(e.Kind.String()+"/"+c.String(), func(b *testing.B) {
				b.SetBytes(int64(len(AppendEvent(nil, c, &e))))
				b.ReportAllocs()
				for b.Loop() {
					buf = AppendEvent(buf[:0], c, &e)
				}
			})
		}
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	evs := sampleEvents()
	msgs := make([][]byte, 0, 100)
	for i := range 100 {
		msgs = append(msgs, AppendMsgpack(nil, &evs[i%len(evs)]))
	}
	buf := AppendFrame(nil, MsgPack, msgs)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendFrame(buf[:0], MsgPack, msgs)
	}
}
