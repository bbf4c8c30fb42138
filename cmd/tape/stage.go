package main

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tapehq/tape/internal/bars"
	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/tickfile"
)

// This file is what tape import and tape backfill share to store rows
// offline, the way tape serve would have: stage them compactly, sort them
// by when they would have gone out live, refuse to store trades or quotes
// twice, then sequence them into the journal and the history store.

// stagedRow is one row to store, waiting to be sorted: when it happened
// and where its binary event (market.AppendBinary, what the journal
// stores) starts in the arena. The offset grows with the read order, so
// sorting by (time, offset) keeps file order among equal times.
//
// The sort time of a bar is its end, not its start (its t): live, a bar
// is sent once its minute (or day) has closed, after the trades in it, and
// an import of trades together with bars must journal them in that order
// for a replay to play them back as they happened.
type stagedRow struct {
	t   int64
	off uint64
}

// staging holds every row of an import or a backfill compactly until it
// is sorted: about 80 bytes a trade (the journal payload plus 16 bytes of
// index), against some 200 for a market.Event.
type staging struct {
	arena       []byte
	rows        []stagedRow
	first, last int64 // event times
	lastTrade   int64
}

func (s *staging) add(e *market.Event) {
	off := len(s.arena)
	s.arena = append(s.arena, 0)
	s.arena = market.AppendBinary(s.arena, e)
	s.arena[off] = byte(len(s.arena) - off - 1) // < 256: symbols are at most 16 bytes
	s.rows = append(s.rows, stagedRow{t: sortTime(e.Kind, e.Time), off: uint64(off)})
	s.first, s.last = min(s.first, e.Time), max(s.last, e.Time)
	if e.Kind == market.KindTrade {
		s.lastTrade = max(s.lastTrade, e.Time)
	}
}

// sortTime is when an event of kind k and time t goes out live: a bar once
// its minute or day has ended, anything else at its time.
func sortTime(k market.Kind, t int64) int64 {
	switch k {
	case market.KindBar:
		return t + int64(time.Minute)
	case market.KindDailyBar:
		d := time.Unix(0, t).In(newYork)
		return time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, newYork).UnixNano()
	}
	return t
}

// grow makes room for n more rows of about a trade's size.
func (s *staging) grow(n int) {
	s.arena = slices.Grow(s.arena, n*64)
	s.rows = slices.Grow(s.rows, n)
}

// setKind changes the event kind of the rows staged from index from on.
// AppendBinary's encoding starts version u8 | kind u8 | time i64, so this
// is a one-byte patch per row (and the sort time is recomputed).
func (s *staging) setKind(from int, k market.Kind) {
	for i := range s.rows[from:] {
		r := &s.rows[from+i]
		s.arena[r.off+2] = byte(k)
		t := int64(binary.LittleEndian.Uint64(s.arena[r.off+3:])) // the event time follows the kind
		r.t = sortTime(k, t)
	}
}

func (s *staging) payload(r stagedRow) []byte {
	n := uint64(s.arena[r.off])
	return s.arena[r.off+1 : r.off+1+n]
}

// truncate drops the rows staged from index n on (a backfilled symbol
// that failed), which must not have been sorted yet.
func (s *staging) truncate(n int) {
	if n >= len(s.rows) {
		return
	}
	s.arena = s.arena[:s.rows[n].off]
	s.rows = s.rows[:n]
	s.first, s.last, s.lastTrade = math.MaxInt64, math.MinInt64, 0
	for _, r := range s.rows {
		k := market.Kind(s.arena[r.off+2])
		t := int64(binary.LittleEndian.Uint64(s.arena[r.off+3:]))
		s.first, s.last = min(s.first, t), max(s.last, t)
		if k == market.KindTrade {
			s.lastTrade = max(s.lastTrade, t)
		}
	}
}

