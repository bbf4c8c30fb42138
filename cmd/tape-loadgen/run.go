package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// result is one scenario's figures, written as a JSON line.
type result struct {
	Server   string  `json:"server"`
	Scenario string  `json:"scenario"`
	Clients  int     `json:"clients"`
	Rate     float64 `json:"rate,omitempty"` // events/s asked for
	Seconds  float64 `json:"seconds"`
	PerSec   float64 `json:"deliveries_per_s"`
	CPUPerM  float64 `json:"cpu_s_per_million,omitempty"`
	// CPUPerMF is per million websocket frames (Tape only: its bench
	// server counts them); at a moderate rate every frame carries one
	// message, unless the server fell behind and coalesced.
	CPUPerMF  float64 `json:"cpu_s_per_million_frames,omitempty"`
	FrameMsgs float64 `json:"messages_per_frame,omitempty"`
	CPUCores  float64 `json:"server_cores"`
	P50ms     float64 `json:"p50_ms,omitempty"`
	P99ms     float64 `json:"p99_ms,omitempty"`
	RSSBaseMB float64 `json:"rss_base_mb"`
	RSSMB     float64 `json:"rss_mb"`
	RSSPeakMB float64 `json:"rss_peak_mb"`
	IdleKB    float64 `json:"idle_kb_per_conn,omitempty"`
	Lost      int64   `json:"disconnected"`
	Kicked    int64   `json:"kicked,omitempty"`
}

type runner struct {
	proto   protocol
	url     string
	pid     int
	clients []*wsClient

	received atomic.Int64
	lost     atomic.Int64
	sampling atomic.Bool
	latMu    sync.Mutex
	lats     []int64
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	kind := fs.String("proto", "tape", "tape (Alpaca protocol) or nats")
	label := fs.String("label", "", "server name in the results (default: -proto)")
	url := fs.String("url", "", "websocket URL of the server")
	ctl := fs.String("control", "", "tape: the bench server's control address")
	natsAddr := fs.String("nats", "", "nats: the server's client (TCP) address, for the publisher")
	pid := fs.Int("pid", 0, "server process id, for CPU and memory")
	n := fs.Int("clients", 1000, "websocket clients")
	scenario := fs.String("scenario", "rate", "idle, rate, saturate or stall")
	rate := fs.Float64("rate", 200, "rate: one-trade events per second")
	window := fs.Int("window", 500, "saturate: events in flight per client")
	batch := fs.Int("batch", 100, "saturate: events per publish")
	warmup := fs.Duration("warmup", 2*time.Second, "time before measuring")
	dur := fs.Duration("duration", 5*time.Second, "measured time")
	sources := fs.Int("sources", 8, "local addresses 127.0.0.1..N to spread client ports over")
	out := fs.String("out", "", "append the result as a JSON line to this file")
	fs.Parse(args)
	if *url == "" || *pid == 0 {
		return errors.New("run: -url and -pid are required")
	}
	r := &runner{url: *url, pid: *pid}
	switch *kind {
	case "tape":
		r.proto = tapeProto{}
	case "nats":
		r.proto = natsProto{}
	default:
		return fmt.Errorf("run: unknown -proto %q", *kind)
	}
	if *label == "" {
		*label = *kind
	}
	ctx := context.Background()

	var pub publisher
	switch {
	case *kind == "nats" && *scenario != "idle":
		np, err := dialNATS(ctx, *natsAddr)
		if err != nil {
			return err
		}
		defer np.close()
		pub = &natsPub{p: np}
	case *kind == "tape" && *scenario != "idle":
		conn, err := net.Dial("tcp", *ctl)
		if err != nil {
			return err
		}
		defer conn.Close()
		pub = &tapePub{conn: conn, br: bufio.NewReader(conn)}
	}

	res := result{Server: *label, Scenario: *scenario, Clients: *n}
	time.Sleep(500 * time.Millisecond)
	res.RSSBaseMB = float64(rssKB(*pid, "VmRSS")) / 1024
	topic := "*"
	if *scenario == "idle" {
		topic = "IDLE"
	}
	if err := r.connect(ctx, *n, topic, *sources, *scenario != "stall"); err != nil {
		return err
	}
	defer func() {
		for _, c := range r.clients {
			c.close()
		}
	}()

	switch *scenario {
	case "idle":
		time.Sleep(*warmup)
		rss := rssKB(*pid, "VmRSS")
		res.RSSMB = float64(rss) / 1024
		res.IdleKB = (float64(rss)/1024 - res.RSSBaseMB) * 1024 / float64(*n)
	case "rate":
		res.Rate = *rate
		pub.setRate(*rate)
		r.measure(&res, *warmup, *dur, pub)
		pub.setRate(0)
	case "saturate":
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { r.closedLoop(pub, *n, *window, *batch, stop) })
		r.measure(&res, *warmup, *dur, nil)
		close(stop)
		wg.Wait()
	case "stall":
		// Clients that never read: publish as fast as the hub takes it
		// (credit without limit) and watch the server's memory.
		deadline := time.Now().Add(*warmup + *dur)
		var total uint64
		for time.Now().Before(deadline) {
			total += uint64(*batch) * 10
			pub.credit(total, *batch)
			time.Sleep(time.Millisecond)
		}
		pub.credit(0, *batch)
		res.Seconds = (*warmup + *dur).Seconds()
	default:
		return fmt.Errorf("run: unknown -scenario %q", *scenario)
	}
	res.RSSMB = float64(rssKB(*pid, "VmRSS")) / 1024
	res.RSSPeakMB = float64(rssKB(*pid, "VmHWM")) / 1024
	res.Lost = r.lost.Load()
	if tp, ok := pub.(*tapePub); ok {
		res.Kicked = tp.kicked()
	}
	line, _ := json.Marshal(res)
	fmt.Println(string(line))
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintln(f, string(line))
	}
	return nil
}

