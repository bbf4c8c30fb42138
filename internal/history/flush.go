package history

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// The flusher moves what Apply buffered into the files. One flush:
//
//  1. Under mu: take the dirty symbols and, for each, the length of every
//     tick tail (records past it arrive later and wait for the next flush)
//     and a copy of the pending bars. Apply is held up only for this.
//  2. If the flush touches a day the checkpoint does not name, rewrite the
//     checkpoint (same seq) naming it first: Open verifies exactly the tick
//     files of the named days, so a crash mid-flush leaves nothing
//     unverified.
//  3. Per symbol, holding its fileMu: append tick records (skipping any the
//     file already has, by seq), update bars in place, append or rewrite,
//     then, under mu, drop the written data from memory. Queries hold
//     fileMu too, so they see each record exactly once.
//  4. Sync (syncfs on Linux: one call for all files), then write the
//     checkpoint with the highest seq captured in step 1 and publish it as
//     AppliedSeq.

// errTestCrash stops a flush where a crash would be most awkward: data
// written and synced, checkpoint not yet advanced.
var errTestCrash = errors.New("history: simulated crash before checkpoint")

type symJob struct {
	sym      *symState
	upgrades []upgrade // version 1 tick files to upgrade
	ticks    []tickJob
	bars     []barVal // copies of the pending minute bars
	daily    []barVal // copies of the pending daily bars
	barOK    []bool   // per month group of bars: written
	dayOK    bool
}

type tickJob struct {
	kind  fileKind
	tail  *tickTail
	data  []byte // tail.buf[:n] at capture; Apply only appends past it
	ok    bool
	exist bool // the file exists (it may have been created by this job)
}

// tickMeta is the flusher's view of a tick file it writes.
type tickMeta struct {
	hdr     header
	count   int    // whole records
	lastSeq uint64 // seq of the last record; 0 when empty
}

// barMeta is the flusher's view of a bar file it writes.
type barMeta struct {
	count    int
	lastTime int64
}

func (s *Store) flush() error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	if s.stopped {
		return nil
	}
	start := time.Now()
	wrote, err := s.flushLocked()
	end := time.Now()
	s.infoMu.Lock()
	defer s.infoMu.Unlock()
	if wrote || err != nil {
		s.info.LastFlushDuration = end.Sub(start)
	}
	if err != nil {
		s.info.FlushFailures++
		s.info.LastFlushError, s.info.LastFlushErrorAt = err, end
		return err
	}
	if wrote {
		s.info.Flushes++
	}
	s.info.LastFlushAt = end
	return nil
}

