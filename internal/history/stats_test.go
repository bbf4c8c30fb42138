package history

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// checkDisk compares Stats.DiskBytes, kept up to date by the store, with
// the size of the files in its directory.
func checkDisk(t *testing.T, s *Store) {
	t.Helper()
	var walked int64
	err := filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			walked += info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().DiskBytes; got != walked {
		t.Fatalf("DiskBytes %d, files hold %d", got, walked)
	}
}

func TestStats(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	defer func() { s.Close() }()
	if st := s.Stats(); st.DiskBytes != 0 || st.PendingBytes != 0 || !st.LastFlushAt.IsZero() || st.LastFlushError != nil {
		t.Fatalf("new store: %+v", st)
	}

	var g seqr
	evs := g.seq(mixedDataset())
	o := newOracle()
	o.apply(evs)
	s.Apply(evs)
	wantPending := int64(len(o.ticks[market.KindTrade])+len(o.ticks[market.KindQuote])) * tickRecSize
	for _, bars := range o.bars {
		wantPending += int64(len(bars)) * barRecSize
	}
	st := s.Stats()
	if st.PendingBytes != wantPending || st.LastSeq != g.next-1 || st.AppliedSeq != 0 || st.Flushes != 0 || st.Symbols != 3 {
		t.Fatalf("after Apply: %+v; want %d pending bytes, last seq %d", st, wantPending, g.next-1)
	}

	mustFlush(t, s)
	st = s.Stats()
	if st.PendingBytes != 0 || st.AppliedSeq != st.LastSeq || st.Flushes != 1 || st.FlushFailures != 0 ||
		st.LastFlushAt.IsZero() || st.LastFlushDuration <= 0 || st.LastFlushError != nil || st.SyncFailed {
		t.Fatalf("after a flush: %+v", st)
	}
	checkDisk(t, s)

	// An import into a recorded day (runs sidecar) and a bar between stored
	// minutes (the month file is rewritten).
	day := g.seq(testDay("AAPL", 5000, 3))
	s.Apply(day)
	mustFlush(t, s)
	s.Apply(g.seq(sortedByTime(testDay("AAPL", 5000, 4))))
	s.Apply(g.seq([]market.Event{bar(market.KindUpdatedBar, "AAPL", at("2024-06-03 09:29"), 1, 1, 1, 1, 1, 1, 1)}))
	mustFlush(t, s)
	if _, err := os.Stat(filepath.Join(dir, "symbols", "AAPL", runsFileName(kindTrades, civilDay(2024, 6, 3)))); err != nil {
		t.Fatalf("no runs sidecar: %v", err)
	}
	checkDisk(t, s)

	// A flush that fails: a directory where the next trade file goes.
	blocker := filepath.Join(dir, "symbols", "AAPL", tickFileName(kindTrades, civilDay(2024, 6, 20)))
	must(t, os.Mkdir(blocker, 0o755))
	s.Apply(g.seq([]market.Event{trade("AAPL", at("2024-06-20 10:00:00"), 1, 1), trade("MSFT", at("2024-06-20 10:00:00"), 1, 2)}))
	before := s.Stats()
	if err := s.Flush(); !errors.Is(err, syscall.EISDIR) {
		t.Fatalf("flush: %v, want EISDIR", err)
	}
	st = s.Stats()
	if st.FlushFailures != 1 || !errors.Is(st.LastFlushError, syscall.EISDIR) || st.LastFlushErrorAt.IsZero() ||
		st.PendingBytes != tickRecSize || st.AppliedSeq != before.AppliedSeq || st.LastSeq != before.LastSeq ||
		st.Flushes != before.Flushes || st.LastFlushAt != before.LastFlushAt {
		t.Fatalf("after a failed flush: %+v (before: %+v)", st, before)
	}
	checkDisk(t, s)

	must(t, os.Remove(blocker))
	mustFlush(t, s)
	st = s.Stats()
	if st.PendingBytes != 0 || st.AppliedSeq != st.LastSeq || st.Flushes != before.Flushes+1 ||
		!st.LastFlushAt.After(st.LastFlushErrorAt) || st.LastFlushError == nil || st.FlushFailures != 1 {
		t.Fatalf("after recovering: %+v", st)
	}
	checkDisk(t, s)

	// Nothing to write: still a successful flush (the store is current).
	prev := st.LastFlushAt
	time.Sleep(time.Millisecond)
	mustFlush(t, s)
	if st = s.Stats(); !st.LastFlushAt.After(prev) || st.Flushes != before.Flushes+1 {
		t.Fatalf("an idle flush: %+v", st)
	}

	must(t, s.Close())
	s = openStore(t, dir)
	checkDisk(t, s)
	if st := s.Stats(); st.AppliedSeq != g.next-1 || st.LastSeq != g.next-1 {
		t.Fatalf("reopened: %+v", st)
	}
	q := everything
	q.Symbols = []string{"AAPL", "MSFT"}
	if r, err := s.Trades(t.Context(), q); err != nil || len(r.Events) == 0 {
		t.Fatalf("%d trades, %v", len(r.Events), err)
	}
}
