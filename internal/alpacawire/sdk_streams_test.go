package alpacawire

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata"
	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata/stream"
	"github.com/coder/websocket"
	"github.com/tapehq/tape/internal/market"
)

// TestOfficialSDKDecodesStreams is the round trip through the real thing:
// Tape's encoders → the official Go SDK's crypto, option and news clients
// (v3.9.1), connected to a minimal server that speaks the session flow
// (connected, authenticated, subscription echo) and then sends the encoded
// frames. Every field of every entity the SDK delivers is compared with
// what was encoded. (The SDK speaks msgpack only.)
func TestOfficialSDKDecodesStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SDK clients")
	}
	r := rand.New(rand.NewPCG(21, 22))
	for _, tc := range []struct {
		st      *Stream
		connect func(ctx context.Context, base string, got *sdkGot) error
	}{
		{StreamCryptoPerps, func(ctx context.Context, base string, got *sdkGot) error {
			c := stream.NewCryptoClient(marketdata.GLOBAL, stream.WithBaseURL(base+"/v1beta1/crypto-perps"), stream.WithCredentials("k", "s"),
				stream.WithReconnectSettings(1, 0), stream.WithLogger(stream.ErrorOnlyLogger()),
				stream.WithCryptoTrades(func(v stream.CryptoTrade) { got.add(v) }, "*"),
				stream.WithCryptoQuotes(func(v stream.CryptoQuote) { got.add(v) }, "*"),
				stream.WithCryptoBars(func(v stream.CryptoBar) { got.add(sdkBar{'b', v}) }, "*"),
				stream.WithCryptoUpdatedBars(func(v stream.CryptoBar) { got.add(sdkBar{'u', v}) }, "*"),
				stream.WithCryptoDailyBars(func(v stream.CryptoBar) { got.add(sdkBar{'d', v}) }, "*"),
				stream.WithCryptoOrderbooks(func(v stream.CryptoOrderbook) { got.add(v) }, "*"),
				stream.WithCryptoPerpPricing(func(v stream.CryptoPerpPricing) { got.add(v) }, "*"))
			return c.Connect(ctx)
		}},
		{StreamOptions, func(ctx context.Context, base string, got *sdkGot) error {
			c := stream.NewOptionClient(marketdata.OPRA, stream.WithBaseURL(base+"/v1beta1"), stream.WithCredentials("k", "s"),
				stream.WithReconnectSettings(1, 0), stream.WithLogger(stream.ErrorOnlyLogger()),
				stream.WithOptionTrades(func(v stream.OptionTrade) { got.add(v) }, "AAPL240315C00172500"),
				stream.WithOptionQuotes(func(v stream.OptionQuote) { got.add(v) }, "SPXW240327P04925000"))
			return c.Connect(ctx)
		}},
		{StreamNews, func(ctx context.Context, base string, got *sdkGot) error {
			c := stream.NewNewsClient(stream.WithBaseURL(base+"/v1beta1/news"), stream.WithCredentials("k", "s"),
				stream.WithReconnectSettings(1, 0), stream.WithLogger(stream.ErrorOnlyLogger()),
				stream.WithNews(func(v stream.News) { got.add(v) }, "*"))
			return c.Connect(ctx)
		}},
	} {
		t.Run(tc.st.Name, func(t *testing.T) {
			var evs []market.Event
			for _, e := range streamSamples() {
				if e.Kind.Class() == tc.st.Class {
					evs = append(evs, e)
				}
			}
			for range 300 {
				evs = append(evs, randomStreamEvent(r, tc.st.Class))
			}
			var frames [][]byte
			for i := 0; i < len(evs); i += 7 {
				frames = append(frames, frameOf(MsgPack, evs[i:min(i+7, len(evs))]))
			}
			base, subs := sdkServer(t, tc.st, frames)
			got := &sdkGot{want: len(evs), done: make(chan struct{})}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := tc.connect(ctx, base, got); err != nil {
				t.Fatalf("SDK connect: %v", err)
			}
			select {
			case <-got.done:
			case <-ctx.Done():
				t.Fatalf("the SDK delivered %d of %d entities", got.n(), len(evs))
			}
			sub := <-subs
			for _, ch := range tc.st.Channels() {
				if len(sub[ch]) == 0 {
					t.Errorf("the SDK's subscribe did not reach channel %s", ch)
				}
			}
			got.mu.Lock()
			defer got.mu.Unlock()
			for i, e := range evs {
				want := sdkEntityOf(&e)
				have := normalizeSDK(got.items[i])
				if !reflect.DeepEqual(have, want) {
					t.Fatalf("entity %d (%s):\n got %#v\nwant %#v", i, e.Kind, have, want)
				}
			}
		})
	}
}