// flushLocked is one flush, under flushMu. wrote is false when there was
// nothing to do.
func (s *Store) flushLocked() (wrote bool, err error) {
	// 1. Capture.
	s.mu.Lock()
	hi := s.lastSeq
	dirty := s.dirty
	s.dirty, s.spare = s.spare[:0], nil
	jobs := s.jobs[:0]
	for _, sym := range dirty {
		sym.dirty = false
		if len(jobs) < cap(jobs) {
			jobs = jobs[:len(jobs)+1]
		} else {
			jobs = append(jobs, symJob{})
		}
		j := &jobs[len(jobs)-1]
		*j = symJob{sym: sym, ticks: j.ticks[:0], barOK: j.barOK[:0]}
		for _, ser := range [...]struct {
			k fileKind
			t *tickSeries
		}{{sym.kind(kindTrades), &sym.trades}, {sym.kind(kindQuotes), &sym.quotes}} {
			for _, t := range ser.t.tails {
				if n := len(t.buf); n > 0 {
					j.ticks = append(j.ticks, tickJob{kind: ser.k, tail: t, data: t.buf[:n:n]})
				}
			}
		}
		if len(sym.bars) > 0 {
			j.bars = slices.Clone(sym.bars)
		}
		if len(sym.daily) > 0 {
			j.daily = slices.Clone(sym.daily)
		}
	}
	// Version 1 files to upgrade, a few per flush: each is read whole.
	n := min(len(s.upgrades), upgradesPerFlush)
	for _, u := range s.upgrades[:n] {
		i := slices.IndexFunc(jobs, func(j symJob) bool { return j.sym == u.sym })
		if i < 0 {
			if len(jobs) < cap(jobs) {
				jobs = jobs[:len(jobs)+1]
			} else {
				jobs = append(jobs, symJob{})
			}
			i = len(jobs) - 1
			jobs[i] = symJob{sym: u.sym, ticks: jobs[i].ticks[:0], barOK: jobs[i].barOK[:0]}
		}
		jobs[i].upgrades = append(jobs[i].upgrades, u)
	}
	s.upgrades = slices.Delete(s.upgrades, 0, n)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.spare = dirty[:0]
		s.mu.Unlock()
		for i := range jobs {
			jobs[i].sym, jobs[i].bars, jobs[i].daily, jobs[i].upgrades = nil, nil, nil, nil
			for k := range jobs[i].ticks {
				jobs[i].ticks[k] = tickJob{}
			}
		}
		s.jobs = jobs
	}()
	if len(jobs) == 0 && hi == s.applied.Load() {
		return false, nil
	}

	// 2. Name the days about to be written.
	days := s.jobDays(jobs)
	if u := unionDays(s.ckDays, days); len(u) != len(s.ckDays) {
		if err := s.writeCheckpoint(s.applied.Load(), u); err != nil {
			s.remark(jobs)
			return true, err
		}
		s.ckDays = u
	}

	// 3. Write.
	var errs []error
	for i := range jobs {
		if err := s.flushSym(&jobs[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return true, errors.Join(errs...)
	}

	// 4. Sync and checkpoint.
	if s.syncFail != nil {
		return true, s.syncFail
	}
	if len(jobs) > 0 {
		if err := s.syncData(jobs); err != nil {
			// After a failed fsync the kernel may have dropped the dirty
			// pages; retrying and succeeding would claim data durable that
			// is not. Freeze AppliedSeq: a restart replays from it.
			s.syncFail = fmt.Errorf("history: sync failed, AppliedSeq frozen until restart: %w", err)
			s.syncFailed.Store(true)
			return true, s.syncFail
		}
	}
	if s.testCrashBeforeCheckpoint {
		return true, errTestCrash
	}
	if err := s.writeCheckpoint(hi, days); err != nil {
		return true, err
	}
	s.ckDays = days
	s.applied.Store(hi)
	return true, nil
}

// remark puts the job symbols back on the dirty list after a failure.
func (s *Store) remark(jobs []symJob) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range jobs {
		if sym := jobs[i].sym; !sym.dirty {
			sym.dirty = true
			s.dirty = append(s.dirty, sym)
		}
	}
}

// jobDays returns the sorted days the jobs write: tick file days, and the
// days of bars (whose month files are verified at Open through them).
func (s *Store) jobDays(jobs []symJob) []int32 {
	var days []int32
	add := func(d int32) {
		if i, found := slices.BinarySearch(days, d); !found {
			days = slices.Insert(days, i, d)
		}
	}
	for i := range jobs {
		j := &jobs[i]
		for _, t := range j.ticks {
			add(t.tail.day)
		}
		for _, u := range j.upgrades {
			add(u.day)
		}
		for _, b := range j.bars {
			add(s.flushDC.day(b.Time))
		}
		for _, b := range j.daily {
			add(s.flushDC.day(b.Time))
		}
	}
	return days
}

func unionDays(a, b []int32) []int32 {
	u := slices.Clone(a)
	for _, d := range b {
		if i, found := slices.BinarySearch(u, d); !found {
			u = slices.Insert(u, i, d)
		}
	}
	return u
}

