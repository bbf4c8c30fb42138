package httpapi

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/market"
)

// The reference encodings: what encoding/json writes for structs shaped
// like the SDK's entities, fields in the same order as the appenders.

type refTrade struct {
	T time.Time `json:"t"`
	X string    `json:"x"`
	P float64   `json:"p"`
	S uint32    `json:"s"`
	C []string  `json:"c"`
	I int64     `json:"i"`
	Z string    `json:"z"`
}

type refQuote struct {
	T  time.Time `json:"t"`
	AX string    `json:"ax"`
	AP float64   `json:"ap"`
	AS uint32    `json:"as"`
	BX string    `json:"bx"`
	BP float64   `json:"bp"`
	BS uint32    `json:"bs"`
	C  []string  `json:"c"`
	Z  string    `json:"z"`
}

type refBar struct {
	T  time.Time `json:"t"`
	O  float64   `json:"o"`
	H  float64   `json:"h"`
	L  float64   `json:"l"`
	C  float64   `json:"c"`
	V  uint64    `json:"v"`
	N  uint64    `json:"n"`
	VW float64   `json:"vw"`
}

func char(c byte) string {
	if c == 0 {
		return ""
	}
	return string(rune(c))
}

func refItem(k kind, e *market.Event) any {
	ts := time.Unix(0, e.Time).UTC()
	switch k {
	case kindTrades:
		t := e.Trade
		return refTrade{T: ts, X: char(t.Exchange), P: t.Price, S: t.Size, C: t.Conditions.Strings(), I: t.ID, Z: char(t.Tape)}
	case kindQuotes:
		q := e.Quote
		return refQuote{T: ts, AX: char(q.AskExchange), AP: q.AskPrice, AS: q.AskSize, BX: char(q.BidExchange), BP: q.BidPrice,
			BS: q.BidSize, C: q.Conditions.Strings(), Z: char(q.Tape)}
	default:
		b := e.Bar
		return refBar{T: ts, O: b.Open, H: b.High, L: b.Low, C: b.Close, V: b.Volume, N: b.TradeCount, VW: b.VWAP}
	}
}

// randomEvent returns an event with every field random, prices drawn from
// whole cents, sub-pennies and arbitrary doubles in the range market data
// uses, and codes including characters JSON must escape.
func randomEvent(r *rand.Rand) market.Event {
	f := func() float64 {
		switch r.IntN(4) {
		case 0:
			return float64(r.IntN(10_000_000)) / 100
		case 1:
			return float64(r.IntN(10_000_000)) / 10_000
		case 2:
			return r.Float64() * 1e6
		default:
			return float64(r.IntN(1000))
		}
	}
	codes := []byte{'@', 'F', ' ', 'T', '"', '\\', '<', '&', 0x01, 'Z', 0xff}
	c := func() byte { return codes[r.IntN(len(codes))] }
	var conds market.Conditions
	for i := range r.IntN(5) {
		conds[i] = c()
	}
	// Times anywhere in int64 nanoseconds, and some with short fractions.
	ns := r.Int64() - r.Int64()
	if r.IntN(3) == 0 {
		ns = ns / 1e6 * 1e6
	}
	return market.Event{Time: ns, Symbol: "AAPL",
		Trade: market.Trade{ID: r.Int64(), Price: f(), Size: r.Uint32(), Exchange: c(), Tape: c(), Conditions: conds},
		Quote: market.Quote{BidPrice: f(), AskPrice: f(), BidSize: r.Uint32(), AskSize: r.Uint32(), BidExchange: c(), AskExchange: c(), Tape: c(), Conditions: conds},
		Bar:   market.Bar{Open: f(), High: f(), Low: f(), Close: f(), VWAP: f(), Volume: r.Uint64(), TradeCount: r.Uint64()}}
}

// TestAppendersMatchEncodingJSON checks the hand-written appenders byte for
// byte against encoding/json.
func TestAppendersMatchEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 20_000 {
		e := randomEvent(r)
		for _, k := range []kind{kindTrades, kindQuotes, kindBars} {
			want, err := json.Marshal(refItem(k, &e))
			if err != nil {
				t.Fatal(err)
			}
			if got := appendItem(nil, k, &e); string(got) != string(want) {
				t.Fatalf("event %d as %v:\ngot  %s\nwant %s", i, k, got, want)
			}
		}
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "AAPL", "a\"b\\c", "<&>", "\x00\x1f\n\r\t", "é€😀", "\xff\xfe", "\u2028\u2029", "forbidden"} {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); string(got) != string(want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

// TestPageShapes checks that every assembled body is valid JSON with the
// right structure for a mix of symbols and empties.
func TestPageShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var evs []market.Event
	for _, sym := range []string{"A", "B", "C"} {
		for range 3 {
			e := randomEvent(r)
			e.Symbol = sym
			evs = append(evs, e)
		}
	}
	for _, p := range []page{
		{kind: kindTrades, events: evs, token: "abc"},
		{kind: kindQuotes, events: evs[:1]},
		{kind: kindBars},
		{kind: kindBars, single: "A", events: evs[:3], currency: "USD"},
		{kind: kindBars, single: "A"},
	} {
		b := appendPage(nil, &p)
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if p.single == "" {
			var groups map[string][]json.RawMessage
			if err := json.Unmarshal(m[p.kind.String()], &groups); err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, g := range groups {
				n += len(g)
			}
			if n != len(p.events) {
				t.Fatalf("%d items, want %d: %s", n, len(p.events), b)
			}
		}
	}
	s := history.Snapshot{LatestTrade: &evs[0], DailyBar: &evs[1]}
	for _, b := range [][]byte{
		appendSnapshots(nil, []snapshotItem{{symbol: "A", snap: s, ok: true}, {symbol: "B"}}),
		appendSnapshot(nil, "A", &s),
		appendLatest(nil, kindQuotes, []latestItem{{"A", evs[0]}, {"B", evs[3]}}, "USD"),
		appendLatestSingle(nil, kindBars, "A", &evs[0], ""),
		appendError(nil, invalidParam("bad %q", "\x00<x>")),
	} {
		if !json.Valid(b) {
			t.Fatalf("invalid JSON: %s", b)
		}
	}
}