// sdkBar tags a crypto bar with the handler that received it.
type sdkBar struct {
	kind byte
	bar  stream.CryptoBar
}

// sdkGot collects what the SDK's handlers deliver, in order.
type sdkGot struct {
	mu    sync.Mutex
	items []any
	want  int
	done  chan struct{}
}

func (g *sdkGot) add(v any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.items = append(g.items, v)
	if len(g.items) == g.want {
		close(g.done)
	}
}

func (g *sdkGot) n() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.items)
}

// sdkServer serves st's session flow to SDK clients: connected, then
// authenticated for any key, the echo of the client's subscribe, then
// frames. The subscription the client asked for is sent on the channel.
func sdkServer(t *testing.T, st *Stream, frames [][]byte) (base string, subs <-chan Subscription) {
	t.Helper()
	subc := make(chan Subscription, 1)
	var wg sync.WaitGroup
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		if CodecForContentType(r.Header.Get("Content-Type")) != MsgPack {
			t.Errorf("SDK did not ask for msgpack: %q", r.Header.Get("Content-Type"))
		}
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer conn.CloseNow()
		ctx := r.Context()
		write := func(b []byte) bool { return conn.Write(ctx, websocket.MessageBinary, b) == nil }
		read := func() *Request {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return nil
			}
			req, err := ParseRequest(MsgPack, data)
			if err != nil {
				t.Errorf("client message %x: %v", data, err)
				return nil
			}
			return req
		}
		if !write(AppendSuccess(nil, MsgPack, "connected")) {
			return
		}
		if req := read(); req == nil || req.Action != ActionAuth {
			t.Errorf("want auth, got %+v", req)
			return
		}
		if !write(AppendSuccess(nil, MsgPack, "authenticated")) {
			return
		}
		req := read()
		if req == nil || req.Action != ActionSubscribe {
			t.Errorf("want subscribe, got %+v", req)
			return
		}
		var sub Subscription
		for key, syms := range req.Lists {
			ch, ok := st.Channel(key)
			if !ok {
				if len(syms) > 0 {
					t.Errorf("subscribe to %q on %s", key, st.Name)
				}
				continue
			}
			sub[ch] = syms
		}
		select {
		case subc <- sub:
		default:
		}
		if !write(st.AppendSubscription(nil, MsgPack, &sub)) {
			return
		}
		for _, f := range frames {
			if !write(f) {
				return
			}
		}
		for { // answer pings until the client goes
			if _, _, err := conn.Read(ctx); err != nil {
				return
			}
		}
	}))
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		wg.Wait()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http"), subc
}

