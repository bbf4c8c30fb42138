// Package ingest is Tape's core loop: the path every event takes. It gives
// each event its sequence number (the kdb+ tickerplant idea: journal, hub,
// resume and replay all speak in it), feeds the bar builder, journals raw
// and derived events alike, and publishes them only once the journal holds
// them — so what was streamed and what is stored are the same records, and
// no client ever sees an event a crash could take back.
//
// Two goroutines, pipelined: the sequencer (sequence numbers, bars, journal
// append) and the releaser (wait until the journal's durability watermark
// passes the batch, then publish). The sequencer keeps going while the
// releaser waits for a write or an fsync, which is what group commit needs.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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

// Journal is the durable log the pipeline appends to (journal.File
// implements it).
type Journal interface {
	Append(seq uint64, ts int64, payload []byte) error
	Commit()
	Last() uint64
	WaitWritten(ctx context.Context, seq uint64) error
	WaitSynced(ctx context.Context, seq uint64) error
}

// Options configures a Pipeline.
type Options struct {
	// Publish receives every sequenced event, raw and derived, once it is
	// durable. Required.
	Publish Publisher
	// Also receive the released events after Publish (the history store).
	Also []Publisher
	// Bars builds minute, updated and daily bars from trades; nil disables
	// bar building (for feeds whose upstream already sends bars).
	Bars *bars.Builder
	// Journal, if set, gets every event before it is published; the first
	// sequence number is then Journal.Last()+1.
	Journal Journal
	// ReleaseSynced makes events wait for an fsync (journal Synced) rather
	// than a write (Written) before publication: nothing a client saw can be
	// lost even to a power failure. Set it with --fsync always.
	ReleaseSynced bool
	// FirstSeq is the sequence number of the first event when there is no
	// journal; default 1.
	FirstSeq uint64
	// KeepSeq keeps the sequence numbers events arrive with (replay of a
	// journal) instead of assigning new ones.
	KeepSeq bool
	Logger  *slog.Logger
}

// Pipeline sequences, derives, journals and publishes events.
type Pipeline struct {
	opts Options
	next uint64 // next sequence number; owned by the sequencer
	buf  []byte // journal payload scratch

	events   atomic.Uint64 // raw events in
	derivs   atomic.Uint64 // derived events
	lastSeq  atomic.Uint64 // last sequenced
	released atomic.Uint64 // last published
	feedNow  atomic.Int64  // the feed clock of the last batch
	kinds    [market.NumKinds]atomic.Uint64
}

// New returns a pipeline.
func New(opts Options) *Pipeline {
	if opts.Publish == nil {
		panic("ingest: Options.Publish is required")
	}
	if opts.FirstSeq == 0 {
		opts.FirstSeq = 1
	}
	if opts.Journal != nil {
		opts.FirstSeq = opts.Journal.Last() + 1
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Pipeline{opts: opts, next: opts.FirstSeq}
	p.lastSeq.Store(opts.FirstSeq - 1)
	p.released.Store(opts.FirstSeq - 1)
	return p
}

// AlsoPublish adds a publisher that receives released events after the
// main one. Call it before Run.
func (p *Pipeline) AlsoPublish(pub Publisher) { p.opts.Also = append(p.opts.Also, pub) }

// NextSeq is the sequence number the next event will get.
func (p *Pipeline) NextSeq() uint64 { return p.next }

// release is one batch on its way to publication.
type release struct {
	events []market.Event
	last   uint64 // the last sequence number in events
}

// Run consumes batches until ctx is done or in is closed, then publishes
// what it already journaled and returns: nil on a closed channel,
// ctx.Err() on cancellation, or the journal's error.
func (p *Pipeline) Run(ctx context.Context, in <-chan feed.Batch) error {
	out := make(chan release, 64)
	var relErr error
	var wg sync.WaitGroup
	// The releaser drains everything the sequencer hands it, even after
	// ctx ends: a journaled event must also reach subscribers and history.
	wg.Go(func() { relErr = p.releaser(out) })
	err := p.sequencer(ctx, in, out)
	close(out)
	wg.Wait()
	if relErr != nil {
		return errors.Join(err, relErr)
	}
	return err
}

func (p *Pipeline) sequencer(ctx context.Context, in <-chan feed.Batch, out chan<- release) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case b, ok := <-in:
			if !ok {
				return nil
			}
			r, err := p.sequence(b)
			if err != nil {
				return err
			}
			if len(r.events) > 0 {
				out <- r
			}
		}
	}
}