// flushSym writes one symbol's captured data and then drops what was
// written from memory. Whatever failed stays in memory, visible to queries,
// and is retried by the next flush.
func (s *Store) flushSym(j *symJob) error {
	sym := j.sym
	sym.fileMu.Lock()
	defer sym.fileMu.Unlock()
	var errs []error
	if !sym.dirMade {
		if err := os.MkdirAll(sym.dir, 0o755); err != nil {
			s.remark([]symJob{*j})
			return err
		}
		sym.dirMade = true
	}
	for _, u := range j.upgrades {
		if err := s.upgradeTicks(sym, u); err != nil {
			errs = append(errs, err)
		}
	}
	for k := range j.ticks {
		t := &j.ticks[k]
		if err := s.writeTicks(sym, t); err != nil {
			errs = append(errs, err)
		} else {
			t.ok = true
		}
	}
	// Minute bars go to one file per month; the copy is sorted by time, so
	// each month is a contiguous run.
	for lo := 0; lo < len(j.bars); {
		m := monthOfDay(s.flushDC.day(j.bars[lo].Time))
		hi := lo + 1
		for hi < len(j.bars) && monthOfDay(s.flushDC.day(j.bars[hi].Time)) == m {
			hi++
		}
		err := s.writeBars(sym.dir+"/"+barFileName(m), sym.kind(kindMinuteBars), j.bars[lo:hi])
		if err != nil {
			errs = append(errs, err)
		}
		j.barOK = append(j.barOK, err == nil)
		lo = hi
	}
	if len(j.daily) > 0 {
		err := s.writeBars(sym.dir+"/"+dailyFileName, sym.kind(kindDailyBars), j.daily)
		if err != nil {
			errs = append(errs, err)
		}
		j.dayOK = err == nil
	}

	// Publish: the files now hold what memory held, so drop it from memory
	// while queries of this symbol are still held off by fileMu.
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range j.ticks {
		t := &j.ticks[k]
		if t.exist {
			if !t.kind.isQuotes() {
				sym.tradeDays.add(t.tail.day)
			} else {
				sym.quoteDays.add(t.tail.day)
			}
		}
		if t.ok {
			t.tail.buf = t.tail.buf[:copy(t.tail.buf, t.tail.buf[len(t.data):])]
			s.pending -= int64(len(t.data))
		}
	}
	sym.trades.prune()
	sym.quotes.prune()
	g := 0
	for lo := 0; lo < len(j.bars); g++ {
		m := monthOfDay(s.flushDC.day(j.bars[lo].Time))
		hi := lo + 1
		for hi < len(j.bars) && monthOfDay(s.flushDC.day(j.bars[hi].Time)) == m {
			hi++
		}
		if i, found := slices.BinarySearch(sym.months, m); !found {
			sym.months = slices.Insert(sym.months, i, m)
		}
		if j.barOK[g] {
			n := len(sym.bars)
			sym.bars = removeWritten(sym.bars, j.bars[lo:hi])
			s.pending -= int64(n-len(sym.bars)) * barRecSize
		}
		lo = hi
	}
	if len(j.daily) > 0 {
		sym.hasDaily = true
		if j.dayOK {
			n := len(sym.daily)
			sym.daily = removeWritten(sym.daily, j.daily)
			s.pending -= int64(n-len(sym.daily)) * barRecSize
		}
	}
	if len(errs) > 0 && !sym.dirty {
		sym.dirty = true
		s.dirty = append(s.dirty, sym)
	}
	return errors.Join(errs...)
}

// prune drops emptied tails except the newest, which Apply will most likely
// append to again.
func (ts *tickSeries) prune() {
	n := len(ts.tails)
	ts.tails = slices.DeleteFunc(ts.tails, func(t *tickTail) bool {
		return len(t.buf) == 0 && t != ts.tails[n-1]
	})
}

// removeWritten removes from pending (sorted by time) the bars that were
// written: same time and same seq. A bar replaced by Apply while the flush
// ran has a newer seq and stays for the next flush.
func removeWritten(pending, written []barVal) []barVal {
	out := pending[:0]
	w := 0
	for _, p := range pending {
		for w < len(written) && written[w].Time < p.Time {
			w++
		}
		if w < len(written) && written[w].Time == p.Time && written[w].Seq == p.Seq {
			continue
		}
		out = append(out, p)
	}
	clear(pending[len(out):])
	return out
}