// sort puts the rows in time order (bars at their end), staging order
// among equal times.
func (s *staging) sort() {
	cmpRow := func(a, b stagedRow) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.off, b.off)
	}
	if !slices.IsSortedFunc(s.rows, cmpRow) {
		slices.SortFunc(s.rows, cmpRow)
	}
}

// span is the time range of one symbol and kind to store.
type span struct{ lo, hi int64 }

type spanKey struct {
	sym  string
	kind tickfile.Kind
}

// checkOverlap refuses to store trades or quotes where the store already
// has some for the same symbol and period: they would be stored twice (the
// journal and the store append, they do not deduplicate), which is what
// running the same import or backfill twice, or resuming an interrupted
// one, would do. Bars need no check: a stored bar replaces the bar of its
// time. command ("import", "backfill") words the refusal.
func checkOverlap(ctx context.Context, h *history.Store, spans map[spanKey]span, allow bool, command string) error {
	if allow {
		return nil
	}
	keys := make([]spanKey, 0, len(spans))
	for k := range spans {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b spanKey) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), strings.Compare(a.sym, b.sym))
	})
	for _, k := range keys {
		if k.kind == tickfile.KindBars {
			continue
		}
		sp := spans[k]
		q := history.Query{Symbols: []string{k.sym}, Start: sp.lo, End: sp.hi, Limit: 1}
		var res history.Result
		var err error
		if k.kind == tickfile.KindTrades {
			res, err = h.Trades(ctx, q)
		} else {
			res, err = h.Quotes(ctx, q)
		}
		if err != nil {
			return err
		}
		if len(res.Events) == 0 {
			continue
		}
		if command == "import" {
			return fmt.Errorf("the data directory already has %v of %s between %s and %s: importing them again would store them twice "+
				"(was this file imported before?). Import another period, or pass --allow-overlap to import anyway",
				k.kind, k.sym, fmtTime(sp.lo), fmtTime(sp.hi))
		}
		return fmt.Errorf("the data directory already has %v of %s between %s and %s (the first at %s): %s them would store them twice "+
			"(were they recorded, imported or backfilled before?). Choose a period without them, or pass --allow-overlap to %s anyway",
			k.kind, k.sym, fmtTime(sp.lo), fmtTime(sp.hi), fmtTime(res.Events[0].Time), command+"ing", command)
	}
	return nil
}

