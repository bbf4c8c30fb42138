package market

import (
	"reflect"
	"testing"
)

func binarySamples() []Event {
	return []Event{
		{Kind: KindTrade, Symbol: "AAPL", Time: 1_700_000_000_123_456_789, Trade: Trade{ID: 42, Price: 229.91, Size: 100, Exchange: 'Q', Tape: 'C', Conditions: MakeConditions("@", "F")}},
		{Kind: KindQuote, Symbol: "SPY", Time: 5, Quote: Quote{BidPrice: 600.01, AskPrice: 600.02, BidSize: 3, AskSize: 7, BidExchange: 'P', AskExchange: 'V', Tape: 'B', Conditions: MakeConditions("R")}},
		{Kind: KindBar, Symbol: "BRK.B", Time: -60e9, Bar: Bar{Open: 1, High: 2, Low: 0.5, Close: 1.5, VWAP: 1.25, Volume: 1 << 40, TradeCount: 9}},
		{Kind: KindUpdatedBar, Symbol: "X", Bar: Bar{Open: 1}},
		{Kind: KindDailyBar, Symbol: "Y", Bar: Bar{Close: 3}},
		{Kind: KindStatus, Symbol: "AAPL", Status: &Status{StatusCode: "H", StatusMsg: "Trading Halt", ReasonCode: "LUDP", ReasonMsg: "Volatility Trading Pause", Tape: 'C'}},
		{Kind: KindLULD, Symbol: "AAPL", LULD: &LULD{LimitUp: 241.2, LimitDown: 218.3, Indicator: 'B', Tape: 'C'}},
		{Kind: KindCorrection, Symbol: "AAPL", Correction: &Correction{Exchange: 'Q', Tape: 'C', OrigID: 1, OrigPrice: 2, OrigSize: 3, OrigConds: MakeConditions("@"), CorrID: 4, CorrPrice: 5, CorrSize: 6, CorrConds: MakeConditions("I")}},
		{Kind: KindCancelError, Symbol: "AAPL", CancelError: &CancelError{ID: 7, Price: 8, Size: 9, Exchange: 'N', Tape: 'A', Action: 'E'}},
		{Kind: KindImbalance, Symbol: "AAPL", Imbalance: &Imbalance{Price: 10, Tape: 'C'}},
	}
}

func TestBinaryRoundTrip(t *testing.T) {
	var in Interner
	for _, e := range binarySamples() {
		t.Run(e.Kind.String(), func(t *testing.T) {
			b := AppendBinary(nil, &e)
			got := Event{Seq: 99}
			if err := DecodeBinary(b, &got, &in); err != nil {
				t.Fatal(err)
			}
			e.Seq = 99
			if !reflect.DeepEqual(got, e) {
				t.Fatalf("got  %+v\nwant %+v", got, e)
			}
			// Every truncation is rejected, never mis-decoded.
			for n := range len(b) {
				if err := DecodeBinary(b[:n], &got, &in); err == nil {
					t.Fatalf("truncated to %d bytes decoded", n)
				}
			}
			if err := DecodeBinary(append(b, 0), &got, &in); err == nil {
				t.Fatal("trailing byte accepted")
			}
		})
	}
}

func TestDecodeBinaryInternsWithoutAllocating(t *testing.T) {
	e := binarySamples()[0]
	b := AppendBinary(nil, &e)
	var in Interner
	var got Event
	_ = DecodeBinary(b, &got, &in)
	if n := testing.AllocsPerRun(1000, func() { _ = DecodeBinary(b, &got, &in) }); n != 0 {
		t.Fatalf("%v allocations per decode", n)
	}
}

func FuzzDecodeBinary(f *testing.F) {
	for _, e := range binarySamples() {
		f.Add(AppendBinary(nil, &e))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Event
		var in Interner
		if DecodeBinary(b, &e, &in) != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes.
		if again := AppendBinary(nil, &e); string(again) != string(b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", b, again)
		}
	})
}

func BenchmarkBinary(b *testing.B) {
	e := binarySamples()[0]
	buf := AppendBinary(nil, &e)
	b.Run("append", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			buf = AppendBinary(buf[:0], &e)
		}
	})
	b.Run("decode", func(b *testing.B) {
		var in Interner
		var got Event
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			_ = DecodeBinary(buf, &got, &in)
		}
	})
}
