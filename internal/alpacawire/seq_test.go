package alpacawire

import (
	"encoding/json"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func TestSeqEncoders(t *testing.T) {
	for _, e := range sampleEvents() {
		e.Seq = 1234567
		var js map[string]any
		if err := json.Unmarshal(AppendJSONSeq(nil, &e), &js); err != nil {
			t.Fatal(err)
		}
		if js["#"] != float64(1234567) || js["T"] != e.Kind.Letter() {
			t.Fatalf("json %v", js)
		}
		keys, vals := decodeOrderedMsgpack(t, AppendMsgpackSeq(nil, &e))
		if keys[0] != "T" || keys[len(keys)-1] != "#" || vals[len(vals)-1] != uint32(1234567) {
			t.Fatalf("msgpack keys %v last %T %v", keys, vals[len(vals)-1], vals[len(vals)-1])
		}
		// The annotated messages still decode with Tape's decoder.
		d := NewDecoder()
		msgs, err := d.DecodeFrame(MsgPack, AppendFrame(nil, MsgPack, [][]byte{AppendMsgpackSeq(nil, &e)}), nil)
		if err != nil || len(msgs) != 1 || msgs[0].Event.Kind != e.Kind {
			t.Fatalf("decode: %v %v", msgs, err)
		}
	}
}

func TestParseFrom(t *testing.T) {
	r, err := ParseRequest(JSON, []byte(`{"action":"subscribe","trades":["AAPL"],"tape_from_seq":42}`))
	if err != nil || !r.HasFrom || r.FromSeq != 42 || len(r.Lists) != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	b, _ := msgpack.Marshal(map[string]any{"action": "subscribe", "trades": []string{"A"}, "tape_from_seq": uint64(1) << 40})
	if r, err = ParseRequest(MsgPack, b); err != nil || r.FromSeq != 1<<40 {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = ParseRequest(JSON, []byte(`{"action":"subscribe","trades":["A"],"tape_from_time":"2026-11-25T14:30:00Z"}`))
	if err != nil || r.FromTime != 1795617000000000000 {
		t.Fatalf("%+v %v", r, err)
	}
	for _, bad := range []string{
		`{"action":"subscribe","tape_from_seq":-1}`,
		`{"action":"subscribe","tape_from_seq":1.5}`,
		`{"action":"subscribe","tape_from_seq":"7"}`,
		`{"action":"subscribe","tape_from_time":"yesterday"}`,
		`{"action":"subscribe","tape_from_seq":1,"tape_from_time":"2026-11-25T14:30:00Z"}`,
		`{"action":"unsubscribe","trades":["A"],"tape_from_seq":1}`,
	} {
		if _, err := ParseRequest(JSON, []byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// TestDecodeSeq: the decoder reads Tape's "#" back into Event.Seq, in both
// codecs and every kind, and leaves it 0 on messages without one.
func TestDecodeSeq(t *testing.T) {
	d := NewDecoder()
	for _, c := range []Codec{JSON, MsgPack} {
		for _, e := range sampleEvents() {
			e.Seq = 987654321
			enc := AppendJSONSeq
			if c == MsgPack {
				enc = AppendMsgpackSeq
			}
			plain := e
			plain.Seq = 0
			frame := AppendFrame(nil, c, [][]byte{enc(nil, &e), AppendEvent(nil, c, &plain)})
			msgs, err := d.DecodeFrame(c, frame, nil)
			if err != nil || len(msgs) != 2 {
				t.Fatalf("%v %v: %v %d", c, e.Kind, err, len(msgs))
			}
			if msgs[0].Event.Seq != 987654321 || msgs[1].Event.Seq != 0 {
				t.Fatalf("%v %v: seqs %d %d", c, e.Kind, msgs[0].Event.Seq, msgs[1].Event.Seq)
			}
		}
	}
}
