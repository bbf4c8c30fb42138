package journal

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// File is the durable journal: a directory of segment files written by one
// background flusher. Create it with Open.
//
// Concurrency: Append and Commit are called by one goroutine (the ingest
// loop); everything else is safe from any goroutine. Lock order: mu, then
// segMu, then a segment's idxMu; the notifier's lock is a leaf.
type File struct {
	// Set at Open, then read-only.
	dir    string
	opts   Options
	log    *slog.Logger
	report OpenReport
	kick   chan struct{} // Commit/Sync/back-pressure: work is waiting
	quit   chan struct{} // closed by Close
	done   chan struct{} // closed when the flusher has exited

	_ [64]byte // keep the writer's hot fields off the flusher's cache lines

	// mu guards the buffer hand-off between Append and the flusher and the
	// writer state below. Append holds it for the few nanoseconds of a copy;
	// the flusher only to swap buffers, never across I/O.
	mu       sync.Mutex
	space    sync.Cond // broadcast when the flusher takes the full buffer
	cur      *buffer   // the buffer Append fills
	closing  bool      // Close has begun; Append fails with ErrClosed
	err      error     // sticky write/fsync failure
	syncWant uint64    // highest seq a Sync call wants fsynced

	// Writer state: the layout of what has been appended, which the writer
	// knows exactly because the format is deterministic. Guarded by mu.
	last    uint64   // Last()
	wseg    *segment // segment receiving appends; nil for a new journal
	segSize int64    // its size in bytes, header included
	segRecs int      // records in it
	ix      indexer  // sparse index spacing in it
	maxTs   int64    // max ts of every record appended, ever
	lastTs  int64    // ts of the last record appended

	_ [64]byte

	// Flusher side: watermarks (read lock-free by everyone) and the file.
	written atomic.Uint64 // Written()
	synced  atomic.Uint64 // Synced()
	adv     notifier      // fires when written/synced advance or on close/failure
	stopped atomic.Bool   // the flusher has exited
	file    *os.File      // the active segment file (flusher-owned); nil until the first segment
	fseg    *segment

	_ [64]byte

	// segMu guards segs, the ordered list of retained segments (the last is
	// the active one). Readers look segments up here.
	segMu sync.RWMutex
	segs  []*segment

	bytesWritten atomic.Uint64
	fsyncLat     latency

	pruneMu   sync.Mutex // serializes Prune with prune-on-roll
	closeOnce sync.Once
	closeErr  error
}

// segment is one segment file as the journal knows it.
type segment struct {
	first  uint64
	path   string
	hdr    segHeader
	size   atomic.Int64 // bytes in the file (the flusher adds what it writes)
	sealed atomic.Bool  // written, fsynced and closed by the flusher

	idxMu    sync.Mutex
	idx      []indexEntry
	idxBuilt bool // idx covers the segment (always true for the active one)
}

// buffer is one of the two group-commit buffers: encoded bytes exactly as
// they go to disk, plus the offsets where a new segment file begins.
type buffer struct {
	data  []byte
	rolls []roll
	last  uint64 // seq of the last record in data
}

// roll marks that data[off:] starts a new segment (with its header).
type roll struct {
	off int
	seg *segment
}

func newBuffer(n int) *buffer {
	return &buffer{data: make([]byte, 0, n), rolls: make([]roll, 0, 4)}
}

func (b *buffer) reset() {
	b.data = b.data[:0]
	clear(b.rolls) // drop segment pointers
	b.rolls = b.rolls[:0]
	b.last = 0
}

var _ Journal = (*File)(nil)

// Report returns what Open found and repaired.
func (j *File) Report() OpenReport {
	r := j.report
	r.Removed = slices.Clone(r.Removed)
	r.Quarantined = slices.Clone(r.Quarantined)
	return r
}

// Dir returns the journal's directory.
func (j *File) Dir() string { return j.dir }

