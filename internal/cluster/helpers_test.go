package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tapehq/tape/internal/cluster"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/ingest"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
)

// TestMain fails the run if a component's goroutine outlives the tests:
// every Run must return and wait for what it started (style habit 1).
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		buf := make([]byte, 4<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		for _, fn := range []string{"cluster.(*EdgeFeed)", "cluster.(*Publisher)", "cluster.(*Roles)"} {
			if strings.Contains(stacks, fn) {
				fmt.Fprintf(os.Stderr, "leaked %s goroutine:\n%s\n", fn, stacks)
				code = 1
				break
			}
		}
	}
	os.Exit(code)
}

// testLogger logs into the test's output (shown when it fails or with -v).
func testLogger(t testing.TB, name string) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", name)
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// testCtx bounds a test that could hang on a bug. It is a hang guard, not
// a timing assertion.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds; it fails the test only if it never
// does within a generous bound (a hang guard, not a timing assertion).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var symbols = []string{"AAPL", "BRK.B", "MSFT", "SPY"}

// eventFor is a deterministic event for seq: a mix of classes, kinds and
// symbols with dots and slashes, flags now and then, so that routing,
// escaping and decoding are all exercised.
func eventFor(seq uint64, salt int) market.Event {
	ts := int64(1_700_000_000_000_000_000) + int64(seq)*1_000_000
	e := market.Event{Time: ts, Symbol: symbols[seq%uint64(len(symbols))]}
	switch seq % 7 {
	case 0, 1, 2:
		e.Kind = market.KindTrade
		e.Trade = market.Trade{ID: int64(seq)*10 + int64(salt), Price: 100 + float64(seq%100)/4, Size: uint32(seq%500 + 1), Exchange: 'V'}
	case 3, 4:
		e.Kind = market.KindQuote
		e.Quote = market.Quote{BidPrice: 99.5, AskPrice: 100.5 + float64(salt), BidSize: uint32(seq % 9), AskSize: 3}
	case 5:
		e.Kind, e.Symbol = market.KindCryptoTrade, "BTC/USD"
		e.CryptoTrade = market.CryptoTrade{ID: int64(seq), Price: 60000.5 + float64(salt), Size: 0.25}
	case 6:
		e.Kind = market.KindBar
		e.Bar = market.Bar{Open: 1, High: 2, Low: 0.5, Close: 1.5 + float64(salt), Volume: seq}
	}
	if seq%11 == 0 {
		e.Flags = market.FlagLate
	}
	return e
}

// appendEvents journals events [from, to] as an origin's pipeline would,
// committing in batches of 50.
func appendEvents(t testing.TB, j journal.Journal, from, to uint64, salt int) {
	t.Helper()
	var buf []byte
	for s := from; s <= to; s++ {
		e := eventFor(s, salt)
		buf = market.AppendBinary(buf[:0], &e)
		if err := j.Append(s, e.Time, buf); err != nil {
			t.Fatalf("Append(%d): %v", s, err)
		}
		if s%50 == 0 {
			j.Commit()
		}
	}
	j.Commit()
}

