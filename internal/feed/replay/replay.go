// Package replay serves a recorded period from the journal as a feed, so
// unmodified Alpaca clients can backtest against it through the same stream
// protocol: `tape serve --feed replay --from 2026-11-25 --speed 10`.
//
// Records are replayed exactly as journaled — raw events and the bars that
// were derived from them, with their original sequence numbers and in their
// original order — so a replay yields the same messages in the same order
// as the live stream did. Pacing follows the recorded clock (the running
// maximum of event times: bars and late trades carry earlier times) scaled
// by Speed. At Speed 0 ("max") there is no pacing: the feed goes as fast as
// the slowest client takes it, by waiting while any subscriber's backlog is
// over a bound instead of overflowing it.
package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
)

// Source is the part of the journal a replay reads.
type Source interface {
	NewReader(from uint64) (journal.Reader, error)
	SeekTime(t int64) (uint64, error)
}

// Options configures a Feed.
type Options struct {
	Source Source // required
	// From and To bound the period (To inclusive); zero To means to the
	// end of what is recorded.
	From, To time.Time
	// Speed is recorded seconds per wall second; 0 means as fast as the
	// clients take it.
	Speed float64
	// Loop restarts from From when the period ends.
	Loop bool
	// Backlog reports the largest subscriber backlog in bytes; at Speed 0
	// the feed waits while it exceeds MaxBacklog. Nil disables the wait.
	Backlog    func() int
	MaxBacklog int
	BatchSize  int // default 512
	// WaitFor, if set, is polled before the replay starts: a backtest wants
	// its first event delivered, so the replay waits until a client has
	// subscribed.
	WaitFor func() bool
	Logger  *slog.Logger
}

// Feed replays a period.
type Feed struct {
	opts Options
	done chan struct{} // closed when a non-looping replay reaches the end
}

// New returns a replay feed.
func New(opts Options) (*Feed, error) {
	if opts.Source == nil {
		return nil, errors.New("replay: no source")
	}
	if !opts.To.IsZero() && opts.To.Before(opts.From) {
		return nil, fmt.Errorf("replay: --to %s is before --from %s", opts.To.Format(time.RFC3339), opts.From.Format(time.RFC3339))
	}
	if opts.Speed < 0 {
		return nil, errors.New("replay: negative speed")
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 512
	}
	if opts.MaxBacklog <= 0 {
		opts.MaxBacklog = 4 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Feed{opts: opts, done: make(chan struct{})}, nil
}

// Done is closed when a non-looping replay has sent its last event.
func (f *Feed) Done() <-chan struct{} { return f.done }

// Run replays until ctx ends. After the end of a non-looping replay it
// keeps sending heartbeats (the server stays up, idle) until ctx ends.
func (f *Feed) Run(ctx context.Context, out chan<- feed.Batch) error {
	if f.opts.WaitFor != nil && !f.opts.WaitFor() {
		f.opts.Logger.Info("replay waiting for a client to subscribe")
		t := time.NewTicker(10 * time.Millisecond)
		for !f.opts.WaitFor() {
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		t.Stop()
	}
	for {
		n, last, err := f.once(ctx, out)
		if err != nil {
			return err
		}
		f.opts.Logger.Info("replay reached the end of the period", "events", n)
		if !f.opts.Loop {
			close(f.done)
			return f.idle(ctx, out, last)
		}
		if n == 0 {
			return fmt.Errorf("replay: nothing recorded from %s", f.opts.From.Format(time.RFC3339))
		}
	}
}

func (f *Feed) idle(ctx context.Context, out chan<- feed.Batch, now int64) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if !send(ctx, out, feed.Batch{Now: now}) {
			return ctx.Err()
		}
	}
}

func send(ctx context.Context, out chan<- feed.Batch, b feed.Batch) bool {
	select {
	case out <- b:
		return true
	case <-ctx.Done():
		return false
	}
}

// once replays the period one time; it returns the events sent and the
// recorded clock at the end.
func (f *Feed) once(ctx context.Context, out chan<- feed.Batch) (int, int64, error) {
	o := &f.opts
	from := o.From.UnixNano()
	to := int64(1<<63 - 1)
	if !o.To.IsZero() {
		to = o.To.UnixNano()
	}
	first, err := o.Source.SeekTime(from)
	if err != nil {
		return 0, 0, fmt.Errorf("replay: %w", err)
	}
	// The journal is in sequence order, and its times are only roughly
	// monotonic: late trades, bars stamped with their minute's start, and
	// days imported after later ones (tape import). So the period is a
	// filter on every record from the seek point on, not a range of
	// sequence numbers; records past the period are skipped, not a stop.
	r, err := o.Source.NewReader(first)
	if err != nil {
		return 0, 0, fmt.Errorf("replay: %w", err)
	}
	defer r.Close()

	var (
		in        market.Interner
		batch     []market.Event
		clock     int64 // running max of recorded times
		cut       int64 // the clock when the current batch began
		wallStart time.Time
		recStart  int64
		n         int
	)
	flush := func() bool {
		if len(batch) == 0 {
			return true
		}
		if o.Speed > 0 {
			due := wallStart.Add(time.Duration(float64(clock-recStart) / o.Speed))
			if d := time.Until(due); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return false
				}
			}
		} else if o.Backlog != nil {
			for o.Backlog() > o.MaxBacklog {
				select {
				case <-time.After(time.Millisecond):
				case <-ctx.Done():
					return false
				}
			}
		}
		ok := send(ctx, out, feed.Batch{Events: batch, Now: clock})
		n += len(batch)
		batch = nil
		return ok
	}
	for {
		rec, ok, err := r.TryNext()
		if err != nil {
			return n, clock, fmt.Errorf("replay: %w", err)
		}
		if !ok {
			break
		}
		var e market.Event
		e.Seq = rec.Seq
		if err := market.DecodeBinary(rec.Payload, &e, &in); err != nil {
			return n, clock, fmt.Errorf("replay: record %d: %w", rec.Seq, err)
		}
		if !inPeriod(&e, from, to) {
			continue
		}
		if k := e.Kind.Consolidated(); k != market.KindBar && k != market.KindUpdatedBar && k != market.KindDailyBar {
			clock = max(clock, e.Time)
		}
		if batch == nil {
			batch = make([]market.Event, 0, o.BatchSize)
			cut = clock
		}
		if wallStart.IsZero() {
			// Pacing is measured from the first event of the period.
			wallStart, recStart = time.Now(), clock
		}
		batch = append(batch, e)
		// Cut batches by size, and at 10 ms of recorded time when paced so
		// that delivery stays smooth.
		if len(batch) == o.BatchSize || (o.Speed > 0 && clock-cut > int64(10*time.Millisecond)) {
			if !flush() {
				return n, clock, ctx.Err()
			}
		}
	}
	if !flush() {
		return n, clock, ctx.Err()
	}
	return n, clock, nil
}

// inPeriod reports whether e belongs to [from, to]. A daily bar is stamped
// with its day's midnight, so it counts if its day overlaps the period.
func inPeriod(e *market.Event, from, to int64) bool {
	if e.Kind.Consolidated() == market.KindDailyBar {
		return e.Time <= to && e.Time+int64(24*time.Hour) > from
	}
	return e.Time >= from && e.Time <= to
}
