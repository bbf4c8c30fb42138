package history

import (
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
)

// Runs.
//
// A trade or quote file holds its records in arrival order. Live data is
// nearly in time order (reports seconds late), but an import, a backfill or
// a replayed period appends records far below the times already there, and
// a single bound on the disorder of the whole file (version 1's MaxLate)
// then grows to hours and every query reads and sorts most of the file.
//
// So a file is cut into runs: contiguous ranges of records in which no
// record is more than the run's lateness below the largest time before it
// in the run. A file with live data only is one run; an import into a day
// that has recorded data adds one; a report an hour late in a busy file
// starts one. Queries binary search each run with its own lateness as
// slack and merge the runs (read.go), so disorder costs a search per run
// instead of a scan of the file.
//
// The flusher cuts runs as it appends (header.add). A record closes the
// open run and starts the next when it is older than the record minRun
// places before it: it would pass more records than a search costs. A run
// that took in a large disorder while it was short is closed when it
// reaches minRun records. minRun doubles every runsPerLevel runs, so a file
// has O(log n) runs whatever its order (a file in reverse time order: about
// 300 runs for 50 million records). The open run is described in the
// file's header; closed runs are entries in a sidecar file next to it
// (trades-YYYY-MM-DD.runs), which exists only once a file has two runs.

const (
	runMinLen    = 2048 // records: a run is at least this long before it can be closed
	runsPerLevel = 32   // runs after which runMinLen doubles
	runEntrySize = 48
)

// minRun is the length the open run must have for a record to close it,
// given the number of closed runs before it.
func minRun(closed uint32) int64 {
	return runMinLen << min(closed/runsPerLevel, 32)
}

// runEntry describes a closed run: records [start, end), with times in
// [min, max], none more than late below the largest time before it in the
// run.
type runEntry struct {
	start, end int64
	min, max   int64
	late       int64
}

// encode writes e as a sidecar entry:
//
//	start u64 | end u64 | min i64 | max i64 | late i64 | crc32c u32 | zero u32
func (e runEntry) encode(b []byte) {
	b = b[:runEntrySize]
	le.PutUint64(b[0:], uint64(e.start))
	le.PutUint64(b[8:], uint64(e.end))
	le.PutUint64(b[16:], uint64(e.min))
	le.PutUint64(b[24:], uint64(e.max))
	le.PutUint64(b[32:], uint64(e.late))
	le.PutUint32(b[40:], crc32.Checksum(b[:40], castagnoli))
	le.PutUint32(b[44:], 0)
}

func decodeRunEntry(b []byte) (runEntry, bool) {
	b = b[:runEntrySize]
	e := runEntry{start: int64(le.Uint64(b[0:])), end: int64(le.Uint64(b[8:])), min: int64(le.Uint64(b[16:])),
		max: int64(le.Uint64(b[24:])), late: int64(le.Uint64(b[32:]))}
	ok := le.Uint32(b[40:]) == crc32.Checksum(b[:40], castagnoli) && e.start >= 0 && e.end > e.start && e.late >= 0
	return e, ok
}

var errBadRuns = errors.New("history: runs sidecar does not match its file")

// add accounts for record idx, with time t, appended to a tick file whose
// header is h: it extends the open run or, when the record is too far out
// of order for it, closes it (returned, ok true) and opens the next at idx.
// timeAt returns the time of an earlier record of the file.
func (h *header) add(idx, t int64, timeAt func(int64) (int64, error)) (runEntry, bool, error) {
	c := idx - h.runStart // records in the open run before this one
	if c <= 0 {
		h.runStart, h.runMin, h.maxTime, h.maxLate = idx, t, t, 0
		return runEntry{}, false, nil
	}
	if back := satSub(h.prevMax, h.prevLate); c <= lonePast && h.closed > 0 && h.maxTime < back && t >= back {
		// The open run is a few records far older than the run before it,
		// and the stream is back in that run's range: they were lone late
		// reports. Close them as a run of their own, so that the records
		// after them do not inherit their smallest time (which would make
		// queries of the hours between search this run).
		return h.close(idx, t), true, nil
	}
	if m := minRun(h.closed); c >= m && (t < h.maxTime || (c == m && h.maxLate > 0)) {
		// The record minRun back is a cheap estimate of where the record
		// would sort: older than it, the record passes about minRun
		// records or more; a lateness reaching below the run's first
		// record (c == m) means the whole run is out of order.
		p, err := timeAt(idx - m)
		if err != nil {
			return runEntry{}, false, err
		}
		if t < p || (c == m && satSub(h.maxTime, h.maxLate) < p) {
			return h.close(idx, t), true, nil
		}
	}
	if t > h.maxTime {
		h.maxTime = t
	} else if l := satSub(h.maxTime, t); l > h.maxLate {
		h.maxLate = l
	}
	h.runMin = min(h.runMin, t)
	return runEntry{}, false, nil
}

