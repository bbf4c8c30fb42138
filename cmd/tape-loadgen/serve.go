package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tapehq/tape/internal/hub"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/wsapi"
)

// serve runs the bench server: Tape's real hub and websocket endpoint
// (internal/hub, internal/wsapi) without the rest of Tape (no feed,
// journal or history), publishing one-trade events at a rate the load
// generator sets over a control connection. It uses only options that
// every version of wsapi has, so that scripts/bench.sh can build it
// against an older commit for a before/after comparison.
//
// Control protocol, one command per line:
//
//	rate R       publish R events/s, one event per Publish (0 stops)
//	credit N B   publish until N events in total were published, B per
//	             Publish, as fast as possible (the generator raises N as
//	             its clients receive, keeping a fixed window in flight)
//	stats        answer one line: "subscribers kicked published frames"
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "websocket listen address")
	ctlAddr := fs.String("control", "127.0.0.1:0", "control listen address")
	queue := fs.Int("client-queue", 16<<20, "bytes queued per client before 407")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this address (for profiling a run)")
	fs.Parse(args)
	if *pprofAddr != "" {
		go http.ListenAndServe(*pprofAddr, nil) // the default mux has /debug/pprof
	}

	h := hub.New(hub.Options{Formats: wsapi.HubFormats, MaxQueueBytes: *queue})
	ws := wsapi.New(wsapi.Options{Hub: h, MaxConns: 100_000})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	cl, err := net.Listen("tcp", *ctlAddr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: ws, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	p := &benchPublisher{hub: h, ws: ws, wake: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	wg.Go(func() { hs.Serve(ln) })
	wg.Go(func() { p.run(ctx) })
	wg.Go(func() { p.control(ctx, cl) })
	fmt.Printf("ws=ws://%s/v2/iex control=%s pid=%d\n", ln.Addr(), cl.Addr(), os.Getpid())
	os.Stdout.Sync()
	<-ctx.Done()
	cl.Close()
	hs.Close()
	ws.Close()
	wg.Wait()
	return nil
}

type benchPublisher struct {
	hub  *hub.Hub
	ws   *wsapi.Server
	wake chan struct{}

	mu     sync.Mutex
	rate   float64 // events/s in rate mode
	credit uint64  // total events allowed in credit mode
	batch  int     // events per Publish in credit mode (0: rate mode)
	epoch  time.Time
	base   uint64 // published when the rate was set

	published atomic.Uint64
}

func (p *benchPublisher) control(ctx context.Context, ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 0 {
				continue
			}
			p.mu.Lock()
			switch f[0] {
			case "rate":
				p.rate, _ = strconv.ParseFloat(f[1], 64)
				p.batch, p.epoch, p.base = 0, time.Now(), p.published.Load()
			case "credit":
				p.credit, _ = strconv.ParseUint(f[1], 10, 64)
				p.batch, _ = strconv.Atoi(f[2])
				p.rate = 0
			case "stats":
				st := p.hub.Stats()
				fmt.Fprintf(conn, "%d %d %d %d\n", st.Subscribers, st.Kicked, st.Published, p.ws.Stats().Frames)
			}
			p.mu.Unlock()
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
		conn.Close()
		if ctx.Err() != nil {
			return
		}
	}
}

// run publishes according to the current mode until ctx ends.
func (p *benchPublisher) run(ctx context.Context) {
	batch := make([]market.Event, 0, 1024)
	var id int64
	for ctx.Err() == nil {
		p.mu.Lock()
		rate, credit, size, epoch, base := p.rate, p.credit, p.batch, p.epoch, p.base
		p.mu.Unlock()
		n := 0
		switch {
		case size > 0:
			if pub := p.published.Load(); credit > pub {
				n = int(min(uint64(size), credit-pub))
			}
		case rate > 0:
			due := epoch.Add(time.Duration(float64(p.published.Load()-base) / rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				sleep(ctx, p.wake, d)
				continue
			}
			n = 1
		}
		if n == 0 {
			sleep(ctx, p.wake, time.Second)
			continue
		}
		now := time.Now().UnixNano()
		batch = batch[:n]
		for i := range batch {
			id++
			batch[i] = market.Event{Seq: uint64(id), Kind: market.KindTrade, Symbol: "AAPL", Time: now,
				Trade: market.Trade{ID: id, Price: 100.25, Size: 100, Exchange: 'V', Tape: 'C'}}
		}
		p.hub.Publish(batch)
		p.published.Add(uint64(n))
	}
}

func sleep(ctx context.Context, wake <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-wake:
	case <-t.C:
	}
}

var errUsage = errors.New("usage: tape-loadgen serve|run|table [flags]")
