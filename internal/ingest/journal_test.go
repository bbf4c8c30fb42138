package ingest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/bars"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
)

// gatedJournal wraps a memory journal and holds WaitWritten until the test
// opens the gate, to observe that nothing is published before it is durable.
type gatedJournal struct {
	*journal.Memory
	gate chan struct{}
}

func (g *gatedJournal) WaitWritten(ctx context.Context, seq uint64) error {
	<-g.gate
	return g.Memory.WaitWritten(ctx, seq)
}

type syncRecorder struct {
	mu     sync.Mutex
	events []market.Event
}

func (r *syncRecorder) Publish(evs []market.Event) {
	r.mu.Lock()
	r.events = append(r.events, evs...)
	r.mu.Unlock()
}

func (r *syncRecorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

func quoteBatch(n int, t0 int64) feed.Batch {
	evs := make([]market.Event, n)
	for i := range evs {
		evs[i] = market.Event{Kind: market.KindQuote, Symbol: "AAPL", Time: t0 + int64(i),
			Quote: market.Quote{BidPrice: 1, AskPrice: 2, BidSize: 1, AskSize: 1}}
	}
	return feed.Batch{Events: evs, Now: t0 + int64(n)}
}

// TestJournaledBeforePublished: events reach subscribers only after the
// journal holds them, in sequence order, and the journal holds exactly what
// was published.
func TestJournaledBeforePublished(t *testing.T) {
	mem := journal.NewMemory(journal.Options{})
	j := &gatedJournal{Memory: mem, gate: make(chan struct{})}
	rec := &syncRecorder{}
	p := New(Options{Publish: rec, Journal: j, Bars: bars.New(bars.Options{})})
	in := make(chan feed.Batch)
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background(), in) }()
	in <- quoteBatch(10, 1e18)
	in <- quoteBatch(5, 1e18+100)
	// Journaled, not yet released.
	for mem.Last() != 15 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if n := rec.len(); n != 0 {
		t.Fatalf("%d events published before the journal wrote them", n)
	}
	close(j.gate)
	close(in)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rec.len() != 15 {
		t.Fatalf("published %d", rec.len())
	}
	// The journal's records decode to exactly the published events.
	r, err := mem.NewReader(1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var in2 market.Interner
	for i, want := range rec.events {
		rc, ok, err := r.TryNext()
		if err != nil || !ok {
			t.Fatalf("record %d: %v %v", i, ok, err)
		}
		var got market.Event
		got.Seq = rc.Seq
		if err := market.DecodeBinary(rc.Payload, &got, &in2); err != nil {
			t.Fatal(err)
		}
		if got != want || rc.TS != want.Time {
			t.Fatalf("record %d: %+v != published %+v", i, got, want)
		}
	}
}

// TestSequenceContinuesFromJournal: after a restart the next event gets
// Last()+1.
func TestSequenceContinuesFromJournal(t *testing.T) {
	mem := journal.NewMemory(journal.Options{})
	p := New(Options{Publish: &syncRecorder{}, Journal: mem})
	if err := p.Process(quoteBatch(7, 1e18)); err != nil {
		t.Fatal(err)
	}
	p2 := New(Options{Publish: &syncRecorder{}, Journal: mem})
	if p2.NextSeq() != 8 {
		t.Fatalf("next seq %d", p2.NextSeq())
	}
}
