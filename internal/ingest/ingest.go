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
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

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
	Sync(ctx context.Context) error
	Last() uint64
	WaitWritten(ctx context.Context, seq uint64) error
	WaitSynced(ctx context.Context, seq uint64) error
}

// Bars is the bar builder the pipeline derives bars with (*bars.Builder,
// or the *bars.Set of every class's builders). The pipeline sequences,
// journals and publishes whatever kinds it emits: a Set with IEX bars
// (bars.NewSetWithIEX) adds the iex feed's bars (market.KindIEXBar, ...)
// to the consolidated ones, with nothing else to configure.
type Bars interface {
	Apply(e *market.Event)
	Advance(now int64, out []market.Event) []market.Event
}

// Checkpoint makes the pipeline checkpoint the record's State and the live
// bar builder (see Recover), so a restart is constant time.
type Checkpoint struct {
	// Dir receives the checkpoint file (the data directory's state/).
	Dir string
	// Bars is the live bar builder whose state the checkpoint holds; it may
	// differ from Options.Bars (an import derives its bars with a builder
	// of its own and carries the live one over untouched). nil: none. A
	// *bars.Set checkpoints its IEX builder with the others; give Recover
	// (RecoverOptions.Bars) a Set made the same way, with or without IEX.
	Bars BarState
	// Every and Interval: a checkpoint is cut after Every events (default
	// 1,000,000) or Interval of wall time with at least one event (default
	// 5 s), whichever comes first, and once more when Run returns.
	Every    int
	Interval time.Duration
}

// Options configures a Pipeline.
type Options struct {
	// Publish receives every sequenced event, raw and derived, once it is
	// durable. Required.
	Publish Publisher
	// Also receive the released events after Publish (the history store).
	Also []Publisher
	// Bars builds minute, updated and daily bars from trades; nil disables
	// bar building (for feeds whose upstream already sends bars). With a
	// *bars.Set made by bars.NewSetWithIEX it builds the iex feed's bars
	// too (KindIEXBar, KindIEXUpdatedBar, KindIEXDailyBar), which are
	// sequenced, stamped, flagged, counted (Stats.ByKind) and journaled
	// like the consolidated ones.
	Bars Bars
	// Journal, if set, gets every event before it is published; the first
	// sequence number is then Journal.Last()+1.
	Journal Journal
	// State is the record's state at the journal's end (see Recover); nil
	// starts an empty one. The pipeline owns it while it runs.
	State *State
	// Flags are set on every raw event of this pipeline's feed: an import
	// or a backfill marks its events market.FlagBackfill.
	Flags market.Flags
	// Checkpoint, if set, checkpoints State (and the live bars) to disk.
	// It needs a Journal.
	Checkpoint *Checkpoint
	// ReleaseSynced makes events wait for an fsync (journal Synced) rather
	// than a write (Written) before publication: nothing a client saw can be
	// lost even to a power failure. Set it with --fsync always.
	ReleaseSynced bool
	// FirstSeq is the sequence number of the first event when there is no
	// journal; default 1.
	FirstSeq uint64
	// KeepSeq keeps the sequence numbers events arrive with (a replay of a
	// journal, or an edge consuming the origin's record) instead of
	// assigning new ones. With a Journal each must be the journal's next;
	// an event at or below it is a duplicate and is dropped (counted).
	KeepSeq bool
	Logger  *slog.Logger
}

// Pipeline sequences, derives, journals and publishes events.
type Pipeline struct {
	opts  Options
	next  uint64 // next sequence number; owned by the sequencer
	buf   []byte // journal payload scratch
	state *State // owned by the sequencer

	ckpt      chan checkpoint // the sequencer's latest cut, for the checkpoint writer
	ckptN     int             // events since the last cut
	ckptAt    time.Time       // wall time of the last cut
	ckptBytes []byte          // state scratch

	events   atomic.Uint64 // raw events in
	derivs   atomic.Uint64 // derived events
	late     atomic.Uint64 // raw events flagged late
	dups     atomic.Uint64 // KeepSeq events dropped as already journaled
	lastSeq  atomic.Uint64 // last sequenced
	released atomic.Uint64 // last published
	feedNow  atomic.Int64  // the feed clock of the last batch
	batchAt  atomic.Int64  // wall time the last batch arrived, ns
	clock    atomic.Int64  // the record clock
	ckptSeq  atomic.Uint64 // seq of the last checkpoint written
	ckptErrs atomic.Uint64 // checkpoint writes that failed
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
	if opts.State == nil {
		opts.State = NewState()
	}
	if c := opts.Checkpoint; c != nil {
		if opts.Journal == nil {
			panic("ingest: a Checkpoint needs a Journal")
		}
		if c.Every <= 0 {
			c.Every = 1_000_000
		}
		if c.Interval <= 0 {
			c.Interval = 5 * time.Second
		}
	}
	p := &Pipeline{opts: opts, next: opts.FirstSeq, state: opts.State, ckptAt: time.Now()}
	p.lastSeq.Store(opts.FirstSeq - 1)
	p.released.Store(opts.FirstSeq - 1)
	p.clock.Store(opts.State.Clock)
	p.feedNow.Store(opts.State.FeedNow)
	return p
}

