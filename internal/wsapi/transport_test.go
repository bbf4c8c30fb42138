package wsapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/hub"
	"github.com/tapehq/tape/internal/market"
)

// rawConn is a hand-rolled websocket client for tests that need to misbehave
// (never read, never answer pings, open from another address).
type rawTestConn struct {
	net.Conn
	br *bufio.Reader
}

// dialRaw upgrades a TCP connection from local address laddr ("" for any)
// and returns the HTTP status; the connection is usable when it is 101.
func dialRaw(t *testing.T, url, laddr string, extra string) (*rawTestConn, int) {
	t.Helper()
	host := strings.TrimPrefix(strings.TrimPrefix(url, "ws://"), "http://")
	host = host[:strings.IndexByte(host, '/')]
	d := net.Dialer{Timeout: 5 * time.Second}
	if laddr != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(laddr)}
	}
	c, err := d.Dial("tcp", host)
	if err != nil {
		t.Fatalf("dial from %q: %v", laddr, err)
	}
	t.Cleanup(func() { c.Close() })
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	fmt.Fprintf(c, "GET /v2/iex HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n", host, key, extra)
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	c.SetReadDeadline(time.Time{})
	return &rawTestConn{Conn: c, br: br}, resp.StatusCode
}

// send writes one masked frame.
func (c *rawTestConn) send(op byte, p []byte) {
	mask := [4]byte{1, 2, 3, 4}
	b := []byte{0x80 | op}
	switch {
	case len(p) < 126:
		b = append(b, 0x80|byte(len(p)))
	default:
		b = append(b, 0x80|126, byte(len(p)>>8), byte(len(p)))
	}
	b = append(b, mask[:]...)
	for i, x := range p {
		b = append(b, x^mask[i&3])
	}
	c.Write(b)
}

