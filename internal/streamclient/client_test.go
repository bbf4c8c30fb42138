package streamclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/auth"
	"github.com/tapehq/tape/internal/hub"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/wsapi"
)

// tapeServer is a stream server fed by the test through its hub.
type tapeServer struct {
	hub  *hub.Hub
	ws   *wsapi.Server
	http *httptest.Server
	url  string
}

func newTapeServer(t *testing.T, keys *auth.Keys) *tapeServer {
	t.Helper()
	h := hub.New(hub.Options{Formats: []hub.Encoder{alpacawire.AppendJSON, alpacawire.AppendMsgpack}})
	ws := wsapi.New(wsapi.Options{Hub: h, Keys: keys})
	hs := httptest.NewServer(ws)
	s := &tapeServer{hub: h, ws: ws, http: hs, url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/v2/iex"}
	t.Cleanup(s.close)
	return s
}

func (s *tapeServer) close() {
	s.ws.Close()
	s.http.Close()
}

func trades(sym string, n int) []market.Event {
	evs := make([]market.Event, n)
	for i := range evs {
		evs[i] = market.Event{Kind: market.KindTrade, Symbol: sym, Time: int64(i+1) * 1e9,
			Trade: market.Trade{ID: int64(i + 1), Price: 10, Size: 100, Exchange: 'V', Tape: 'C'}}
	}
	return evs
}

type collector struct {
	mu   sync.Mutex
	msgs []alpacawire.Message
}

func (c *collector) handle(m []alpacawire.Message) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m...)
	c.mu.Unlock()
}

func (c *collector) count(typ string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.msgs {
		if m.Type == typ {
			n++
		}
	}
	return n
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func subscription(ch market.Channel, syms ...string) alpacawire.Subscription {
	var s alpacawire.Subscription
	s[ch] = syms
	return s
}

func TestReceivesInBothCodecs(t *testing.T) {
	for _, codec := range []alpacawire.Codec{alpacawire.JSON, alpacawire.MsgPack} {
		t.Run(codec.String(), func(t *testing.T) {
			srv := newTapeServer(t, nil)
			c, err := New(Options{URL: srv.url, Key: "k", Secret: "s", JSON: codec == alpacawire.JSON, Subscription: subscription(market.ChanTrades, "AAPL")})
			if err != nil {
				t.Fatal(err)
			}
			var col collector
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx, col.handle) }()
			eventually(t, "connected", func() bool { return c.State() == StateConnected })
			srv.hub.Publish(trades("AAPL", 10))
			srv.hub.Publish(trades("MSFT", 10))
			eventually(t, "10 trades", func() bool { return col.count("t") == 10 })
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("Run: %v", err)
			}
			if c.State() != StateStopped {
				t.Fatalf("state %v", c.State())
			}
		})
	}
}

