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

	"github.com/tapehq/tape/internal/journal"
)

// PublisherOptions configures a Publisher. Journal is required; the zero
// value of everything else works.
type PublisherOptions struct {
	// Journal is the origin's journal, which the publisher tails. Required.
	Journal Journal
	// Stream is the stream to publish into; it is created or updated at
	// start.
	Stream StreamOptions
	// Epoch is the writer's epoch: the lease revision (Roles passes it to
	// Lead), or 0 for a lone origin without a lease.
	Epoch uint64
	// MaxInFlight is how many messages may await their acknowledgement:
	// the window that keeps the pipe to JetStream full. Default and
	// maximum MaxWindow (the claim's fence is that wide).
	MaxInFlight int
	// AckTimeout is how long a message may wait for its acknowledgement
	// before the publisher resynchronises with the stream. Default 5 s.
	AckTimeout time.Duration
	// Clock returns the origin's feed clock (ns since the Unix epoch), sent
	// in HeaderNow. It is read once per record, so it must be cheap (an
	// atomic load). Nil: the largest record time seen so far.
	Clock func() int64
	// RetryMax caps the pause between resynchronisations after failures
	// (the pause doubles from 50 ms). Default 5 s.
	RetryMax time.Duration
	// ClaimRefresh is how long the publisher may sit idle before it claims
	// the stream again. A claim names the last record, so with refreshes
	// more frequent than the stream's MaxAge the stream never forgets where
	// the record ended, even when retention has removed every record.
	// Default a quarter of the stream's MaxAge (none if it keeps forever).
	ClaimRefresh time.Duration
	Logger       *slog.Logger
}

