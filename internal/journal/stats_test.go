package journal

import (
	"os"
	"path/filepath"
	"testing"
)

// TestStatsAndPruneOldest: Stats counts what is on disk and the fsyncs
// made; Oldest names the first retained record's time; PruneOldest deletes
// sealed segments from the oldest, never the active one.
func TestStatsAndPruneOldest(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir, Options{SegmentBytes: 4 << 10, Fsync: FsyncPolicy{Mode: FsyncAlways}})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for seq := uint64(1); seq <= 400; seq++ {
		if err := j.Append(seq, int64(seq)*1000, payloadFor(seq)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Sync(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	st := j.Stats()
	var onDisk int64
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		fi, _ := os.Stat(filepath.Join(dir, e.Name()))
		onDisk += fi.Size()
	}
	if st.Bytes != onDisk || st.Segments != len(ents) || st.Segments < 3 {
		t.Fatalf("stats: %d bytes in %d segments, disk has %d bytes in %d files", st.Bytes, st.Segments, onDisk, len(ents))
	}
	if st.Last != 400 || st.Synced != 400 || st.Written != 400 || st.Fsyncs == 0 || uint64(st.BytesWritten) != uint64(onDisk) {
		t.Fatalf("stats %+v", st)
	}
	var counted uint64
	for _, n := range st.FsyncBucketCounts {
		counted += n
	}
	if counted != st.Fsyncs || st.FsyncSeconds <= 0 {
		t.Fatalf("histogram counts %d of %d fsyncs, %v s", counted, st.Fsyncs, st.FsyncSeconds)
	}
	if ts, ok, err := j.Oldest(); err != nil || !ok || ts != 1000 {
		t.Fatalf("oldest: %d %v %v", ts, ok, err)
	}
	segs := st.Segments
	for i := 1; i < segs; i++ {
		freed, err := j.PruneOldest()
		if err != nil || freed <= 0 {
			t.Fatalf("prune %d: freed %d, %v", i, freed, err)
		}
	}
	if freed, err := j.PruneOldest(); err != nil || freed != 0 {
		t.Fatalf("the active segment was pruned: %d, %v", freed, err)
	}
	st = j.Stats()
	if st.Segments != 1 || st.First <= 1 {
		t.Fatalf("after pruning: %+v", st)
	}
	if ts, ok, _ := j.Oldest(); !ok || ts != int64(st.First)*1000 {
		t.Fatalf("oldest after pruning: %d (first %d)", ts, st.First)
	}
}
