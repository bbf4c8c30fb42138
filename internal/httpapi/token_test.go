package httpapi

import (
	"encoding/base64"
	"testing"

	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/market"
)

func TestPageToken(t *testing.T) {
	q := queryHash(kindBars, false, []string{"AAPL", "BRK.B"}, market.OneMinute, "2024-01-02", "", "asc")
	want := pageToken{start: -5, end: 1 << 62, cursor: history.Cursor{Symbol: "BRK.B", Time: 1_700_000_000_123_456_789, Seq: 1<<64 - 1}}
	tok := encodeToken(&want, q)
	got, ok := decodeToken(tok, q)
	if !ok || got != want {
		t.Fatalf("round trip: %+v %v", got, ok)
	}
	if _, ok := decodeToken(tok, q+1); ok {
		t.Fatal("token accepted for another query")
	}
	// Any altered byte is refused.
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	for i := range raw {
		for _, bit := range []byte{1, 0x80} {
			alt := append([]byte(nil), raw...)
			alt[i] ^= bit
			if _, ok := decodeToken(base64.RawURLEncoding.EncodeToString(alt), q); ok {
				t.Fatalf("byte %d ^ %#x accepted", i, bit)
			}
		}
	}
	for n := range len(raw) {
		if _, ok := decodeToken(base64.RawURLEncoding.EncodeToString(raw[:n]), q); ok {
			t.Fatalf("truncation to %d bytes accepted", n)
		}
	}
}

func TestQueryHashSeparatesFields(t *testing.T) {
	a := queryHash(kindTrades, false, []string{"AB", "C"}, market.Timeframe{}, "", "", "asc")
	b := queryHash(kindTrades, false, []string{"A", "BC"}, market.Timeframe{}, "", "", "asc")
	c := queryHash(kindQuotes, false, []string{"AB", "C"}, market.Timeframe{}, "", "", "asc")
	d := queryHash(kindTrades, true, []string{"AB", "C"}, market.Timeframe{}, "", "", "asc")
	if a == b || a == c || a == d {
		t.Fatal("distinct queries hash alike")
	}
}
