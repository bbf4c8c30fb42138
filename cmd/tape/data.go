package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/tapehq/tape/internal/datadir"
	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/journal"
)

// offlineData is a data directory opened by a command other than serve:
// locked, journal and history open, the store caught up with the journal
// exactly as `tape serve` does at start, so the command sees what the
// server would have served.
type offlineData struct {
	dir     string
	unlock  func()
	journal *journal.File
	history *history.Store
}

// errServing wraps datadir.ErrLocked with what the data directory is
// doing: the caller says what to do instead.
var errServing = errors.New("tape serve is running on this directory")

// errNoData says a directory holds no history store.
var errNoData = errors.New("no Tape data")

// openOffline locks dir and opens its journal and history store. With
// mustExist, a directory without a history store is an error (export);
// otherwise it is created (import).
func openOffline(ctx context.Context, dir string, mustExist bool, log *slog.Logger) (*offlineData, error) {
	if mustExist {
		if _, err := os.Stat(filepath.Join(dir, "history")); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w in %s (it has no history directory): run tape serve or tape import with --data %s first", errNoData, dir, dir)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	unlock, err := lockDirOffline(dir)
	if err != nil {
		return nil, err
	}
	d, err := openLocked(ctx, dir, unlock, log)
	if err != nil {
		unlock()
		return nil, err
	}
	return d, nil
}

// lockDirOffline takes the data directory's lock; the error wraps
// errServing when tape serve (or another command) holds it.
func lockDirOffline(dir string) (func(), error) {
	unlock, err := datadir.Lock(dir)
	if errors.Is(err, datadir.ErrLocked) {
		return nil, fmt.Errorf("%w (%s)", errServing, dir)
	}
	return unlock, err
}

// openLocked opens the journal and the history store of a directory the
// caller has locked, and catches the store up with the journal. The
// journal is opened with fsync policy never: a bulk writer syncs once at
// the end (close), and a reader appends nothing. On success close releases
// the lock; on failure the caller still owns it.
func openLocked(ctx context.Context, dir string, unlock func(), log *slog.Logger) (*offlineData, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &offlineData{dir: dir, unlock: unlock}
	var err error
	d.journal, err = journal.Open(filepath.Join(dir, "journal"), journal.Options{
		Fsync: journal.FsyncPolicy{Mode: journal.FsyncNever}, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("journal: %w (the files are under %s)", err, dir)
	}
	hdir := filepath.Join(dir, "history")
	d.history, err = history.Open(hdir, history.Options{Logger: log})
	if err != nil {
		d.journal.Close()
		return nil, fmt.Errorf("history: %w (it is rebuilt from the journal: move %s aside to rebuild it)", err, hdir)
	}
	if _, _, err := datadir.CatchUpHistory(ctx, d.journal, d.history); err != nil {
		d.history.Close()
		d.journal.Close()
		return nil, err
	}
	return d, nil
}

// close syncs the journal, then flushes and closes the store (derived data
// second, so the store never gets ahead of a durable journal), then the
// journal, then unlocks.
func (d *offlineData) close() error {
	err := d.journal.Sync(context.Background())
	if cerr := d.history.Close(); err == nil {
		err = cerr
	}
	if cerr := d.journal.Close(); err == nil {
		err = cerr
	}
	d.unlock()
	return err
}