func (p *Pipeline) releaser(in <-chan release) error {
	var failed error
	for r := range in {
		if failed != nil {
			continue // keep draining so the sequencer never blocks on us
		}
		if j := p.opts.Journal; j != nil {
			wait := j.WaitWritten
			if p.opts.ReleaseSynced {
				wait = j.WaitSynced
			}
			if err := wait(context.Background(), r.last); err != nil {
				failed = fmt.Errorf("journal: %w", err)
				p.opts.Logger.Error("journal failed; events are no longer published", "err", err)
				continue
			}
		}
		p.publish(r.events)
	}
	return failed
}

func (p *Pipeline) publish(evs []market.Event) {
	p.opts.Publish.Publish(evs)
	for _, a := range p.opts.Also {
		a.Publish(evs)
	}
	p.released.Store(evs[len(evs)-1].Seq)
}

// Process handles one batch synchronously: sequence, journal, and publish
// without waiting for durability. Tests and benchmarks use it; Run is the
// production path. Not safe for concurrent use with Run.
func (p *Pipeline) Process(b feed.Batch) error {
	r, err := p.sequence(b)
	if err != nil {
		return err
	}
	if len(r.events) > 0 {
		p.publish(r.events)
	}
	return nil
}

// sequence numbers the batch's events, derives bars, journals everything
// and returns it as one release.
func (p *Pipeline) sequence(b feed.Batch) (release, error) {
	evs := b.Events
	for i := range evs {
		e := &evs[i]
		if p.opts.KeepSeq {
			p.next = e.Seq + 1
		} else {
			e.Seq = p.next
			p.next++
		}
		if int(e.Kind) < len(p.kinds) {
			p.kinds[e.Kind].Add(1)
		}
		if p.opts.Bars != nil {
			p.opts.Bars.Apply(e)
		}
	}
	p.events.Add(uint64(len(evs)))
	if p.opts.Bars != nil {
		n0 := len(evs)
		// Derived bars join the batch's slice (it is ours now) so one
		// release carries both, in sequence order.
		evs = p.opts.Bars.Advance(b.Now, evs)
		for i := n0; i < len(evs); i++ {
			e := &evs[i]
			e.Seq = p.next
			p.next++
			p.kinds[e.Kind].Add(1)
		}
		p.derivs.Add(uint64(len(evs) - n0))
	}
	p.feedNow.Store(b.Now)
	if len(evs) == 0 {
		return release{}, nil
	}
	if j := p.opts.Journal; j != nil {
		for i := range evs {
			e := &evs[i]
			p.buf = market.AppendBinary(p.buf[:0], e)
			if err := j.Append(e.Seq, e.Time, p.buf); err != nil {
				return release{}, fmt.Errorf("journal append: %w", err)
			}
		}
		j.Commit()
	}
	p.lastSeq.Store(p.next - 1)
	return release{events: evs, last: p.next - 1}, nil
}

// Stats are the pipeline's counters.
type Stats struct {
	Events   uint64 // raw events sequenced
	Derived  uint64 // bars derived
	LastSeq  uint64 // last sequence number given out (and journaled)
	Released uint64 // last sequence number published
	FeedNow  int64  // feed clock of the last batch, ns since epoch
	ByKind   map[market.Kind]uint64
}

// Stats returns a snapshot of the counters.
func (p *Pipeline) Stats() Stats {
	st := Stats{Events: p.events.Load(), Derived: p.derivs.Load(), LastSeq: p.lastSeq.Load(),
		Released: p.released.Load(), FeedNow: p.feedNow.Load(), ByKind: make(map[market.Kind]uint64)}
	for k := range p.kinds {
		if n := p.kinds[k].Load(); n > 0 {
			st.ByKind[market.Kind(k)] = n
		}
	}
	return st
}