func fmtTime(ns int64) string { return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.999999999Z") }

// writeResult is what writeStaged stored.
type writeResult struct {
	imported map[string]int64 // rows written to the journal and store, by kind name (trades, quotes, bars)
	derived  map[market.Kind]int64
	firstSeq uint64
	lastSeq  uint64
	lastTime int64 // the time of the last row written
}

func newWriteResult() writeResult {
	return writeResult{imported: map[string]int64{}, derived: map[market.Kind]int64{}}
}

func (r *writeResult) total() int64 {
	var n int64
	for _, v := range r.imported {
		n += v
	}
	return n
}

// importBatch is how many events go to the journal and the store at a
// time: one journal commit and one store Apply each.
const importBatch = 4096

// flushEvery bounds the store's unflushed memory while writing: the
// flusher does not run (nothing else reads the store), so it is flushed
// explicitly every so many events.
const flushEvery = 1 << 18

// writeStaged sequences the staged rows, sorted, into the journal and the
// history store (tape import and tape backfill). With derive it derives
// bars from the trades on the way with a fresh bar builder, exactly as the
// ingest pipeline does live: the builder sees each trade, and its clock
// (Advance) follows the trades' times, so minute bars close as the day
// unfolds and updated and daily bars come out where they would have.
func writeStaged(ctx context.Context, d *lockedData, st *staging, derive bool, res *writeResult, bar *progress) error {
	defer bar.done()
	j, h := d.data.journal, d.data.history
	next := j.Last() + 1
	if ls := h.Stats().LastSeq; ls >= next {
		return fmt.Errorf("the history store is ahead of the journal (seq %d > %d): the journal lost records; "+
			"move %s aside so it is rebuilt from the journal, then try again", ls, j.Last(), filepath.Join(d.dir, "history"))
	}
	res.firstSeq = next
	var (
		builder *bars.Builder
		derived []market.Event
		batch   = make([]market.Event, 0, importBatch)
		buf     []byte
		in      market.Interner
		sinceFl int
		rows    int
	)
	if derive {
		builder = bars.New(bars.Options{})
	}
	flush := func() {
		if len(batch) == 0 {
			return
		}
		j.Commit()
		h.Apply(batch)
		sinceFl += len(batch)
		batch = batch[:0]
		if sinceFl >= flushEvery {
			if err := h.Flush(); err == nil {
				sinceFl = 0
			}
		}
	}
	// emit journals e (with the given binary payload, or encoded here for
	// a derived bar) and queues it for the store.
	emit := func(e *market.Event, payload []byte) error {
		e.Seq = next
		raw := payload != nil
		if !raw {
			buf = market.AppendBinary(buf[:0], e)
			payload = buf
		}
		if err := j.Append(e.Seq, e.Time, payload); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		next++
		res.lastSeq = e.Seq
		switch {
		case !raw:
			res.derived[e.Kind]++
		case e.Kind == market.KindTrade:
			res.imported["trades"]++
		case e.Kind == market.KindQuote:
			res.imported["quotes"]++
		default:
			res.imported["bars"]++
		}
		batch = append(batch, *e)
		if len(batch) == cap(batch) {
			flush()
			bar.add(rows)
			rows = 0
		}
		return nil
	}
	for i, sr := range st.rows {
		if i%importBatch == 0 && ctx.Err() != nil {
			flush()
			return ctx.Err()
		}
		p := st.payload(sr)
		var e market.Event
		if err := market.DecodeBinary(p, &e, &in); err != nil {
			return fmt.Errorf("internal error: staged row %d: %w", i, err)
		}
		if builder != nil && e.Kind == market.KindTrade {
			// The clock stops just short of the trade: a minute that ends
			// exactly at its time closes after it, as live, where the
			// pipeline applies a batch's trades before it advances.
			derived = builder.Advance(e.Time-1, derived[:0])
			for k := range derived {
				if err := emit(&derived[k], nil); err != nil {
					return err
				}
			}
			builder.Apply(&e)
		}
		rows++
		if err := emit(&e, p); err != nil {
			return err
		}
		res.lastTime = e.Time
	}
	if builder != nil {
		// Past the last trade's minute, the bar window and the next :30
		// mark: the last minute closes, its daily bar goes out, and any
		// updated bar is sent.
		end := st.lastTrade + int64(bars.DefaultWindow) + 2*int64(time.Minute)
		derived = builder.Advance(end, derived[:0])
		for k := range derived {
			if err := emit(&derived[k], nil); err != nil {
				return err
			}
		}
	}
	flush()
	bar.add(rows)
	return nil
}

// lockForWrite locks the data directory for command ("import",
// "backfill"), saying what to do if tape serve holds it.
func lockForWrite(dir, command string) (*lockedData, error) {
	d := &lockedData{dir: dir}
	if err := d.lock(); err != nil {
		if errors.Is(err, errServing) {
			return nil, fmt.Errorf("tape serve is running on %s: stop tape serve first (%s writes the journal and history store the server owns), then run tape %s again",
				dir, command, command)
		}
		return nil, err
	}
	return d, nil
}

// lockedData is a data directory locked by import or backfill, opened
// once there is something to write (import) or before fetching (backfill).
type lockedData struct {
	dir    string
	unlock func()
	data   *offlineData
}

func (d *lockedData) lock() error {
	unlock, err := lockDirOffline(d.dir)
	if err != nil {
		return err
	}
	d.unlock = unlock
	return nil
}

func (d *lockedData) open(ctx context.Context) error {
	data, err := openLocked(ctx, d.dir, d.unlock, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	d.data = data
	return nil
}

func (d *lockedData) close() error { return d.data.close() }
