package journal

import (
	"errors"
	"io/fs"
	"os"
	"sync/atomic"
	"time"
)

// FsyncBuckets are the upper bounds of the fsync latency histogram in
// Stats: from 100 µs (a fast NVMe) to 1 s (a disk in trouble).
var FsyncBuckets = []time.Duration{100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second}

// latency is a fixed-bucket histogram updated lock-free by the flusher and
// read at scrape time.
type latency struct {
	buckets [14]atomic.Uint64 // len(FsyncBuckets)+1: the last counts what exceeds them all
	count   atomic.Uint64
	sum     atomic.Int64 // ns
}

func (l *latency) observe(d time.Duration) {
	i := 0
	for i < len(FsyncBuckets) && d > FsyncBuckets[i] {
		i++
	}
	l.buckets[i].Add(1)
	l.count.Add(1)
	l.sum.Add(int64(d))
}

// Stats are the journal's figures for metrics and status.
type Stats struct {
	First, Last     uint64 // as First() and Last()
	Written, Synced uint64 // durability watermarks
	Segments        int
	Bytes           int64  // on disk, every retained segment
	BytesWritten    uint64 // since Open
	// Fsyncs counts fsyncs since Open; FsyncSeconds is their total time and
	// FsyncBucketCounts their latency histogram: count[i] fsyncs took at
	// most FsyncBuckets[i] (not cumulative; the last entry counts the
	// slower ones).
	Fsyncs            uint64
	FsyncSeconds      float64
	FsyncBucketCounts []uint64
	// Failed is the sticky write or fsync error that stopped the journal,
	// if any.
	Failed error
}

// Stats returns the journal's current figures.
func (j *File) Stats() Stats {
	st := Stats{First: j.First(), Last: j.Last(), Written: j.written.Load(), Synced: j.synced.Load(),
		BytesWritten: j.bytesWritten.Load(), Fsyncs: j.fsyncLat.count.Load(),
		FsyncSeconds: float64(j.fsyncLat.sum.Load()) / 1e9, FsyncBucketCounts: make([]uint64, len(j.fsyncLat.buckets))}
	for i := range j.fsyncLat.buckets {
		st.FsyncBucketCounts[i] = j.fsyncLat.buckets[i].Load()
	}
	j.segMu.RLock()
	st.Segments = len(j.segs)
	for _, s := range j.segs {
		st.Bytes += s.size.Load()
	}
	j.segMu.RUnlock()
	j.mu.Lock()
	st.Failed = j.err
	j.mu.Unlock()
	return st
}

// Oldest returns the record time of the oldest retained record: what
// retention would delete first. ok is false for an empty journal.
func (j *File) Oldest() (ts int64, ok bool, err error) {
	first := j.First()
	if first == 0 || first > j.written.Load() {
		return 0, false, nil
	}
	r, err := j.NewReader(first)
	if err != nil {
		return 0, false, err
	}
	defer r.Close()
	rec, ok, err := r.TryNext()
	if err != nil || !ok {
		return 0, false, err
	}
	return rec.TS, true, nil
}

// PruneOldest deletes the oldest retained segment if it is sealed and not
// the active one, whatever MaxAge and MaxBytes say: the data directory's
// disk budget (shared with the history store) decides. It returns the
// bytes freed (0 when nothing could be deleted).
func (j *File) PruneOldest() (int64, error) {
	j.pruneMu.Lock()
	defer j.pruneMu.Unlock()
	j.segMu.Lock()
	if len(j.segs) < 2 || !j.segs[0].sealed.Load() {
		j.segMu.Unlock()
		return 0, nil
	}
	victim := j.segs[0]
	j.segs = j.segs[1:]
	j.segMu.Unlock()
	size := victim.size.Load()
	if err := os.Remove(victim.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	j.log.Info("journal: disk budget removed the oldest segment", "first", victim.first, "bytes", size)
	return size, nil
}