// TestReconnectsAfterServerRestart: a new server on the same address gets a
// new session with the same subscription.
func TestReconnectsAfterServerRestart(t *testing.T) {
	srv := newTapeServer(t, nil)
	c, _ := New(Options{URL: srv.url, Subscription: subscription(market.ChanTrades, "*"), MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	var col collector
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, col.handle) }()
	eventually(t, "first connect", func() bool { return c.State() == StateConnected })

	// Restart: close the server and bring a new one up on the same port.
	addr := srv.http.Listener.Addr().String()
	srv.close()
	eventually(t, "noticing the disconnect", func() bool { return c.State() != StateConnected })
	h := hub.New(hub.Options{Formats: []hub.Encoder{alpacawire.AppendJSON, alpacawire.AppendMsgpack}})
	ws := wsapi.New(wsapi.Options{Hub: h})
	hs := httptest.NewUnstartedServer(ws)
	var err error
	for range 100 { // the port can take a moment to be free again
		if hs.Listener, err = listen(addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	hs.Start()
	defer func() { ws.Close(); hs.Close() }()
	eventually(t, "reconnect", func() bool { conn, _, _ := c.Stats(); return conn >= 2 && c.State() == StateConnected })
	h.Publish(trades("AAPL", 3))
	eventually(t, "trades after the restart", func() bool { return col.count("t") == 3 })
	if _, re, last := c.Stats(); re == 0 || last == "" {
		t.Fatalf("reconnects %d, last error %q", re, last)
	}
	cancel()
	<-done
}

// TestFatalAuthError: 402 ends Run instead of retrying forever.
func TestFatalAuthError(t *testing.T) {
	srv := newTapeServer(t, auth.NewKeys(map[string]string{"good": "pair"}))
	c, _ := New(Options{URL: srv.url, Key: "bad", Secret: "pair", MinBackoff: time.Millisecond})
	err := c.Run(context.Background(), func([]alpacawire.Message) {})
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Code != 402 || !pe.Fatal() {
		t.Fatalf("Run: %v", err)
	}
	if c.State() != StateFailed {
		t.Fatalf("state %v, want failed (it must stay visible)", c.State())
	}
}

// TestBackoff: exponential with full jitter, capped, never below the minimum;
// the sleeps are observed through an injected clock.
func TestBackoff(t *testing.T) {
	var slept []time.Duration
	var mu sync.Mutex
	attempts := atomic.Int64{}
	// A server that refuses every upgrade.
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer hs.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c, _ := New(Options{
		URL:        "ws" + strings.TrimPrefix(hs.URL, "http"),
		MinBackoff: 100 * time.Millisecond, MaxBackoff: 1600 * time.Millisecond,
		Rand: func() float64 { return 1 }, // the top of every jitter range
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			slept = append(slept, d)
			n := len(slept)
			mu.Unlock()
			if n == 8 {
				cancel()
				return ctx.Err()
			}
			return nil
		},
	})
	if err := c.Run(ctx, func([]alpacawire.Message) {}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 1600, 1600, 1600}
	for i := range want {
		if slept[i] != want[i]*time.Millisecond {
			t.Fatalf("sleep %d = %v, want %v (all %v)", i, slept[i], want[i]*time.Millisecond, slept)
		}
	}
	if attempts.Load() != 8 {
		t.Fatalf("%d attempts", attempts.Load())
	}
	// With Rand 0 every delay is the minimum: never a tight loop.
	c.opts.Rand = func() float64 { return 0 }
	for n := 1; n < 30; n++ {
		if d := c.backoff(n); d != 100*time.Millisecond {
			t.Fatalf("backoff(%d) = %v", n, d)
		}
	}
}

// TestSilentServer: a server that completes the handshake and then neither
// sends data nor answers pings is declared dead by the watchdog.
func TestSilentServer(t *testing.T) {
	var sessions atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		sessions.Add(1)
		ctx := r.Context()
		conn.Write(ctx, websocket.MessageBinary, alpacawire.AppendSuccess(nil, alpacawire.MsgPack, "connected"))
		conn.Read(ctx) // auth
		conn.Write(ctx, websocket.MessageBinary, alpacawire.AppendSuccess(nil, alpacawire.MsgPack, "authenticated"))
		// Mute: stop reading (so pings go unanswered) and never write.
		<-ctx.Done()
	}))
	defer hs.Close()
	c, _ := New(Options{URL: "ws" + strings.TrimPrefix(hs.URL, "http"), PingInterval: 50 * time.Millisecond,
		SilenceTimeout: 200 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, func([]alpacawire.Message) {}) }()
	eventually(t, "a second session after the watchdog fired", func() bool { return sessions.Load() >= 2 })
	_, _, last := c.Stats()
	if !strings.Contains(last, "silent") {
		t.Fatalf("last error %q", last)
	}
	cancel()
	<-done
	hs.CloseClientConnections()
}

// TestChange: runtime subscription changes wait for the echo, refusals come
// back to the caller without breaking the connection, and the set survives
// a reconnect.
func TestChange(t *testing.T) {
	h := hub.New(hub.Options{Formats: []hub.Encoder{alpacawire.AppendJSON, alpacawire.AppendMsgpack}})
	ws := wsapi.New(wsapi.Options{Hub: h, MaxSymbols: 3})
	hs := httptest.NewServer(ws)
	defer func() { ws.Close(); hs.Close() }()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/v2/iex"

	c, _ := New(Options{URL: url, Subscription: subscription(market.ChanTrades, "AAPL")})
	// Before connecting: recorded for the first session.
	if err := c.Change(context.Background(), true, subscription(market.ChanQuotes, "MSFT")); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("change before connect: %v", err)
	}
	var col collector
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, col.handle) }()
	eventually(t, "connected", func() bool { return c.State() == StateConnected })
	if sub := c.Subscription(); len(sub[market.ChanTrades]) != 1 || sub[market.ChanQuotes][0] != "MSFT" {
		t.Fatalf("initial set %v", sub)
	}
	if err := c.Change(ctx, true, subscription(market.ChanTrades, "TSLA")); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if got := c.Subscription()[market.ChanTrades]; strings.Join(got, ",") != "AAPL,TSLA" {
		t.Fatalf("trades %v", got)
	}
	h.Publish(trades("TSLA", 2))
	eventually(t, "TSLA trades", func() bool { return col.count("t") == 2 })

	// A fourth symbol is refused with 405; the set and the connection stay.
	err := c.Change(ctx, true, subscription(market.ChanBars, "NVDA", "AMD"))
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Code != 405 {
		t.Fatalf("over the limit: %v", err)
	}
	if got := c.Subscription()[market.ChanBars]; len(got) != 0 {
		t.Fatalf("bars after a refusal: %v", got)
	}
	if c.State() != StateConnected {
		t.Fatal("a refusal broke the connection")
	}
	if err := c.Change(ctx, false, subscription(market.ChanTrades, "AAPL")); err != nil {
		t.Fatalf("unsubscribe: %v", err)
	}
	if got := c.Subscription()[market.ChanTrades]; strings.Join(got, ",") != "TSLA" {
		t.Fatalf("trades %v", got)
	}
	cancel()
	<-done
}

