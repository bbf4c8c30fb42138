package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/bars"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/feed/sim"
	"github.com/tapehq/tape/internal/market"
)

type recorder struct{ events []market.Event }

func (r *recorder) Publish(evs []market.Event) { r.events = append(r.events, evs...) }

// TestSequenceAndDerivedBars: every event, raw or derived, gets the next
// sequence number, and a minute's bar follows the trades it aggregates.
func TestSequenceAndDerivedBars(t *testing.T) {
	rec := &recorder{}
	p := New(Options{Publish: rec, Bars: bars.New(bars.Options{}), FirstSeq: 100})
	m0 := time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC).UnixNano()
	trade := func(ns int64, price float64) market.Event {
		return market.Event{Kind: market.KindTrade, Symbol: "AAPL", Time: ns,
			Trade: market.Trade{ID: ns, Price: price, Size: 100, Exchange: 'Q', Tape: 'C', Conditions: market.MakeConditions("@")}}
	}
	p.Process(feed.Batch{Events: []market.Event{trade(m0+1e9, 10), trade(m0+2e9, 12)}, Now: m0 + 3e9})
	p.Process(feed.Batch{Events: []market.Event{trade(m0+61e9, 11)}, Now: m0 + 61e9})
	if len(rec.events) < 5 {
		t.Fatalf("got %d events", len(rec.events))
	}
	for i, e := range rec.events {
		if e.Seq != uint64(100+i) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
	}
	kinds := []market.Kind{market.KindTrade, market.KindTrade, market.KindTrade, market.KindBar, market.KindDailyBar}
	for i, k := range kinds {
		if rec.events[i].Kind != k {
			t.Fatalf("event %d is %v, want %v", i, rec.events[i].Kind, k)
		}
	}
	if b := rec.events[3].Bar; b.Open != 10 || b.High != 12 || b.Close != 12 || b.Volume != 200 || rec.events[3].Time != m0 {
		t.Fatalf("bar %+v", rec.events[3])
	}
	st := p.Stats()
	if st.Events != 3 || st.Derived != 2 || st.LastSeq != 104 || st.FeedNow != m0+61e9 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRunStopsOnCancelAndClose(t *testing.T) {
	p := New(Options{Publish: &recorder{}})
	in := make(chan feed.Batch)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx, in) }()
	in <- feed.Batch{Events: []market.Event{{Kind: market.KindQuote, Symbol: "A"}}}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("cancel: %v", err)
	}
	go func() { done <- p.Run(context.Background(), in) }()
	close(in)
	if err := <-done; err != nil {
		t.Fatalf("closed input: %v", err)
	}
}

// barChecker checks every minute bar as it is published, keeping nothing.
type barChecker struct {
	t    *testing.T
	bars int
}

func (c *barChecker) Publish(evs []market.Event) {
	for _, e := range evs {
		if e.Kind != market.KindBar {
			continue
		}
		c.bars++
		b := e.Bar
		if !(b.Low <= b.Open && b.Open <= b.High && b.Low <= b.Close && b.Close <= b.High && b.Volume > 0 && e.Time%60e9 == 0) {
			c.t.Fatalf("inconsistent bar %+v", e)
		}
	}
}

// TestSimulatedHour runs a simulated hour through the pipeline and checks
// the derived bars are consistent.
func TestSimulatedHour(t *testing.T) {
	s, err := sim.New(sim.Options{Seed: 3, Rate: 200, Symbols: []string{"AAPL", "SPY"},
		Start: time.Date(2026, 11, 24, 14, 30, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	chk := &barChecker{t: t}
	p := New(Options{Publish: chk, Bars: bars.New(bars.Options{})})
	end := time.Date(2026, 11, 24, 15, 30, 0, 0, time.UTC).UnixNano()
	for {
		evs, now := s.Next(nil)
		p.Process(feed.Batch{Events: evs, Now: now})
		if now >= end {
			break
		}
	}
	// Two busy symbols, sixty minutes each (the last one may still be open).
	if chk.bars < 118 || chk.bars > 120 {
		t.Fatalf("%d minute bars for 2 symbols over an hour", chk.bars)
	}
}
