package datadir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tapehq/tape/internal/bars"
	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/ingest"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/newsstore"
)

// ErrNoData is wrapped by Open's error for a directory that holds no Tape
// data when Options.Create is false.
var ErrNoData = errors.New("no Tape data")

// Options configures Open.
type Options struct {
	// Create makes the directory, and an empty record in it, if there is
	// none; otherwise a directory without a journal is ErrNoData.
	Create bool
	// Holder names the program for the lock file ("tape serve"), so a
	// second program is told who holds the directory.
	Holder string
	// Fsync, RetainAge and RetainBytes configure the journal (see
	// journal.Options). A bulk writer (import, backfill) passes
	// FsyncNever: Close syncs once.
	Fsync       journal.FsyncPolicy
	RetainAge   time.Duration
	RetainBytes int64
	// SegmentBytes is the journal's segment size (journal.Options); 0:
	// its default.
	SegmentBytes int64
	// NoState skips rebuilding the record state and the live bars (a
	// reader such as tape export needs neither).
	NoState bool
	// IEXBars makes the live bars (Dir.Bars) build the iex feed's bars too
	// (bars.NewSetWithIEX), from the trades printed on IEX: for a source
	// whose record holds an IEX view of its own (the simulator).
	IEXBars bool
	Logger  *slog.Logger
}

// Report says what Open found, repaired and replayed.
type Report struct {
	Journal journal.OpenReport
	// HistoryFrom and HistoryEvents: the journal records re-applied to the
	// history store (0, 0 when it was up to date).
	HistoryFrom   uint64
	HistoryEvents int
	// HistoryRebuilt names where a history store ahead of the journal was
	// moved aside before being rebuilt ("" if it was not).
	HistoryRebuilt string
	State          ingest.RecoverReport
	Took           time.Duration
}

// Dir is an open data directory: locked, its journal repaired, its history
// store caught up with the journal, the record's state and the live bar
// builder rebuilt. It is the one way into a data directory, for tape serve
// and every offline command alike.
type Dir struct {
	Path    string
	Journal *journal.File
	History *history.Store
	// News keeps the record's news articles (the news REST API).
	News *newsstore.Store
	// State is the record's state at the journal's end; nil with NoState.
	State *ingest.State
	// Bars is the live bar builder as of the journal's end; nil with
	// NoState.
	Bars   *bars.Set
	Report Report

	unlock func()
	closed bool
}

// StateDir is where the record's checkpoints live.
func (d *Dir) StateDir() string { return filepath.Join(d.Path, "state") }

