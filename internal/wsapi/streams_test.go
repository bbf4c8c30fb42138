package wsapi

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/auth"
	"github.com/tapehq/tape/internal/market"
)

var mpHeader = http.Header{"Content-Type": {"application/msgpack"}}

// sendMP sends a client message as msgpack in a binary frame, as the SDKs do.
func (c *client) sendMP(v any) {
	c.t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageBinary, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// keysOf returns the keys of a frame's first message in the order they were sent, which a
// map cannot tell: it re-reads the frame with an ordered decoder.
func keysOf(t *testing.T, frame []byte, mp bool) []string {
	t.Helper()
	if mp {
		dec := msgpack.NewDecoder(bytes.NewReader(frame))
		if _, err := dec.DecodeArrayLen(); err != nil {
			t.Fatal(err)
		}
		n, err := dec.DecodeMapLen()
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for range n {
			k, _ := dec.DecodeString()
			keys = append(keys, k)
			dec.Skip()
		}
		return keys
	}
	var keys []string
	s := string(frame)
	for {
		i := strings.Index(s, `":`)
		if i < 0 {
			return keys
		}
		j := strings.LastIndex(s[:i], `"`)
		keys = append(keys, s[j+1:i])
		s = s[i+2:]
	}
}

// TestOptionsMsgpackOnly412: a JSON client of the option stream gets 412
// once authenticated, and the connection closes; a msgpack client is
// served.
func TestOptionsMsgpackOnly412(t *testing.T) {
	f := newFixture(t, Options{Stream: alpacawire.StreamOptions, Keys: auth.NewKeys(map[string]string{"k": "s"})})
	c := f.dial(t, nil)
	c.expect(map[string]any{"T": "success", "msg": "connected"})
	c.send(`{"action":"auth","key":"k","secret":"s"}`)
	c.expectError(alpacawire.CodeMsgpackOnly)
	if got := c.expectClose(); got != websocket.StatusPolicyViolation {
		t.Fatalf("closed with %v", got)
	}
	if n := f.srv.Stats().Errors[alpacawire.CodeMsgpackOnly]; n != 1 {
		t.Fatalf("412 counted %d times", n)
	}
	// Bad credentials are still 402, not 412.
	bad := f.dial(t, nil)
	bad.expect(map[string]any{"msg": "connected"})
	bad.send(`{"action":"auth","key":"k","secret":"wrong"}`)
	bad.expectError(alpacawire.CodeAuthFailed)
	m := f.dial(t, mpHeader)
	m.expect(map[string]any{"T": "success", "msg": "connected"})
	m.sendMP(map[string]string{"action": "auth", "key": "k", "secret": "s"})
	m.expect(map[string]any{"T": "success", "msg": "authenticated"})
}

// TestOptionQuotesStar413: "*" on option quotes gets 413 and changes
// nothing; on option trades it is allowed.
func TestOptionQuotesStar413(t *testing.T) {
	f := newFixture(t, Options{Stream: alpacawire.StreamOptions})
	c := f.dial(t, mpHeader)
	c.expect(map[string]any{"msg": "connected"})
	c.sendMP(map[string]string{"action": "auth", "key": "k", "secret": "s"})
	c.expect(map[string]any{"msg": "authenticated"})
	c.sendMP(map[string]any{"action": "subscribe", "trades": []string{"*"}, "quotes": []string{"SPXW240327P04925000"}})
	echo := c.expect(map[string]any{"T": "subscription"})
	if len(echo) != 3 || strings.Join(strs(echo["trades"]), ",") != "*" || strings.Join(strs(echo["quotes"]), ",") != "SPXW240327P04925000" {
		t.Fatalf("echo %v", echo)
	}
	c.sendMP(map[string]any{"action": "subscribe", "quotes": []string{"AAPL240315C00172500", "*"}, "trades": []string{"X"}})
	c.expectError(alpacawire.CodeStarOptionQuotes)
	// Unchanged, and still usable; unsubscribing "*" is never refused.
	c.sendMP(map[string]any{"action": "unsubscribe", "quotes": []string{"*"}, "trades": []string{"*"}})
	echo = c.expect(map[string]any{"T": "subscription"})
	if len(strs(echo["trades"])) != 0 || strings.Join(strs(echo["quotes"]), ",") != "SPXW240327P04925000" {
		t.Fatalf("echo after 413 %v", echo)
	}
	// Data: an option quote, with its single condition string.
	publish(f.hub, market.Event{Kind: market.KindOptionQuote, Symbol: "SPXW240327P04925000", Time: 1e18,
		Quote: market.Quote{BidPrice: 9.46, AskPrice: 9.57, BidSize: 53, AskSize: 38, BidExchange: 'C', AskExchange: 'C',
			Conditions: market.MakeConditions("A")}})
	q := c.read()[0]
	if q["T"] != "q" || q["S"] != "SPXW240327P04925000" || q["c"] != "A" || q["bx"] != "C" {
		t.Fatalf("option quote %v", q)
	}
}

// TestCryptoSession: a crypto endpoint echoes the crypto keys in Alpaca's
// order, refuses stock channels (410), and delivers crypto events — with
// their keys and float sizes — but never the stock events of a shared hub,
// even for the same channel name and symbol.
func TestCryptoSession(t *testing.T) {
	f := newFixture(t, Options{Stream: alpacawire.StreamCrypto})
	c := f.dial(t, nil)
	c.login()
	c.send(`{"action":"subscribe","trades":["BTC/USD"],"quotes":["*"],"orderbooks":["eth/usd"],"statuses":[],"pricing":null}`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, raw, err := c.conn.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(keysOf(t, raw, false), ","); got != "T,trades,quotes,orderbooks,bars,updatedBars,dailyBars" {
		t.Fatalf("echo keys %s: %s", got, raw)
	}
	if !strings.Contains(string(raw), `"trades":["BTC/USD"],"quotes":["*"],"orderbooks":["ETH/USD"]`) {
		t.Fatalf("echo %s", raw)
	}
	for _, bad := range []string{`{"action":"subscribe","statuses":["BTC/USD"]}`, `{"action":"subscribe","pricing":["BTC-PERP"]}`,
		`{"action":"subscribe","news":["*"]}`} {
		c.send(bad)
		c.expectError(alpacawire.CodeInvalidSubscribe)
	}

	publish(f.hub,
		market.Event{Kind: market.KindTrade, Symbol: "BTC/USD", Time: 1e18, Trade: market.Trade{Price: 1, Size: 1}},
		market.Event{Kind: market.KindCryptoTrade, Symbol: "BTC/USD", Time: 1e18,
			CryptoTrade: market.CryptoTrade{ID: 7, Price: 71846.5, Size: 0.0025, TakerSide: 'B'}},
		market.Event{Kind: market.KindCryptoTrade, Symbol: "ETH/USD", Time: 1e18}, // not subscribed
		market.Event{Kind: market.KindQuote, Symbol: "ETH/USD", Time: 1e18},       // a stock quote
		market.Event{Kind: market.KindCryptoQuote, Symbol: "ETH/USD", Time: 1e18,
			CryptoQuote: market.CryptoQuote{BidPrice: 3989.1, BidSize: 4.21, AskPrice: 3989.6, AskSize: 0.5}},
		market.Event{Kind: market.KindCryptoOrderbook, Symbol: "ETH/USD", Time: 1e18,
			Orderbook: &market.Orderbook{Reset: true, Bids: []market.BookLevel{{Price: 3989.1, Size: 4.21}}}},
		market.Event{Kind: market.KindCryptoBar, Symbol: "BTC/USD", Time: 1e18, CryptoBar: &market.CryptoBar{Volume: 0.5}},
	)
	// The exact wire form: Alpaca's keys in Alpaca's order, float sizes.
	raw = nil
	for strings.Count(string(raw), `"T":`) < 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, data, err := c.conn.Read(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, data...)
	}
	for _, want := range []string{
		`{"T":"t","S":"BTC/USD","p":71846.5,"s":0.0025,"t":"2001-09-09T01:46:40Z","i":7,"tks":"B"}`,
		`{"T":"q","S":"ETH/USD","bp":3989.1,"bs":4.21,"ap":3989.6,"as":0.5,"t":"2001-09-09T01:46:40Z"}`,
		`{"T":"o","S":"ETH/USD","t":"2001-09-09T01:46:40Z","b":[{"p":3989.1,"s":4.21}],"a":[],"r":true}`,
	} {
		if !strings.Contains(string(raw), want) {
			t.Fatalf("frames %s\nlack %s", raw, want)
		}
	}
	if strings.Count(string(raw), `"T":`) != 3 {
		t.Fatalf("frames %s", raw)
	}
}

// TestCryptoPerpsPricing: the perpetual futures stream adds pricing to the
// crypto channels and echoes it last.
func TestCryptoPerpsPricing(t *testing.T) {
	f := newFixture(t, Options{Stream: alpacawire.StreamCryptoPerps})
	c := f.dial(t, mpHeader)
	c.expect(map[string]any{"msg": "connected"})
	c.sendMP(map[string]string{"action": "auth", "key": "k", "secret": "s"})
	c.expect(map[string]any{"msg": "authenticated"})
	// What the Go SDK sends: every key, nil for the unused ones.
	c.sendMP(map[string]any{"action": "subscribe", "trades": nil, "quotes": nil, "bars": nil, "updatedBars": nil,
		"dailyBars": nil, "statuses": nil, "imbalances": nil, "lulds": nil, "orderbooks": nil, "news": nil,
		"pricing": []string{"BTC-PERP"}})
	echo := c.expect(map[string]any{"T": "subscription"})
	if len(echo) != 8 || strings.Join(strs(echo["pricing"]), ",") != "BTC-PERP" {
		t.Fatalf("echo %v", echo)
	}
	publish(f.hub, market.Event{Kind: market.KindCryptoPricing, Symbol: "BTC-PERP", Time: 1e18,
		Pricing: &market.PerpPricing{IndexPrice: 83012.25, MarkPrice: 83015.5, FundingRate: -0.000125, NextFundingTime: 2e18}})
	p := c.read()[0]
	if p["T"] != "p" || p["ip"] != 83012.25 || p["fr"] != -0.000125 {
		t.Fatalf("pricing %v", p)
	}
	if ft, ok := p["ft"].(time.Time); !ok || ft.UnixNano() != 2e18 {
		t.Fatalf("ft %#v", p["ft"])
	}
}

// TestNewsSession: an article reaches a client subscribed to any of its
// symbols, once, and carries no "S".
func TestNewsSession(t *testing.T) {
	f := newFixture(t, Options{Stream: alpacawire.StreamNews})
	a := f.dial(t, nil)
	a.login()
	a.send(`{"action":"subscribe","news":["AAPL","TSLA"]}`)
	echo := a.expect(map[string]any{"T": "subscription"})
	if len(echo) != 2 || strings.Join(strs(echo["news"]), ",") != "AAPL,TSLA" {
		t.Fatalf("echo %v", echo)
	}
	b := f.dial(t, nil)
	b.login()
	b.send(`{"action":"subscribe","news":["GOOG"]}`)
	b.expect(map[string]any{"T": "subscription"})
	b.send(`{"action":"subscribe","trades":["AAPL"]}`)
	b.expectError(alpacawire.CodeInvalidSubscribe)
	publish(f.hub,
		market.Event{Kind: market.KindNews, Time: 1e18, News: &market.News{ID: 1, Headline: "both", Symbols: []string{"TSLA", "AAPL"}}},
		market.Event{Kind: market.KindNews, Time: 1e18, News: &market.News{ID: 2, Headline: "other", Symbols: []string{"MSFT"}}},
		market.Event{Kind: market.KindNews, Time: 1e18, News: &market.News{ID: 3, Headline: "goog", Symbols: []string{"GOOG", "AAPL"}}})
	var got []string
	for len(got) < 2 {
		for _, m := range a.read() {
			if _, hasS := m["S"]; hasS || m["T"] != "n" {
				t.Fatalf("news message %v", m)
			}
			got = append(got, m["headline"].(string))
		}
	}
	if !slices.Equal(got, []string{"both", "goog"}) {
		t.Fatalf("client a got %v", got)
	}
	if m := b.read(); len(m) != 1 || m[0]["headline"] != "goog" {
		t.Fatalf("client b got %v", m)
	}
}

// TestStockStreamUnchanged: the default stream is stocks; crypto and news
// events on a shared hub never reach a stock client.
func TestStockStreamUnchanged(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.dial(t, nil)
	c.login()
	c.send(`{"action":"subscribe","trades":["*"],"quotes":["*"]}`)
	c.expect(map[string]any{"T": "subscription"})
	publish(f.hub,
		market.Event{Kind: market.KindCryptoTrade, Symbol: "BTC/USD", Time: 1e18},
		market.Event{Kind: market.KindOptionQuote, Symbol: "SPXW240327P04925000", Time: 1e18},
		market.Event{Kind: market.KindNews, Time: 1e18, News: &market.News{Symbols: []string{"AAPL"}}},
		trade("AAPL", 1))
	m := c.read()
	if len(m) != 1 || m[0]["T"] != "t" || m[0]["S"] != "AAPL" || m[0]["z"] != "C" {
		t.Fatalf("got %v", m)
	}
}
