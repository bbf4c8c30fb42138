package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/market"
)

// EdgeOptions configures an EdgeFeed. The zero value works: it bootstraps
// from the first message the default stream holds.
type EdgeOptions struct {
	// Stream names the stream (Name and Prefix; the edge creates nothing).
	Stream StreamOptions
	// Journal is the edge's own journal. If set, the edge starts after its
	// Last() and first checks that its last record is byte for byte the
	// stream's record of that number (ErrDiverged otherwise).
	Journal Journal
	// After is the last sequence number the edge already has when Journal
	// is nil; 0 starts at the first message the stream holds.
	After uint64
	// MaxBatch is the most events in one Batch. Default 1024.
	MaxBatch int
	// Buffer is how many messages the consumer pulls ahead. Default 4096.
	Buffer int
	// Heartbeat is the consumer's idle heartbeat: a silent server is
	// noticed (and the consumer recreated elsewhere) after two of them.
	// Default 1 s.
	Heartbeat time.Duration
	// RetryMax caps the pause before a new consumer after a failure.
	// Default 5 s.
	RetryMax time.Duration
	Logger   *slog.Logger
}

func (o EdgeOptions) withDefaults() EdgeOptions {
	o.Stream = o.Stream.withDefaults()
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1024
	}
	if o.Buffer <= 0 {
		o.Buffer = 4096
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// EdgeFeed is the feed of an edge: the origin's record read back from the
// stream, in order, as feed.Batches whose events keep the origin's
// sequence numbers (Event.Seq is set) and whose Now is the origin's feed
// clock. Run its batches through a pipeline that keeps sequence numbers and
// derives nothing (the origin's bars are in the stream), and the edge's
// journal and history are the origin's.
//
// It reads with an ordered consumer: ephemeral, flow-controlled, without
// acknowledgements, recreated by the client after the exact last message
// whenever a server goes away. The edge's position is its own journal,
// which is what makes a restart exact, so a durable consumer would only keep
// a second copy of that position on the server (and cost an ack per
// message).
//
// Every record is checked to be the successor of the one before: a record
// missing from the stream (removed by retention while the edge was away or
// lagging) ends Run with a *GapError rather than a silent hole.
type EdgeFeed struct {
	nc   *nats.Conn
	opts EdgeOptions

	applied   atomic.Uint64 // last sequence number sent on out
	streamSeq atomic.Uint64 // stream sequence of that record
	pending   atomic.Uint64 // messages in the stream after it
	events    atomic.Uint64
	batches   atomic.Uint64
	dups      atomic.Uint64
	sessions  atomic.Uint64
	originNow atomic.Int64
	lastErr   atomic.Pointer[string]
}

// NewEdgeFeed returns an edge feed over nc.
func NewEdgeFeed(nc *nats.Conn, opts EdgeOptions) *EdgeFeed {
	return &EdgeFeed{nc: nc, opts: opts.withDefaults()}
}

var _ feed.Feed = (*EdgeFeed)(nil)

// EdgeStats are an edge's counters.
type EdgeStats struct {
	Applied    uint64 // last sequence number emitted
	StreamSeq  uint64 // its stream sequence
	Lag        uint64 // messages the stream holds after it
	StreamLast uint64 // StreamSeq + Lag: the stream's last sequence, as last seen
	Events     uint64 // events emitted
	Batches    uint64
	Duplicates uint64 // records received twice and dropped
	Sessions   uint64 // consumers created (1 + restarts after failures)
	OriginNow  int64  // the origin's feed clock of the last batch
	LastError  string
}

// Stats returns a snapshot of the counters.
func (f *EdgeFeed) Stats() EdgeStats {
	st := EdgeStats{Applied: f.applied.Load(), StreamSeq: f.streamSeq.Load(), Lag: f.pending.Load(),
		Events: f.events.Load(), Batches: f.batches.Load(), Duplicates: f.dups.Load(),
		Sessions: f.sessions.Load(), OriginNow: f.originNow.Load()}
	st.StreamLast = st.StreamSeq + st.Lag
	if e := f.lastErr.Load(); e != nil {
		st.LastError = *e
	}
	return st
}

// Run implements feed.Feed. It returns ctx.Err() when ctx ends, a
// *GapError, a *SeqError (ErrDiverged: the edge's journal is not the
// stream's) or ErrForeignMessage; other failures (a server or the
// connection going away) are retried with backoff from the last record
// sent.
func (f *EdgeFeed) Run(ctx context.Context, out chan<- feed.Batch) error {
	o := f.opts
	after, verify := o.After, false
	if o.Journal != nil {
		after, verify = o.Journal.Last(), true
	}
	f.applied.Store(after)
	backoff := 50 * time.Millisecond
	for {
		f.sessions.Add(1)
		err := f.session(ctx, out, verify)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := err.Error()
		f.lastErr.Store(&msg)
		if errors.Is(err, ErrGap) || errors.Is(err, ErrDiverged) || errors.Is(err, ErrForeignMessage) {
			return err
		}
		verify = false // what we applied came from the stream
		if f.applied.Load() != after {
			backoff = 50 * time.Millisecond
			after = f.applied.Load()
		}
		o.Logger.Warn("cluster: edge consumer failed; recreating", "err", err, "after", after, "retry_in", backoff)
		if err := sleep(ctx, backoff); err != nil {
			return err
		}
		backoff = min(2*backoff, o.RetryMax)
	}
}

// session consumes from the record after f.applied until a failure.
func (f *EdgeFeed) session(ctx context.Context, out chan<- feed.Batch, verify bool) error {
	o := f.opts
	js, err := jetstream.New(f.nc)
	if err != nil {
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	s, err := js.Stream(ctx, o.Stream.Name)
	if err != nil {
		return fmt.Errorf("cluster: stream %s: %w", o.Stream.Name, err)
	}
	after := f.applied.Load()
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{DataFilter(o.Stream.Prefix)},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}
	if after > 0 {
		pos, err := locate(ctx, s, o.Stream.Prefix, after)
		if err != nil {
			return err
		}
		switch {
		case pos.none:
			// The stream ends before our last record: we hold records it
			// does not (it lost them, or a deposed origin wrote ours).
			jl := after
			if o.Journal != nil {
				jl = o.Journal.Last()
			}
			return &SeqError{Seq: after, Journal: jl, Stream: pos.msg.tapeSeq, Err: ErrDiverged}
		case pos.found && verify:
			same, err := journalHas(ctx, o.Journal, after, pos.msg.data)
			if err != nil {
				return err
			}
			if !same {
				return &SeqError{Seq: after, Journal: o.Journal.Last(), Stream: pos.msg.tapeSeq, Err: ErrDiverged}
			}
		}
		start := pos.streamSeq
		if pos.found {
			start++
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, start
	}
	cons, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("cluster: ordered consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(o.Buffer), jetstream.PullHeartbeat(o.Heartbeat),
		jetstream.PullExpiry(max(5*o.Heartbeat, 5*time.Second)))
	if err != nil {
		return fmt.Errorf("cluster: consume: %w", err)
	}

	// The reader moves messages from the iterator to msgs, so that this
	// goroutine can cut batches from what has arrived without a timer. It
	// stops when the iterator is stopped (below) or when quit closes.
	msgs := make(chan jetstream.Msg, min(o.Buffer, 1024))
	quit := make(chan struct{})
	var readErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(msgs)
		for {
			m, err := it.Next()
			if err != nil {
				if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					readErr = err
				}
				return
			}
			select {
			case msgs <- m:
			case <-quit:
				return
			}
		}
	})
	defer func() {
		it.Stop()
		close(quit)
		wg.Wait()
	}()

	var in market.Interner
	for {
		var m jetstream.Msg
		var ok bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok = <-msgs:
		}
		if !ok {
			wg.Wait() // readErr is written before msgs closes
			if readErr == nil {
				readErr = errors.New("consumer stopped")
			}
			return fmt.Errorf("cluster: edge consumer: %w", readErr)
		}
		b := feed.Batch{Events: make([]market.Event, 0, min(o.MaxBatch, 1+len(msgs)))}
		last := m
		for {
			if err := f.add(&b, m, &in); err != nil {
				return err
			}
			last = m
			if len(b.Events) >= o.MaxBatch {
				break
			}
			select {
			case m, ok = <-msgs:
			default:
				ok = false
			}
			if !ok {
				break
			}
		}
		if md, err := last.Metadata(); err == nil {
			f.streamSeq.Store(md.Sequence.Stream)
			f.pending.Store(md.NumPending)
		}
		if len(b.Events) == 0 {
			continue
		}
		// The receiver owns the batch once sent (and may edit it in
		// place): read what the counters need first.
		lastSeq, now, n := b.Events[len(b.Events)-1].Seq, b.Now, len(b.Events)
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		f.applied.Store(lastSeq)
		f.originNow.Store(now)
		f.events.Add(uint64(n))
		f.batches.Add(1)
	}
}

