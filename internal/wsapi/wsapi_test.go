package wsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/auth"
	"github.com/tapehq/tape/internal/hub"
	"github.com/tapehq/tape/internal/market"
)

type fixture struct {
	hub *hub.Hub
	srv *Server
	url string
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	if opts.Hub == nil {
		opts.Hub = hub.New(hub.Options{Formats: []hub.Encoder{alpacawire.AppendJSON, alpacawire.AppendMsgpack},
			MaxQueueBytes: 256 << 10})
	}
	srv := New(opts)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
	})
	return &fixture{hub: opts.Hub, srv: srv, url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/v2/iex"}
}

type client struct {
	t    *testing.T
	conn *websocket.Conn
	mp   bool
}

func (f *fixture) dial(t *testing.T, header http.Header) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, f.url, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	conn.SetReadLimit(-1)
	t.Cleanup(func() { conn.CloseNow() })
	return &client{t: t, conn: conn, mp: header.Get("Content-Type") == "application/msgpack"}
}

// read returns the next frame's messages.
func (c *client) read() []map[string]any {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, data, err := c.conn.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var msgs []map[string]any
	if c.mp {
		if typ != websocket.MessageBinary {
			c.t.Fatalf("msgpack session got a %v frame", typ)
		}
		err = msgpack.Unmarshal(data, &msgs)
	} else {
		if typ != websocket.MessageText {
			c.t.Fatalf("json session got a %v frame", typ)
		}
		err = json.Unmarshal(data, &msgs)
	}
	if err != nil {
		c.t.Fatalf("decode %q: %v", data, err)
	}
	return msgs
}

// expect reads one control frame and checks it is a single message whose
// fields include want.
func (c *client) expect(want map[string]any) map[string]any {
	c.t.Helper()
	msgs := c.read()
	if len(msgs) != 1 {
		c.t.Fatalf("control frame with %d messages: %v", len(msgs), msgs)
	}
	for k, v := range want {
		got := msgs[0][k]
		if f, ok := got.(float64); ok {
			got = int(f)
		}
		if i, ok := got.(int64); ok {
			got = int(i)
		}
		if i, ok := got.(int16); ok {
			got = int(i)
		}
		if i, ok := got.(uint16); ok {
			got = int(i)
		}
		if got != v {
			c.t.Fatalf("%s = %#v, want %#v (message %v)", k, msgs[0][k], v, msgs[0])
		}
	}
	return msgs[0]
}

func (c *client) expectError(code int) {
	c.t.Helper()
	c.expect(map[string]any{"T": "error", "code": code, "msg": alpacawire.ErrorText(code)})
}

func (c *client) send(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// expectClose reads until the connection closes and returns the close code.
func (c *client) expectClose() websocket.StatusCode {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, _, err := c.conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				c.t.Fatal("connection not closed")
			}
			return websocket.CloseStatus(err)
		}
	}
}