// writeTicks appends a tick job's records to its day file, cutting runs
// (runs.go) as it goes.
func (s *Store) writeTicks(sym *symState, t *tickJob) error {
	path := sym.dir + "/" + tickFileName(t.kind, t.tail.day)
	h, err := s.files.acquire(path, true)
	if err != nil {
		return err
	}
	defer s.files.release(h)
	t.exist = true
	m, err := s.tickMetaOf(h, t.kind)
	if err != nil {
		return err
	}
	// Skip what the file already has: records are appended in seq order,
	// so after a partly failed flush (retried) or a crash after the write
	// but before the checkpoint (replayed) they are a prefix of the data.
	data := t.data
	for len(data) > 0 && recSeq(data) <= m.lastSeq {
		data = data[tickRecSize:]
	}
	if len(data) == 0 {
		return nil
	}
	hdr := m.hdr
	closed := s.runScratch[:0]
	base := int64(m.count)
	timeAt := func(i int64) (int64, error) {
		if i >= base {
			return recTime(data[(i-base)*tickRecSize:]), nil
		}
		var b [8]byte
		if err := readFull(h.f, b[:], recOff(int(i), tickRecSize)); err != nil {
			return 0, err
		}
		return recTime(b[:]), nil
	}
	for off := 0; off < len(data); off += tickRecSize {
		e, ok, err := hdr.add(base+int64(off/tickRecSize), recTime(data[off:]), timeAt)
		if err != nil {
			h.tick = nil
			return err
		}
		if ok {
			closed = append(closed, e)
		}
	}
	s.runScratch = closed
	// Closed runs first, then the header that counts them and describes
	// the open run, then the records: a failure in between leaves sidecar
	// entries the header does not count (ignored) or a header ahead of the
	// records (rebuilt when the file is next loaded), never a description
	// that understates the disorder of records on disk.
	if len(closed) > 0 {
		if err := s.appendRuns(runsPath(path), m.hdr.closed, closed); err != nil {
			h.tick = nil
			return err
		}
	}
	if hdr != m.hdr {
		var b [headerSize]byte
		hdr.encode(b[:])
		if _, err := h.f.WriteAt(b[:], 0); err != nil {
			h.tick = nil
			return err
		}
		m.hdr = hdr
	}
	if _, err := h.f.WriteAt(data, recOff(m.count, tickRecSize)); err != nil {
		h.tick = nil // reload from the file next time
		s.resync(h.f, recOff(m.count, tickRecSize))
		return err
	}
	s.disk.Add(int64(len(data)))
	m.count += len(data) / tickRecSize
	m.lastSeq = recSeq(data[len(data)-tickRecSize:])
	return nil
}

// upgrade names a version 1 tick file to upgrade.
type upgrade struct {
	sym  *symState
	kind fileKind
	day  int32
}

const (
	// upgradeLate is the lateness above which a query asks for its version
	// 1 file to be upgraded: below it, one run reads fast enough.
	upgradeLate = int64(60e9)
	// upgradesPerFlush bounds the files a flush upgrades (each is read
	// whole), so that a scan of old data cannot hold up durability.
	upgradesPerFlush = 2
)

// requestUpgrade queues a version 1 file for the flusher to upgrade.
func (s *Store) requestUpgrade(u upgrade) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.upgrades, u) && len(s.upgrades) < 1024 {
		s.upgrades = append(s.upgrades, u)
	}
}

// upgradeTicks upgrades a version 1 tick file: loading it for writing cuts
// its runs and writes them.
func (s *Store) upgradeTicks(sym *symState, u upgrade) error {
	h, err := s.files.acquire(sym.dir+"/"+tickFileName(u.kind, u.day), false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // pruned meanwhile
	}
	if err != nil {
		return err
	}
	defer s.files.release(h)
	_, err = s.tickMetaOf(h, u.kind)
	return err
}

// runsPath is the runs sidecar of the tick file at path.
func runsPath(path string) string { return strings.TrimSuffix(path, ".dat") + ".runs" }

// appendRuns writes closed runs to a tick file's sidecar as its entries
// from, from+1, ...
func (s *Store) appendRuns(path string, from uint32, entries []runEntry) error {
	h, err := s.files.acquire(path, true)
	if err != nil {
		return err
	}
	defer s.files.release(h)
	st, err := h.f.Stat()
	if err != nil {
		return err
	}
	end, err := writeRuns(h.f, from, entries)
	if err != nil {
		s.resync(h.f, st.Size())
		return err
	}
	s.disk.Add(max(end, st.Size()) - st.Size())
	return nil
}

// resync corrects DiskBytes after a failed write to f, whose size was
// size before it: the write may have extended the file partly.
func (s *Store) resync(f *os.File, size int64) {
	if st, err := f.Stat(); err == nil {
		s.disk.Add(max(st.Size(), size) - size)
	}
}