// add checks that m is the next record and appends its event to b.
func (f *EdgeFeed) add(b *feed.Batch, m jetstream.Msg, in *market.Interner) error {
	h := m.Headers()
	seq, err := headerUint(h, HeaderSeq)
	if err != nil {
		return fmt.Errorf("cluster: %s: %w", m.Subject(), err)
	}
	prev := f.applied.Load()
	if n := len(b.Events); n > 0 {
		prev = b.Events[n-1].Seq
	}
	switch {
	case prev == 0: // a new edge takes the stream from wherever it starts
	case seq <= prev:
		f.dups.Add(1)
		return nil
	case seq != prev+1:
		return &GapError{Want: prev + 1, Have: seq}
	}
	now, _ := strconv.ParseInt(h.Get(HeaderNow), 10, 64)
	ts, err := strconv.ParseInt(h.Get(HeaderTime), 10, 64)
	if err != nil {
		return fmt.Errorf("cluster: record %d: %w: no %s header", seq, ErrForeignMessage, HeaderTime)
	}
	b.Now = max(b.Now, now, f.originNow.Load())
	e := market.Event{Seq: seq}
	if err := market.DecodeBinary(m.Data(), &e, in); err != nil {
		return fmt.Errorf("cluster: record %d: %w: %w", seq, ErrForeignMessage, err)
	}
	b.Events = append(b.Events, e)
	b.Times = append(b.Times, ts)
	return nil
}
