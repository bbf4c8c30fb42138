package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tapehq/tape/internal/bars"
	"github.com/tapehq/tape/internal/datadir"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/feed/staged"
	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/ingest"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/tickfile"
)

// This file is what tape import and tape backfill share to store rows
// offline: they stage rows (internal/feed/staged), refuse to store trades
// or quotes twice, then play the rows as a feed through the same pipeline
// as live data (internal/ingest), which numbers them, stamps them with the
// record clock (an earlier period is journaled as late, never as live),
// journals them, derives bars and hands them to the history store.

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

// writeResult is what store stored.
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

// counter is the pipeline's publisher for an offline write: it counts what
// was stored (events reach it once journaled), by kind, raw or derived.
type counter struct {
	mu     sync.Mutex
	res    *writeResult
	derive bool // bars are derived (no bars are imported with derived ones)
}

func (c *counter) Publish(evs []market.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.res
	for i := range evs {
		e := &evs[i]
		if r.firstSeq == 0 {
			r.firstSeq = e.Seq
		}
		r.lastSeq = e.Seq
		switch e.Kind {
		case market.KindTrade:
			r.imported["trades"]++
			r.lastTime = e.Time
		case market.KindQuote:
			r.imported["quotes"]++
			r.lastTime = e.Time
		case market.KindBar, market.KindUpdatedBar, market.KindDailyBar:
			if c.derive {
				r.derived[e.Kind]++
			} else {
				r.imported["bars"]++
				r.lastTime = e.Time
			}
		}
	}
}

// openForWrite opens the data directory for command ("import",
// "backfill"), saying what to do if tape serve holds it. The journal is
// opened with fsync policy never: a bulk writer syncs once, at Close.
func openForWrite(ctx context.Context, dir, command string) (*datadir.Dir, error) {
	d, err := datadir.Open(ctx, dir, datadir.Options{Create: true, Holder: "tape " + command,
		Fsync: journal.FsyncPolicy{Mode: journal.FsyncNever}})
	if errors.Is(err, datadir.ErrLocked) {
		return nil, lockedError(err, dir, command)
	}
	return d, err
}

// store plays the sorted rows through the ingest pipeline into d's journal
// and history store, as tape serve would have recorded them. With derive,
// minute, updated and daily bars are derived from the trades by a bar
// builder of the import's own (the live one, in d.Bars, is carried over
// untouched in the checkpoint: these rows are not the live market).
func store(ctx context.Context, d *datadir.Dir, rows *staged.Rows, derive bool, res *writeResult, bar *progress) error {
	defer bar.done()
	f, err := staged.NewFeed(rows, staged.Options{CloseBars: derive, Window: bars.DefaultWindow,
		Progress: func(n int) { bar.set(n) }})
	if err != nil {
		return err
	}
	po := ingest.Options{Publish: &counter{res: res, derive: derive}, Also: d.Stores(),
		Journal: d.Journal, State: d.State, Flags: market.FlagBackfill,
		Checkpoint: &ingest.Checkpoint{Dir: d.StateDir(), Bars: d.Bars}, Logger: slog.New(slog.DiscardHandler)}
	if derive {
		po.Bars = bars.New(bars.Options{})
	}
	p := ingest.New(po)
	res.firstSeq = p.NextSeq()
	in := make(chan feed.Batch, 4)
	hctx, stopHistory := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var feedErr, histErr error
	wg.Go(func() {
		feedErr = f.Run(ctx, in)
		close(in)
	})
	// The stores' flushers run meanwhile, so their memory stays bounded by
	// a flush interval of rows, however many are stored.
	wg.Go(func() { histErr = d.RunStores(hctx) })
	err = p.Run(context.Background(), in)
	stopHistory()
	wg.Wait()
	if errors.Is(histErr, context.Canceled) {
		histErr = nil
	}
	return errors.Join(feedErr, err, histErr)
}

func fmtTime(ns int64) string { return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.999999999Z") }
