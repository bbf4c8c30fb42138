package wsapi

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/hub"
	"github.com/tapehq/tape/internal/market"
)

// rawClient is a websocket client with almost no memory of its own: a TCP
// connection that did the handshake by hand. The idle-subscriber benchmark
// uses it so the figure is the server's cost, not the client library's.
func rawClient(b *testing.B, addr, msg string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	fmt.Fprintf(c, "GET /v2/iex HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", addr, key)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		b.Fatalf("handshake: %v %v", err, resp)
	}
	writeMasked(c, `{"action":"auth","key":"k","secret":"s"}`)
	writeMasked(c, msg)
	return c
}

// writeMasked writes one masked text frame (clients must mask).
func writeMasked(c net.Conn, s string) {
	p := []byte(s)
	hdr := []byte{0x81, 0x80 | byte(len(p)), 1, 2, 3, 4}
	if len(p) >= 126 {
		panic("short frames only")
	}
	for i := range p {
		p[i] ^= hdr[2+i%4]
	}
	c.Write(append(hdr, p...))
}

// BenchmarkIdleSubscriberMemory opens 1,000 authenticated, subscribed, idle
// stream connections and reports the server's memory per connection (heap
// plus goroutine stacks). PRODUCT.md's target is ≤ 16 KB of RSS at 10,000
// connections (scripts/bench.sh measures that, beside nats-server);
// Centrifugo's published figure is about 30 KB.
func BenchmarkIdleSubscriberMemory(b *testing.B) {
	const n = 1000
	for b.Loop() {
		h := hub.New(hub.Options{Formats: HubFormats})
		srv := New(Options{Hub: h})
		hs := httptest.NewServer(srv)
		addr := strings.TrimPrefix(hs.URL, "http://")
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		g0 := runtime.NumGoroutine()
		conns := make([]net.Conn, 0, n)
		for range n {
			conns = append(conns, rawClient(b, addr, `{"action":"subscribe","trades":["AAPL"]}`))
		}
		for h.Stats().Subscribers < n || !allSubscribed(h, n) {
			time.Sleep(10 * time.Millisecond)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		heap := float64(m1.HeapInuse) - float64(m0.HeapInuse)
		stack := float64(m1.StackInuse) - float64(m0.StackInuse)
		b.ReportMetric((heap+stack)/n, "bytes/subscriber")
		b.ReportMetric(heap/n, "heap-bytes/subscriber")
		b.ReportMetric(stack/n, "stack-bytes/subscriber")
		b.ReportMetric(float64(runtime.NumGoroutine()-g0)/n, "goroutines/subscriber")
		for _, c := range conns {
			c.Close()
		}
		srv.Close()
		hs.Close()
	}
}

func allSubscribed(h *hub.Hub, n int) bool {
	k := 0
	for _, s := range h.Subscribers() {
		if s.Symbols > 0 || s.Wildcard {
			k++
		}
	}
	return k >= n
}

// BenchmarkWebsocketFanout: 1,000 loopback websocket clients subscribed to
// every trade; the publisher pushes batches of 100 trades and every client
// must receive every trade. Reports deliveries/s end to end (hub, frames,
// websocket writes, client reads and decoding) and the p50/p99 latency from
// publish to client decode. PRODUCT.md targets ≥ 2 M deliveries/s to 1,000
// clients on 2 cores and p99 ≤ 5 ms at 200 k deliveries/s.
func BenchmarkWebsocketFanout(b *testing.B) {
	for _, tc := range []struct {
		name  string
		rate  int // events per second published; 0 = as fast as possible
		batch int // events per Publish
	}{{"max", 0, 100}, {"200k-deliveries/batch=1", 200, 1}, {"200k-deliveries/batch=10", 200, 10}} {
		b.Run(tc.name, func(b *testing.B) {
			const clients = 1000
			h := hub.New(hub.Options{Formats: HubFormats, MaxQueueBytes: 64 << 20})
			srv := New(Options{Hub: h, WriteTimeout: time.Minute})
			hs := httptest.NewServer(srv)
			defer hs.Close()
			defer srv.Close()
			url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/v2/iex"

			var received atomic.Int64
			var latMu sync.Mutex
			var lats []time.Duration
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for i := range clients {
				conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Content-Type": {"application/msgpack"}}})
				if err != nil {
					b.Fatal(err)
				}
				conn.SetReadLimit(-1)
				conn.Write(ctx, websocket.MessageBinary, alpacawire.AppendAuth(nil, alpacawire.MsgPack, "k", "s"))
				var sub alpacawire.Subscription
				sub[market.ChanTrades] = []string{"*"}
				conn.Write(ctx, websocket.MessageBinary, alpacawire.AppendSubscribe(nil, alpacawire.MsgPack, true, &sub))
				sample := i%50 == 0
				wg.Go(func() {
					defer conn.CloseNow()
					dec := alpacawire.NewDecoder()
					var msgs []alpacawire.Message
					for {
						_, data, err := conn.Read(ctx)
						if err != nil {
							return
						}
						msgs, _ = dec.DecodeFrame(alpacawire.MsgPack, data, msgs[:0])
						n := 0
						now := time.Now().UnixNano()
						for _, m := range msgs {
							if m.Event.Kind == market.KindTrade {
								n++
								if sample {
									latMu.Lock()
									lats = append(lats, time.Duration(now-m.Event.Time))
									latMu.Unlock()
								}
							}
						}
						received.Add(int64(n))
					}
				})
			}
			for !allSubscribed(h, clients) {
				time.Sleep(10 * time.Millisecond)
			}
			batch := make([]market.Event, tc.batch)
			b.ResetTimer()
			start := time.Now()
			sent := 0
			total := b.N
			if tc.rate > 0 {
				total = tc.rate * 5 // five seconds at the paced rate, whatever b.N is
			}
			for i := 0; i < total; i += len(batch) {
				if tc.rate > 0 {
					// Pace so that rate events/s reach 1,000 clients.
					due := start.Add(time.Duration(float64(sent) / float64(tc.rate) * float64(time.Second)))
					time.Sleep(time.Until(due))
				}
				now := time.Now().UnixNano()
				for j := range batch {
					batch[j] = market.Event{Kind: market.KindTrade, Symbol: "AAPL", Time: now,
						Trade: market.Trade{ID: int64(i + j), Price: 100.25, Size: 100, Exchange: 'V', Tape: 'C'}}
				}
				h.Publish(batch)
				sent += len(batch)
			}
			want := int64(sent) * clients
			deadline := time.Now().Add(2 * time.Minute)
			for received.Load() < want && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			el := time.Since(start)
			b.StopTimer()
			if got := received.Load(); got < want {
				b.Fatalf("received %d of %d deliveries (kicked %d)", got, want, h.Stats().Kicked)
			}
			cancel()
			wg.Wait()
			b.ReportMetric(float64(want)/el.Seconds(), "deliveries/s")
			latMu.Lock()
			slices.Sort(lats)
			if len(lats) > 0 {
				b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
			}
			latMu.Unlock()
		})
	}
}

// BenchmarkFrameWrite is the server's cost of one single-message data frame
// (a 56-byte msgpack trade, the shape of every delivery at moderate load)
// to a loopback client that drains its socket in another goroutine.
// "tape": one hub publish plus one writer turn (take, frame, one
// non-blocking write); "coder-websocket": what the session did before,
// coder/websocket's Conn.Write with a per-write timeout context, for the
// frame alone (no hub). Side by side in one run: the reason the package
// writes its own frames (frame.go).
func BenchmarkFrameWrite(b *testing.B) {
	tr := market.Event{Kind: market.KindTrade, Symbol: "AAPL", Time: 1, Trade: market.Trade{ID: 1, Price: 100.25, Size: 100, Exchange: 'V', Tape: 'C'}}
	one := [][]byte{alpacawire.AppendMsgpack(nil, &tr)}
	frame := alpacawire.AppendFrame(nil, alpacawire.MsgPack, one)
	drain := func(c net.Conn) { io.Copy(io.Discard, c) }

	b.Run("tape", func(b *testing.B) {
		h := hub.New(hub.Options{Formats: HubFormats})
		srv := New(Options{Hub: h, Writers: 1})
		defer srv.Close()
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		defer ln.Close()
		cli, _ := net.Dial("tcp", ln.Addr().String())
		conn, _ := ln.Accept()
		go drain(cli)
		defer cli.Close()
		ss, _, _ := srv.admit("bench")
		r := httptest.NewRequest(http.MethodGet, "/v2/iex", nil)
		r.Header.Set("Content-Type", "application/msgpack")
		ss.init(srv, conn, r)
		defer func() { ss.end(); srv.unregister(ss) }()
		h.SetChannel(ss.sub, market.ChanTrades, []string{"*"})
		w := &writer{raw: newRawWriter()}
		batch := []market.Event{tr}
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			h.Publish(batch)
			ss.wstate.Store(wsRunning) // the turn runs here, not in the pool
			if _, handedOff := w.turn(ss); handedOff {
				b.Fatal("the socket filled up")
			}
			ss.wstate.Store(wsIdle)
		}
	})
	b.Run("coder-websocket", func(b *testing.B) {
		conns := make(chan *websocket.Conn, 1)
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			conns <- c
			<-r.Context().Done()
		}))
		defer hs.Close()
		cli, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(hs.URL, "http"), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer cli.CloseNow()
		cli.SetReadLimit(-1)
		go func() {
			for {
				if _, _, err := cli.Read(context.Background()); err != nil {
					return
				}
			}
		}()
		c := <-conns
		defer c.CloseNow()
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := c.Write(ctx, websocket.MessageBinary, frame); err != nil {
				b.Fatal(err)
			}
			cancel()
		}
	})
}
