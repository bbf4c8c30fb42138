package alpacawire

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
	"github.com/vmihailenco/msgpack/v5"
)

var ts = time.Date(2021, 2, 22, 15, 45, 44, 208_000_000, time.UTC).UnixNano()

func sampleEvents() []market.Event {
	return []market.Event{
		{Kind: market.KindTrade, Symbol: "AAPL", Time: ts, Trade: market.Trade{ID: 52983525029461, Price: 126.55, Size: 100,
			Exchange: 'V', Tape: 'C', Conditions: market.MakeConditions("@", "F")}},
		{Kind: market.KindQuote, Symbol: "AMD", Time: ts, Quote: market.Quote{BidPrice: 87.66, AskPrice: 87.67, BidSize: 1, AskSize: 3,
			BidExchange: 'U', AskExchange: 'Q', Tape: 'C', Conditions: market.MakeConditions("R")}},
		{Kind: market.KindBar, Symbol: "SPY", Time: ts, Bar: market.Bar{Open: 388.985, High: 389.13, Low: 388.975, Close: 389.12,
			Volume: 49378, TradeCount: 461, VWAP: 389.062639}},
		{Kind: market.KindUpdatedBar, Symbol: "SPY", Time: ts, Bar: market.Bar{Open: 1, High: 2, Low: 0.5, Close: 1.5, Volume: 7, TradeCount: 2, VWAP: 1.2}},
		{Kind: market.KindDailyBar, Symbol: "SPY", Time: ts, Bar: market.Bar{Open: 1, High: 2, Low: 0.5, Close: 1.5, Volume: 1 << 40, TradeCount: 2, VWAP: 1.2}},
		{Kind: market.KindStatus, Symbol: "AAPL", Time: ts, Status: &market.Status{StatusCode: "H", StatusMsg: "Trading Halt",
			ReasonCode: "LUDP", ReasonMsg: "Volatility Trading Pause", Tape: 'C'}},
		{Kind: market.KindLULD, Symbol: "AAPL", Time: ts, LULD: &market.LULD{LimitUp: 140.1, LimitDown: 120.2, Indicator: 'B', Tape: 'C'}},
		{Kind: market.KindCorrection, Symbol: "AAPL", Time: ts, Correction: &market.Correction{Exchange: 'Q', Tape: 'C',
			OrigID: 1, OrigPrice: 10, OrigSize: 100, OrigConds: market.MakeConditions("@"),
			CorrID: 2, CorrPrice: 11, CorrSize: 50, CorrConds: market.MakeConditions("@", "I")}},
		{Kind: market.KindCancelError, Symbol: "AAPL", Time: ts, CancelError: &market.CancelError{ID: 3, Price: 10.5, Size: 7,
			Exchange: 'N', Tape: 'A', Action: 'C'}},
		{Kind: market.KindImbalance, Symbol: "AAPL", Time: ts, Imbalance: &market.Imbalance{Price: 130.5, Tape: 'C'}},
	}
}

// want is the Alpaca JSON form of sampleEvents, written by hand from the
// examples in Alpaca's documentation.
var want = []string{
	`{"T":"t","S":"AAPL","i":52983525029461,"x":"V","p":126.55,"s":100,"c":["@","F"],"z":"C","t":"2021-02-22T15:45:44.208Z"}`,
	`{"T":"q","S":"AMD","bx":"U","bp":87.66,"bs":1,"ax":"Q","ap":87.67,"as":3,"c":["R"],"z":"C","t":"2021-02-22T15:45:44.208Z"}`,
	`{"T":"b","S":"SPY","o":388.985,"h":389.13,"l":388.975,"c":389.12,"v":49378,"n":461,"vw":389.062639,"t":"2021-02-22T15:45:44.208Z"}`,
	`{"T":"u","S":"SPY","o":1,"h":2,"l":0.5,"c":1.5,"v":7,"n":2,"vw":1.2,"t":"2021-02-22T15:45:44.208Z"}`,
	`{"T":"d","S":"SPY","o":1,"h":2,"l":0.5,"c":1.5,"v":1099511627776,"n":2,"vw":1.2,"t":"2021-02-22T15:45:44.208Z"}`,
	`{"T":"s","S":"AAPL","sc":"H","sm":"Trading Halt","rc":"LUDP","rm":"Volatility Trading Pause","z":"C","t":"2021-02-22T15:45:44.208Z"}`,
	`{"T":"l","S":"AAPL","u":140.1,"d":120.2,"i":"B","z":"C","t":"2021-02-22T15:45:44.208Z"}`,
	`{"T":"c","S":"AAPL","x":"Q","oi":1,"op":10,"os":100,"oc":["@"],"ci":2,"cp":11,"cs":50,"cc":["@","I"],"z":"C","t":"2021-02-22T15:45:44.208Z"}`,
	`{"T":"x","S":"AAPL","i":3,"x":"N","p":10.5,"s":7,"a":"C","z":"A","t":"2021-02-22T15:45:44.208Z"}`,
	`{"T":"i","S":"AAPL","p":130.5,"z":"C","t":"2021-02-22T15:45:44.208Z"}`,
}