// Append implements Journal. It copies the record into the current buffer;
// it blocks only while that buffer is full and the other one is still being
// written (back-pressure, never loss). Steady state: no allocation.
func (j *File) Append(seq uint64, ts int64, payload []byte) error {
	n := len(payload)
	if n > MaxPayload {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, MaxPayload)
	}
	size := recHeaderSize + n
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.checkAppend(seq); err != nil {
		return err
	}
	// A new segment starts before a record that would push a non-empty
	// segment past SegmentBytes; a single oversized record gets a segment
	// to itself rather than being refused.
	rollNow := j.wseg == nil || (j.segRecs > 0 && j.segSize+int64(size) > j.opts.SegmentBytes)
	need := size
	if rollNow {
		need += segHeaderSize
	}
	for len(j.cur.data) > 0 && len(j.cur.data)+need > cap(j.cur.data) {
		j.kickFlusher()
		j.space.Wait()
		if j.closing {
			return ErrClosed
		}
		if j.err != nil {
			return j.err
		}
	}
	b := j.cur
	if cap(b.data)-len(b.data) < need {
		b.data = slices.Grow(b.data, need) // a record larger than the buffer
	}
	if rollNow {
		j.startSegment(seq)
	}
	off := len(b.data)
	b.data = b.data[:off+size]
	putRecord(b.data[off:], seq, ts, payload)
	b.last = seq

	if j.ix.due() {
		e := indexEntry{seq: seq, off: j.segSize, maxBefore: j.maxTs}
		j.wseg.idxMu.Lock()
		j.wseg.idx = append(j.wseg.idx, e)
		j.wseg.idxMu.Unlock()
		j.ix.mark()
	}
	j.ix.add(size)
	j.segSize += int64(size)
	j.segRecs++
	j.maxTs = max(j.maxTs, ts)
	j.lastTs = ts
	j.last = seq
	return nil
}

// checkAppend validates seq against the journal's position. Called with mu.
func (j *File) checkAppend(seq uint64) error {
	if j.closing {
		return ErrClosed
	}
	if j.err != nil {
		return j.err
	}
	last := j.last
	switch {
	case seq == 0 || seq <= last:
		return fmt.Errorf("%w: %d after %d", ErrOutOfOrder, seq, last)
	case seq != last+1 && (last != 0 || j.wseg != nil):
		return fmt.Errorf("%w: %d after %d", ErrSeqGap, seq, last)
	}
	return nil
}

// startSegment begins a new segment at seq in the writer's view: it encodes
// the header into the buffer, marks the roll for the flusher and registers
// the segment so readers find it once its records are Written. The file
// itself is created by the flusher. Called with mu.
func (j *File) startSegment(seq uint64) {
	h := segHeader{first: seq, maxTsBefore: j.maxTs, prevLastTs: j.lastTs}
	if j.wseg != nil {
		h.prevFirst = j.wseg.first
	}
	s := &segment{first: seq, path: segmentPath(j.dir, seq), hdr: h, idxBuilt: true}
	b := j.cur
	off := len(b.data)
	b.data = b.data[:off+segHeaderSize]
	h.encode(b.data[off:])
	b.rolls = append(b.rolls, roll{off: off, seg: s})

	j.segMu.Lock()
	j.segs = append(j.segs, s)
	j.segMu.Unlock()
	j.wseg, j.segSize, j.segRecs, j.ix = s, segHeaderSize, 0, indexer{}
}

// Commit implements Journal: it wakes the flusher, which takes everything
// appended so far. It never blocks and never allocates.
func (j *File) Commit() { j.kickFlusher() }

func (j *File) kickFlusher() {
	select {
	case j.kick <- struct{}{}:
	default: // a wake-up is already pending; the flusher takes all there is
	}
}

// Sync implements Journal.
func (j *File) Sync(ctx context.Context) error {
	j.mu.Lock()
	target := j.last
	j.syncWant = max(j.syncWant, target)
	err := j.err
	j.mu.Unlock()
	if err != nil {
		return err
	}
	j.kickFlusher()
	return j.WaitSynced(ctx, target)
}

// Written implements Journal.
func (j *File) Written() uint64 { return j.written.Load() }

// Synced implements Journal.
func (j *File) Synced() uint64 { return j.synced.Load() }

// Last implements Journal.
func (j *File) Last() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.last
}

