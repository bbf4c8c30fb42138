// Command stream is lesson 4 of docs/walkthrough.md: streaming market data,
// the part of the tutorial that wanted "our own platform that shows stock
// data in real time". It uses the official Alpaca Go SDK, unchanged but for
// its base URL, against Tape.
//
//	go run ./examples/stream                          # starts a simulated Tape in-process
//	go run ./examples/stream -url ws://127.0.0.1:8080/v2 -symbols AAPL,MSFT
//	go run ./examples/stream -duration 10s            # stop after 10 s (Ctrl-C stops too)
//
// The SDK calls a handler per message on its own goroutine. The handlers
// only hand the update over to the main loop through a channel, the Go
// counterpart of `async for msg in stream`; the main loop prints, and stops
// cleanly on a timeout or Ctrl-C by cancelling the context that owns the
// connection, then waiting until the SDK says it has terminated.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata/stream"

	"github.com/tapehq/tape/internal/server"
)

type options struct {
	url      string        // Tape's (or Alpaca's) stream base URL; empty starts Tape in-process
	feed     string        // iex, sip, ...
	symbols  []string      // what to subscribe to
	duration time.Duration // 0 runs until ctx ends
	speed    float64       // in-process simulator speed
}

func main() {
	var o options
	var symbols string
	flag.StringVar(&o.url, "url", "", "stream base URL of a running Tape, e.g. ws://127.0.0.1:8080/v2 (default: start one in-process)")
	flag.StringVar(&o.feed, "feed", "sip", "feed to connect to: sip (every exchange) or iex (IEX's own trades, quotes and bars)")
	flag.StringVar(&symbols, "symbols", "AAPL,MSFT,NVDA", "comma-separated symbols")
	flag.DurationVar(&o.duration, "duration", 0, "stop after this long (default: until Ctrl-C)")
	flag.Float64Var(&o.speed, "speed", 1, "simulated seconds per second for the in-process Tape")
	flag.Parse()
	o.symbols = strings.Split(symbols, ",")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Stdout, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "stream:", err)
		os.Exit(1)
	}
}

// update is one message from the stream, as the main loop sees it.
type update struct {
	at   time.Time
	line string
}

// run streams until ctx ends or o.duration passes, printing one line per
// update to w. It returns nil on a clean stop.
func run(ctx context.Context, w io.Writer, o options) error {
	base := o.url
	if base == "" {
		addr, stopTape, err := startTape(ctx, o.speed)
		if err != nil {
			return err
		}
		defer stopTape()
		base = "ws://" + addr + "/v2"
		fmt.Fprintf(w, "started Tape in-process at %s\n", addr)
	}
	// The duration is streaming time: starting Tape does not count.
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}

	// The SDK must never wait for us: a full channel drops the update and
	// counts it, which is what a real-time display wants (the next update
	// supersedes it). A trading strategy would size the buffer or block.
	updates := make(chan update, 1024)
	var dropped atomic.Int64
	send := func(at time.Time, format string, args ...any) {
		select {
		case updates <- update{at: at, line: fmt.Sprintf(format, args...)}:
		default:
			dropped.Add(1)
		}
	}

	connCtx, disconnect := context.WithCancel(ctx)
	defer disconnect()
	client := stream.NewStocksClient(o.feed,
		stream.WithBaseURL(base),
		stream.WithCredentials("tape", "tape"),
		stream.WithLogger(stream.ErrorOnlyLogger()),
		stream.WithTrades(func(t stream.Trade) {
			send(t.Timestamp, "%-6s trade %9.2f x %d", t.Symbol, t.Price, t.Size)
		}, o.symbols...),
		stream.WithQuotes(func(q stream.Quote) {
			send(q.Timestamp, "%-6s quote %9.2f / %.2f", q.Symbol, q.BidPrice, q.AskPrice)
		}, o.symbols...),
		stream.WithBars(func(b stream.Bar) {
			send(b.Timestamp, "%-6s bar   o %.2f h %.2f l %.2f c %.2f v %d", b.Symbol, b.Open, b.High, b.Low, b.Close, b.Volume)
		}, o.symbols...),
	)
	if err := client.Connect(connCtx); err != nil {
		return fmt.Errorf("connect to %s: %w", base, err)
	}
	fmt.Fprintf(w, "subscribed to %s on %s\n", strings.Join(o.symbols, ","), base)

	n := 0
	for {
		select {
		case u := <-updates:
			n++
			fmt.Fprintf(w, "%s %s\n", u.at.Local().Format("15:04:05.000"), u.line)
		case err := <-client.Terminated():
			if ctx.Err() != nil {
				// The SDK saw our deadline or Ctrl-C first (its context is
				// derived from ctx): that is the clean stop, not a failure.
				fmt.Fprintf(w, "stopped after %d updates (%d dropped)\n", n, dropped.Load())
				return nil
			}
			return fmt.Errorf("stream terminated: %w", err)
		case <-ctx.Done():
			// Cancel the connection's context and wait for the SDK to wind
			// down: no goroutine of it outlives run.
			disconnect()
			<-client.Terminated()
			fmt.Fprintf(w, "stopped after %d updates (%d dropped)\n", n, dropped.Load())
			if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(ctx.Err(), context.Canceled) {
				return nil
			}
			return ctx.Err()
		}
	}
}

// startTape runs a simulated Tape on a free loopback port until stop is
// called; stop waits for it to shut down.
func startTape(ctx context.Context, speed float64) (addr string, stop func(), err error) {
	dir, err := os.MkdirTemp("", "tape-example-")
	if err != nil {
		return "", nil, err
	}
	// A throwaway directory: no synthetic past, the example streams live.
	srv, err := server.New(server.Options{Listen: "127.0.0.1:0", DataDir: dir, Speed: speed, Rate: 2000, NoPast: true})
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	tctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(tctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		os.RemoveAll(dir)
		return "", nil, err
	case <-ctx.Done():
		cancel()
		<-done
		os.RemoveAll(dir)
		return "", nil, ctx.Err()
	}
	return srv.Addr().String(), func() {
		cancel()
		<-done
		os.RemoveAll(dir)
	}, nil
}