func TestAppendJSON(t *testing.T) {
	for i, e := range sampleEvents() {
		t.Run(e.Kind.String(), func(t *testing.T) {
			got := string(AppendJSON(nil, &e))
			if got != want[i] {
				t.Fatalf("got  %s\nwant %s", got, want[i])
			}
			if !json.Valid([]byte(got)) {
				t.Fatal("invalid JSON")
			}
		})
	}
}

// TestAppendMsgpackMatchesJSON decodes the msgpack encoding with the same
// library the official Go SDK uses and compares it, key by key and in order,
// with the JSON form.
func TestAppendMsgpackMatchesJSON(t *testing.T) {
	for i, e := range sampleEvents() {
		t.Run(e.Kind.String(), func(t *testing.T) {
			b := AppendMsgpack(nil, &e)
			keys, vals := decodeOrderedMsgpack(t, b)
			if keys[0] != "T" {
				t.Fatalf("first key %q, want T", keys[0])
			}
			jkeys, jvals := decodeOrderedJSON(t, []byte(want[i]))
			if !reflect.DeepEqual(keys, jkeys) {
				t.Fatalf("keys %v, want %v", keys, jkeys)
			}
			for k, key := range keys {
				if key == "t" {
					tm, ok := vals[k].(time.Time)
					if !ok || tm.UnixNano() != e.Time {
						t.Fatalf("t = %#v, want ext -1 timestamp %d", vals[k], e.Time)
					}
					continue
				}
				if !sameValue(vals[k], jvals[k]) {
					t.Fatalf("%s: msgpack %#v, json %#v", key, vals[k], jvals[k])
				}
			}
		})
	}
}

// TestIntegerFields checks the fields the Go SDK decodes with DecodeUint32 /
// DecodeUint64 are msgpack integers, never floats.
func TestIntegerFields(t *testing.T) {
	for _, e := range sampleEvents() {
		keys, vals := decodeOrderedMsgpack(t, AppendMsgpack(nil, &e))
		for k, key := range keys {
			switch key {
			case "s", "bs", "as", "v", "n", "os", "cs", "i", "oi", "ci":
				if e.Kind == market.KindLULD && key == "i" {
					continue // LULD indicator is a string
				}
				switch vals[k].(type) {
				case int8, int16, int32, int64, uint8, uint16, uint32, uint64:
				default:
					t.Fatalf("%s %s: %T is not an integer", e.Kind, key, vals[k])
				}
			}
		}
	}
}

func decodeOrderedMsgpack(t *testing.T, b []byte) ([]string, []any) {
	t.Helper()
	d := msgpack.NewDecoder(bytes.NewReader(b))
	n, err := d.DecodeMapLen()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var vals []any
	for range n {
		k, err := d.DecodeString()
		if err != nil {
			t.Fatal(err)
		}
		v, err := d.DecodeInterface()
		if err != nil {
			t.Fatal(err)
		}
		keys, vals = append(keys, k), append(vals, v)
	}
	if _, err := d.PeekCode(); err == nil {
		t.Fatal("trailing bytes")
	}
	return keys, vals
}

func decodeOrderedJSON(t *testing.T, b []byte) ([]string, []any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if tok, _ := d.Token(); tok != json.Delim('{') {
		t.Fatal("not an object")
	}
	var keys []string
	var vals []any
	for d.More() {
		k, _ := d.Token()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		keys, vals = append(keys, k.(string)), append(vals, v)
	}
	return keys, vals
}