// First implements Journal.
func (j *File) First() uint64 {
	last := j.Last()
	j.segMu.RLock()
	defer j.segMu.RUnlock()
	if len(j.segs) == 0 {
		return 0
	}
	if f := j.segs[0].first; f <= last {
		return f
	}
	return 0 // only a header-only segment: a position but no records
}

// WaitWritten implements Journal.
func (j *File) WaitWritten(ctx context.Context, seq uint64) error {
	return waitFor(ctx, &j.adv, func() bool { return j.written.Load() >= seq }, j.stopErr)
}

// WaitSynced implements Journal.
func (j *File) WaitSynced(ctx context.Context, seq uint64) error {
	return waitFor(ctx, &j.adv, func() bool { return j.synced.Load() >= seq }, j.stopErr)
}

// stopErr is the reason waiting is pointless: a failure or the end.
func (j *File) stopErr() error {
	j.mu.Lock()
	err := j.err
	j.mu.Unlock()
	if err != nil {
		return err
	}
	if j.stopped.Load() {
		return ErrClosed
	}
	return nil
}

func (j *File) advanceWritten(seq uint64) {
	if seq > j.written.Load() {
		j.written.Store(seq)
		j.adv.broadcast()
	}
}

func (j *File) advanceSynced(seq uint64) {
	if seq > j.synced.Load() {
		j.synced.Store(seq)
		j.adv.broadcast()
	}
}

// fail makes a write or fsync error sticky. After a failed fsync the state
// of the page cache is unknown (the "fsyncgate" lesson), so the journal does
// not retry: it refuses appends until it is reopened, which re-validates the
// tail from disk.
func (j *File) fail(err error) {
	j.mu.Lock()
	if j.err == nil {
		j.err = fmt.Errorf("journal: failed, reopen to recover: %w", err)
		j.log.Error("journal write failed; appends refused until reopen", "err", err)
	}
	j.space.Broadcast()
	j.mu.Unlock()
	j.adv.broadcast()
}

// flushLoop is the flusher goroutine: take the filled buffer, write it, fsync
// per policy, advance the watermarks, repeat. Owned by the File: started by
// Open, stopped by Close, which waits for it.
func (j *File) flushLoop() {
	defer close(j.done)
	defer j.adv.broadcast()
	defer j.stopped.Store(true)

	spare := newBuffer(j.opts.BufferBytes)
	pol := j.opts.Fsync
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var timerC <-chan time.Time
	lastSync := time.Now()
	dirty := false // written but not fsynced
	quitting := false
	for {
		if !quitting {
			select {
			case <-j.kick:
			case <-timerC:
				timerC = nil
			case <-j.quit:
				quitting = true
			}
		}
		// Swap buffers: the writer continues into the spare while we write.
		j.mu.Lock()
		b := j.cur
		failed := j.err != nil
		if failed || len(b.data) == 0 {
			b = nil
		} else {
			j.cur, spare = spare, nil
			j.space.Broadcast()
		}
		want := j.syncWant
		j.mu.Unlock()

		if b != nil {
			rolled, err := j.writeBuffer(b)
			if err != nil {
				j.fail(err)
				failed = true
			} else {
				dirty = true
				j.advanceWritten(b.last)
			}
			b.reset()
			spare = b
			if rolled && !failed {
				if _, err := j.Prune(); err != nil {
					j.log.Warn("journal: retention failed", "err", err)
				}
			}
		}

		if dirty && !failed {
			doSync := quitting || want > j.synced.Load()
			switch pol.Mode {
			case FsyncAlways:
				doSync = true
			case FsyncInterval:
				if el := time.Since(lastSync); el >= pol.Interval {
					doSync = true
				} else if !doSync && timerC == nil {
					timer.Reset(pol.Interval - el)
					timerC = timer.C
				}
			}
			if doSync {
				w := j.written.Load() // everything up to w is in the file now
				if err := j.fsync(j.file); err != nil {
					j.fail(err)
					failed = true
				} else {
					dirty = false
					lastSync = time.Now()
					j.advanceSynced(w)
				}
			}
		}

		if quitting {
			j.mu.Lock()
			drained := len(j.cur.data) == 0 || j.err != nil
			j.mu.Unlock()
			if drained && (!dirty || failed) {
				if j.file != nil {
					if err := j.file.Close(); err != nil && !failed {
						j.fail(err)
					}
					j.file = nil
				}
				return
			}
		}
	}
}

