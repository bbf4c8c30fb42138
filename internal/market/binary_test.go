package market

import (
	"reflect"
	"strings"
	"testing"
)

func binarySamples() []Event {
	return []Event{
		{Kind: KindTrade, Symbol: "AAPL", Time: 1_700_000_000_123_456_789, Trade: Trade{ID: 42, Price: 229.91, Size: 100, Exchange: 'Q', Tape: 'C', Conditions: MakeConditions("@", "F")}},
		{Kind: KindQuote, Symbol: "SPY", Time: 5, Quote: Quote{BidPrice: 600.01, AskPrice: 600.02, BidSize: 3, AskSize: 7, BidExchange: 'P', AskExchange: 'V', Tape: 'B', Conditions: MakeConditions("R")}},
		{Kind: KindBar, Symbol: "BRK.B", Time: -60e9, Bar: Bar{Open: 1, High: 2, Low: 0.5, Close: 1.5, VWAP: 1.25, Volume: 1 << 40, TradeCount: 9}},
		{Kind: KindUpdatedBar, Symbol: "X", Bar: Bar{Open: 1}},
		{Kind: KindDailyBar, Symbol: "Y", Bar: Bar{Close: 3}},
		{Kind: KindIEXQuote, Symbol: "SPY", Time: 6, Quote: Quote{BidPrice: 600, AskPrice: 600.03, BidSize: 1, AskSize: 2, BidExchange: 'V', AskExchange: 'V', Tape: 'B'}},
		{Kind: KindIEXBar, Symbol: "SPY", Time: 60e9, Bar: Bar{Open: 600, High: 601, Low: 599, Close: 600.5, VWAP: 600.2, Volume: 300, TradeCount: 3}},
		{Kind: KindIEXUpdatedBar, Symbol: "SPY", Time: 60e9, Bar: Bar{Open: 600, Volume: 400, TradeCount: 4}},
		{Kind: KindIEXDailyBar, Symbol: "SPY", Bar: Bar{Close: 600.5, Volume: 9000}},
		{Kind: KindStatus, Symbol: "AAPL", Status: &Status{StatusCode: "H", StatusMsg: "Trading Halt", ReasonCode: "LUDP", ReasonMsg: "Volatility Trading Pause", Tape: 'C'}},
		{Kind: KindLULD, Symbol: "AAPL", LULD: &LULD{LimitUp: 241.2, LimitDown: 218.3, Indicator: 'B', Tape: 'C'}},
		{Kind: KindCorrection, Symbol: "AAPL", Correction: &Correction{Exchange: 'Q', Tape: 'C', OrigID: 1, OrigPrice: 2, OrigSize: 3, OrigConds: MakeConditions("@"), CorrID: 4, CorrPrice: 5, CorrSize: 6, CorrConds: MakeConditions("I")}},
		{Kind: KindCancelError, Symbol: "AAPL", CancelError: &CancelError{ID: 7, Price: 8, Size: 9, Exchange: 'N', Tape: 'A', Action: 'E'}},
		{Kind: KindImbalance, Symbol: "AAPL", Imbalance: &Imbalance{Price: 10, Tape: 'C'}},
		{Kind: KindCryptoTrade, Symbol: "BTC/USD", Time: 1_710_239_268_858_228_144,
			CryptoTrade: CryptoTrade{ID: 3447222699101865076, Price: 71846.5, Size: 0.000123456, TakerSide: 'S'}},
		{Kind: KindCryptoQuote, Symbol: "ETH/USD", CryptoQuote: CryptoQuote{BidPrice: 3989.1, BidSize: 4.21, AskPrice: 3989.6, AskSize: 13561.902}},
		{Kind: KindCryptoBar, Symbol: "BTC/USD", Time: 60e9, CryptoBar: &CryptoBar{Open: 1, High: 2, Low: 0.5, Close: 1.5, Volume: 0.25, VWAP: 1.2, TradeCount: 3}},
		{Kind: KindCryptoUpdatedBar, Symbol: "BTC/USD", CryptoBar: &CryptoBar{Volume: 0}},
		{Kind: KindCryptoDailyBar, Symbol: "BTC/USD", CryptoBar: &CryptoBar{Close: 71000, Volume: 1234.5678}},
		{Kind: KindCryptoOrderbook, Symbol: "BTC/USD", Orderbook: &Orderbook{Reset: true,
			Bids: []BookLevel{{71859.53, 0.27994}, {71859.1, 1}}, Asks: []BookLevel{{71939.7, 0.83525}}}},
		{Kind: KindCryptoOrderbook, Symbol: "MKR/USD", Orderbook: &Orderbook{Asks: []BookLevel{{2614.2, 0}}}},
		{Kind: KindCryptoPricing, Symbol: "BTC-PERP", Pricing: &PerpPricing{IndexPrice: 71000.1, MarkPrice: 71001.2,
			FundingRate: -0.0001, OpenInterest: 1234.5, NextFundingTime: 1_710_244_800e9}},
		{Kind: KindOptionTrade, Symbol: "AAPL240315C00172500", Trade: Trade{Price: 2.84, Size: 1, Exchange: 'N', Conditions: MakeConditions("S")}},
		{Kind: KindOptionQuote, Symbol: "SPXW240327P04925000", Quote: Quote{BidPrice: 9.46, AskPrice: 9.57, BidSize: 53, AskSize: 38,
			BidExchange: 'C', AskExchange: 'C', Conditions: MakeConditions("A")}},
		{Kind: KindNews, Time: 1_641_420_038e9, News: &News{ID: 24918784, Headline: "Tesla \"beats\"", Summary: "s",
			Author: "Benzinga Insights", CreatedAt: 1_641_420_037e9, UpdatedAt: 1_641_420_038e9,
			URL: "https://www.benzinga.com/x", Content: "<p>" + strings.Repeat("café 🚀 ", 100) + "</p>",
			Symbols: []string{"AAPL", "TSLA"}, Source: "benzinga"}},
		{Kind: KindNews, News: &News{}},
		// Flags select the version 2 header; a late backfilled trade.
		{Kind: KindTrade, Symbol: "MSFT", Time: 1_700_000_000e9, Flags: FlagLate | FlagBackfill, Trade: Trade{ID: 7, Price: 1, Size: 1}},
		{Kind: KindBar, Symbol: "MSFT", Time: 60e9, Flags: FlagSynthetic, Bar: Bar{Open: 1, Volume: 2}},
	}
}