func sameValue(mp, js any) bool {
	switch j := js.(type) {
	case json.Number:
		f, _ := j.Float64()
		switch m := mp.(type) {
		case float64:
			return m == f
		case int8, int16, int32, int64, uint8, uint16, uint32, uint64:
			return reflect.ValueOf(m).Convert(reflect.TypeFor[float64]()).Float() == f
		}
		return false
	case []any:
		m, ok := mp.([]any)
		if !ok || len(m) != len(j) {
			return false
		}
		for i := range m {
			if !sameValue(m[i], j[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(mp, js)
}

func TestMpTimeDecodes(t *testing.T) {
	for _, ns := range []int64{0, ts, 1e9, 1 << 62, -1, -5e9 + 3} {
		b := mpTime(nil, ns)
		var got time.Time
		if err := msgpack.Unmarshal(b, &got); err != nil {
			t.Fatalf("%d: %v", ns, err)
		}
		if got.UnixNano() != ns {
			t.Fatalf("%d: got %d", ns, got.UnixNano())
		}
	}
}

func TestControlFrames(t *testing.T) {
	sub := Subscription{}
	sub[market.ChanTrades] = []string{"AAPL"}
	sub[market.ChanQuotes] = []string{"AMD", "CLDR"}
	sub[market.ChanBars] = []string{"*"}
	cases := []struct {
		name string
		json []byte
		mp   []byte
		want string
	}{
		{"connected", AppendSuccess(nil, JSON, "connected"), AppendSuccess(nil, MsgPack, "connected"),
			`[{"T":"success","msg":"connected"}]`},
		{"error", AppendError(nil, JSON, 406), AppendError(nil, MsgPack, 406),
			`[{"T":"error","code":406,"msg":"connection limit exceeded"}]`},
		{"subscription", AppendSubscription(nil, JSON, &sub), AppendSubscription(nil, MsgPack, &sub),
			`[{"T":"subscription","trades":["AAPL"],"quotes":["AMD","CLDR"],"bars":["*"],"updatedBars":[],"dailyBars":[],` +
				`"statuses":[],"lulds":[],"corrections":["AAPL"],"cancelErrors":["AAPL"],"imbalances":[]}]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if string(c.json) != c.want {
				t.Fatalf("got  %s\nwant %s", c.json, c.want)
			}
			var fromMP, fromJS []map[string]any
			if err := msgpack.Unmarshal(c.mp, &fromMP); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(c.json, &fromJS); err != nil {
				t.Fatal(err)
			}
			if len(fromMP) != 1 || len(fromMP[0]) != len(fromJS[0]) {
				t.Fatalf("msgpack %v vs json %v", fromMP, fromJS)
			}
			keys, _ := decodeOrderedMsgpack(t, c.mp[1:])
			if keys[0] != "T" {
				t.Fatal("T is not first")
			}
		})
	}
}

func TestAppendFrame(t *testing.T) {
	evs := sampleEvents()
	var jm, mm [][]byte
	for i := range evs {
		jm = append(jm, AppendJSON(nil, &evs[i]))
		mm = append(mm, AppendMsgpack(nil, &evs[i]))
	}
	for _, n := range []int{0, 1, 3, len(evs)} {
		jf := AppendFrame(nil, JSON, jm[:n])
		var arr []json.RawMessage
		if err := json.Unmarshal(jf, &arr); err != nil || len(arr) != n {
			t.Fatalf("json frame of %d: %v %d", n, err, len(arr))
		}
		mf := AppendFrame(nil, MsgPack, mm[:n])
		var marr []map[string]any
		if err := msgpack.Unmarshal(mf, &marr); err != nil || len(marr) != n {
			t.Fatalf("msgpack frame of %d: %v %d", n, err, len(marr))
		}
		sum := 0
		for _, m := range jm[:n] {
			sum += len(m)
		}
		if got := len(jf) - sum; got != FrameOverhead(JSON, n) {
			t.Fatalf("json overhead %d want %d", got, FrameOverhead(JSON, n))
		}
	}
	// A msgpack array header for a large frame.
	big := make([][]byte, 70000)
	for i := range big {
		big[i] = []byte{0xc0}
	}
	var out []any
	if err := msgpack.Unmarshal(AppendFrame(nil, MsgPack, big), &out); err != nil || len(out) != len(big) {
		t.Fatalf("array32: %v %d", err, len(out))
	}
}

func TestCodecForContentType(t *testing.T) {
	for ct, want := range map[string]Codec{"": JSON, "application/json": JSON, "application/msgpack": MsgPack,
		"Application/MsgPack; charset=binary": MsgPack, " application/x-msgpack ": MsgPack, "text/plain": JSON} {
		if got := CodecForContentType(ct); got != want {
			t.Errorf("%q: got %v want %v", ct, got, want)
		}
	}
}
