package datadir

import (
	"context"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
)

// TestRetentionKeepsTheBudget: a directory holding several days is cut to
// a budget of half its size: journal plus history fit it, what is deleted
// is the oldest (history's oldest day goes, the newest stays queryable),
// and the journal's active segment survives.
func TestRetentionKeepsTheBudget(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(context.Background(), dir, Options{Create: true, Fsync: journal.FsyncPolicy{Mode: journal.FsyncNever},
		SegmentBytes: 128 << 10})
	if err != nil {
		t.Fatal(err)
	}
	// Four trading days of trades, one batch a minute, journaled in order.
	var seq uint64
	var buf []byte
	day0 := time.Date(2026, 11, 16, 15, 0, 0, 0, time.UTC)
	for day := range 4 {
		for m := range 200 {
			var evs []market.Event
			for i := range 50 {
				seq++
				tm := day0.AddDate(0, 0, day).Add(time.Duration(m)*time.Minute + time.Duration(i)*time.Second)
				evs = append(evs, market.Event{Seq: seq, Kind: market.KindTrade, Symbol: "AAPL", Time: tm.UnixNano(),
					Trade: market.Trade{ID: int64(seq), Price: 100, Size: 1, Exchange: 'V'}})
			}
			for i := range evs {
				buf = market.AppendBinary(buf[:0], &evs[i])
				if err := d.Journal.Append(evs[i].Seq, evs[i].Time, buf); err != nil {
					t.Fatal(err)
				}
			}
			d.Journal.Commit()
			d.History.Apply(evs)
		}
	}
	if err := d.Journal.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.History.Flush(); err != nil {
		t.Fatal(err)
	}
	r := &Retention{}
	before := r.Usage(d)
	r.MaxBytes = (before.JournalBytes + before.HistoryBytes) / 2
	freed := r.Enforce(d)
	after := r.Usage(d)
	if after.JournalBytes+after.HistoryBytes > r.MaxBytes || freed <= 0 {
		t.Fatalf("before %+v, after %+v, budget %d, freed %d", before, after, r.MaxBytes, freed)
	}
	lo, _, ok := d.History.OldestDay()
	if !ok || !time.Unix(0, lo).After(day0) {
		t.Fatalf("history's oldest day is still %v", time.Unix(0, lo))
	}
	last := day0.AddDate(0, 0, 3)
	res, err := d.History.Trades(context.Background(), historyQuery("AAPL", last.UnixNano(), last.Add(24*time.Hour).UnixNano()))
	if err != nil || len(res.Events) != 200*50 {
		t.Fatalf("the newest day lost trades: %d, %v", len(res.Events), err)
	}
	if d.Journal.Last() != seq {
		t.Fatalf("the journal's end moved: %d", d.Journal.Last())
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

func historyQuery(sym string, lo, hi int64) history.Query {
	return history.Query{Symbols: []string{sym}, Start: lo, End: hi, Limit: 1 << 20}
}