func (o PublisherOptions) withDefaults() PublisherOptions {
	o.Stream = o.Stream.withDefaults()
	if o.MaxInFlight <= 0 || o.MaxInFlight > MaxWindow {
		o.MaxInFlight = MaxWindow
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 5 * time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 5 * time.Second
	}
	if o.ClaimRefresh <= 0 && o.Stream.MaxAge > 0 {
		o.ClaimRefresh = o.Stream.MaxAge / 4
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Publisher copies the origin's journal into the stream, record by record,
// in sequence order. It tails the journal rather than taking events from
// the pipeline, so it never slows ingest (a slow or absent JetStream only
// makes it lag; the journal holds what it has not sent) and it loses
// nothing (after a restart, a failover or an error it starts again after
// the stream's last record).
//
// Publishing is asynchronous with a bounded window of MaxInFlight
// unacknowledged messages. Any failure — a refused message, a timeout, a
// lost connection — ends the window: the publisher waits for the
// outstanding acknowledgements, claims the stream again (which tells it the
// last record stored) and resumes after it. See Claim for why the stream
// stays exactly-once and why a deposed writer cannot add to it.
type Publisher struct {
	nc   *nats.Conn
	opts PublisherOptions
	js   jetstream.JetStream

	published atomic.Uint64 // last seq handed to NATS
	acked     atomic.Uint64 // last seq the stream acknowledged
	inFlight  atomic.Int64
	resyncs   atomic.Uint64
	refused   atomic.Uint64 // messages the stream refused (any error)
	claims    atomic.Uint64
	fenced    atomic.Bool
	lastErr   atomic.Pointer[string]
}

// NewPublisher returns a publisher over nc.
func NewPublisher(nc *nats.Conn, opts PublisherOptions) (*Publisher, error) {
	if opts.Journal == nil {
		return nil, errors.New("cluster: PublisherOptions.Journal is required")
	}
	opts = opts.withDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("cluster: jetstream: %w", err)
	}
	return &Publisher{nc: nc, opts: opts, js: js}, nil
}

// PublisherStats are the publisher's counters.
type PublisherStats struct {
	Epoch     uint64 // the writer epoch
	Published uint64 // last sequence number sent
	Acked     uint64 // last sequence number the stream stored
	InFlight  int    // messages awaiting acknowledgement
	Lag       uint64 // journal Last - Acked: records not yet in the stream
	Claims    uint64 // claims written (one per start and per resync)
	Resyncs   uint64 // windows abandoned after a failure
	Refused   uint64 // messages that failed (refused, timed out, not sent)
	Fenced    bool   // a newer writer took over; Run returned ErrFenced
	LastError string // the last failure, "" if none
}

// Stats returns a snapshot of the counters.
func (p *Publisher) Stats() PublisherStats {
	st := PublisherStats{Epoch: p.opts.Epoch, Published: p.published.Load(), Acked: p.acked.Load(),
		InFlight: int(p.inFlight.Load()), Claims: p.claims.Load(), Resyncs: p.resyncs.Load(),
		Refused: p.refused.Load(), Fenced: p.fenced.Load()}
	if l := p.opts.Journal.Last(); l > st.Acked {
		st.Lag = l - st.Acked
	}
	if e := p.lastErr.Load(); e != nil {
		st.LastError = *e
	}
	return st
}

// WaitAcked waits until the stream has acknowledged seq (or Run has
// returned, or ctx ends). An origin stepping down calls it after its
// pipeline has stopped, with the journal's Last, before cancelling Run:
// records journaled but never published would make this node's journal
// diverge from the stream once another node continues the sequence.
func (p *Publisher) WaitAcked(ctx context.Context, seq uint64) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for p.acked.Load() < seq {
		if p.fenced.Load() {
			return ErrFenced
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: waiting for %d to be acknowledged (acked %d): %w", seq, p.acked.Load(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Run publishes until ctx ends (returning ctx.Err()) or the publisher is
// fenced (ErrFenced) or the journal cannot continue the stream
// (*SeqError, *GapError, a journal error). Transient failures are retried
// forever with backoff.
func (p *Publisher) Run(ctx context.Context) error {
	o := p.opts
	backoff := 50 * time.Millisecond
	for {
		err := p.session(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errIdle) {
			continue // claim again, at once
		}
		msg := err.Error()
		p.lastErr.Store(&msg)
		if permanent(err) {
			if errors.Is(err, ErrFenced) {
				p.fenced.Store(true)
			}
			return err
		}
		p.resyncs.Add(1)
		o.Logger.Warn("cluster: publisher resynchronising with the stream", "err", err, "retry_in", backoff)
		if err := sleep(ctx, backoff); err != nil {
			return err
		}
		backoff = min(2*backoff, o.RetryMax)
	}
}

// permanent reports whether err ends Run rather than a session.
func permanent(err error) bool {
	return errors.Is(err, ErrFenced) || errors.Is(err, ErrBehind) || errors.Is(err, ErrDiverged) ||
		errors.Is(err, ErrGap) || errors.Is(err, ErrForeignMessage) || errors.Is(err, journal.ErrClosed) ||
		errors.Is(err, journal.ErrPruned) || errors.As(err, new(*journal.CorruptionErr))
}

// session claims the stream and publishes until something fails. It
// always leaves with an empty window.
func (p *Publisher) session(ctx context.Context) error {
	o := p.opts
	s, err := EnsureStream(ctx, p.js, o.Stream)
	if err != nil {
		return err
	}
	c, err := claimStream(ctx, p.nc, s, o.Stream.Prefix, o.Epoch, o.Journal)
	if err != nil {
		return err
	}
	p.claims.Add(1)
	p.acked.Store(c.next - 1)
	p.published.Store(c.next - 1)
	r, err := o.Journal.NewReader(c.next)
	if err != nil {
		return fmt.Errorf("cluster: journal reader at %d: %w", c.next, err)
	}
	defer r.Close()

	w := newWindow(p, c.next-1, o.MaxInFlight)
	defer w.abandon()
	// A JetStream context per session: its acknowledgements go to this
	// session's window, and a late one for an abandoned session lands in
	// the old window, which nobody reads. The library's own pending limit is
	// a backstop above ours: our window is the one that applies.
	js, err := jetstream.New(p.nc, jetstream.WithPublishAsyncMaxPending(2*o.MaxInFlight),
		jetstream.WithPublishAsyncTimeout(o.AckTimeout),
		jetstream.WithPublishAsyncAckHandler(w.onAck), jetstream.WithPublishAsyncErrHandler(w.onErr))
	if err != nil {
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	epoch := strconv.FormatUint(o.Epoch, 10)
	pos := c.pos // where the stream ends once everything sent is stored
	var (
		subj   []byte
		now    int64
		maxTs  int64
		seqBuf []byte
	)
	done := ctx.Done()
	for {
		select {
		case <-done:
			return ctx.Err()
		default:
		}
		rec, ok, err := r.TryNext()
		if err != nil {
			return fmt.Errorf("cluster: journal: %w", err)
		}
		if !ok {
			// Caught up with the journal. Settle what is in flight so Acked
			// is current while idle, then wait for the next record.
			if err := w.drain(ctx); err != nil {
				return err
			}
			if rec, err = p.next(ctx, r); err != nil {
				return err
			}
		}
		if rec.Seq != p.published.Load()+1 {
			return fmt.Errorf("cluster: journal record %d after %d: %w", rec.Seq, p.published.Load(), journal.ErrSequence)
		}
		h, err := peekRecord(rec.Payload)
		if err != nil {
			return fmt.Errorf("cluster: journal record %d: %w", rec.Seq, err)
		}
		maxTs = max(maxTs, rec.TS)
		clock := maxTs
		if o.Clock != nil {
			// Read after the record: the pipeline stores its clock before
			// journaling a batch, so this is at least the record's Batch.Now.
			now = max(now, o.Clock())
			clock = now
		}

		subj = AppendSubject(subj[:0], o.Stream.Prefix, h.kind, h.symbol)
		seqBuf = strconv.AppendUint(seqBuf[:0], rec.Seq, 10)
		seq := string(seqBuf)
		id := c.writer + ":" + seq
		m := &nats.Msg{
			Subject: string(subj),
			// The journal's payload is valid only until the reader's next
			// call, and the message is kept until acknowledged (NATS may
			// resend it).
			Data: append([]byte(nil), rec.Payload...),
			Header: nats.Header{
				hdrMsgID:        {id},
				hdrExpectedLast: {strconv.FormatUint(pos, 10)},
				HeaderSeq:       {seq},
				HeaderNow:       {strconv.FormatInt(clock, 10)},
				HeaderTime:      {strconv.FormatInt(rec.TS, 10)},
				HeaderEpoch:     {epoch},
			},
		}
		if h.flags != 0 {
			m.Header[HeaderFlags] = []string{strconv.FormatUint(uint64(h.flags), 10)}
		}
		if err := w.reserve(ctx); err != nil {
			return err
		}
		w.sent(rec.Seq)
		if _, err := js.PublishMsgAsync(m); err != nil {
			p.refused.Add(1)
			return fmt.Errorf("cluster: publish %d: %w", rec.Seq, err)
		}
		p.published.Store(rec.Seq)
		pos++
	}
}

// errIdle ends a session that waited ClaimRefresh for a record.
var errIdle = errors.New("cluster: idle; claiming again")

// next waits for the next journal record, at most ClaimRefresh.
func (p *Publisher) next(ctx context.Context, r journal.Reader) (journal.Record, error) {
	wctx := ctx
	if d := p.opts.ClaimRefresh; d > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	rec, err := r.Next(wctx)
	switch {
	case err == nil:
		return rec, nil
	case ctx.Err() != nil:
		return rec, ctx.Err()
	case wctx.Err() != nil:
		return rec, errIdle
	}
	return rec, fmt.Errorf("cluster: journal: %w", err)
}

// window tracks the messages awaiting acknowledgement. The library calls
// onAck and onErr from its own goroutine, in any order; Acked advances
// only over a contiguous run of acknowledged sequence numbers, so it never
// passes a message that has not been stored.
type window struct {
	p    *Publisher
	size uint64

	mu     sync.Mutex
	acked  uint64        // every seq <= acked is stored
	last   uint64        // last seq sent
	done   []bool        // acknowledged out of order, by seq % size
	failed error         // the first failure
	wake   chan struct{} // signalled on every change
}

func newWindow(p *Publisher, acked uint64, size int) *window {
	return &window{p: p, size: uint64(size), acked: acked, last: acked, done: make([]bool, size),
		wake: make(chan struct{}, 1)}
}

func (w *window) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// sent records that seq is about to be published.
func (w *window) sent(seq uint64) {
	w.mu.Lock()
	w.last = seq
	w.mu.Unlock()
	w.p.inFlight.Add(1)
}

func msgSeq(m *nats.Msg) uint64 {
	if m == nil {
		return 0
	}
	seq, _ := strconv.ParseUint(m.Header.Get(HeaderSeq), 10, 64)
	return seq
}

func (w *window) onAck(_ jetstream.JetStream, m *nats.Msg, _ *jetstream.PubAck) {
	seq := msgSeq(m)
	w.mu.Lock()
	if seq > w.acked && seq <= w.last && w.failed == nil {
		w.done[seq%w.size] = true
		for w.acked < w.last && w.done[(w.acked+1)%w.size] {
			w.acked++
			w.done[w.acked%w.size] = false
			w.p.inFlight.Add(-1)
		}
		w.p.acked.Store(w.acked)
	}
	w.mu.Unlock()
	w.signal()
}

func (w *window) onErr(_ jetstream.JetStream, m *nats.Msg, err error) {
	w.p.refused.Add(1)
	w.mu.Lock()
	if w.failed == nil {
		w.failed = fmt.Errorf("cluster: record %d: %w", msgSeq(m), err)
	}
	w.mu.Unlock()
	w.signal()
}

// wait blocks until cond holds (checked under the lock) or a message
// failed.
func (w *window) wait(ctx context.Context, cond func() bool) error {
	for {
		w.mu.Lock()
		ok, err := cond(), w.failed
		w.mu.Unlock()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-w.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// reserve waits for room for one more message. Every wait is bounded: the
// library fails a message that is not acknowledged within AckTimeout.
func (w *window) reserve(ctx context.Context) error {
	return w.wait(ctx, func() bool { return w.last-w.acked < w.size })
}

// drain waits until everything sent is acknowledged.
func (w *window) drain(ctx context.Context) error {
	return w.wait(ctx, func() bool { return w.acked == w.last })
}

// abandon forgets the window at the end of a session, counting nothing
// more as acknowledged: the next session's claim reads the truth from the
// stream, and fences any of these messages still on their way.
func (w *window) abandon() {
	w.mu.Lock()
	if w.failed == nil {
		w.failed = errors.New("cluster: session over")
	}
	w.mu.Unlock()
	w.p.inFlight.Store(0)
}