func (c *client) login() {
	c.t.Helper()
	c.expect(map[string]any{"T": "success", "msg": "connected"})
	c.send(`{"action":"auth","key":"k","secret":"s"}`)
	c.expect(map[string]any{"T": "success", "msg": "authenticated"})
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func publish(h *hub.Hub, evs ...market.Event) { h.Publish(evs) }

func trade(sym string, id int64) market.Event {
	return market.Event{Kind: market.KindTrade, Symbol: sym, Time: 1e18, Trade: market.Trade{ID: id, Price: 1.5, Size: 100, Exchange: 'V', Tape: 'C'}}
}

func TestSessionFlow(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.dial(t, nil)
	c.login()
	c.send(`{"action":"subscribe","trades":["AAPL"],"quotes":["amd","CLDR"],"bars":["*"]}`)
	echo := c.expect(map[string]any{"T": "subscription"})
	for key, want := range map[string]string{"trades": "AAPL", "quotes": "AMD,CLDR", "bars": "*", "corrections": "AAPL",
		"cancelErrors": "AAPL", "updatedBars": "", "dailyBars": "", "statuses": "", "lulds": "", "imbalances": ""} {
		if got := strings.Join(strs(echo[key]), ","); got != want {
			t.Errorf("echo %s = %q, want %q", key, got, want)
		}
	}
	// Subscriptions add up; the echo is always the full set.
	c.send(`{"action":"subscribe","trades":["MSFT"]}`)
	echo = c.expect(map[string]any{"T": "subscription"})
	if got := strings.Join(strs(echo["trades"]), ","); got != "AAPL,MSFT" {
		t.Fatalf("trades after second subscribe: %s", got)
	}
	publish(f.hub, trade("AAPL", 1), trade("TSLA", 2), trade("MSFT", 3),
		market.Event{Kind: market.KindBar, Symbol: "TSLA", Time: 1e18, Bar: market.Bar{Open: 1, High: 1, Low: 1, Close: 1, Volume: 1}})
	var got []string
	for len(got) < 3 {
		for _, m := range c.read() {
			got = append(got, m["T"].(string)+":"+m["S"].(string))
		}
	}
	if strings.Join(got, " ") != "t:AAPL t:MSFT b:TSLA" {
		t.Fatalf("data %v", got)
	}
	c.send(`{"action":"unsubscribe","trades":["AAPL"],"bars":["*"]}`)
	echo = c.expect(map[string]any{"T": "subscription"})
	if strings.Join(strs(echo["trades"]), ",") != "MSFT" || len(strs(echo["bars"])) != 0 {
		t.Fatalf("echo after unsubscribe %v", echo)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name    string
		opts    Options
		steps   func(c *client)
		closeAs websocket.StatusCode // -1: stays open
	}{
		{"400 bad json", Options{}, func(c *client) { c.login(); c.send(`{"action":`); c.expectError(400) }, -1},
		{"400 unknown action", Options{}, func(c *client) { c.login(); c.send(`{"action":"dance"}`); c.expectError(400) }, -1},
		{"400 malformed symbol", Options{}, func(c *client) {
			c.login()
			c.send(`{"action":"subscribe","trades":["AA PL"]}`)
			c.expectError(400)
		}, -1},
		{"400 symbol not a string", Options{}, func(c *client) { c.login(); c.send(`{"action":"subscribe","trades":[1]}`); c.expectError(400) }, -1},
		{"401 subscribe before auth", Options{}, func(c *client) {
			c.expect(map[string]any{"msg": "connected"})
			c.send(`{"action":"subscribe","trades":["AAPL"]}`)
			c.expectError(401)
		}, -1},
		{"402 auth failed", Options{Keys: auth.NewKeys(map[string]string{"good": "pair"})}, func(c *client) {
			c.expect(map[string]any{"msg": "connected"})
			c.send(`{"action":"auth","key":"good","secret":"wrong"}`)
			c.expectError(402)
		}, websocket.StatusPolicyViolation},
		{"403 already authenticated", Options{}, func(c *client) {
			c.login()
			c.send(`{"action":"auth","key":"k","secret":"s"}`)
			c.expectError(403)
		}, -1},
		{"404 auth timeout", Options{AuthTimeout: 50 * time.Millisecond}, func(c *client) {
			c.expect(map[string]any{"msg": "connected"})
			c.expectError(404)
		}, websocket.StatusPolicyViolation},
		{"405 symbol limit", Options{MaxSymbols: 2}, func(c *client) {
			c.login()
			c.send(`{"action":"subscribe","trades":["A","B"],"quotes":["A","*"]}`)
			c.expect(map[string]any{"T": "subscription"})
			c.send(`{"action":"subscribe","bars":["C"]}`)
			c.expectError(405)
			// The set is unchanged.
			c.send(`{"action":"subscribe","bars":["B"]}`)
			echo := c.expect(map[string]any{"T": "subscription"})
			if strings.Join(strs(echo["bars"]), ",") != "B" {
				c.t.Fatalf("bars %v", echo["bars"])
			}
		}, -1},
		{"409 feed not entitled", Options{NotEntitled: true}, func(c *client) {
			c.expect(map[string]any{"msg": "connected"})
			c.send(`{"action":"auth","key":"k","secret":"s"}`)
			c.expectError(409)
		}, websocket.StatusPolicyViolation},
		{"410 channel of another stream", Options{}, func(c *client) {
			c.login()
			c.send(`{"action":"subscribe","orderbooks":["BTC/USD"],"trades":["AAPL"]}`)
			c.expectError(410)
			// Null or empty lists of other streams' channels are fine: the
			// Go SDK sends them on every subscribe.
			c.send(`{"action":"subscribe","orderbooks":null,"news":[],"pricing":null,"trades":["AAPL"]}`)
			c.expect(map[string]any{"T": "subscription"})
		}, -1},
		{"400 and 1009 oversize message", Options{MaxMessageBytes: 1024}, func(c *client) {
			c.login()
			c.send(`{"action":"subscribe","trades":["` + strings.Repeat("A", 2000) + `"]}`)
			c.expectError(400)
		}, websocket.StatusMessageTooBig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.opts)
			c := f.dial(t, nil)
			tc.steps(c)
			if tc.closeAs != -1 {
				if got := c.expectClose(); got != tc.closeAs {
					t.Fatalf("closed with %v, want %v", got, tc.closeAs)
				}
			}
			if tc.closeAs == -1 {
				// Still usable after the error.
				c.send(`{"action":"subscribe","bars":["ZZZ"]}`)
				msgs := c.read()
				if msgs[0]["T"] != "subscription" && msgs[0]["T"] != "error" {
					t.Fatalf("session not usable after error: %v", msgs)
				}
			}
		})
	}
}

