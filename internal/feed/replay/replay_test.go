package replay

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
)

var t0 = time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)

// record journals one trade per second for n seconds from t0.
func record(t *testing.T, n int) *journal.Memory {
	t.Helper()
	j := journal.NewMemory(journal.Options{})
	for i := range n {
		e := market.Event{Kind: market.KindTrade, Symbol: "AAPL", Time: t0.Add(time.Duration(i) * time.Second).UnixNano(),
			Trade: market.Trade{ID: int64(i), Price: 10, Size: 100}}
		if err := j.Append(uint64(i+1), e.Time, market.AppendBinary(nil, &e)); err != nil {
			t.Fatal(err)
		}
	}
	j.Commit()
	return j
}

// collect runs f until it reports Done and returns what it sent.
func collect(t *testing.T, f *Feed) []market.Event {
	t.Helper()
	out := make(chan feed.Batch, 1024)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- f.Run(ctx, out) }()
	var got []market.Event
	for {
		select {
		case b := <-out:
			got = append(got, b.Events...)
		case <-f.Done():
			for len(out) > 0 {
				got = append(got, (<-out).Events...)
			}
			cancel()
			<-errc
			return got
		case err := <-errc:
			t.Fatalf("replay ended: %v", err)
		}
	}
}

func TestPeriodBounds(t *testing.T) {
	j := record(t, 100)
	f, err := New(Options{Source: j, From: t0.Add(10 * time.Second), To: t0.Add(19 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, f)
	if len(got) != 10 || got[0].Trade.ID != 10 || got[9].Trade.ID != 19 || got[0].Seq != 11 {
		t.Fatalf("got %d events, first %+v", len(got), got)
	}
}

// TestPaced: at 100x a recorded 10 s span cannot take less than 0.1 s
// (timers never fire early; no upper bound is asserted).
func TestPaced(t *testing.T) {
	j := record(t, 11)
	f, _ := New(Options{Source: j, From: t0, Speed: 100})
	start := time.Now()
	got := collect(t, f)
	if len(got) != 11 {
		t.Fatalf("got %d", len(got))
	}
	if el := time.Since(start); el < 100*time.Millisecond {
		t.Fatalf("10 recorded seconds at 100x took %v", el)
	}
}

func TestWaitsForSubscriberAndBacklog(t *testing.T) {
	j := record(t, 50)
	var subscribed atomic.Bool
	var backlog atomic.Int64
	backlog.Store(1 << 30)
	f, _ := New(Options{Source: j, From: t0, WaitFor: subscribed.Load, Backlog: func() int { return int(backlog.Load()) },
		MaxBacklog: 1 << 20, BatchSize: 10})
	out := make(chan feed.Batch, 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx, out)
	time.Sleep(30 * time.Millisecond)
	if len(out) != 0 {
		t.Fatal("replayed before anyone subscribed")
	}
	subscribed.Store(true)
	time.Sleep(30 * time.Millisecond)
	if len(out) != 0 {
		t.Fatal("replayed while the backlog was over the bound")
	}
	backlog.Store(0)
	<-f.Done()
	n := 0
	for len(out) > 0 {
		n += len((<-out).Events)
	}
	if n != 50 {
		t.Fatalf("got %d", n)
	}
}

func TestLoop(t *testing.T) {
	j := record(t, 5)
	f, _ := New(Options{Source: j, From: t0, Loop: true})
	out := make(chan feed.Batch, 100)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- f.Run(ctx, out) }()
	n := 0
	for n < 20 {
		n += len((<-out).Events)
	}
	cancel()
	<-errc
}

func TestBadOptions(t *testing.T) {
	j := record(t, 1)
	if _, err := New(Options{Source: j, From: t0, To: t0.Add(-time.Second)}); err == nil {
		t.Fatal("to before from accepted")
	}
	if _, err := New(Options{}); err == nil {
		t.Fatal("no source accepted")
	}
}