// tickMetaOf loads (once per open handle) the flusher's view of a tick file,
// initialising a new file's header, dropping a partial trailing record
// left by a failed write, and checking the file's runs (rebuilding them
// when a crash or failed write left them inconsistent, and upgrading a
// version 1 file).
func (s *Store) tickMetaOf(h *handle, k fileKind) (*tickMeta, error) {
	if h.tick != nil {
		return h.tick, nil
	}
	st, err := h.f.Stat()
	if err != nil {
		return nil, err
	}
	m := &tickMeta{hdr: header{kind: k}}
	if st.Size() < headerSize {
		var b [headerSize]byte
		m.hdr.encode(b[:])
		if err := h.f.Truncate(0); err != nil {
			return nil, err
		}
		if _, err := h.f.WriteAt(b[:], 0); err != nil {
			s.resync(h.f, 0)
			return nil, err
		}
		s.disk.Add(headerSize - st.Size())
		h.tick = m
		return m, nil
	}
	m.count = int((st.Size() - headerSize) / tickRecSize)
	if rem := (st.Size() - headerSize) % tickRecSize; rem != 0 {
		if err := h.f.Truncate(recOff(m.count, tickRecSize)); err != nil {
			return nil, err
		}
		s.disk.Add(-rem)
	}
	var why string
	m.hdr, why, err = tickRunsState(h.f, k, m.count, func(create bool) (*os.File, func(), error) {
		rh, err := s.files.acquire(runsPath(h.path), create)
		if err != nil {
			return nil, nil, err
		}
		return rh.f, func() { s.files.release(rh) }, nil
	}, func(n int64) { s.disk.Add(n) })
	if err != nil {
		return nil, err
	}
	if why != "" {
		s.log.Info("history: rebuilt the runs of a tick file", "path", h.path, "why", why)
	}
	if m.count > 0 {
		var r [tickRecSize]byte
		if err := readFull(h.f, r[:], recOff(m.count-1, tickRecSize)); err != nil {
			return nil, err
		}
		m.lastSeq = recSeq(r[:])
	}
	h.tick = m
	return m, nil
}

// writeBars merges bars (sorted by time) into a bar file: bars of minutes
// (days) the file has are rewritten in place, bars after its last record
// appended, and if any bar falls between existing records (a late trade
// that created a bar for an earlier minute) the file is rewritten in order.
func (s *Store) writeBars(path string, k fileKind, vals []barVal) error {
	h, err := s.files.acquire(path, true)
	if err != nil {
		return err
	}
	defer s.files.release(h)
	m, err := s.barMetaOf(h, k)
	if err != nil {
		return err
	}
	i := len(vals)
	if m.count == 0 {
		i = 0
	} else {
		i = sort.Search(len(vals), func(i int) bool { return vals[i].Time > m.lastTime })
	}
	// vals[:i] are at or before the last record: find each one's record.
	idx := make([]int, i)
	for x, v := range vals[:i] {
		at, found, err := searchBarFile(h.f, m.count, v.Time)
		if err != nil {
			h.bar = nil
			return err
		}
		if !found {
			return s.rewriteBars(h, k, m, vals)
		}
		idx[x] = at
	}
	var rec [barRecSize]byte
	for x := range vals[:i] {
		putBar(rec[:], &vals[x])
		if _, err := h.f.WriteAt(rec[:], recOff(idx[x], barRecSize)); err != nil {
			h.bar = nil
			return err
		}
	}
	if app := vals[i:]; len(app) > 0 {
		b := s.scratch[:0]
		for x := range app {
			b = append(b, rec[:]...)
			putBar(b[len(b)-barRecSize:], &app[x])
		}
		s.scratch = b
		if _, err := h.f.WriteAt(b, recOff(m.count, barRecSize)); err != nil {
			h.bar = nil
			s.resync(h.f, recOff(m.count, barRecSize))
			return err
		}
		s.disk.Add(int64(len(b)))
		m.count += len(app)
		m.lastTime = app[len(app)-1].Time
	}
	return nil
}