// scripted is a fake upstream that performs the handshake and then runs a
// script per session (session numbers start at 1).
func scripted(t *testing.T, script func(n int, ctx context.Context, conn *websocket.Conn)) (url string, sessions *atomic.Int64) {
	t.Helper()
	sessions = &atomic.Int64{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		n := int(sessions.Add(1))
		ctx := r.Context()
		mp := alpacawire.MsgPack
		conn.Write(ctx, websocket.MessageBinary, alpacawire.AppendSuccess(nil, mp, "connected"))
		conn.Read(ctx) // auth
		script(n, ctx, conn)
	}))
	t.Cleanup(hs.Close)
	return "ws" + strings.TrimPrefix(hs.URL, "http"), sessions
}

func authed(ctx context.Context, conn *websocket.Conn) {
	conn.Write(ctx, websocket.MessageBinary, alpacawire.AppendSuccess(nil, alpacawire.MsgPack, "authenticated"))
}

func tradeFrame(ids ...int64) []byte {
	var msgs [][]byte
	for _, id := range ids {
		e := market.Event{Kind: market.KindTrade, Symbol: "AAPL", Time: id * 1e9, Trade: market.Trade{ID: id, Price: 1, Size: 1}}
		msgs = append(msgs, alpacawire.AppendMsgpack(nil, &e))
	}
	return alpacawire.AppendFrame(nil, alpacawire.MsgPack, msgs)
}