// writeBuffer writes one buffer, opening new segment files at its roll
// points. A segment is sealed - fsynced, closed, marked - before the next is
// created, whatever the policy, so only the last segment can ever be torn
// and Open needs to scan only that one.
func (j *File) writeBuffer(b *buffer) (rolled bool, err error) {
	pos := 0
	for _, r := range b.rolls {
		if r.off > pos {
			if err := j.write(b.data[pos:r.off]); err != nil {
				return rolled, err
			}
		}
		pos = r.off
		if j.file != nil {
			if err := j.fsync(j.file); err != nil {
				return rolled, err
			}
			if err := j.file.Close(); err != nil {
				return rolled, err
			}
			j.file = nil
			j.fseg.sealed.Store(true)
			// Every record before the new segment is now in a sealed,
			// fsynced file, and so are all older segments.
			j.advanceWritten(r.seg.first - 1)
			j.advanceSynced(r.seg.first - 1)
			rolled = true
		}
		f, err := os.OpenFile(r.seg.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
		if err != nil {
			return rolled, err
		}
		// Make the new name durable before any record in it can count as
		// Synced. A crash before the header lands leaves an empty file,
		// which Open removes.
		if err := j.syncDir(); err != nil {
			f.Close()
			return rolled, err
		}
		j.file, j.fseg = f, r.seg
	}
	if pos < len(b.data) {
		if err := j.write(b.data[pos:]); err != nil {
			return rolled, err
		}
	}
	return rolled, nil
}

// write appends p to the active file and accounts for it (retention sums
// these sizes). A short write leaves a torn tail that Open will cut.
func (j *File) write(p []byte) error {
	n, err := j.file.Write(p)
	j.fseg.size.Add(int64(n))
	j.bytesWritten.Add(uint64(n))
	return err
}

// Close implements Journal: it stops appends, waits for the flusher to
// write and fsync everything appended, and closes the active file.
func (j *File) Close() error {
	j.closeOnce.Do(func() {
		j.mu.Lock()
		j.closing = true
		j.space.Broadcast()
		j.mu.Unlock()
		close(j.quit)
		<-j.done
		j.mu.Lock()
		j.closeErr = j.err
		j.mu.Unlock()
	})
	return j.closeErr
}

// Prune implements Journal. Segments go strictly from the oldest, so what
// remains is always contiguous. A segment is a candidate only once sealed
// (its data is written and fsynced) and never while it is the active one.
// Readers that hold a deleted segment open keep reading it (POSIX unlink
// semantics); readers that reach it later get ErrPruned.
func (j *File) Prune() (int, error) {
	if j.opts.MaxAge <= 0 && j.opts.MaxBytes <= 0 {
		return 0, nil
	}
	j.pruneMu.Lock()
	defer j.pruneMu.Unlock()
	cutoff := j.opts.Now().Add(-j.opts.MaxAge).UnixNano()

	j.segMu.Lock()
	var total int64
	for _, s := range j.segs {
		total += s.size.Load()
	}
	k := 0
	for ; k < len(j.segs)-1; k++ {
		s := j.segs[k]
		if !s.sealed.Load() {
			break
		}
		// The next segment's header holds this one's last event time.
		expired := j.opts.MaxAge > 0 && j.segs[k+1].hdr.prevLastTs < cutoff
		over := j.opts.MaxBytes > 0 && total > j.opts.MaxBytes
		if !expired && !over {
			break
		}
		total -= s.size.Load()
	}
	victims := slices.Clone(j.segs[:k])
	j.segs = slices.Delete(j.segs, 0, k)
	j.segMu.Unlock()

	var errs []error
	for _, s := range victims {
		if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(victims) > 0 {
		j.log.Info("journal: retention removed segments", "segments", len(victims),
			"first", victims[0].first, "next", victims[len(victims)-1].first, "total_bytes", total)
	}
	return len(victims), errors.Join(errs...)
}

// segmentFor returns the retained segment that holds seq (the last one whose
// first <= seq) and the first seq of the one after it (0 if none), or nil if
// seq is older than every retained segment.
func (j *File) segmentFor(seq uint64) (*segment, uint64) {
	j.segMu.RLock()
	defer j.segMu.RUnlock()
	i := sort.Search(len(j.segs), func(i int) bool { return j.segs[i].first > seq }) - 1
	if i < 0 {
		return nil, 0
	}
	var next uint64
	if i+1 < len(j.segs) {
		next = j.segs[i+1].first
	}
	return j.segs[i], next
}

// lookup returns the last index entry at or before seq, building the index
// of a sealed segment by a scan on first use (the index is not stored on
// disk: it is cheap to rebuild and can then never disagree with the data).
// A scan that meets damage indexes the valid prefix; readers then hit the
// damage themselves and report it.
func (s *segment) lookup(seq uint64) (indexEntry, error) {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	if !s.idxBuilt {
		f, err := os.Open(s.path)
		if err != nil {
			return indexEntry{}, err
		}
		defer f.Close()
		res, err := scanSegment(f, s.size.Load(), s.hdr)
		if err != nil {
			return indexEntry{}, err
		}
		s.idx, s.idxBuilt = res.index, true
	}
	i := sort.Search(len(s.idx), func(i int) bool { return s.idx[i].seq > seq }) - 1
	if i < 0 {
		return indexEntry{seq: s.first, off: segHeaderSize, maxBefore: s.hdr.maxTsBefore}, nil
	}
	return s.idx[i], nil
}

// seekEntry returns the last index entry whose maxBefore < t: every record
// before it has ts < t.
func (s *segment) seekEntry(t int64) (indexEntry, error) {
	if _, err := s.lookup(s.first); err != nil { // builds the index if needed
		return indexEntry{}, err
	}
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	i := sort.Search(len(s.idx), func(i int) bool { return s.idx[i].maxBefore >= t }) - 1
	if i < 0 {
		return indexEntry{seq: s.first, off: segHeaderSize, maxBefore: s.hdr.maxTsBefore}, nil
	}
	return s.idx[i], nil
}

// SeekTime implements Journal. Segment headers carry maxTsBefore, which is
// monotone, so the segment is found by binary search without reading any
// record; inside it the sparse index narrows the scan to one index gap.
func (j *File) SeekTime(t int64) (uint64, error) {
	j.segMu.RLock()
	segs := slices.Clone(j.segs)
	j.segMu.RUnlock()
	w := j.written.Load()
	if len(segs) == 0 {
		return w + 1, nil
	}
	// The last segment before which every record has ts < t holds the
	// answer; if even the first retained one fails that (a record retention
	// deleted had ts >= t), start at the oldest retained record.
	k := max(sort.Search(len(segs), func(i int) bool { return segs[i].hdr.maxTsBefore >= t })-1, 0)
	if segs[k].first > w {
		return w + 1, nil
	}
	e, err := segs[k].seekEntry(t)
	if err != nil {
		return 0, err
	}
	// The scan crosses at most one index gap (64 KiB or 4096 records), so a
	// small read-ahead does.
	r := j.newReader(e.seq, 16<<10)
	defer r.Close()
	for {
		rec, ok, err := r.TryNext()
		if err != nil {
			return 0, err
		}
		if !ok {
			// No written record qualifies. (The start point may lie beyond
			// Written when the index point was appended but not yet written.)
			return min(r.at, j.written.Load()+1), nil
		}
		if rec.TS >= t {
			return rec.Seq, nil
		}
	}
}

// fsync makes f's data durable; tests can switch it off (see noFsync).
func (j *File) fsync(f *os.File) error {
	if j.opts.noFsync {
		return nil
	}
	began := time.Now()
	err := fdatasync(f)
	j.fsyncLat.observe(time.Since(began))
	return err
}

// syncDir fsyncs the journal directory so that file creations, renames and
// removals in it survive a crash.
func (j *File) syncDir() error {
	if j.opts.noFsync {
		return nil
	}
	d, err := os.Open(j.dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