// connect opens n clients, 16 at a time (each authenticates at once, so at
// most 16 are ever unauthenticated), and starts a reader for each unless
// read is false.
func (r *runner) connect(ctx context.Context, n int, topic string, sources int, read bool) error {
	r.clients = make([]*wsClient, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				laddr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%max(sources, 1)))}
				dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				c, err := dialWS(dctx, r.url, laddr, r.proto.header())
				cancel()
				if err == nil {
					err = r.proto.setup(c, topic)
				}
				if err != nil {
					errs <- fmt.Errorf("client %d: %w", i, err)
					return
				}
				r.clients[i] = c
				if read {
					go r.read(c, i%20 == 0)
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// read counts deliveries until the connection ends; sampled clients also
// record latencies while sampling is on.
func (r *runner) read(c *wsClient, sample bool) {
	mr := r.proto.newReader()
	var lat []int64
	for {
		msg, err := c.next()
		if err != nil {
			r.lost.Add(1)
			return
		}
		var lp *[]int64
		if sample && r.sampling.Load() {
			lp = &lat
		}
		n, err := mr.deliveries(msg, lp)
		r.received.Add(int64(n))
		if err != nil {
			fmt.Fprintln(os.Stderr, "client:", err)
			r.lost.Add(1)
			c.close()
			return
		}
		if nr, ok := mr.(*natsReader); ok && nr.pongs > 0 {
			nr.pongs = 0
			c.write(2, []byte("PONG\r\n"))
		}
		if len(lat) > 0 {
			r.latMu.Lock()
			r.lats = append(r.lats, lat...)
			r.latMu.Unlock()
			lat = lat[:0]
		}
	}
}

// measure waits warmup, then measures deliveries, server CPU and latency
// over dur.
func (r *runner) measure(res *result, warmup, dur time.Duration, pub publisher) {
	time.Sleep(warmup)
	r.latMu.Lock()
	r.lats = r.lats[:0]
	r.latMu.Unlock()
	r.sampling.Store(true)
	tp, _ := pub.(*tapePub)
	var f0, f1 int64
	if tp != nil {
		f0, _ = tp.stats()
	}
	n0, c0, t0 := r.received.Load(), cpuSeconds(r.pid), time.Now()
	time.Sleep(dur)
	n1, c1, t1 := r.received.Load(), cpuSeconds(r.pid), time.Now()
	if tp != nil {
		f1, _ = tp.stats()
		if f1 > f0 {
			res.CPUPerMF = (c1 - c0) / float64(f1-f0) * 1e6
			res.FrameMsgs = float64(n1-n0) / float64(f1-f0)
		}
	}
	r.sampling.Store(false)
	el := t1.Sub(t0).Seconds()
	res.Seconds = el
	res.PerSec = float64(n1-n0) / el
	res.CPUCores = (c1 - c0) / el
	if n1 > n0 {
		res.CPUPerM = (c1 - c0) / float64(n1-n0) * 1e6
	}
	r.latMu.Lock()
	lats := slices.Clone(r.lats)
	r.latMu.Unlock()
	slices.Sort(lats)
	if len(lats) > 0 {
		res.P50ms = float64(lats[len(lats)/2]) / 1e6
		res.P99ms = float64(lats[len(lats)*99/100]) / 1e6
	}
}

// closedLoop keeps window events per client in flight: the publisher may
// run ahead of the slowest-in-aggregate client by that much and no more,
// the same rule for both servers, so that saturated throughput is what the
// server sustains without dropping anyone.
func (r *runner) closedLoop(pub publisher, n, window, batch int, stop <-chan struct{}) {
	t := time.NewTicker(200 * time.Microsecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			pub.credit(0, batch)
			return
		case <-t.C:
		}
		pub.credit(uint64(r.received.Load()/int64(n)+int64(window)), batch)
	}
}

