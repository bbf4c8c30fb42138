package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
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
	Logger   *slog.Logger
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
	// The library's own pending limit is a backstop above ours: our window
	// is the one that applies.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(2*opts.MaxInFlight),
		jetstream.WithPublishAsyncTimeout(opts.AckTimeout))
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

// pending is one message awaiting its acknowledgement.
type pending struct {
	seq uint64
	fut jetstream.PubAckFuture
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

	w := window{p: p, ring: make([]pending, o.MaxInFlight)}
	defer w.abandon()
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
			if err := w.drain(); err != nil {
				return err
			}
			if rec, err = r.Next(ctx); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("cluster: journal: %w", err)
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
				HeaderEpoch:     {strconv.FormatUint(o.Epoch, 10)},
			},
		}
		if h.flags != 0 {
			m.Header[HeaderFlags] = []string{strconv.FormatUint(uint64(h.flags), 10)}
		}
		if err := w.reserve(); err != nil {
			return err
		}
		fut, err := p.js.PublishMsgAsync(m)
		if err != nil {
			p.refused.Add(1)
			return fmt.Errorf("cluster: publish %d: %w", rec.Seq, err)
		}
		w.push(pending{seq: rec.Seq, fut: fut})
		p.published.Store(rec.Seq)
		pos++
		if err := w.poll(); err != nil {
			return err
		}
	}
}

// window is the ring of messages awaiting acknowledgement, oldest first.
// Acknowledgements are consumed in order, so Acked never passes a message
// that has not been stored.
type window struct {
	p          *Publisher
	ring       []pending
	head, size int
}

func (w *window) push(pd pending) {
	w.ring[(w.head+w.size)%len(w.ring)] = pd
	w.size++
	w.p.inFlight.Store(int64(w.size))
}

func (w *window) pop() {
	w.ring[w.head] = pending{}
	w.head = (w.head + 1) % len(w.ring)
	w.size--
	w.p.inFlight.Store(int64(w.size))
}

// settle consumes the oldest acknowledgement, waiting for it if block.
// done is false when !block and it has not arrived.
func (w *window) settle(block bool) (done bool, err error) {
	pd := w.ring[w.head]
	var (
		ack *jetstream.PubAck
		e   error
	)
	if block {
		select {
		case ack = <-pd.fut.Ok():
		case e = <-pd.fut.Err():
		}
	} else {
		select {
		case ack = <-pd.fut.Ok():
		case e = <-pd.fut.Err():
		default:
			return false, nil
		}
	}
	w.pop()
	if e != nil {
		w.p.refused.Add(1)
		return true, fmt.Errorf("cluster: record %d: %w", pd.seq, e)
	}
	_ = ack
	w.p.acked.Store(pd.seq)
	return true, nil
}

// reserve makes room for one more message, waiting for the oldest
// acknowledgement if the window is full.
func (w *window) reserve() error {
	if w.size < len(w.ring) {
		return nil
	}
	_, err := w.settle(true)
	return err
}

// poll consumes the acknowledgements that have already arrived.
func (w *window) poll() error {
	for w.size > 0 {
		done, err := w.settle(false)
		if err != nil || !done {
			return err
		}
	}
	return nil
}

// drain waits for every outstanding acknowledgement. Each resolves within
// AckTimeout (the library times it out), so drain is bounded.
func (w *window) drain() error {
	for w.size > 0 {
		if _, err := w.settle(true); err != nil {
			return err
		}
	}
	return nil
}

// abandon forgets the window after a failure, counting nothing more as
// acknowledged: the next session's claim reads the truth from the stream,
// and fences any of these messages still on their way. The library times
// each future out by itself.
func (w *window) abandon() {
	for w.size > 0 {
		w.pop()
	}
}