func TestConnectionLimit406(t *testing.T) {
	keys := auth.NewKeys(nil)
	keys.MaxConnsPerKey = 1
	f := newFixture(t, Options{Keys: keys})
	a := f.dial(t, nil)
	a.login()
	b := f.dial(t, nil)
	b.expect(map[string]any{"msg": "connected"})
	b.send(`{"action":"auth","key":"k","secret":"s"}`)
	b.expectError(406)
	// Like the Go SDK, retry on the same socket once the slot frees up.
	a.conn.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.send(`{"action":"auth","key":"k","secret":"s"}`)
		m := b.read()[0]
		if m["msg"] == "authenticated" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("auth never succeeded after the other connection left: %v", m)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMsgpackSession(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.dial(t, http.Header{"Content-Type": {"application/msgpack"}})
	c.expect(map[string]any{"T": "success", "msg": "connected"})
	auth, _ := msgpack.Marshal(map[string]string{"action": "auth", "key": "k", "secret": "s"})
	ctx := context.Background()
	c.conn.Write(ctx, websocket.MessageBinary, auth)
	c.expect(map[string]any{"msg": "authenticated"})
	sub, _ := msgpack.Marshal(map[string]any{"action": "subscribe", "trades": []string{"AAPL"}, "orderbooks": nil})
	c.conn.Write(ctx, websocket.MessageBinary, sub)
	c.expect(map[string]any{"T": "subscription"})
	publish(f.hub, trade("AAPL", 7))
	m := c.read()[0]
	if m["T"] != "t" || m["S"] != "AAPL" {
		t.Fatalf("trade %v", m)
	}
	if _, ok := m["t"].(time.Time); !ok {
		t.Fatalf("timestamp is %T, want the msgpack timestamp extension", m["t"])
	}
}

func TestHeaderAuth(t *testing.T) {
	f := newFixture(t, Options{Keys: auth.NewKeys(map[string]string{"AK": "SK"})})
	c := f.dial(t, http.Header{"APCA-API-KEY-ID": {"AK"}, "APCA-API-SECRET-KEY": {"SK"}})
	c.expect(map[string]any{"msg": "connected"})
	c.expect(map[string]any{"msg": "authenticated"})
	c.send(`{"action":"auth","key":"AK","secret":"SK"}`)
	c.expectError(403)
}

// TestFragmentedMessage: alpaca-py splits big subscribes into 32 KiB frames.
func TestFragmentedMessage(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.dial(t, nil)
	c.login()
	var syms []string
	for i := range 3000 {
		syms = append(syms, "S"+strings.Repeat("X", i%5)+string(rune('A'+i%26))+string(rune('A'+i/26%26))+string(rune('A'+i/676)))
	}
	msg, _ := json.Marshal(map[string]any{"action": "subscribe", "trades": syms})
	ctx := context.Background()
	w, err := c.conn.Writer(ctx, websocket.MessageText)
	if err != nil {
		t.Fatal(err)
	}
	for len(msg) > 0 {
		n := min(len(msg), 1000)
		if _, err := w.Write(msg[:n]); err != nil {
			t.Fatal(err)
		}
		msg = msg[n:]
	}
	w.Close()
	echo := c.expect(map[string]any{"T": "subscription"})
	if len(strs(echo["trades"])) != len(uniq(syms)) {
		t.Fatalf("echo has %d trades, want %d", len(strs(echo["trades"])), len(uniq(syms)))
	}
}

func uniq(s []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range s {
		m[x] = true
	}
	return m
}

func TestPing(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.dial(t, nil)
	c.login()
	// Pongs need a reader on the client side.
	go func() {
		for {
			if _, _, err := c.conn.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.conn.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

// TestControlAheadOfData: with a backlog larger than the socket buffers, a
// subscription echo overtakes the rest of the backlog.
func TestControlAheadOfData(t *testing.T) {
	h := hub.New(hub.Options{Formats: []hub.Encoder{alpacawire.AppendJSON, alpacawire.AppendMsgpack}, MaxQueueBytes: 256 << 20})
	f := newFixture(t, Options{Hub: h})
	c := f.dial(t, nil)
	c.login()
	c.send(`{"action":"subscribe","trades":["*"]}`)
	c.expect(map[string]any{"T": "subscription"})
	const total = 200_000 // ~22 MB of JSON: more than loopback socket buffers hold
	for i := 0; i < total; i += 1000 {
		batch := make([]market.Event, 1000)
		for j := range batch {
			batch[j] = trade("AAPL", int64(i+j))
		}
		h.Publish(batch)
	}
	c.send(`{"action":"subscribe","quotes":["MSFT"]}`)
	data := 0
	for {
		msgs := c.read()
		if msgs[0]["T"] == "subscription" {
			break
		}
		data += len(msgs)
	}
	if data >= total {
		t.Fatalf("the echo came after the whole backlog (%d messages)", data)
	}
	t.Logf("echo overtook %d queued messages", total-data)
}

// TestSlowClient407: a client that never reads is disconnected with 407 and
// does not stall a client that keeps up.
func TestSlowClient407(t *testing.T) {
	h := hub.New(hub.Options{Formats: []hub.Encoder{alpacawire.AppendJSON, alpacawire.AppendMsgpack}, MaxQueueBytes: 64 << 10})
	f := newFixture(t, Options{Hub: h, WriteTimeout: 2 * time.Second})
	slow := f.dial(t, nil)
	slow.login()
	slow.send(`{"action":"subscribe","trades":["*"]}`)
	slow.expect(map[string]any{"T": "subscription"})
	fast := f.dial(t, nil)
	fast.login()
	fast.send(`{"action":"subscribe","trades":["*"]}`)
	fast.expect(map[string]any{"T": "subscription"})

	const total, step = 200_000, 100 // ~22 MB: beyond the queue bound plus socket buffers
	got := 0
	for i := 0; i < total; i += step {
		batch := make([]market.Event, step)
		for j := range batch {
			batch[j] = trade("AAPL", int64(i+j))
		}
		h.Publish(batch)
		for got < i+step {
			got += len(fast.read())
		}
	}
	if got != total {
		t.Fatalf("fast client got %d of %d", got, total)
	}
	if h.Stats().Kicked+f.srv.Stats().SlowKicks == 0 {
		t.Fatal("slow client was not kicked")
	}
	// The slow client finds a close (and the 407, unless it was cut off).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	saw407 := false
	for {
		_, data, err := slow.conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatal("slow client never disconnected")
			}
			break
		}
		if strings.Contains(string(data), `"code":407`) {
			saw407 = true
		}
	}
	t.Logf("407 delivered before the close: %v", saw407)
}

func TestShutdownGoingAway(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.dial(t, nil)
	c.login()
	done := make(chan struct{})
	go func() { f.srv.Close(); close(done) }()
	if got := c.expectClose(); got != websocket.StatusGoingAway {
		t.Fatalf("close code %v", got)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
}

// TestInternalError500: a bug while handling a message costs that client a
// 500 and its connection, not the server.
func TestInternalError500(t *testing.T) {
	testHookRequest = func(r *alpacawire.Request) {
		if r.Lists["trades"] != nil && r.Lists["trades"][0] == "BOOM" {
			panic("injected")
		}
	}
	t.Cleanup(func() { testHookRequest = nil })
	f := newFixture(t, Options{})
	c := f.dial(t, nil)
	c.login()
	c.send(`{"action":"subscribe","trades":["BOOM"]}`)
	c.expectError(500)
	if got := c.expectClose(); got != websocket.StatusInternalError {
		t.Fatalf("close %v", got)
	}
	other := f.dial(t, nil)
	other.login()
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestConnectAndDisconnectLogged: a client's arrival and departure are
// logged, the departure with its reason.
func TestConnectAndDisconnectLogged(t *testing.T) {
	var logs syncBuffer
	f := newFixture(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), AuthTimeout: 100 * time.Millisecond})
	c := f.dial(t, nil)
	c.login()
	c.conn.Close(websocket.StatusNormalClosure, "bye")
	idle := f.dial(t, nil) // never authenticates: 404 auth timeout
	_ = idle
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), `reason="auth timeout"`) || !strings.Contains(logs.String(), `reason="closed by the client"`) {
		if time.Now().After(deadline) {
			t.Fatalf("log:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := strings.Count(logs.String(), `msg="client connected"`); n != 2 {
		t.Fatalf("%d connections logged:\n%s", n, logs.String())
	}
}

// TestSubscriberNamesItsKey: once authenticated, a session's subscriber is
// labelled with its key (redacted as in the logs), so the subscriber list
// tells programs apart that share an address.
func TestSubscriberNamesItsKey(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.dial(t, nil)
	c.expect(map[string]any{"T": "success", "msg": "connected"})
	if subs := f.hub.Subscribers(); len(subs) != 1 || strings.Contains(subs[0].Label, "key") ||
		!strings.HasSuffix(subs[0].Label, "/v2/iex json") {
		t.Fatalf("before auth: %+v", subs)
	}
	c.send(`{"action":"auth","key":"PKTEST1234","secret":"s"}`)
	c.expect(map[string]any{"T": "success", "msg": "authenticated"})
	subs := f.hub.Subscribers()
	if len(subs) != 1 || !strings.HasSuffix(subs[0].Label, "/v2/iex json key PKTE****") {
		t.Fatalf("after auth: %+v", subs)
	}
}
