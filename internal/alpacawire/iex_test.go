package alpacawire

import (
	"bytes"
	"testing"

	"github.com/tapehq/tape/internal/market"
)

// TestIEXKindsEncodeAsAlpacaMessages: the iex feed's quotes and bars are
// ordinary Alpaca quote and bar messages on the wire, in both codecs, and
// a received "q" or "b" decodes as the consolidated kind.
func TestIEXKindsEncodeAsAlpacaMessages(t *testing.T) {
	q := market.Quote{BidPrice: 1.5, AskPrice: 1.51, BidSize: 2, AskSize: 3, BidExchange: 'V', AskExchange: 'V', Tape: 'C'}
	b := market.Bar{Open: 1, High: 2, Low: 0.5, Close: 1.5, VWAP: 1.2, Volume: 300, TradeCount: 3}
	for _, k := range []market.Kind{market.KindIEXQuote, market.KindIEXBar, market.KindIEXUpdatedBar, market.KindIEXDailyBar} {
		iex := market.Event{Kind: k, Symbol: "AAPL", Time: 1_700_000_000e9, Quote: q, Bar: b}
		sip := iex
		sip.Kind = k.Consolidated()
		for _, enc := range []func([]byte, *market.Event) []byte{AppendJSON, AppendMsgpack} {
			got, want := enc(nil, &iex), enc(nil, &sip)
			if len(want) == 0 || !bytes.Equal(got, want) {
				t.Errorf("%s: %q, want %q", k, got, want)
			}
		}
		frame := AppendFrame(nil, JSON, [][]byte{AppendJSON(nil, &iex)})
		msgs, err := NewDecoder().DecodeFrame(JSON, frame, nil)
		if err != nil || len(msgs) != 1 || msgs[0].Event.Kind != k.Consolidated() {
			t.Errorf("%s decodes as %+v (%v)", k, msgs, err)
		}
	}
}
