// Package staged is a feed of rows gathered before anything is written —
// the trades, quotes and bars of `tape import` and `tape backfill` — played
// into the ingest pipeline in the order they would have gone out live.
//
// Import and backfill are feeds like any other: the rows go through the
// one sequencer (internal/ingest), which numbers them, stamps them with the
// record clock, journals them and derives bars, exactly as live data. This
// package only holds the rows compactly while they are read or fetched,
// sorts them by when they would have been sent, and cuts them into batches
// whose clock makes the bar builder close each minute at the right place:
// after the last trade of the minute and before the first of the next.
package staged

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/market"
)

// row is one staged row: when it would have gone out live, and where its
// binary event (market.AppendBinary, what the journal stores) starts in
// the arena. The offset grows with the staging order, so sorting by (time,
// offset) keeps that order among equal times.
type row struct {
	t   int64
	off uint64
}

// Rows holds rows compactly until they are sorted and played: about 80
// bytes a trade (its binary event plus 16 bytes of index), against some 300
// for a market.Event. The zero value is ready to use.
type Rows struct {
	arena     []byte
	rows      []row
	first     int64 // event times
	last      int64
	lastTrade int64
	sorted    bool
}

// Add stages e. Flags are not staged: the pipeline sets its own.
func (s *Rows) Add(e *market.Event) {
	if len(s.rows) == 0 {
		s.first, s.last = math.MaxInt64, math.MinInt64
	}
	flags := e.Flags
	e.Flags = 0 // version 1 records: the kind sits at offset 1 (see SetKind)
	off := len(s.arena)
	s.arena = append(s.arena, 0)
	s.arena = market.AppendBinary(s.arena, e)
	e.Flags = flags
	s.arena[off] = byte(len(s.arena) - off - 1) // < 256: symbols are at most 16 bytes
	s.rows = append(s.rows, row{t: SendTime(e.Kind, e.Time), off: uint64(off)})
	s.first, s.last = min(s.first, e.Time), max(s.last, e.Time)
	if e.Kind == market.KindTrade {
		s.lastTrade = max(s.lastTrade, e.Time)
	}
	s.sorted = false
}

// SendTime is when an event of kind k and time t goes out live: a bar once
// its minute or day has ended, anything else at its time.
//
// A bar's time is its start; live, it is sent once its minute (or day) has
// closed, after the trades in it, and rows of trades together with bars
// must be played in that order for a replay to play them back as they
// happened.
func SendTime(k market.Kind, t int64) int64 {
	switch k {
	case market.KindBar:
		return t + int64(time.Minute)
	case market.KindDailyBar:
		d := time.Unix(0, t).In(market.NewYork)
		return time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, market.NewYork).UnixNano()
	}
	return t
}

// Len is the number of rows staged.
func (s *Rows) Len() int { return len(s.rows) }

// Span returns the first and last event times staged.
func (s *Rows) Span() (first, last int64) { return s.first, s.last }

// Grow makes room for n more rows of about a trade's size.
func (s *Rows) Grow(n int) {
	s.arena = slices.Grow(s.arena, n*64)
	s.rows = slices.Grow(s.rows, n)
}

// SetKind changes the event kind of the rows staged from index from on
// (bars found to be daily bars once a whole file was read). The binary
// encoding starts version u8 | kind u8 | time i64, so this is a one-byte
// patch per row.
func (s *Rows) SetKind(from int, k market.Kind) {
	for i := range s.rows[from:] {
		r := &s.rows[from+i]
		s.arena[r.off+2] = byte(k)
		r.t = SendTime(k, s.timeAt(r))
	}
	s.sorted = false
}

func (s *Rows) timeAt(r *row) int64 { return int64(binary.LittleEndian.Uint64(s.arena[r.off+3:])) }

func (s *Rows) payload(r row) []byte {
	n := uint64(s.arena[r.off])
	return s.arena[r.off+1 : r.off+1+n]
}