// Open locks path and opens what it holds, in the one order that keeps the
// derived data behind the truth: the journal (repairing a torn tail), then
// the history store, caught up with the journal, then the record state.
// On error nothing stays open or locked.
func Open(ctx context.Context, path string, o Options) (_ *Dir, err error) {
	began := time.Now()
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Create {
		if err := os.MkdirAll(path, 0o755); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
	} else if _, err := os.Stat(filepath.Join(path, "journal")); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s (it has no journal)", ErrNoData, path)
	}
	d := &Dir{Path: path}
	if d.unlock, err = Lock(path, o.Holder); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			d.abort()
		}
	}()
	d.Journal, err = journal.Open(filepath.Join(path, "journal"), journal.Options{
		Fsync: o.Fsync, MaxAge: o.RetainAge, MaxBytes: o.RetainBytes, SegmentBytes: o.SegmentBytes, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("journal: %w (the files are under %s; move them aside to start a fresh record)", err, path)
	}
	d.Report.Journal = d.Journal.Report()

	hdir := filepath.Join(path, "history")
	if d.History, err = history.Open(hdir, history.Options{Logger: log}); err != nil {
		return nil, fmt.Errorf("history: %w (it is derived from the journal: move %s aside to rebuild it)", err, hdir)
	}
	if ap, last := d.History.AppliedSeq(), d.Journal.Last(); ap > last {
		// The journal lost records the store had applied (a power cut under
		// --fsync never): new events would reuse those sequence numbers,
		// which the store ignores as already applied. Rebuild it from the
		// journal rather than lose them silently.
		aside := fmt.Sprintf("%s.ahead-%d", hdir, time.Now().Unix())
		log.Warn("the history store is ahead of the journal (the journal lost records): rebuilding it from the journal",
			"history_seq", ap, "journal_last", last, "moved_to", aside)
		if err := d.History.Close(); err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		d.History = nil
		if err := os.Rename(hdir, aside); err != nil {
			return nil, fmt.Errorf("history: moving the store aside: %w", err)
		}
		d.Report.HistoryRebuilt = aside
		if d.History, err = history.Open(hdir, history.Options{Logger: log}); err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
	}
	if d.Report.HistoryFrom, d.Report.HistoryEvents, err = CatchUpHistory(ctx, d.Journal, d.History); err != nil {
		return nil, err
	}
	ndir := filepath.Join(path, "news")
	if d.News, err = newsstore.Open(ndir, newsstore.Options{Logger: log}); err != nil {
		return nil, fmt.Errorf("news: %w (it is derived from the journal: move %s aside to rebuild it)", err, ndir)
	}
	if d.News.AppliedSeq() > d.Journal.Last() {
		// As for history: the journal lost records the store had.
		if err := d.News.Close(); err != nil {
			return nil, fmt.Errorf("news: %w", err)
		}
		d.News = nil
		aside := fmt.Sprintf("%s.ahead-%d", ndir, time.Now().Unix())
		log.Warn("the news store is ahead of the journal (the journal lost records): rebuilding it", "moved_to", aside)
		if err := os.Rename(ndir, aside); err != nil {
			return nil, fmt.Errorf("news: moving the store aside: %w", err)
		}
		if d.News, err = newsstore.Open(ndir, newsstore.Options{Logger: log}); err != nil {
			return nil, fmt.Errorf("news: %w", err)
		}
	}
	if _, _, err = CatchUpHistory(ctx, d.Journal, d.News); err != nil {
		return nil, fmt.Errorf("news: %w", err)
	}
	if !o.NoState {
		d.Bars = bars.NewSet(bars.Options{})
		if o.IEXBars {
			d.Bars = bars.NewSetWithIEX(bars.Options{})
		}
		d.State, d.Report.State, err = ingest.Recover(ctx, d.Journal, ingest.RecoverOptions{
			Dir: d.StateDir(), Bars: d.Bars, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("record state: %w", err)
		}
	}
	d.Report.Took = time.Since(began)
	return d, nil
}

// Stores are the stores derived from the journal, in the order the
// pipeline hands them released events (ingest.Options.Also).
func (d *Dir) Stores() []ingest.Publisher {
	return []ingest.Publisher{storeApplier{d.History}, d.News}
}

// RunStores runs the derived stores' flushers until ctx ends.
func (d *Dir) RunStores(ctx context.Context) error {
	var wg sync.WaitGroup
	var herr, nerr error
	wg.Go(func() { herr = d.History.Run(ctx) })
	wg.Go(func() { nerr = d.News.Run(ctx) })
	wg.Wait()
	for _, err := range []*error{&herr, &nerr} {
		if errors.Is(*err, context.Canceled) {
			*err = nil
		}
	}
	return errors.Join(herr, nerr)
}

// storeApplier hands released events to the history store.
type storeApplier struct{ s *history.Store }

func (a storeApplier) Publish(evs []market.Event) { a.s.Apply(evs) }

// abort closes what Open opened, without syncing, and unlocks.
func (d *Dir) abort() {
	if d.News != nil {
		d.News.Close()
	}
	if d.History != nil {
		d.History.Close()
	}
	if d.Journal != nil {
		d.Journal.Close()
	}
	if d.unlock != nil {
		d.unlock()
	}
}

// Close syncs the journal, then flushes and closes the history store
// (derived data second, so it is never ahead of a durable journal), then
// closes the journal and unlocks. Whatever runs on the directory (the
// pipeline, the history flusher) must have returned. Close is idempotent.
func (d *Dir) Close() error {
	if d.closed {
		return nil
	}
	d.closed = true
	err := d.Journal.Sync(context.Background())
	if cerr := d.History.Close(); err == nil {
		err = cerr
	}
	if cerr := d.News.Close(); err == nil {
		err = cerr
	}
	if cerr := d.Journal.Close(); err == nil {
		err = cerr
	}
	d.unlock()
	return err
}