// FeedNow is the feed clock of the last batch (ns since the Unix epoch):
// one atomic load, for callers that read it per event.
func (p *Pipeline) FeedNow() int64 { return p.feedNow.Load() }

// NextSeq is the sequence number the next event will get.
func (p *Pipeline) NextSeq() uint64 { return p.next }

// release is one batch on its way to publication.
type release struct {
	events []market.Event
	last   uint64 // the last sequence number in events
}

// Run consumes batches until ctx is done or in is closed, then publishes
// what it already journaled and returns: nil on a closed channel,
// ctx.Err() on cancellation, or the journal's error. With a Checkpoint it
// cuts one last checkpoint on the way out and waits for it to be written.
func (p *Pipeline) Run(ctx context.Context, in <-chan feed.Batch) error {
	out := make(chan release, 64)
	var relErr, ckErr error
	var wg sync.WaitGroup
	// The releaser drains everything the sequencer hands it, even after
	// ctx ends: a journaled event must also reach subscribers and history.
	wg.Go(func() { relErr = p.releaser(out) })
	if p.opts.Checkpoint != nil {
		p.ckpt = make(chan checkpoint, 1)
		wg.Go(func() { ckErr = p.checkpointer() })
	}
	err := p.sequencer(ctx, in, out)
	close(out)
	if p.ckpt != nil {
		if p.ckptN > 0 {
			p.cut()
		}
		close(p.ckpt)
	}
	wg.Wait()
	if relErr == nil && ckErr == nil {
		return err
	}
	return errors.Join(err, relErr, ckErr)
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
			if p.ckpt != nil && p.ckptN > 0 && (p.ckptN >= p.opts.Checkpoint.Every || time.Since(p.ckptAt) >= p.opts.Checkpoint.Interval) {
				p.cut()
			}
		}
	}
}

// cut snapshots the State and the live bars as of the last sequenced
// event and hands them to the checkpoint writer, replacing a cut it has
// not taken yet (only the newest matters).
func (p *Pipeline) cut() {
	p.state.FeedNow = p.feedNow.Load()
	c := checkpoint{seq: p.next - 1}
	p.ckptBytes = p.state.AppendBinary(p.ckptBytes[:0])
	c.state = bytes.Clone(p.ckptBytes)
	if b := p.opts.Checkpoint.Bars; b != nil {
		c.bars = b.AppendState(nil)
	}
	select {
	case <-p.ckpt: // drop the older cut
	default:
	}
	p.ckpt <- c
	p.ckptN, p.ckptAt = 0, time.Now()
}