// lonePast is how many records a run opened by late reports may hold and
// still be closed as lone late reports.
const lonePast = 16

// close closes the open run before record idx (time t), which opens the
// next, and returns the closed run.
func (h *header) close(idx, t int64) runEntry {
	e := runEntry{start: h.runStart, end: idx, min: h.runMin, max: h.maxTime, late: h.maxLate}
	h.closed++
	h.prevMax, h.prevLate = h.maxTime, h.maxLate
	h.runStart, h.runMin, h.maxTime, h.maxLate = idx, t, t, 0
	return e
}

// readRuns reads the first n entries of a runs sidecar and checks that
// they tile [0, end): each starts where the one before ended.
func readRuns(f *os.File, k fileKind, n uint32, end int64) ([]runEntry, error) {
	b := make([]byte, headerSize+int(n)*runEntrySize)
	if err := readFull(f, b, 0); err != nil {
		return nil, err
	}
	if _, err := decodeHeader(b, kindRuns); err != nil {
		return nil, err
	}
	out := make([]runEntry, n)
	prev := int64(0)
	for i := range out {
		e, ok := decodeRunEntry(b[headerSize+i*runEntrySize:])
		if !ok || e.start != prev {
			return nil, errBadRuns
		}
		out[i], prev = e, e.end
	}
	if prev != end {
		return nil, errBadRuns
	}
	return out, nil
}

// writeRuns writes entries as entries from, from+1, ... of a runs sidecar,
// with the sidecar's header first when from is 0, and returns the sidecar's
// size after them. Bytes past that size are left (a sidecar is read only up
// to the count in its tick file's header); callers truncate them.
func writeRuns(f *os.File, from uint32, entries []runEntry) (int64, error) {
	off := int64(headerSize) + int64(from)*runEntrySize
	b := make([]byte, 0, headerSize+len(entries)*runEntrySize)
	if from == 0 {
		b = b[:headerSize]
		header{kind: kindRuns}.encode(b)
		off = 0
	}
	for _, e := range entries {
		b = b[:len(b)+runEntrySize]
		e.encode(b[len(b)-runEntrySize:])
	}
	if _, err := f.WriteAt(b, off); err != nil {
		return 0, err
	}
	return off + int64(len(b)), nil
}

// buildRuns computes the runs of a tick file's first count records from the
// records themselves (one read of the file): to upgrade a version 1 file,
// and when a crash or a failed write left a header or sidecar that does not
// match the records.
func buildRuns(f *os.File, k fileKind, count int) (header, []runEntry, error) {
	hdr := header{kind: k}
	var entries []runEntry
	const block = 4096
	buf := make([]byte, block*tickRecSize)
	base, nb := 0, 0
	timeAt := func(i int64) (int64, error) {
		if i >= int64(base) && i < int64(base+nb) {
			return recTime(buf[(int(i)-base)*tickRecSize:]), nil
		}
		var b [8]byte
		if err := readFull(f, b[:], recOff(int(i), tickRecSize)); err != nil {
			return 0, err
		}
		return recTime(b[:]), nil
	}
	for base = 0; base < count; base += nb {
		nb = min(block, count-base)
		if err := readFull(f, buf[:nb*tickRecSize], recOff(base, tickRecSize)); err != nil {
			return hdr, nil, err
		}
		for j := range nb {
			e, closed, err := hdr.add(int64(base+j), recTime(buf[j*tickRecSize:]), timeAt)
			if err != nil {
				return hdr, nil, err
			}
			if closed {
				entries = append(entries, e)
			}
		}
	}
	if count == 0 {
		hdr.runMin, hdr.maxTime = 0, 0
	}
	return hdr, entries, nil
}

