package history

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"slices"
)

// PruneReport says what PruneBefore removed from disk.
type PruneReport struct {
	Files int   // files removed
	Bytes int64 // their total size
}

// PruneBefore removes the data of the session days that end at or before t
// (ns since the epoch; a day ends at the next local midnight in
// Options.Location):
//
//   - their trade and quote files (and runs sidecars), and their unflushed
//     trades and quotes;
//   - the minute bar files of the months that end at or before t, and their
//     unflushed minute bars. A month that t cuts keeps all its minute bars:
//     a month file is removed whole or not at all. So after a prune the
//     intraday timeframes (1Min to 23Hour) start at the first month after
//     the last one pruned, while trades start at the first day after.
//
// Daily bars are kept (64 bytes a day): 1Day, 1Week and 1Month bars, and
// snapshots' daily bars, still cover everything. Latest values follow the
// data: a symbol whose latest trade was pruned has no latest trade (its
// newer ones, if any, would have been latest). A symbol left with nothing
// is no longer listed by Symbols and its directory is removed.
//
// PruneBefore works one symbol at a time, holding the flusher off only for
// that symbol's files, so flushes go on between symbols; a query of a
// symbol waits while that symbol is pruned and sees it before or after,
// never half-pruned. Data of a pruned day applied later (an import, a
// journal replay after a crash) creates its files again: PruneBefore is an
// operation, not a policy. If a file cannot be removed the rest is still
// pruned and the errors are returned with the report of what was removed.
func (s *Store) PruneBefore(t int64) (PruneReport, error) {
	var rep PruneReport
	s.closeMu.RLock() // Close waits for the prune
	defer s.closeMu.RUnlock()
	s.mu.RLock()
	closed := s.isClosed
	var syms []*symState
	for _, m := range s.syms {
		for _, sym := range m {
			syms = append(syms, sym)
		}
	}
	s.mu.RUnlock()
	if closed {
		return rep, ErrClosed
	}
	first, _, _ := s.cal.dayOf(t)
	lastDay := first - 1                   // the last day ending at or before t
	lastMonth := monthOfDay(lastDay+1) - 1 // the last month ending at or before t
	var errs []error
	for _, sym := range syms {
		if err := s.pruneSym(sym, lastDay, lastMonth, &rep); err != nil {
			errs = append(errs, fmt.Errorf("history: prune %s: %w", sym.name, err))
		}
	}
	return rep, errors.Join(errs...)
}

// pruneSym prunes one symbol, holding the flusher and the symbol's queries
// off.
func (s *Store) pruneSym(sym *symState, lastDay, lastMonth int32, rep *PruneReport) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	sym.fileMu.Lock()
	defer sym.fileMu.Unlock()

	s.mu.RLock()
	tdays := sym.tradeDays.appendRange(nil, math.MinInt32, lastDay)
	qdays := sym.quoteDays.appendRange(nil, math.MinInt32, lastDay)
	i, _ := slices.BinarySearch(sym.months, lastMonth+1)
	months := slices.Clone(sym.months[:i])
	s.mu.RUnlock()

	var errs []error
	remove := func(path string) bool {
		st, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return true
		}
		if err == nil {
			s.files.forget(path) // no query or flush of the symbol holds it
			err = os.Remove(path)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			return false
		}
		rep.Files++
		rep.Bytes += st.Size()
		s.disk.Add(-st.Size())
		return true
	}
	// The data file first: a crash between leaves an orphan sidecar, which
	// Open deletes; the other way round, a file without its runs.
	removeTicks := func(k fileKind, days []int32) []int32 {
		var gone []int32
		for _, d := range days {
			if remove(sym.dir+"/"+tickFileName(k, d)) && remove(sym.dir+"/"+runsFileName(k, d)) {
				gone = append(gone, d)
			}
		}
		return gone
	}
	tgone, qgone := removeTicks(kindTrades, tdays), removeTicks(kindQuotes, qdays)
	var mgone []int32
	for _, m := range months {
		if remove(sym.dir + "/" + barFileName(m)) {
			mgone = append(mgone, m)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range tgone {
		sym.tradeDays.remove(d)
	}
	for _, d := range qgone {
		sym.quoteDays.remove(d)
	}
	sym.months = slices.DeleteFunc(sym.months, func(m int32) bool { return slices.Contains(mgone, m) })
	// Unflushed data of the pruned days and months (no flush is running:
	// flushMu).
	for _, ser := range [...]*tickSeries{&sym.trades, &sym.quotes} {
		ser.tails = slices.DeleteFunc(ser.tails, func(t *tickTail) bool {
			if t.day > lastDay {
				return false
			}
			s.pending -= int64(len(t.buf))
			return true
		})
	}
	n := len(sym.bars)
	sym.bars = slices.DeleteFunc(sym.bars, func(v barVal) bool { return monthOfDay(s.flushDC.day(v.Time)) <= lastMonth })
	s.pending -= int64(n-len(sym.bars)) * barRecSize
	// Latest values: what is latest is later than everything else, so if
	// its day went, everything of its kind went.
	if sym.hasTrade && s.flushDC.day(recTime(sym.lastTrade[:])) <= lastDay && len(sym.tradeDays.appendRange(nil, math.MinInt32, lastDay)) == 0 {
		sym.hasTrade = false
	}
	if sym.hasQuote && s.flushDC.day(recTime(sym.lastQuote[:])) <= lastDay && len(sym.quoteDays.appendRange(nil, math.MinInt32, lastDay)) == 0 {
		sym.hasQuote = false
	}
	if sym.hasBar && monthOfDay(s.flushDC.day(sym.lastBar.Time)) <= lastMonth && (len(sym.months) == 0 || sym.months[0] > lastMonth) {
		sym.hasBar = false
	}
	if sym.empty() && !sym.hidden {
		sym.hidden, s.symList[sym.space] = true, nil
		s.nHidden++
		if err := os.Remove(sym.dir); err == nil || errors.Is(err, fs.ErrNotExist) {
			sym.dirMade = false // the flusher makes it again if data comes
		}
	}
	return errors.Join(errs...)
}

// OldestDay returns the oldest session day holding trade or quote files,
// of any symbol or class, as its start and end: what PruneBefore(end)
// removes first. ok is false when there is none, or when that day is also
// the newest (a budget never empties the store).
func (s *Store) OldestDay() (start, end int64, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	oldest, newest := int32(math.MaxInt32), int32(math.MinInt32)
	for _, m := range s.syms {
		for _, sym := range m {
			for _, ds := range []daySet{sym.tradeDays, sym.quoteDays} {
				if d, found := ds.first(); found {
					oldest = min(oldest, d)
				}
				if d, found := ds.last(); found {
					newest = max(newest, d)
				}
			}
		}
	}
	if oldest == math.MaxInt32 || oldest == newest {
		return 0, 0, false
	}
	return s.cal.dayStart(oldest), s.cal.dayStart(oldest + 1), true
}