// barMetaOf loads (once per open handle) the flusher's view of a bar file.
func (s *Store) barMetaOf(h *handle, k fileKind) (*barMeta, error) {
	if h.bar != nil {
		return h.bar, nil
	}
	st, err := h.f.Stat()
	if err != nil {
		return nil, err
	}
	m := &barMeta{}
	if st.Size() < headerSize {
		var b [headerSize]byte
		header{kind: k}.encode(b[:])
		if err := h.f.Truncate(0); err != nil {
			return nil, err
		}
		if _, err := h.f.WriteAt(b[:], 0); err != nil {
			s.resync(h.f, 0)
			return nil, err
		}
		s.disk.Add(headerSize - st.Size())
		h.bar = m
		return m, nil
	}
	m.count = int((st.Size() - headerSize) / barRecSize)
	if rem := (st.Size() - headerSize) % barRecSize; rem != 0 {
		if err := h.f.Truncate(recOff(m.count, barRecSize)); err != nil {
			return nil, err
		}
		s.disk.Add(-rem)
	}
	if m.count > 0 {
		var r [barRecSize]byte
		if err := readFull(h.f, r[:], recOff(m.count-1, barRecSize)); err != nil {
			return nil, err
		}
		m.lastTime = barTime(r[:])
	}
	h.bar = m
	return m, nil
}

// searchBarFile returns the index of the first record at or after t and
// whether it is at t.
func searchBarFile(f *os.File, count int, t int64) (int, bool, error) {
	var ferr error
	var b [4]byte
	timeAt := func(i int) int64 {
		if ferr != nil {
			return math.MaxInt64
		}
		if ferr = readFull(f, b[:], recOff(i, barRecSize)); ferr != nil {
			return math.MaxInt64
		}
		return barTime(b[:])
	}
	i := sort.Search(count, func(i int) bool { return timeAt(i) >= t })
	if ferr != nil {
		return 0, false, ferr
	}
	return i, i < count && timeAt(i) == t, ferr
}

// rewriteBars writes the merge of the file and vals to a temporary file and
// renames it over the original, so a crash leaves one or the other whole.
func (s *Store) rewriteBars(h *handle, k fileKind, m *barMeta, vals []barVal) error {
	old := make([]byte, m.count*barRecSize)
	if err := readFull(h.f, old, headerSize); err != nil {
		return err
	}
	out := make([]byte, headerSize, headerSize+len(old)+len(vals)*barRecSize)
	header{kind: k}.encode(out)
	var rec [barRecSize]byte
	i := 0
	for off := 0; off < len(old) || i < len(vals); {
		switch {
		case off < len(old) && (i == len(vals) || barTime(old[off:]) < vals[i].Time):
			out = append(out, old[off:off+barRecSize]...)
			off += barRecSize
		default:
			if off < len(old) && barTime(old[off:]) == vals[i].Time {
				off += barRecSize // replaced
			}
			putBar(rec[:], &vals[i])
			out = append(out, rec[:]...)
			i++
		}
	}
	tmp := h.path + ".tmp"
	if err := s.writeFileSync(tmp, out); err != nil {
		return err
	}
	if err := os.Rename(tmp, h.path); err != nil {
		os.Remove(tmp)
		return err
	}
	s.disk.Add(int64(len(out)) - recOff(m.count, barRecSize))
	s.files.forget(h.path) // the open handle still shows the old file
	return nil
}

// writeFileSync writes a new file and fsyncs it.
func (s *Store) writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil && !s.opts.noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// syncData makes everything written so far durable.
func (s *Store) syncData(jobs []symJob) error {
	if s.opts.noSync {
		return nil
	}
	if ok, err := syncFS(s.dirf); ok {
		return err
	}
	// No syncfs: fsync every file the flush wrote, and the directories, in
	// which files may have been created.
	var errs []error
	syncPath := func(p string) {
		f, err := os.Open(p)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			return
		}
		if err := f.Sync(); err != nil {
			errs = append(errs, err)
		}
		f.Close()
	}
	for i := range jobs {
		j := &jobs[i]
		for _, t := range j.ticks {
			syncPath(j.sym.dir + "/" + tickFileName(t.kind, t.tail.day))
		}
		for _, b := range j.bars {
			syncPath(j.sym.dir + "/" + barFileName(monthOfDay(s.flushDC.day(b.Time))))
		}
		if len(j.daily) > 0 {
			syncPath(j.sym.dir + "/" + dailyFileName)
		}
		syncPath(j.sym.dir)
	}
	for _, d := range spaceDirs {
		syncPath(s.dir + "/" + d)
	}
	return errors.Join(errs...)
}