// publisher drives the server's publishing.
type publisher interface {
	setRate(eventsPerSec float64)
	// credit allows publishing up to total events since the start, batch
	// per publish.
	credit(total uint64, batch int)
}

type tapePub struct {
	conn net.Conn
	br   *bufio.Reader
	last uint64
}

func (p *tapePub) setRate(r float64) { fmt.Fprintf(p.conn, "rate %g\n", r) }
func (p *tapePub) credit(total uint64, batch int) {
	if total != p.last {
		p.last = total
		fmt.Fprintf(p.conn, "credit %d %d\n", total, batch)
	}
}

func (p *tapePub) kicked() int64 {
	_, kicked := p.stats()
	return kicked
}

// stats asks the bench server for its frames written and kicks.
func (p *tapePub) stats() (frames, kicked int64) {
	fmt.Fprintf(p.conn, "stats\n")
	var subs, pub int64
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	fmt.Fscan(p.br, &subs, &kicked, &pub, &frames)
	return frames, kicked
}

// natsPub publishes from this process: paced, or in the closed loop.
type natsPub struct {
	p    *natsPublisher
	mu   sync.Mutex
	stop chan struct{}
	done chan struct{}
	sent uint64
}

func (p *natsPub) halt() {
	if p.stop != nil {
		close(p.stop)
		<-p.done
		p.stop = nil
	}
}

func (p *natsPub) setRate(rate float64) {
	p.halt()
	if rate <= 0 {
		return
	}
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func(stop, done chan struct{}) {
		defer close(done)
		start, n := time.Now(), 0
		for {
			due := start.Add(time.Duration(float64(n) / rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-stop:
					return
				case <-time.After(d):
				}
			}
			p.p.publish(1)
			n++
		}
	}(p.stop, p.done)
}

func (p *natsPub) credit(total uint64, batch int) {
	for p.sent < total {
		k := min(uint64(batch), total-p.sent)
		p.p.publish(int(k))
		p.sent += k
	}
}