// readAll returns copies of every record of j from `from` on.
func readAll(t testing.TB, j journal.Journal, from uint64) []journal.Record {
	t.Helper()
	if err := j.Sync(context.Background()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	r, err := j.NewReader(from)
	if err != nil {
		t.Fatalf("NewReader(%d): %v", from, err)
	}
	defer r.Close()
	var out []journal.Record
	for {
		rec, ok, err := r.TryNext()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if !ok {
			return out
		}
		rec.Payload = append([]byte(nil), rec.Payload...)
		out = append(out, rec)
	}
}

// sameRecords fails unless a and b hold exactly the same records [from, to]
// (and b nothing else from `from` up to to): the same sequence numbers,
// times and bytes, each once, in order.
func sameRecords(t testing.TB, what string, a, b journal.Journal, from, to uint64) {
	t.Helper()
	ra, rb := readAll(t, a, from), readAll(t, b, from)
	if uint64(len(ra)) < to-from+1 {
		t.Fatalf("%s: reference journal has %d records from %d, want %d", what, len(ra), from, to-from+1)
	}
	ra = ra[:to-from+1]
	for i, r := range rb {
		if r.Seq > to {
			rb = rb[:i]
			break
		}
	}
	if len(rb) != len(ra) {
		first, last := uint64(0), uint64(0)
		if len(rb) > 0 {
			first, last = rb[0].Seq, rb[len(rb)-1].Seq
		}
		t.Fatalf("%s: %d records (%d..%d), want %d (%d..%d)", what, len(rb), first, last, len(ra), from, to)
	}
	for i := range ra {
		if ra[i].Seq != rb[i].Seq || ra[i].TS != rb[i].TS || !bytes.Equal(ra[i].Payload, rb[i].Payload) {
			t.Fatalf("%s: record %d: got seq %d ts %d %x, want seq %d ts %d %x", what, i,
				rb[i].Seq, rb[i].TS, rb[i].Payload, ra[i].Seq, ra[i].TS, ra[i].Payload)
		}
	}
}

// discard is a pipeline output that keeps nothing.
type discard struct{}

func (discard) Publish([]market.Event) {}

// edge is an edge node under test: an EdgeFeed into a pipeline that keeps
// the origin's sequence numbers, journaling into j — what the server will
// wire for `tape serve` on an edge.
type edge struct {
	feed   *cluster.EdgeFeed
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error // the feed's, once it returned
	nows   []int64
}

func startEdge(t testing.TB, nc *nats.Conn, j journal.Journal, opts cluster.EdgeOptions) *edge {
	t.Helper()
	opts.Journal = j
	ed := &edge{feed: cluster.NewEdgeFeed(nc, opts)}
	ctx, cancel := context.WithCancel(context.Background())
	ed.cancel = cancel
	in := make(chan feed.Batch, 4)
	mid := make(chan feed.Batch, 4)
	p := ingest.New(ingest.Options{Publish: discard{}, Journal: j, KeepSeq: true})
	ed.wg.Go(func() {
		err := ed.feed.Run(ctx, in)
		ed.mu.Lock()
		ed.err = err
		ed.mu.Unlock()
		close(in)
	})
	// Record each batch's clock on the way, to check Batch.Now.
	ed.wg.Go(func() {
		defer close(mid)
		for b := range in {
			ed.mu.Lock()
			ed.nows = append(ed.nows, b.Now)
			ed.mu.Unlock()
			mid <- b
		}
	})
	ed.wg.Go(func() {
		if err := p.Run(context.Background(), mid); err != nil {
			t.Errorf("edge pipeline: %v", err)
		}
	})
	t.Cleanup(ed.stop)
	return ed
}

// stop ends the edge and waits until its pipeline journaled everything.
func (ed *edge) stop() {
	ed.cancel()
	ed.wg.Wait()
}

// result is the feed's error once Run returned (nil while it runs).
func (ed *edge) result() error {
	ed.mu.Lock()
	defer ed.mu.Unlock()
	return ed.err
}

func (ed *edge) done() bool {
	ed.mu.Lock()
	defer ed.mu.Unlock()
	return ed.err != nil
}

// publisher runs a Publisher until stopped.
type publisher struct {
	p      *cluster.Publisher
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func startPublisher(t testing.TB, nc *nats.Conn, opts cluster.PublisherOptions) *publisher {
	t.Helper()
	p, err := cluster.NewPublisher(nc, opts)
	if err != nil {
		t.Fatalf("NewPublisher: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pb := &publisher{p: p, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(pb.done)
		pb.err = p.Run(ctx)
	}()
	t.Cleanup(func() { pb.stop() })
	return pb
}

// stop cancels the publisher and returns its error (nil for a clean stop).
func (pb *publisher) stop() error {
	pb.cancel()
	<-pb.done
	if errors.Is(pb.err, context.Canceled) {
		return nil
	}
	return pb.err
}

func (pb *publisher) finished() bool {
	select {
	case <-pb.done:
		return true
	default:
		return false
	}
}