// tickRun is a run as a reader sees it: records [a, b), times within
// [min, max] (loose bounds allowed), none more than late below the largest
// time before it in the run.
type tickRun struct {
	a, b     int
	min, max int64
	late     int64
}

// unknownRun covers records whose order is unknown: read whole and sorted.
func unknownRun(a, b int) tickRun {
	return tickRun{a: a, b: b, min: math.MinInt64, max: math.MaxInt64, late: math.MaxInt64}
}

// fileRuns appends to dst the runs of a tick file's first n records, given
// its header (hdrOK false: unreadable, a torn header write) and a reader of
// its runs sidecar. It cannot fail: what it cannot describe it covers by a
// run of unknown order, which is slower to read and still exact.
func fileRuns(dst []tickRun, hdr header, hdrOK bool, n int, sidecar func(closed uint32, end int64) ([]runEntry, error)) []tickRun {
	start := len(dst)
	switch {
	case !hdrOK:
		dst = append(dst, unknownRun(0, n))
	case hdr.v1:
		dst = append(dst, tickRun{a: 0, b: n, min: math.MinInt64, max: hdr.maxTime, late: hdr.maxLate})
	default:
		if hdr.closed > 0 {
			entries, err := sidecar(hdr.closed, hdr.runStart)
			if err != nil {
				dst = append(dst, unknownRun(0, int(min(hdr.runStart, int64(n)))))
			}
			for _, e := range entries {
				dst = append(dst, tickRun{a: int(e.start), b: int(e.end), min: e.min, max: e.max, late: e.late})
			}
		}
		dst = append(dst, tickRun{a: int(min(hdr.runStart, int64(n))), b: n, min: hdr.runMin, max: hdr.maxTime, late: hdr.maxLate})
	}
	// Only the first n records count (the rest, if any, are also in memory).
	out := dst[:start]
	for _, r := range dst[start:] {
		if r.b = min(r.b, n); r.a < r.b {
			out = append(out, r)
		}
	}
	return out
}

// tickRunsState checks a tick file's header and runs sidecar against its
// count records and returns the header. When they do not match (a version
// 1 file, or what a crash or failed write left) it rebuilds them from the
// records and writes them, and why says why. sidecar opens the runs
// sidecar (create: creating it); grew is told how the files' sizes
// changed. Used by the flusher before it appends to a file and by Open's
// repair.
func tickRunsState(f *os.File, k fileKind, count int, sidecar func(create bool) (*os.File, func(), error), grew func(int64)) (hdr header, why string, err error) {
	var hb [headerSize]byte
	if err := readFull(f, hb[:], 0); err != nil {
		return header{}, "", err
	}
	hdr, err = decodeHeader(hb[:], k)
	switch {
	case err != nil:
		why = "bad header"
	case hdr.v1:
		why = "version 1 file"
	case hdr.runStart > int64(count):
		why = "header ahead of the records"
	case hdr.closed > 0:
		rf, done, err := sidecar(false)
		if err == nil {
			_, err = readRuns(rf, kindRuns, hdr.closed, hdr.runStart)
			done()
		}
		if err != nil {
			why = "runs sidecar: " + err.Error()
		}
	}
	if why == "" {
		return hdr, "", nil
	}
	hdr, entries, err := buildRuns(f, k, count)
	if err != nil {
		return header{}, why, fmt.Errorf("history: rebuilding the runs of %s (%s): %w", f.Name(), why, err)
	}
	if len(entries) > 0 {
		rf, done, err := sidecar(true)
		if err != nil {
			return header{}, why, err
		}
		st, err := rf.Stat()
		if err == nil {
			var end int64
			if end, err = writeRuns(rf, 0, entries); err == nil && st.Size() > end {
				err = rf.Truncate(end)
			}
			if err == nil {
				grew(end - st.Size())
			}
		}
		done()
		if err != nil {
			return header{}, why, err
		}
	}
	hdr.encode(hb[:])
	if _, err := f.WriteAt(hb[:], 0); err != nil {
		return header{}, why, err
	}
	return hdr, why, nil
}
