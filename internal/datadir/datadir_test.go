package datadir

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
)

func TestLock(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no flock")
	}
	dir := t.TempDir()
	unlock, err := Lock(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(dir, "test"); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	unlock()
	unlock, err = Lock(dir, "test")
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	unlock()
}

type fakeStore struct {
	applied uint64
	got     []uint64
}

func (f *fakeStore) AppliedSeq() uint64 { return f.applied }
func (f *fakeStore) Apply(evs []market.Event) {
	for _, e := range evs {
		f.got = append(f.got, e.Seq)
	}
}

// TestCatchUpHistory: the store gets exactly the records after its
// AppliedSeq, with their sequence numbers.
func TestCatchUpHistory(t *testing.T) {
	j := journal.NewMemory(journal.Options{})
	defer j.Close()
	for seq := uint64(1); seq <= 10000; seq++ {
		e := market.Event{Kind: market.KindTrade, Symbol: "A", Time: int64(seq), Trade: market.Trade{Price: 1, Size: 1}}
		if err := j.Append(seq, e.Time, market.AppendBinary(nil, &e)); err != nil {
			t.Fatal(err)
		}
	}
	j.Commit()
	if err := j.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := &fakeStore{applied: 4000}
	from, n, err := CatchUpHistory(context.Background(), j, s)
	if err != nil || from != 4001 || n != 6000 || len(s.got) != 6000 || s.got[0] != 4001 || s.got[5999] != 10000 {
		t.Fatalf("from %d n %d err %v got %d", from, n, err, len(s.got))
	}
	s = &fakeStore{applied: 10000}
	if from, n, err := CatchUpHistory(context.Background(), j, s); from != 0 || n != 0 || err != nil {
		t.Fatalf("up to date: %d %d %v", from, n, err)
	}
}