// sdkEntityOf is the SDK entity an event must arrive as: every field the SDK
// exposes, with times in UTC and empty lists as the SDK builds them (an
// encoded empty array decodes to a non-nil empty slice). The legacy crypto
// "x" is not sent, so Exchange is "" on every crypto entity.
func sdkEntityOf(e *market.Event) any {
	ts := func(ns int64) time.Time { return time.Unix(0, ns).UTC() }
	str := func(c byte) string {
		if c == 0 {
			return ""
		}
		return string(c)
	}
	switch e.Kind {
	case market.KindCryptoTrade:
		t := e.CryptoTrade
		return stream.CryptoTrade{ID: t.ID, Symbol: e.Symbol, Price: t.Price, Size: t.Size, Timestamp: ts(e.Time), TakerSide: str(t.TakerSide)}
	case market.KindCryptoQuote:
		q := e.CryptoQuote
		return stream.CryptoQuote{Symbol: e.Symbol, BidPrice: q.BidPrice, BidSize: q.BidSize, AskPrice: q.AskPrice, AskSize: q.AskSize,
			Timestamp: ts(e.Time)}
	case market.KindCryptoBar, market.KindCryptoUpdatedBar, market.KindCryptoDailyBar:
		b := e.CryptoBar
		return sdkBar{e.Kind.Letter()[0], stream.CryptoBar{Symbol: e.Symbol, Open: b.Open, High: b.High, Low: b.Low, Close: b.Close,
			Volume: b.Volume, Timestamp: ts(e.Time), TradeCount: b.TradeCount, VWAP: b.VWAP}}
	case market.KindCryptoOrderbook:
		o := e.Orderbook
		conv := func(l []market.BookLevel) []stream.CryptoOrderbookEntry {
			out := make([]stream.CryptoOrderbookEntry, len(l))
			for i, x := range l {
				out[i] = stream.CryptoOrderbookEntry{Price: x.Price, Size: x.Size}
			}
			return out
		}
		return stream.CryptoOrderbook{Symbol: e.Symbol, Timestamp: ts(e.Time), Bids: conv(o.Bids), Asks: conv(o.Asks), Reset: o.Reset}
	case market.KindCryptoPricing:
		p := e.Pricing
		return stream.CryptoPerpPricing{Symbol: e.Symbol, Timestamp: ts(e.Time), IndexPrice: p.IndexPrice, MarkPrice: p.MarkPrice,
			FundingRate: p.FundingRate, OpenInterest: p.OpenInterest, NextFundingTime: ts(p.NextFundingTime)}
	case market.KindOptionTrade:
		t := e.Trade
		return stream.OptionTrade{Symbol: e.Symbol, Exchange: str(t.Exchange), Price: t.Price, Size: t.Size, Timestamp: ts(e.Time),
			Condition: t.Conditions.Code()}
	case market.KindOptionQuote:
		q := e.Quote
		return stream.OptionQuote{Symbol: e.Symbol, BidExchange: str(q.BidExchange), BidPrice: q.BidPrice, BidSize: q.BidSize,
			AskExchange: str(q.AskExchange), AskPrice: q.AskPrice, AskSize: q.AskSize, Timestamp: ts(e.Time), Condition: q.Conditions.Code()}
	case market.KindNews:
		n := e.News
		syms := append(make([]string, 0, len(n.Symbols)), n.Symbols...)
		return stream.News{ID: int(n.ID), Author: n.Author, CreatedAt: ts(n.CreatedAt), UpdatedAt: ts(n.UpdatedAt),
			Headline: n.Headline, Summary: n.Summary, Content: n.Content, URL: n.URL, Symbols: syms}
	}
	return nil
}

// normalizeSDK puts a delivered entity's times in UTC (the SDK decodes them
// in the local zone) so that reflect.DeepEqual compares instants.
func normalizeSDK(v any) any {
	switch x := v.(type) {
	case stream.CryptoTrade:
		x.Timestamp = x.Timestamp.UTC()
		return x
	case stream.CryptoQuote:
		x.Timestamp = x.Timestamp.UTC()
		return x
	case sdkBar:
		x.bar.Timestamp = x.bar.Timestamp.UTC()
		return x
	case stream.CryptoOrderbook:
		x.Timestamp = x.Timestamp.UTC()
		return x
	case stream.CryptoPerpPricing:
		x.Timestamp, x.NextFundingTime = x.Timestamp.UTC(), x.NextFundingTime.UTC()
		return x
	case stream.OptionTrade:
		x.Timestamp = x.Timestamp.UTC()
		return x
	case stream.OptionQuote:
		x.Timestamp = x.Timestamp.UTC()
		return x
	case stream.News:
		x.CreatedAt, x.UpdatedAt = x.CreatedAt.UTC(), x.UpdatedAt.UTC()
		return x
	}
	return v
}
