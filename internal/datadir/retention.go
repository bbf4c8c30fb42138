package datadir

import (
	"context"
	"log/slog"
	"sync/atomic"
	"syscall"
	"time"
)

// Retention keeps a data directory within a disk budget: the journal and
// the history store together stay under MaxBytes, by deleting the oldest
// data first — whichever of the journal's oldest segment and the history's
// oldest day of trades and quotes is older — and it warns before the disk
// is full. The newest data is what replays, resumes, charts and backtests
// want, so journal and history shrink from the same end, oldest first.
// Minute and daily bars are kept (a year of minute bars of one symbol is
// about 25 MB; daily bars are tiny).
type Retention struct {
	// MaxBytes is the budget for journal plus history; 0: no budget.
	MaxBytes int64
	// MaxAge removes history's trades and quotes older than Now()-MaxAge
	// (the journal applies its own MaxAge); 0: no age limit.
	MaxAge time.Duration
	Now    func() int64
	// Every is how often it checks; default 10 s.
	Every time.Duration
	// WarnFree: below this much free disk space (bytes) it warns, at most
	// every WarnEvery (default 10 min); default 1 GiB.
	WarnFree  int64
	WarnEvery time.Duration
	Logger    *slog.Logger

	pruned    atomic.Int64 // bytes deleted
	freeBytes atomic.Int64
}

func (r *Retention) defaults() {
	if r.Every <= 0 {
		r.Every = 10 * time.Second
	}
	if r.WarnFree <= 0 {
		r.WarnFree = 1 << 30
	}
	if r.WarnEvery <= 0 {
		r.WarnEvery = 10 * time.Minute
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
}

// Usage is the data directory's disk use.
type Usage struct {
	JournalBytes, HistoryBytes int64
	// Free is the free space of the file system holding the directory
	// (for unprivileged users); -1 if unknown.
	Free int64
	// Pruned is what the budget has deleted since start.
	Pruned int64
}

// Usage measures d now.
func (r *Retention) Usage(d *Dir) Usage {
	return Usage{JournalBytes: d.Journal.Stats().Bytes, HistoryBytes: d.History.Stats().DiskBytes,
		Free: FreeBytes(d.Path), Pruned: r.pruned.Load()}
}

// FreeBytes is the free space available to unprivileged users on the file
// system holding path; -1 if it cannot be known.
func FreeBytes(path string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// Run enforces the budget on d until ctx ends.
func (r *Retention) Run(ctx context.Context, d *Dir) error {
	r.defaults()
	t := time.NewTicker(r.Every)
	defer t.Stop()
	var warned time.Time
	for {
		r.Enforce(d)
		if free := FreeBytes(d.Path); free >= 0 {
			r.freeBytes.Store(free)
			if free < r.WarnFree && time.Since(warned) >= r.WarnEvery {
				warned = time.Now()
				u := r.Usage(d)
				r.Logger.Warn("the disk holding the data directory is nearly full: lower --retain-bytes or free space",
					"free_bytes", free, "journal_bytes", u.JournalBytes, "history_bytes", u.HistoryBytes, "budget", r.MaxBytes)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Enforce deletes the oldest data until journal plus history fit the
// budget (or only the newest day and the journal's active segment are
// left). It returns the bytes deleted.
func (r *Retention) Enforce(d *Dir) int64 {
	r.defaults()
	var freed int64
	if r.MaxAge > 0 && r.Now != nil {
		if now := r.Now(); now > 0 {
			rep, err := d.History.PruneBefore(now - int64(r.MaxAge))
			if err != nil {
				r.Logger.Warn("retention: pruning history by age", "err", err)
			}
			freed += rep.Bytes
			r.pruned.Add(rep.Bytes)
		}
	}
	if r.MaxBytes <= 0 {
		return freed
	}
	for range 10_000 { // a bound, never reached: every round deletes something or stops
		u := r.Usage(d)
		if u.JournalBytes+u.HistoryBytes <= r.MaxBytes {
			break
		}
		jt, jok, err := d.Journal.Oldest()
		if err != nil {
			r.Logger.Warn("retention: reading the journal's oldest record", "err", err)
			break
		}
		hlo, hhi, hok := d.History.OldestDay()
		pruneHistory := func() (int64, error) {
			if !hok {
				return 0, nil
			}
			rep, err := d.History.PruneBefore(hhi)
			if err == nil && rep.Bytes > 0 {
				r.Logger.Info("retention: removed history's oldest day to stay within the disk budget",
					"day", time.Unix(0, hlo).UTC().Format(time.DateOnly), "bytes", rep.Bytes, "budget", r.MaxBytes)
			}
			return rep.Bytes, err
		}
		pruneJournal := func() (int64, error) {
			if !jok {
				return 0, nil
			}
			return d.Journal.PruneOldest()
		}
		// The older of the two goes first; if it cannot shrink (the
		// journal's only segment is the active one), the other does.
		first, second := pruneJournal, pruneHistory
		if hok && (!jok || hhi <= jt) {
			first, second = pruneHistory, pruneJournal
		}
		n, err := first()
		if err == nil && n == 0 {
			n, err = second()
		}
		if err != nil {
			r.Logger.Warn("retention: pruning", "err", err)
			return freed
		}
		if n == 0 {
			break // only the newest data is left
		}
		freed += n
		r.pruned.Add(n)
	}
	return freed
}
