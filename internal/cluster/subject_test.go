package cluster

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/tapehq/tape/internal/market"
)

func TestSymbolToken(t *testing.T) {
	for _, tc := range []struct{ symbol, token string }{
		{"AAPL", "AAPL"},
		{"BRK.B", "BRK%2EB"},
		{"BTC/USD", "BTC%2FUSD"},
		{"AAPL240119C00190000", "AAPL240119C00190000"},
		{"", "_"},
		{"_", "%5F"},
		{"A B", "A%20B"},
		{"*", "%2A"},
		{">", "%3E"},
		{"%", "%25"},
		{"é", "%C3%A9"},
	} {
		t.Run(tc.symbol, func(t *testing.T) {
			if got := SymbolToken(tc.symbol); got != tc.token {
				t.Fatalf("SymbolToken(%q) = %q, want %q", tc.symbol, got, tc.token)
			}
			back, err := ParseSymbolToken(tc.token)
			if err != nil || back != tc.symbol {
				t.Fatalf("ParseSymbolToken(%q) = %q, %v; want %q", tc.token, back, err, tc.symbol)
			}
		})
	}
}

func TestParseSymbolTokenRejects(t *testing.T) {
	// Only SymbolToken's own output parses, so a symbol has exactly one
	// subject.
	for _, tok := range []string{"", "BRK.B", "%2e", "%41", "%4", "%", "A%ZZ", "A*", "A B"} {
		t.Run(tok, func(t *testing.T) {
			if s, err := ParseSymbolToken(tok); err == nil {
				t.Fatalf("ParseSymbolToken(%q) = %q, want an error", tok, s)
			}
		})
	}
}

func TestSubjects(t *testing.T) {
	for _, tc := range []struct {
		kind    market.Kind
		symbol  string
		subject string
	}{
		{market.KindTrade, "AAPL", "tape.stocks.trade.AAPL"},
		{market.KindQuote, "BRK.B", "tape.stocks.quote.BRK%2EB"},
		{market.KindUpdatedBar, "SPY", "tape.stocks.updatedBar.SPY"},
		{market.KindCryptoTrade, "BTC/USD", "tape.crypto.trade.BTC%2FUSD"},
		{market.KindCryptoOrderbook, "ETH/USD", "tape.crypto.orderbook.ETH%2FUSD"},
		{market.KindOptionQuote, "AAPL240119C00190000", "tape.options.quote.AAPL240119C00190000"},
		{market.KindNews, "", "tape.news.news._"},
	} {
		t.Run(tc.subject, func(t *testing.T) {
			e := market.Event{Kind: tc.kind, Symbol: tc.symbol}
			if got := Subject("tape", &e); got != tc.subject {
				t.Fatalf("Subject = %q, want %q", got, tc.subject)
			}
			k, sym, ok := ParseSubject("tape", tc.subject)
			if !ok || k != tc.kind || sym != tc.symbol {
				t.Fatalf("ParseSubject(%q) = %v %q %v", tc.subject, k, sym, ok)
			}
			if strings.Count(tc.subject, ".") != 3 {
				t.Fatalf("%q: a data subject has four tokens", tc.subject)
			}
		})
	}
	// Every kind has a distinct subject within its class.
	seen := map[string]market.Kind{}
	for k := market.KindTrade; k < market.NumKinds; k++ {
		s := string(AppendSubject(nil, "tape", k, []byte("X")))
		if prev, dup := seen[s]; dup {
			t.Fatalf("%v and %v share subject %s", prev, k, s)
		}
		seen[s] = k
	}
	for _, s := range []string{ClaimSubject("tape"), "tape.stocks.trade", "other.stocks.trade.AAPL", "tape.stocks.nope.AAPL", "tape.stocks.trade.BRK.B"} {
		if _, _, ok := ParseSubject("tape", s); ok {
			t.Fatalf("ParseSubject(%q) accepted a non-data subject", s)
		}
	}
}

func TestAppendSubjectAllocs(t *testing.T) {
	buf := make([]byte, 0, 64)
	sym := []byte("BRK.B")
	if n := testing.AllocsPerRun(100, func() { buf = AppendSubject(buf[:0], "tape", market.KindTrade, sym) }); n != 0 {
		t.Fatalf("AppendSubject allocates %v times", n)
	}
}

// seedEvents are real events of every shape the publisher routes.
func seedEvents() []market.Event {
	return []market.Event{
		{Kind: market.KindTrade, Symbol: "AAPL", Time: 1, Trade: market.Trade{ID: 7, Price: 1.5, Size: 3}},
		{Kind: market.KindQuote, Symbol: "BRK.B", Time: 2, Flags: market.FlagLate},
		{Kind: market.KindCryptoTrade, Symbol: "BTC/USD", Time: 3},
		{Kind: market.KindStatus, Symbol: "MSFT", Time: 4, Status: &market.Status{StatusCode: "H"}},
		{Kind: market.KindNews, Time: 5, News: &market.News{Headline: "x", Symbols: []string{"AAPL"}}},
		{Kind: market.KindCryptoOrderbook, Symbol: "ETH/USD", Time: 6, Flags: market.FlagBackfill,
			Orderbook: &market.Orderbook{Bids: []market.BookLevel{{Price: 1, Size: 2}}}},
	}
}

func TestPeekRecord(t *testing.T) {
	for _, e := range seedEvents() {
		t.Run(e.Kind.String(), func(t *testing.T) {
			p := market.AppendBinary(nil, &e)
			h, err := peekRecord(p)
			if err != nil {
				t.Fatal(err)
			}
			if h.kind != e.Kind || h.flags != e.Flags || h.time != e.Time || string(h.symbol) != e.Symbol {
				t.Fatalf("peekRecord = %+v, want kind %v flags %v time %d symbol %q", h, e.Kind, e.Flags, e.Time, e.Symbol)
			}
		})
	}
	for _, p := range [][]byte{nil, {1}, {3, 1}, {1, 0, 0}, {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 5, 'A'}, {2, 1}} {
		if _, err := peekRecord(p); !errors.Is(err, market.ErrBadBinary) {
			t.Fatalf("peekRecord(%x) = %v, want ErrBadBinary", p, err)
		}
	}
}

// FuzzPeekRecord: the publisher's head reader agrees with the full decoder
// on everything the decoder accepts, and never panics or reads past the
// end on anything else.
func FuzzPeekRecord(f *testing.F) {
	for _, e := range seedEvents() {
		f.Add(market.AppendBinary(nil, &e))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		h, err := peekRecord(p)
		var e market.Event
		if market.DecodeBinary(p, &e, nil) != nil {
			return
		}
		if err != nil {
			t.Fatalf("DecodeBinary accepts %x but peekRecord says %v", p, err)
		}
		if h.kind != e.Kind || h.flags != e.Flags || h.time != e.Time || !bytes.Equal(h.symbol, []byte(e.Symbol)) {
			t.Fatalf("peekRecord %+v disagrees with DecodeBinary %+v", h, e)
		}
	})
}

// FuzzSymbolToken: tokens are valid single NATS tokens and round-trip.
func FuzzSymbolToken(f *testing.F) {
	for _, s := range []string{"AAPL", "BRK.B", "BTC/USD", "", "_", "%", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := SymbolToken(s)
		if tok == "" || strings.ContainsAny(tok, ". \t\r\n*>") {
			t.Fatalf("SymbolToken(%q) = %q is not a valid NATS token", s, tok)
		}
		back, err := ParseSymbolToken(tok)
		if err != nil || back != s {
			t.Fatalf("round trip of %q via %q: %q, %v", s, tok, back, err)
		}
	})
}