// checkpointer writes cuts once the journal has fsynced them, so a
// checkpoint is never ahead of the durable journal.
func (p *Pipeline) checkpointer() error {
	var failed error
	for c := range p.ckpt {
		if err := p.opts.Journal.Sync(context.Background()); err != nil {
			failed = fmt.Errorf("checkpoint: journal sync: %w", err)
			p.ckptErrs.Add(1)
			continue
		}
		if err := writeCheckpoint(p.opts.Checkpoint.Dir, c); err != nil {
			p.ckptErrs.Add(1)
			p.opts.Logger.Warn("writing the checkpoint failed; restarts will replay more of the journal", "err", err)
			continue
		}
		p.ckptSeq.Store(c.seq)
	}
	return failed
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

// sequence numbers the batch's events, stamps them with the record clock,
// derives bars, journals everything and returns it as one release.
//
// Journal time never goes backwards: every record is stamped with the
// record clock after its event (State.stamp), so an event older than the
// record (a late report, an import of an earlier day, a gap fill) is
// journaled at the clock and flagged late, never interleaved as if live.
func (p *Pipeline) sequence(b feed.Batch) (release, error) {
	p.batchAt.Store(time.Now().UnixNano())
	evs, times := b.Events, b.Times
	if len(times) != len(evs) {
		times = nil
	}
	st := p.state
	if p.opts.KeepSeq && p.opts.Journal != nil {
		evs, times = p.dropJournaled(evs, times)
	}
	n0 := len(evs)
	for i := range evs {
		e := &evs[i]
		if p.opts.KeepSeq {
			p.next = e.Seq + 1
		} else {
			e.Seq = p.next
			p.next++
		}
		e.Flags |= p.opts.Flags
		if int(e.Kind) < len(p.kinds) {
			p.kinds[e.Kind].Add(1)
		}
		if p.opts.Bars != nil {
			p.opts.Bars.Apply(e)
		}
	}
	p.events.Add(uint64(n0))
	if p.opts.Bars != nil {
		// Derived bars join the batch's slice (it is ours now) so one
		// release carries both, in sequence order.
		evs = p.opts.Bars.Advance(b.Now, evs)
		for i := n0; i < len(evs); i++ {
			e := &evs[i]
			e.Seq = p.next
			p.next++
			e.Flags |= p.opts.Flags &^ market.FlagLate
			p.kinds[e.Kind].Add(1)
		}
		p.derivs.Add(uint64(len(evs) - n0))
	}
	st.FeedNow = max(st.FeedNow, b.Now)
	p.feedNow.Store(st.FeedNow)
	if len(evs) == 0 {
		return release{}, nil
	}
	var late uint64
	for i := range evs {
		e := &evs[i]
		var ts int64
		if i < n0 && p.opts.KeepSeq && times != nil {
			// A record followed from another: its time is the origin's.
			ts = times[i]
			st.Clock = max(st.Clock, ts)
		} else if i < n0 {
			wasLate := e.Flags.Has(market.FlagLate)
			ts = st.stamp(e, b.Now)
			if !wasLate && e.Flags.Has(market.FlagLate) {
				late++
			}
		} else {
			// A derived bar was emitted by the batch clock: its record is
			// stamped with it (Recover replays that Advance from it).
			st.Clock = max(st.Clock, b.Now)
			ts = st.Clock
		}
		st.observe(e)
		if j := p.opts.Journal; j != nil {
			p.buf = market.AppendBinary(p.buf[:0], e)
			if err := j.Append(e.Seq, ts, p.buf); err != nil {
				return release{}, fmt.Errorf("journal append: %w", err)
			}
		}
	}
	if p.opts.Journal != nil {
		p.opts.Journal.Commit()
	}
	p.late.Add(late)
	p.clock.Store(st.Clock)
	p.ckptN += len(evs)
	p.lastSeq.Store(p.next - 1)
	return release{events: evs, last: p.next - 1}, nil
}

// dropJournaled removes, in place, events a KeepSeq pipeline has already
// journaled (an edge re-reading an overlap): the journal takes each
// sequence number once.
func (p *Pipeline) dropJournaled(evs []market.Event, times []int64) ([]market.Event, []int64) {
	last := p.next - 1
	out := evs[:0]
	var tout []int64
	if times != nil {
		tout = times[:0]
	}
	for i, e := range evs {
		if e.Seq <= last {
			p.dups.Add(1)
			continue
		}
		last = e.Seq
		out = append(out, e)
		if times != nil {
			tout = append(tout, times[i])
		}
	}
	return out, tout
}

// Stats are the pipeline's counters.
type Stats struct {
	Events     uint64 // raw events sequenced
	Derived    uint64 // bars derived
	Late       uint64 // raw events flagged late by the record clock
	Duplicates uint64 // KeepSeq events dropped as already journaled
	LastSeq    uint64 // last sequence number given out (and journaled)
	Released   uint64 // last sequence number published
	FeedNow    int64  // feed clock of the last batch, ns since epoch
	Clock      int64  // the record clock (journal time), ns since epoch
	// LastBatchWall is the wall time the last batch arrived (0: none yet).
	LastBatchWall int64
	// CheckpointSeq is the seq of the last checkpoint written; 0 if none.
	CheckpointSeq    uint64
	CheckpointErrors uint64
	ByKind           map[market.Kind]uint64
}

// Stats returns a snapshot of the counters.
func (p *Pipeline) Stats() Stats {
	st := Stats{Events: p.events.Load(), Derived: p.derivs.Load(), Late: p.late.Load(), Duplicates: p.dups.Load(),
		LastSeq: p.lastSeq.Load(), Released: p.released.Load(), FeedNow: p.feedNow.Load(), Clock: p.clock.Load(),
		LastBatchWall: p.batchAt.Load(), CheckpointSeq: p.ckptSeq.Load(), CheckpointErrors: p.ckptErrs.Load(), ByKind: make(map[market.Kind]uint64)}
	for k := range p.kinds {
		if n := p.kinds[k].Load(); n > 0 {
			st.ByKind[market.Kind(k)] = n
		}
	}
	return st
}