// Truncate drops the rows staged from index n on (a backfilled symbol that
// failed). Call it before Sort.
func (s *Rows) Truncate(n int) {
	if n >= len(s.rows) {
		return
	}
	s.arena = s.arena[:s.rows[n].off]
	s.rows = s.rows[:n]
	s.first, s.last, s.lastTrade = math.MaxInt64, math.MinInt64, 0
	for i := range s.rows {
		r := &s.rows[i]
		t := s.timeAt(r)
		s.first, s.last = min(s.first, t), max(s.last, t)
		if market.Kind(s.arena[r.off+2]) == market.KindTrade {
			s.lastTrade = max(s.lastTrade, t)
		}
	}
}

// Sort puts the rows in send order (bars at their end), staging order
// among equal times.
func (s *Rows) Sort() {
	cmpRow := func(a, b row) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.off, b.off)
	}
	if !slices.IsSortedFunc(s.rows, cmpRow) {
		slices.SortFunc(s.rows, cmpRow)
	}
	s.sorted = true
}

// Options configures a Feed.
type Options struct {
	// BatchSize caps the events of one batch; default 4096.
	BatchSize int
	// CloseBars: after the last row, the feed's clock moves past the last
	// trade's minute, the bar window and the next :30 mark (Window plus two
	// minutes), so the bar builder closes the last minute and sends its
	// daily bar and any updated bar. Set it when the pipeline derives bars;
	// Window is the builder's (bars.DefaultWindow).
	CloseBars bool
	Window    time.Duration
	// Progress, if set, is called after each batch with the rows sent so
	// far.
	Progress func(rows int)
}

// Feed plays sorted Rows into the pipeline.
type Feed struct {
	rows *Rows
	opts Options
}

// NewFeed returns a feed of rows, which must be sorted and are not
// changed while the feed runs.
func NewFeed(rows *Rows, o Options) (*Feed, error) {
	if !rows.sorted && len(rows.rows) > 1 {
		return nil, fmt.Errorf("staged: rows are not sorted")
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 4096
	}
	return &Feed{rows: rows, opts: o}, nil
}

// Run sends every row, in order, in batches that never span a minute: a
// batch's clock is just short of the next row's time, so a minute that
// ends at a trade's time closes after the trades before it and before that
// trade, as live, where the pipeline applies a batch's trades before it
// advances the bar clock. Run returns nil once everything is sent; it does
// not close out.
func (f *Feed) Run(ctx context.Context, out chan<- feed.Batch) error {
	var in market.Interner
	rows := f.rows.rows
	sent := 0
	send := func(b feed.Batch) error {
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		sent += len(b.Events)
		if f.opts.Progress != nil {
			f.opts.Progress(sent)
		}
		return nil
	}
	for i := 0; i < len(rows); {
		batch := make([]market.Event, 0, min(f.opts.BatchSize, len(rows)-i))
		minute := floorMinute(rows[i].t)
		for i < len(rows) && len(batch) < f.opts.BatchSize && floorMinute(rows[i].t) == minute {
			var e market.Event
			if err := market.DecodeBinary(f.rows.payload(rows[i]), &e, &in); err != nil {
				return fmt.Errorf("staged: row %d: %w", i, err)
			}
			batch = append(batch, e)
			i++
		}
		now := rows[i-1].t
		if i < len(rows) {
			now = max(now, rows[i].t-1)
		}
		if err := send(feed.Batch{Events: batch, Now: now}); err != nil {
			return err
		}
	}
	if f.opts.CloseBars && f.rows.lastTrade != 0 {
		w := f.opts.Window
		if w <= 0 {
			w = 15 * time.Minute
		}
		if err := send(feed.Batch{Now: f.rows.lastTrade + int64(w) + 2*int64(time.Minute)}); err != nil {
			return err
		}
	}
	return nil
}

func floorMinute(t int64) int64 {
	m := t / int64(time.Minute)
	if t < 0 && t%int64(time.Minute) != 0 {
		m--
	}
	return m
}

var _ feed.Feed = (*Feed)(nil)