// TestUpstreamFailures: how the client reacts to each thing an upstream
// can do wrong. 406 at auth backs off and retries; 407 and 500 mid-stream
// and a dropped connection reconnect; garbage frames are skipped without
// losing the connection or the messages around them.
func TestUpstreamFailures(t *testing.T) {
	cases := []struct {
		name   string
		script func(n int, ctx context.Context, conn *websocket.Conn)
		check  func(c *Client, col *collector, sessions int64) string // "" when satisfied
	}{
		{"406 then ok", func(n int, ctx context.Context, conn *websocket.Conn) {
			if n == 1 {
				conn.Write(ctx, websocket.MessageBinary, alpacawire.AppendError(nil, alpacawire.MsgPack, 406))
				return
			}
			authed(ctx, conn)
			conn.Write(ctx, websocket.MessageBinary, tradeFrame(1))
			<-ctx.Done()
		}, func(c *Client, col *collector, sessions int64) string {
			if sessions < 2 || col.count("t") != 1 {
				return fmt.Sprintf("sessions %d trades %d", sessions, col.count("t"))
			}
			return ""
		}},
		{"407 and 500 reconnect", func(n int, ctx context.Context, conn *websocket.Conn) {
			authed(ctx, conn)
			conn.Write(ctx, websocket.MessageBinary, tradeFrame(int64(n)))
			switch n {
			case 1:
				conn.Write(ctx, websocket.MessageBinary, alpacawire.AppendError(nil, alpacawire.MsgPack, 407))
			case 2:
				conn.Write(ctx, websocket.MessageBinary, alpacawire.AppendError(nil, alpacawire.MsgPack, 500))
			default:
				<-ctx.Done()
			}
		}, func(c *Client, col *collector, sessions int64) string {
			if sessions < 3 || col.count("t") < 3 {
				return fmt.Sprintf("sessions %d trades %d", sessions, col.count("t"))
			}
			return ""
		}},
		{"dropped connection", func(n int, ctx context.Context, conn *websocket.Conn) {
			authed(ctx, conn)
			conn.Write(ctx, websocket.MessageBinary, tradeFrame(int64(n)))
			if n == 1 {
				conn.CloseNow()
				return
			}
			<-ctx.Done()
		}, func(c *Client, col *collector, sessions int64) string {
			if sessions < 2 || col.count("t") < 2 {
				return fmt.Sprintf("sessions %d trades %d", sessions, col.count("t"))
			}
			return ""
		}},
		{"slow upstream: handshake reply too late", func(n int, ctx context.Context, conn *websocket.Conn) {
			if n == 1 {
				time.Sleep(300 * time.Millisecond) // past ReplyTimeout
			}
			authed(ctx, conn)
			conn.Write(ctx, websocket.MessageBinary, tradeFrame(int64(n)))
			<-ctx.Done()
		}, func(c *Client, col *collector, sessions int64) string {
			if sessions < 2 || col.count("t") < 1 {
				return fmt.Sprintf("sessions %d trades %d", sessions, col.count("t"))
			}
			return ""
		}},
		{"oversize frame", func(n int, ctx context.Context, conn *websocket.Conn) {
			authed(ctx, conn)
			if n == 1 {
				ids := make([]int64, 200) // ~10 KiB, over the 4 KiB limit
				for i := range ids {
					ids[i] = int64(i + 1)
				}
				conn.Write(ctx, websocket.MessageBinary, tradeFrame(ids...))
				<-ctx.Done()
				return
			}
			conn.Write(ctx, websocket.MessageBinary, tradeFrame(1000))
			<-ctx.Done()
		}, func(c *Client, col *collector, sessions int64) string {
			if sessions < 2 || col.count("t") != 1 {
				return fmt.Sprintf("sessions %d trades %d", sessions, col.count("t"))
			}
			return ""
		}},
		{"garbage frames skipped", func(n int, ctx context.Context, conn *websocket.Conn) {
			authed(ctx, conn)
			conn.Write(ctx, websocket.MessageBinary, tradeFrame(1))
			conn.Write(ctx, websocket.MessageBinary, []byte{0x91, 0xc1, 0xff, 0x00})      // invalid msgpack
			conn.Write(ctx, websocket.MessageText, []byte(`[{"T":"t","S":"AAPL","i":2,`)) // truncated JSON
			conn.Write(ctx, websocket.MessageBinary, append(tradeFrame(3)[:0:0], tradeFrame(3)...))
			<-ctx.Done()
		}, func(c *Client, col *collector, sessions int64) string {
			if sessions != 1 || col.count("t") != 2 || c.BadFrames() != 2 {
				return fmt.Sprintf("sessions %d trades %d bad frames %d", sessions, col.count("t"), c.BadFrames())
			}
			return ""
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url, sessions := scripted(t, tc.script)
			c, _ := New(Options{URL: url, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
				ReplyTimeout: 100 * time.Millisecond, MaxFrameBytes: 4 << 10})
			var col collector
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx, col.handle) }()
			deadline := time.Now().Add(10 * time.Second)
			for tc.check(c, &col, sessions.Load()) != "" && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			<-done
			if msg := tc.check(c, &col, sessions.Load()); msg != "" {
				t.Fatal(msg)
			}
		})
	}
}

// TestRefusedInitialSubscription: a set the server refuses at connect
// (405) leaves the client connected, with the refusal reported, rather than
// reconnecting into the same refusal forever.
func TestRefusedInitialSubscription(t *testing.T) {
	h := hub.New(hub.Options{Formats: []hub.Encoder{alpacawire.AppendJSON, alpacawire.AppendMsgpack}})
	ws := wsapi.New(wsapi.Options{Hub: h, MaxSymbols: 1})
	hs := httptest.NewServer(ws)
	defer func() { ws.Close(); hs.Close() }()
	c, _ := New(Options{URL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/v2/iex",
		Subscription: subscription(market.ChanTrades, "AAPL", "MSFT"), MinBackoff: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, func([]alpacawire.Message) {}) }()
	eventually(t, "connected", func() bool { return c.State() == StateConnected })
	time.Sleep(100 * time.Millisecond)
	connects, reconnects, last := c.Stats()
	if connects != 1 || reconnects != 0 || !strings.Contains(last, "405") || c.State() != StateConnected {
		t.Fatalf("connects %d reconnects %d last %q state %v", connects, reconnects, last, c.State())
	}
	cancel()
	<-done
}
