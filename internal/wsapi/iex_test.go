package wsapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/market"
)

// TestIEXView: on one hub, a session of a server whose IEXView says yes
// for its path gets the iex feed (trades printed on IEX, IEX quotes, IEX
// bars) under Alpaca's channel names, one without it the consolidated
// feed; unsubscribing on the iex feed stops it.
func TestIEXView(t *testing.T) {
	sip := newFixture(t, Options{})
	iex := newFixture(t, Options{Hub: sip.hub, IEXView: func(path string) bool { return path == "/v2/iex" }})
	cs, ci := sip.dial(t, nil), iex.dial(t, nil)
	for _, c := range []*client{cs, ci} {
		c.login()
		c.send(`{"action":"subscribe","trades":["AAPL"],"quotes":["AAPL"],"bars":["AAPL"]}`)
		echo := c.expect(map[string]any{"T": "subscription"})
		if got := strings.Join(strs(echo["quotes"]), ","); got != "AAPL" {
			t.Fatalf("echo quotes %q", got)
		}
	}
	tr := func(x byte, id int64) market.Event {
		e := trade("AAPL", id)
		e.Trade.Exchange = x
		return e
	}
	q := func(k market.Kind, bx byte) market.Event {
		return market.Event{Kind: k, Symbol: "AAPL", Time: 1e18, Quote: market.Quote{BidPrice: 1, AskPrice: 2, BidSize: 1, AskSize: 1,
			BidExchange: bx, AskExchange: bx, Tape: 'C'}}
	}
	b := func(k market.Kind, v uint64) market.Event {
		return market.Event{Kind: k, Symbol: "AAPL", Time: 1e18, Bar: market.Bar{Open: 1, High: 1, Low: 1, Close: 1, Volume: v}}
	}
	publish(sip.hub, tr('Q', 1), tr('V', 2), q(market.KindQuote, 'P'), q(market.KindIEXQuote, 'V'),
		b(market.KindBar, 500), b(market.KindIEXBar, 20))
	read := func(c *client, n int) string {
		var got []string
		for len(got) < n {
			for _, m := range c.read() {
				s := m["T"].(string)
				switch s {
				case "t":
					s += ":" + m["x"].(string)
				case "q":
					s += ":" + m["bx"].(string)
				case "b":
					s += ":" + fmt.Sprint(m["v"])
				}
				got = append(got, s)
			}
		}
		return strings.Join(got, " ")
	}
	if got, want := read(cs, 4), "t:Q t:V q:P b:500"; got != want {
		t.Errorf("sip session got %q, want %q", got, want)
	}
	if got, want := read(ci, 3), "t:V q:V b:20"; got != want {
		t.Errorf("iex session got %q, want %q", got, want)
	}
	ci.send(`{"action":"unsubscribe","trades":["AAPL"],"quotes":["AAPL"]}`)
	ci.expect(map[string]any{"T": "subscription"})
	publish(sip.hub, tr('V', 3), q(market.KindIEXQuote, 'V'), b(market.KindIEXBar, 30))
	if got, want := read(ci, 1), "b:30"; got != want {
		t.Errorf("iex session after unsubscribing trades and quotes got %q, want %q", got, want)
	}
}

// TestResumeFilterIEX: a resume on the iex feed replays what the hub would
// deliver live: trades printed on IEX and the IEX kinds, nothing else.
func TestResumeFilterIEX(t *testing.T) {
	var sub alpacawire.Subscription
	sub[market.ChanTrades] = []string{"AAPL"}
	sub[market.ChanQuotes] = []string{"*"}
	for _, tc := range []struct {
		iex  bool
		e    market.Event
		want bool
	}{
		{true, market.Event{Kind: market.KindTrade, Symbol: "AAPL", Trade: market.Trade{Exchange: 'V'}}, true},
		{true, market.Event{Kind: market.KindTrade, Symbol: "AAPL", Trade: market.Trade{Exchange: 'Q'}}, false},
		{true, market.Event{Kind: market.KindTrade, Symbol: "MSFT", Trade: market.Trade{Exchange: 'V'}}, false},
		{true, market.Event{Kind: market.KindIEXQuote, Symbol: "MSFT"}, true},
		{true, market.Event{Kind: market.KindQuote, Symbol: "MSFT"}, false},
		{true, market.Event{Kind: market.KindIEXBar, Symbol: "AAPL"}, false},
		{false, market.Event{Kind: market.KindTrade, Symbol: "AAPL", Trade: market.Trade{Exchange: 'Q'}}, true},
		{false, market.Event{Kind: market.KindTrade, Symbol: "AAPL", Trade: market.Trade{Exchange: 'V'}}, true},
		{false, market.Event{Kind: market.KindQuote, Symbol: "MSFT"}, true},
		{false, market.Event{Kind: market.KindIEXQuote, Symbol: "MSFT"}, false},
	} {
		ss := &session{iex: tc.iex}
		if got := newFilter(&sub, ss.hubChannel).match(&tc.e); got != tc.want {
			t.Errorf("iex=%v %s %s x=%c: match %v, want %v", tc.iex, tc.e.Kind, tc.e.Symbol, tc.e.Trade.Exchange, got, tc.want)
		}
	}
}