func TestBinaryFlagsKeepVersion1Compact(t *testing.T) {
	e := Event{Kind: KindTrade, Symbol: "AAPL", Trade: Trade{ID: 1}}
	plain := AppendBinary(nil, &e)
	if plain[0] != binaryVersion {
		t.Fatalf("an event without flags is written as version %d, want %d", plain[0], binaryVersion)
	}
	e.Flags = FlagGapFill
	flagged := AppendBinary(nil, &e)
	if flagged[0] != binaryVersionFlags || len(flagged) != len(plain)+1 || Flags(flagged[2]) != FlagGapFill {
		t.Fatalf("flagged event: version %d, %d bytes (plain %d)", flagged[0], len(flagged), len(plain))
	}
	if got := (FlagLate | FlagGapFill).String(); got != "late|gapfill" {
		t.Fatalf("Flags.String() = %q", got)
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

// TestBinaryCorruptLengths: lengths and counts read from a record are checked
// against the bytes present before anything is allocated.
func TestBinaryCorruptLengths(t *testing.T) {
	head := func(k Kind) []byte { return append([]byte{binaryVersion, byte(k)}, make([]byte, 9)...) }
	for _, b := range [][]byte{
		append(head(KindCryptoOrderbook), 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0),
		append(head(KindCryptoOrderbook), 2, 0, 0, 0, 0, 0, 0, 0, 0), // reset must be 0 or 1
		append(append(head(KindNews), make([]byte, 24)...), 0xff, 0xff, 0xff, 0x7f),
		append(append(head(KindNews), make([]byte, 48)...), 0xff, 0xff),
	} {
		var e Event
		if n := testing.AllocsPerRun(10, func() { _ = DecodeBinary(b, &e, nil) }); n > 2 {
			t.Errorf("%x: %v allocations", b, n)
		}
		if err := DecodeBinary(b, &e, nil); err == nil {
			t.Errorf("%x decoded", b)
		}
	}
}

// TestKindsAndChannels checks the tables agree: every kind of a class maps to
// a channel of that class, and letters and names round-trip per class.
func TestKindsAndChannels(t *testing.T) {
	for k := KindTrade; k < NumKinds; k++ {
		ch := k.Channel()
		if ch >= NumChannels || ch.Class() != k.Class() {
			t.Errorf("%s: channel %s of class %s", k, ch, ch.Class())
		}
		// An iex-feed kind reads back as its consolidated twin: letters
		// name what a received feed carries (see KindIn).
		if got := KindIn(k.Class(), k.Letter()); got != k.Consolidated() {
			t.Errorf("%s: KindIn(%s, %q) = %s", k, k.Class(), k.Letter(), got)
		}
		if k.IsIEX() != (k.Consolidated() != k) || k.Consolidated().IEX() != k && k.IsIEX() {
			t.Errorf("%s: IEX twins disagree", k)
		}
		if k.IsIEX() && k.Channel() != k.Consolidated().Channel().IEX() {
			t.Errorf("%s: channel %s, want the IEX twin of %s", k, k.Channel(), k.Consolidated().Channel())
		}
	}
	iexChannels := 0
	for c := Channel(0); c < NumChannels; c++ {
		want := c
		if c >= ChanIEXTrades && c <= ChanIEXDailyBars {
			iexChannels++
			want = Channel(0)
			for ; want < ChanIEXTrades && want.IEX() != c; want++ {
			}
		}
		if got, ok := ChannelIn(c.Class(), c.Name()); !ok || got != want {
			t.Errorf("%s: ChannelIn(%s, %q) = %s", c, c.Class(), c.Name(), got)
		}
	}
	if iexChannels != 5 || ChanStatuses.IEX() != ChanStatuses || ChanTrades.IEX() != ChanIEXTrades {
		t.Error("IEX channel twins")
	}
	if KindOfLetter("t") != KindTrade || KindIn(ClassCrypto, "t") != KindCryptoTrade || KindIn(ClassOptions, "t") != KindOptionTrade ||
		KindIn(ClassNews, "t") != KindInvalid || KindIn(ClassStocks, "o") != KindInvalid {
		t.Error("letters per class")
	}
	if ch, _ := ChannelByName("trades"); ch != ChanTrades {
		t.Error("ChannelByName is the stock channel")
	}
	for _, c := range []Channel{ChanQuotes, ChanCryptoQuotes, ChanOptionQuotes} {
		if c.Lossless() {
			t.Errorf("%s is lossless", c)
		}
	}
	if !ChanCryptoOrderbooks.Lossless() || !ChanNews.Lossless() {
		t.Error("orderbooks and news must be lossless")
	}
}

func TestOptionCondition(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{{"", true}, {"S", true}, {"a", true}, {"ABCD", true}, {"ABCDE", false}, {"é", false}, {"\x00", false}} {
		c, ok := OptionCondition(tc.in)
		if ok != tc.ok || (ok && c.Code() != tc.in) || (!ok && c != (Conditions{})) {
			t.Errorf("%q: %v %v", tc.in, c, ok)
		}
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
	for _, e := range binarySamples() {
		switch e.Kind {
		case KindTrade, KindCryptoTrade, KindCryptoQuote, KindOptionTrade, KindOptionQuote, KindNews:
		default:
			continue
		}
		if e.Kind == KindNews && e.News.ID == 0 {
			continue
		}
		buf := AppendBinary(nil, &e)
		b.Run(e.Kind.String()+"/append", func(b *testing.B) {
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendBinary(buf[:0], &e)
			}
		})
		b.Run(e.Kind.String()+"/decode", func(b *testing.B) {
			var in Interner
			var got Event
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				_ = DecodeBinary(buf, &got, &in)
			}
		})
	}
}
