// Package ingest is Tape's core loop: the one goroutine through which every
// event passes. It gives each event its sequence number (the kdb+
// tickerplant idea: journal, hub, resume and replay all speak in it), feeds
// the bar builder, and publishes raw and derived events alike, so what was
// streamed and what is stored are the same records.
package ingest

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/tapehq/tape/internal/bars"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/market"
)

// Publisher receives sequenced events; the hub implements it. Publish must
// not block and must not retain events.
type Publisher interface {
	Publish(events []market.Event)
}

// Options configures a Pipeline.
type Options struct {
	// Publish receives every sequenced event, raw and derived. Required.
	Publish Publisher
	// Bars builds minute, updated and daily bars from trades; nil disables
	// bar building (for feeds whose upstream already sends bars).
	Bars *bars.Builder
	// FirstSeq is the sequence number of the first event; default 1.
	FirstSeq uint64
	Logger   *slog.Logger
}

// Pipeline sequences, derives and publishes events.
type Pipeline struct {
	opts    Options
	next    uint64 // next sequence number; owned by Run
	derived []market.Event

	events  atomic.Uint64 // raw events in
	derivs  atomic.Uint64 // derived events
	lastSeq atomic.Uint64
	feedNow atomic.Int64 // the feed clock of the last batch
	kinds   [16]atomic.Uint64
}

// New returns a pipeline.
func New(opts Options) *Pipeline {
	if opts.Publish == nil {
		panic("ingest: Options.Publish is required")
	}
	if opts.FirstSeq == 0 {
		opts.FirstSeq = 1
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{opts: opts, next: opts.FirstSeq}
}

// Run consumes batches until ctx is done or in is closed. It returns nil on
// a closed channel and ctx.Err() on cancellation.
func (p *Pipeline) Run(ctx context.Context, in <-chan feed.Batch) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case b, ok := <-in:
			if !ok {
				return nil
			}
			p.Process(b)
		}
	}
}

// Process handles one batch. It is what Run calls; benchmarks and tests call
// it directly. Not safe for concurrent use.
func (p *Pipeline) Process(b feed.Batch) {
	evs := b.Events
	for i := range evs {
		e := &evs[i]
		e.Seq = p.next
		p.next++
		if int(e.Kind) < len(p.kinds) {
			p.kinds[e.Kind].Add(1)
		}
		if p.opts.Bars != nil {
			p.opts.Bars.Apply(e)
		}
	}
	if len(evs) > 0 {
		p.opts.Publish.Publish(evs)
		p.events.Add(uint64(len(evs)))
	}
	if p.opts.Bars != nil {
		p.derived = p.opts.Bars.Advance(b.Now, p.derived[:0])
		if n := len(p.derived); n > 0 {
			for i := range p.derived {
				e := &p.derived[i]
				e.Seq = p.next
				p.next++
				p.kinds[e.Kind].Add(1)
			}
			p.opts.Publish.Publish(p.derived)
			p.derivs.Add(uint64(n))
		}
	}
	p.lastSeq.Store(p.next - 1)
	p.feedNow.Store(b.Now)
}

// Stats are the pipeline's counters.
type Stats struct {
	Events  uint64 // raw events sequenced
	Derived uint64 // bars derived
	LastSeq uint64
	FeedNow int64 // feed clock of the last batch, ns since epoch
	ByKind  map[market.Kind]uint64
}

// Stats returns a snapshot of the counters.
func (p *Pipeline) Stats() Stats {
	st := Stats{Events: p.events.Load(), Derived: p.derivs.Load(), LastSeq: p.lastSeq.Load(),
		FeedNow: p.feedNow.Load(), ByKind: make(map[market.Kind]uint64)}
	for k := range p.kinds {
		if n := p.kinds[k].Load(); n > 0 {
			st.ByKind[market.Kind(k)] = n
		}
	}
	return st
}