// next reads one server frame: opcode and payload.
func (c *rawTestConn) next(t *testing.T) (byte, []byte, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var h [10]byte
	if _, err := io.ReadFull(c.br, h[:2]); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 != 0 {
		t.Fatal("server frames must not be masked")
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		io.ReadFull(c.br, h[2:4])
		n = int(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		io.ReadFull(c.br, h[2:10])
		n = int(binary.BigEndian.Uint64(h[2:10]))
	}
	p := make([]byte, n)
	_, err := io.ReadFull(c.br, p)
	return h[0] & 0x0f, p, err
}

// untilClose reads until the server's close frame (its code) or an error
// (-1).
func (c *rawTestConn) untilClose(t *testing.T) int {
	t.Helper()
	for {
		op, p, err := c.next(t)
		if err != nil {
			return -1
		}
		if op == opClose && len(p) >= 2 {
			return int(binary.BigEndian.Uint16(p))
		}
	}
}

func TestHandshakeRefusals(t *testing.T) {
	f := newFixture(t, Options{})
	url := "http" + strings.TrimPrefix(f.url, "ws")
	for _, tc := range []struct {
		name   string
		method string
		header map[string]string
		want   int
	}{
		{"not GET", http.MethodPost, map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "MDEyMzQ1Njc4OWFiY2RlZg=="}, http.StatusMethodNotAllowed},
		{"plain HTTP", http.MethodGet, nil, http.StatusUpgradeRequired},
		{"version 8", http.MethodGet, map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "8", "Sec-WebSocket-Key": "MDEyMzQ1Njc4OWFiY2RlZg=="}, http.StatusBadRequest},
		{"short key", http.MethodGet, map[string]string{"Connection": "keep-alive, Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "c2hvcnQ="}, http.StatusBadRequest},
		{"cross origin", http.MethodGet, map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "MDEyMzQ1Njc4OWFiY2RlZg==", "Origin": "https://evil.example"}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, url, nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	// Same origin (the dashboard) is accepted.
	c := f.dial(t, http.Header{"Origin": {"http://" + strings.TrimPrefix(url, "http://")[:strings.Index(strings.TrimPrefix(url, "http://"), "/")]}})
	c.expect(map[string]any{"msg": "connected"})
}

// canBind reports whether this host routes 127.0.0.2 to loopback (Linux
// does; macOS needs an alias).
func canBind(addr string) bool {
	l, err := net.Listen("tcp", addr+":0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// TestUnauthFloodDoesNotLockOut: one peer opening many connections that
// never authenticate gets its share of slots and HTTP 503 beyond, while a
// client from another address connects, authenticates and streams.
func TestUnauthFloodDoesNotLockOut(t *testing.T) {
	if !canBind("127.0.0.2") {
		t.Skip("127.0.0.2 is not a loopback address here")
	}
	f := newFixture(t, Options{MaxUnauthConnsPerAddr: 8, MaxUnauthConns: 20, MaxConns: 30})
	accepted, refused := 0, 0
	for range 100 {
		_, status := dialRaw(t, f.url, "127.0.0.2", "")
		switch status {
		case http.StatusSwitchingProtocols:
			accepted++
		case http.StatusServiceUnavailable:
			refused++
		default:
			t.Fatalf("flood got HTTP %d", status)
		}
	}
	if accepted != 8 || refused != 92 {
		t.Fatalf("flood: %d accepted, %d refused; want 8 and 92", accepted, refused)
	}
	c := f.dial(t, nil) // from 127.0.0.1
	c.login()
	c.send(`{"action":"subscribe","trades":["AAPL"]}`)
	c.expect(map[string]any{"T": "subscription"})
	publish(f.hub, trade("AAPL", 1))
	if m := c.read()[0]; m["T"] != "t" {
		t.Fatalf("got %v", m)
	}
	if st := f.srv.Stats(); st.Rejected != 92 {
		t.Fatalf("rejected %d", st.Rejected)
	}
}

// TestUnauthEviction: when the unauthenticated slots are full, a newcomer
// evicts the oldest unauthenticated connection (404, as on an auth
// timeout) instead of being refused; authenticated ones are never
// touched.
func TestUnauthEviction(t *testing.T) {
	old := evictAge
	evictAge = 0
	t.Cleanup(func() { evictAge = old })
	f := newFixture(t, Options{MaxUnauthConns: 2, MaxUnauthConnsPerAddr: -1})
	authed := f.dial(t, nil)
	authed.login()
	var idle []*rawTestConn
	for range 2 {
		c, status := dialRaw(t, f.url, "", "")
		if status != http.StatusSwitchingProtocols {
			t.Fatalf("HTTP %d", status)
		}
		// "connected" comes once the server has registered the session as
		// upgraded: only then may it be chosen for eviction.
		if _, p, err := c.next(t); err != nil || !strings.Contains(string(p), "connected") {
			t.Fatalf("idle connection: %q %v", p, err)
		}
		idle = append(idle, c)
	}
	newcomer := f.dial(t, nil)
	newcomer.login()
	// The first idle connection gets 404, then the close.
	got := []string{"connected"}
	for {
		op, p, err := idle[0].next(t)
		if err != nil {
			t.Fatalf("evicted connection: %v after %v", err, got)
		}
		if op == opClose {
			break
		}
		got = append(got, string(p))
	}
	if len(got) != 2 || !strings.Contains(got[1], `"code":404`) {
		t.Fatalf("evicted connection got %v", got)
	}
	if st := f.srv.Stats(); st.Evicted != 1 {
		t.Fatalf("evicted %d", st.Evicted)
	}
	// The authenticated client still works.
	authed.send(`{"action":"subscribe","trades":["AAPL"]}`)
	authed.expect(map[string]any{"T": "subscription"})
}

// TestServerPingsAndDropsDeadClient: a client that never answers pings is
// disconnected after a ping interval; one that answers stays.
func TestServerPingsAndDropsDeadClient(t *testing.T) {
	f := newFixture(t, Options{PingInterval: 100 * time.Millisecond})
	alive := f.dial(t, nil)
	alive.login()
	go func() { // coder/websocket answers pings while reading
		for {
			if _, _, err := alive.conn.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	dead, status := dialRaw(t, f.url, "", "")
	if status != http.StatusSwitchingProtocols {
		t.Fatalf("HTTP %d", status)
	}
	pings := 0
	for {
		op, _, err := dead.next(t)
		if err != nil {
			if pings == 0 {
				t.Fatal("closed without a ping")
			}
			break
		}
		if op == opPing {
			pings++
		}
	}
	// Many intervals later the answering client is still served.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := alive.conn.Ping(ctx); err != nil {
		t.Fatalf("answering client: %v", err)
	}
}

// TestClientCloseHandshake: a client's close is answered with its code.
func TestClientCloseHandshake(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.dial(t, nil)
	c.login()
	if err := c.conn.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("close handshake: %v", err)
	}
	raw, _ := dialRaw(t, f.url, "", "")
	raw.send(opClose, []byte{0x03, 0xe9}) // 1001
	if got := raw.untilClose(t); got != 1001 {
		t.Fatalf("close answered with %d", got)
	}
}

// TestProtocolErrors: frames RFC 6455 forbids close the connection with
// 1002.
func TestProtocolErrors(t *testing.T) {
	f := newFixture(t, Options{})
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"unmasked", []byte{0x81, 0x02, 'h', 'i'}},
		{"reserved bit", []byte{0xc1, 0x80, 0, 0, 0, 0}},
		{"unknown opcode", []byte{0x83, 0x80, 0, 0, 0, 0}},
		{"fragmented ping", []byte{0x09, 0x80, 0, 0, 0, 0}},
		{"stray continuation", []byte{0x80, 0x80, 0, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := dialRaw(t, f.url, "", "")
			c.Write(tc.frame)
			if got := c.untilClose(t); got != int(closeProtocolError) {
				t.Fatalf("closed with %d", got)
			}
		})
	}
}

// TestPendingFrameCharged: when the socket does not take a turn's bytes,
// the unwritten frame is charged to the subscriber until written, so a
// client's bound covers it. (The pipe has no raw descriptor, so every turn
// goes through the flush, and the pipe takes nothing until read.)
func TestPendingFrameCharged(t *testing.T) {
	h := hub.New(hub.Options{Formats: []hub.Encoder{alpacawire.AppendJSON, alpacawire.AppendMsgpack}, MaxQueueBytes: 1 << 20})
	srv := New(Options{Hub: h})
	t.Cleanup(srv.Close)
	server, client := net.Pipe()
	defer client.Close()
	ss, _, refused := srv.admit("test")
	if refused != "" {
		t.Fatal(refused)
	}
	ss.init(srv, server, httptest.NewRequest(http.MethodGet, "/v2/iex", nil))
	srv.mu.Lock()
	ss.upgraded = true
	srv.mu.Unlock()
	done := make(chan struct{})
	go func() { defer close(done); ss.run() }()

	// "connected" is in flight: charged while the pipe holds it.
	waitCharged := func(min int) int {
		t.Helper()
		for range 5000 {
			if q := ss.sub.Stats().QueuedBytes; q >= min {
				return q
			}
			time.Sleep(time.Millisecond)
		}
		t.Fatalf("never charged %d bytes: %d", min, ss.sub.Stats().QueuedBytes)
		return 0
	}
	connected := appendFrame(nil, opText, alpacawire.AppendSuccess(nil, alpacawire.JSON, "connected"))
	waitCharged(len(connected))
	buf := make([]byte, len(connected))
	if _, err := io.ReadFull(client, buf); err != nil || !bytes.Equal(buf, connected) {
		t.Fatalf("read %q %v", buf, err)
	}
	// Once written, nothing stays charged.
	for range 5000 {
		if ss.sub.Stats().QueuedBytes == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if q := ss.sub.Stats().QueuedBytes; q != 0 {
		t.Fatalf("%d bytes still charged after the write", q)
	}
	client.Close()
	<-done
}

// TestNeverReadingClient407: a client that never reads is charged what it
// pins, never beyond the bound, kicked with 407 once over it, and its
// session goes; a client that reads gets everything.
func TestNeverReadingClient407(t *testing.T) {
	const bound = 256 << 10
	h := hub.New(hub.Options{Formats: []hub.Encoder{alpacawire.AppendJSON, alpacawire.AppendMsgpack}, MaxQueueBytes: bound})
	f := newFixture(t, Options{Hub: h})
	slow, _ := dialRaw(t, f.url, "", "")
	if tc, ok := slow.Conn.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096) // fill up sooner
	}
	slow.send(opText, []byte(`{"action":"auth","key":"k","secret":"s"}`))
	slow.send(opText, []byte(`{"action":"subscribe","trades":["*"]}`))
	fast := f.dial(t, nil)
	fast.login()
	fast.send(`{"action":"subscribe","trades":["*"]}`)
	fast.expect(map[string]any{"T": "subscription"})
	for h.Stats().Subscribers < 2 || !allSubscribed(h, 2) {
		time.Sleep(time.Millisecond)
	}
	got, sent := 0, 0
	for i := 0; i < 20_000 && h.Stats().Kicked == 0; i++ {
		batch := make([]market.Event, 50)
		for j := range batch {
			batch[j] = trade("AAPL", int64(sent+j))
		}
		h.Publish(batch)
		sent += len(batch)
		for got < sent {
			got += len(fast.read())
		}
		for _, st := range h.Subscribers() {
			if st.QueuedBytes > bound {
				t.Fatalf("subscriber %d charged %d > bound %d", st.ID, st.QueuedBytes, bound)
			}
		}
	}
	if h.Stats().Kicked != 1 {
		t.Fatalf("kicked %d", h.Stats().Kicked)
	}
	if got != sent {
		t.Fatalf("fast client got %d of %d", got, sent)
	}
	// The slow client's session ends (the 407 is best effort: its socket
	// is full).
	for range 10_000 {
		if f.srv.Stats().Sessions == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if n := f.srv.Stats().Sessions; n != 1 {
		t.Fatalf("%d sessions, want the fast one only", n)
	}
	if f.srv.Stats().Errors[alpacawire.CodeSlowClient] != 1 && f.srv.Stats().SlowKicks == 0 {
		t.Fatal("no 407 or slow kick recorded")
	}
}

// FuzzReadMessage feeds arbitrary client bytes to a session's frame reader:
// it must not panic, must respect MaxMessageBytes and must return the
// payload of well-formed frames unmasked.
func FuzzReadMessage(f *testing.F) {
	mask := func(op byte, fin bool, p string) []byte {
		b := []byte{op, 0x80 | byte(len(p)), 9, 8, 7, 6}
		if fin {
			b[0] |= 0x80
		}
		for i := range len(p) {
			b = append(b, p[i]^b[2+i%4])
		}
		return b
	}
	f.Add(mask(opText, true, `{"action":"auth","key":"k","secret":"s"}`))
	f.Add(append(mask(opPing, true, "hi"), mask(opBinary, true, "\x81\xa6action\xa4auth")...))
	f.Add(append(mask(opText, false, `{"action":`), mask(opContinuation, true, `"subscribe"}`)...))
	f.Add([]byte{0x81, 0xfe, 0xff, 0xff, 1, 2, 3, 4})
	f.Add([]byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4})
	h := hub.New(hub.Options{Formats: []hub.Encoder{alpacawire.AppendJSON, alpacawire.AppendMsgpack}})
	srv := New(Options{Hub: h, MaxMessageBytes: 4096})
	f.Cleanup(srv.Close)
	f.Fuzz(func(t *testing.T, data []byte) {
		server, client := net.Pipe()
		client.Close()
		ss := &session{}
		ss.init(srv, server, httptest.NewRequest(http.MethodGet, "/v2/iex", nil))
		ss.pre = data
		for range 100 {
			op, msg, err := ss.readMessage(4096)
			if err != nil {
				break
			}
			if len(msg) > 4096 || (op != opText && op != opBinary) {
				t.Fatalf("op %d, %d bytes", op, len(msg))
			}
		}
		h.Remove(ss.sub)
		server.Close()
	})
}
