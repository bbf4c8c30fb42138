package server

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata/stream"

	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/feed/sim"
	"github.com/tapehq/tape/internal/market"
)

// start runs a Server in the background until the test ends.
func start(t *testing.T, opts Options) (*Server, context.CancelFunc) {
	t.Helper()
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.PastDays == 0 {
		// A synthetic past costs seconds per start: only the tests of the
		// past ask for one (with PastDays).
		opts.NoPast = true
	}
	if opts.Feed == "alpaca" && opts.AlpacaDataURL == "" {
		// Gap fill and polling must never reach Alpaca from a test: a
		// port nothing listens on refuses at once.
		opts.AlpacaDataURL = "http://127.0.0.1:1"
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("server stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server not ready")
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("server: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Error("server did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return srv, stop
}

// injector wraps a feed and adds, every interval of feed time, a trading
// status and a LULD band for FAKEPACA: the simulator emits those only at
// start and on rare halts, and the SDK test must see each message type.
type injector struct {
	inner    feed.Feed
	interval int64
}

func (in injector) Run(ctx context.Context, out chan<- feed.Batch) error {
	mid := make(chan feed.Batch)
	errc := make(chan error, 1)
	go func() { errc <- in.inner.Run(ctx, mid) }()
	var next int64
	for {
		select {
		case <-ctx.Done():
			return <-errc
		case b := <-mid:
			if b.Now >= next {
				next = b.Now + in.interval
				b.Events = append(b.Events,
					market.Event{Kind: market.KindStatus, Symbol: "FAKEPACA", Time: b.Now,
						Status: &market.Status{StatusCode: "T", StatusMsg: "Trading Resumption", ReasonCode: "LUDP", ReasonMsg: "Volatility Trading Pause", Tape: 'C'}},
					market.Event{Kind: market.KindLULD, Symbol: "FAKEPACA", Time: b.Now,
						LULD: &market.LULD{LimitUp: 105.5, LimitDown: 95.5, Indicator: 'B', Tape: 'C'}})
			}
			select {
			case out <- b:
			case <-ctx.Done():
				return <-errc
			}
		}
	}
}

// regularSession returns a simulated start inside the regular session of a
// recent weekday, so the market is busy.
func regularSession() time.Time {
	ny, _ := time.LoadLocation("America/New_York")
	return time.Date(2026, 11, 24, 10, 0, 0, 0, ny)
}

func simSource(t *testing.T, rate, speed float64) feed.Feed {
	t.Helper()
	s, err := sim.New(sim.Options{Seed: 7, Rate: rate, Speed: speed, Start: regularSession()})
	if err != nil {
		t.Fatal(err)
	}
	return injector{inner: s, interval: int64(2 * time.Second)}
}

func baseURL(srv *Server) string { return "ws://" + srv.Addr().String() + "/v2" }

type counts struct {
	trades, quotes, bars, updated, daily, statuses, lulds, corrections, cancels atomic.Int64
	badTrade                                                                    atomic.Value
}

// TestGoSDKStream drives Tape with the official Go SDK v3.9.1, unmodified
// but for its base URL, and checks every stock message type arrives.
func TestGoSDKStream(t *testing.T) {
	// One simulated minute per real second: bars every second.
	srv, _ := start(t, Options{Source: simSource(t, 1000, 60)})
	var c counts
	client := stream.NewStocksClient("iex",
		stream.WithBaseURL(baseURL(srv)),
		stream.WithCredentials("key", "secret"),
		stream.WithLogger(stream.ErrorOnlyLogger()),
		stream.WithTrades(func(tr stream.Trade) {
			c.trades.Add(1)
			if tr.Symbol != "AAPL" || tr.Price <= 0 || tr.Size == 0 || tr.Timestamp.IsZero() || tr.Exchange == "" || tr.Tape == "" {
				c.badTrade.Store(tr)
			}
		}, "AAPL"),
		stream.WithQuotes(func(q stream.Quote) {
			if q.BidPrice < q.AskPrice && q.Symbol == "AAPL" {
				c.quotes.Add(1)
			}
		}, "AAPL"),
		stream.WithBars(func(b stream.Bar) {
			if b.Low <= b.Open && b.Open <= b.High && b.Volume > 0 && b.Timestamp.Second() == 0 {
				c.bars.Add(1)
			}
		}, "*"),
		stream.WithUpdatedBars(func(stream.Bar) { c.updated.Add(1) }, "*"),
		stream.WithDailyBars(func(stream.Bar) { c.daily.Add(1) }, "*"),
		stream.WithStatuses(func(s stream.TradingStatus) {
			if s.StatusCode != "" {
				c.statuses.Add(1)
			}
		}, "*"),
		stream.WithLULDs(func(l stream.LULD) {
			if l.LimitDownPrice < l.LimitUpPrice {
				c.lulds.Add(1)
			}
		}, "*"),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.Connect(ctx); err != nil {
		t.Fatalf("connect: %v", err)
	}
	waitFor(t, ctx, "every message type", func() bool {
		return c.trades.Load() > 0 && c.quotes.Load() > 0 && c.bars.Load() > 0 && c.updated.Load() > 0 &&
			c.daily.Load() > 0 && c.statuses.Load() > 0 && c.lulds.Load() > 0
	}, &c)
	if bad := c.badTrade.Load(); bad != nil {
		t.Fatalf("malformed trade: %+v", bad)
	}

	// Subscription changes round-trip within the SDK's 3 s window.
	var msft atomic.Int64
	if err := client.SubscribeToQuotes(func(q stream.Quote) {
		if q.Symbol == "MSFT" {
			msft.Add(1)
		}
	}, "MSFT"); err != nil {
		t.Fatalf("subscribe MSFT quotes: %v", err)
	}
	waitFor(t, ctx, "MSFT quotes", func() bool { return msft.Load() > 0 }, &c)
	if err := client.UnsubscribeFromTrades("AAPL"); err != nil {
		t.Fatalf("unsubscribe: %v", err)
	}
	time.Sleep(200 * time.Millisecond) // let frames already in flight land
	before := c.trades.Load()
	time.Sleep(500 * time.Millisecond)
	if after := c.trades.Load(); after != before {
		t.Fatalf("trades kept coming after unsubscribe: %d → %d", before, after)
	}
}

// TestGoSDKCorrectionsAndCancels: corrections and cancel errors arrive with
// a trades subscription, with no subscription of their own.
func TestGoSDKCorrectionsAndCancels(t *testing.T) {
	// ~1 correction per 20k trades: a fast market makes them frequent.
	srv, _ := start(t, Options{Source: simSource(t, 20000, 30)})
	var corrections, cancels atomic.Int64
	client := stream.NewStocksClient("sip",
		stream.WithBaseURL(baseURL(srv)),
		stream.WithCredentials("key", "secret"),
		stream.WithLogger(stream.ErrorOnlyLogger()),
		stream.WithTrades(func(stream.Trade) {}, "*"),
		stream.WithCorrections(func(c stream.TradeCorrection) {
			if c.OriginalID != 0 && c.CorrectedPrice > 0 {
				corrections.Add(1)
			}
		}),
		stream.WithCancelErrors(func(c stream.TradeCancelError) {
			if c.ID != 0 && (c.CancelErrorAction == "C" || c.CancelErrorAction == "E") {
				cancels.Add(1)
			}
		}),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "a correction and a cancel", func() bool { return corrections.Load() > 0 && cancels.Load() > 0 }, nil)
}

// TestGoSDKReconnect: the SDK reconnects and resubscribes when Tape
// restarts on the same address.
func TestGoSDKReconnect(t *testing.T) {
	srv1, stop1 := start(t, Options{Source: simSource(t, 2000, 1)})
	addr := srv1.Addr().String()
	var trades atomic.Int64
	var connects atomic.Int64
	client := stream.NewStocksClient("iex",
		stream.WithBaseURL(baseURL(srv1)),
		stream.WithCredentials("key", "secret"),
		stream.WithLogger(stream.ErrorOnlyLogger()),
		stream.WithReconnectSettings(0, 100*time.Millisecond),
		stream.WithConnectCallback(func() { connects.Add(1) }),
		stream.WithTrades(func(stream.Trade) { trades.Add(1) }, "*"),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := client.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "trades from the first server", func() bool { return trades.Load() > 0 }, nil)
	stop1()
	// Port reuse: the first server is gone, so the address is free.
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	_, _ = start(t, Options{Listen: "127.0.0.1:" + strconv.Itoa(p), Source: simSource(t, 2000, 1)})
	before := trades.Load()
	waitFor(t, ctx, "trades after the restart", func() bool { return connects.Load() >= 2 && trades.Load() > before }, nil)
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool, c *counts) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			if c != nil {
				t.Fatalf("timed out waiting for %s: trades=%d quotes=%d bars=%d updated=%d daily=%d statuses=%d lulds=%d",
					what, c.trades.Load(), c.quotes.Load(), c.bars.Load(), c.updated.Load(), c.daily.Load(), c.statuses.Load(), c.lulds.Load())
			}
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestListenBeyondLoopbackNeedsKeys(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "[::]:8080", "192.168.1.10:8080"} {
		_, err := New(Options{Listen: addr, DataDir: t.TempDir()})
		if !errors.Is(err, ErrNeedKeys) {
			t.Errorf("%s without keys: %v", addr, err)
		}
		if _, err := New(Options{Listen: addr, DataDir: t.TempDir(), Keys: map[string]string{"k": "s"}}); err != nil {
			t.Errorf("%s with keys: %v", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		if _, err := New(Options{Listen: addr, DataDir: t.TempDir()}); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

func TestDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	start(t, Options{DataDir: dir, Source: simSource(t, 10, 1)})
	srv, err := New(Options{Listen: "127.0.0.1:0", DataDir: dir, Source: simSource(t, 10, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Run(context.Background()); err == nil {
		t.Fatal("a second tape on the same data directory must refuse to start")
	}
}

func TestStatusEndpoint(t *testing.T) {
	srv, _ := start(t, Options{Source: simSource(t, 2000, 30)})
	client := stream.NewStocksClient("iex", stream.WithBaseURL(baseURL(srv)), stream.WithCredentials("k", "s"),
		stream.WithLogger(stream.ErrorOnlyLogger()), stream.WithTrades(func(stream.Trade) {}, "*"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := client.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	var st Status
	waitFor(t, ctx, "a subscriber with deliveries in /tape/v1/status", func() bool {
		resp, err := http.Get("http://" + srv.Addr().String() + "/tape/v1/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		st = Status{}
		if json.NewDecoder(resp.Body).Decode(&st) != nil {
			return false
		}
		// The hub's counters are read before the subscribers' in one
		// status: wait for both to have moved.
		return len(st.Subscribers) == 1 && st.Subscribers[0].Delivered > 0 && st.Hub.Deliveries > 0
	}, nil)
	sub := st.Subscribers[0]
	if !sub.Wildcard || !strings.Contains(sub.Client, "/v2/iex msgpack") || st.Ingest.Events == 0 || st.Hub.Deliveries == 0 ||
		st.Stream.Sessions != 1 || st.Feed.Name != "sim" || st.Feed.FeedTime.IsZero() || len(st.Symbols) == 0 {
		t.Fatalf("status %+v", st)
	}
}

// TestRestartContinuesSequence: everything is journaled, and a restarted
// Tape continues the sequence where the journal ends.
func TestRestartContinuesSequence(t *testing.T) {
	dir := t.TempDir()
	srv, stop := start(t, Options{DataDir: dir, Source: simSource(t, 5000, 10)})
	deadline := time.Now().Add(10 * time.Second)
	for srv.pipe().Stats().Released < 1000 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	last := srv.pipe().Stats().LastSeq
	if last < 1000 {
		t.Fatalf("only %d events", last)
	}
	srv2, _ := start(t, Options{DataDir: dir, Source: simSource(t, 5000, 10)})
	if got := srv2.dir.Journal.Report().Last; got != last {
		t.Fatalf("journal reopened with last seq %d, want %d", got, last)
	}
	deadline = time.Now().Add(10 * time.Second)
	for srv2.pipe().Stats().Released <= last && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if srv2.pipe().Stats().Released <= last {
		t.Fatal("no events after the restart")
	}
}
