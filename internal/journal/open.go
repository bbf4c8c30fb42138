package journal

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"
)

// Open opens (creating it if needed) the journal in dir, repairs a torn tail
// and starts the flusher.
//
// Open reads only what it must: the directory listing, the 48-byte header of
// every segment, and the whole of the last segment, which is the only one a
// crash can leave torn (a segment is fsynced before the next one is
// created). Its cost is therefore one segment scan plus a header read per
// segment, whatever the journal's length. See docs/journal-format.md for the
// repair algorithm.
//
// A hole in the middle (a missing segment, a bad header in an older segment)
// is not something a crash produces, so Open refuses with a *CorruptionErr
// and changes nothing, unless Options.KeepTail asks it to keep the
// contiguous tail and quarantine the rest.
func Open(dir string, opts Options) (*File, error) {
	start := time.Now()
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	j := &File{
		dir:    dir,
		opts:   opts,
		log:    opts.Logger,
		cur:    newBuffer(opts.BufferBytes),
		maxTs:  math.MinInt64,
		lastTs: math.MinInt64,
		kick:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	j.space.L = &j.mu
	rep := OpenReport{TruncatedAt: -1}
	if err := j.recover(&rep); err != nil {
		if j.file != nil {
			j.file.Close()
		}
		return nil, err
	}
	rep.Segments = len(j.segs)
	rep.First, rep.Last = j.First(), j.Last()
	rep.Duration = time.Since(start)
	j.report = rep
	attrs := []any{"dir", dir, "segments", rep.Segments, "first", rep.First, "last", rep.Last,
		"last_segment_records", rep.LastSegmentRecords, "duration", rep.Duration}
	if rep.Reason != ReasonNone || len(rep.Quarantined) > 0 {
		j.log.Warn("journal: opened with repair", append(attrs, "truncated_bytes", rep.Truncated,
			"reason", rep.Reason.String(), "detail", rep.Detail, "removed", rep.Removed, "quarantined", rep.Quarantined)...)
	} else {
		j.log.Debug("journal: opened", attrs...)
	}
	go j.flushLoop()
	return j, nil
}

// recover rebuilds the journal state from dir. See Open.
func (j *File) recover(rep *OpenReport) error {
	ents, err := os.ReadDir(j.dir)
	if err != nil {
		return err
	}
	var firsts []uint64
	for _, e := range ents {
		if f, ok := parseSegmentName(e.Name()); ok && e.Type().IsRegular() {
			firsts = append(firsts, f)
		}
	}
	slices.Sort(firsts)
	dirChanged := false
	var details []string
	cut := func(reason Reason, cause error, n int64, path string) {
		if rep.Reason == ReasonNone {
			rep.Reason = reason
		}
		rep.Truncated += n
		details = append(details, fmt.Sprintf("%s: %v", path, cause))
	}
	defer func() { rep.Detail = strings.Join(details, "; ") }()

	// 1. The last segment must at least have a valid header. A crash between
	// creating a segment and writing its header leaves an empty or short
	// file: remove it and fall back to the previous segment, which is then
	// scanned as the last one.
	var lastHdr segHeader
	var lastSize int64
	for len(firsts) > 0 {
		first := firsts[len(firsts)-1]
		path := segmentPath(j.dir, first)
		hdr, size, reason, cause, err := readSegHeader(path, first)
		if err != nil {
			return err
		}
		if reason == ReasonNone {
			lastHdr, lastSize = hdr, size
			break
		}
		cut(reason, cause, size, path)
		if len(firsts) > 1 {
			if err := os.Remove(path); err != nil {
				return err
			}
			rep.Removed = append(rep.Removed, path)
			firsts = firsts[:len(firsts)-1]
			dirChanged = true
			continue
		}
		// The only segment: keep its place in the sequence (the name) with a
		// fresh header, so the sequencer does not restart from 1 and reuse
		// numbers clients may have seen.
		lastHdr = segHeader{first: first, maxTsBefore: math.MinInt64, prevLastTs: math.MinInt64}
		if err := j.resetSegment(path, lastHdr); err != nil {
			return err
		}
		rep.TruncatedAt = 0
		lastSize = segHeaderSize
		break
	}
	if len(firsts) == 0 {
		return nil // a new journal; the first Append creates a segment
	}

	// 2. The chain of older segments, from their headers alone: each must be
	// valid and name its predecessor. Keep the last break: the tail after it
	// is contiguous.
	n := len(firsts)
	segs := make([]*segment, 0, n)
	tail := 0 // index of the first segment of the contiguous tail
	var firstBreak error
	brk := func(err error, at int) {
		if firstBreak == nil {
			firstBreak = err
		}
		tail = at
	}
	for i, first := range firsts {
		path := segmentPath(j.dir, first)
		s := &segment{first: first, path: path}
		hdr := lastHdr
		if i < n-1 {
			h, size, reason, cause, err := readSegHeader(path, first)
			if err != nil {
				return err
			}
			s.size.Store(size)
			s.sealed.Store(true)
			if reason != ReasonNone {
				brk(&CorruptionErr{Segment: path, Offset: 0, Err: cause}, i+1)
				segs = append(segs, s)
				continue
			}
			hdr = h
		}
		s.hdr = hdr
		if i > 0 && hdr.prevFirst != firsts[i-1] {
			brk(&CorruptionErr{Segment: path, Offset: 0, Err: fmt.Errorf(
				"%w: %s follows %s, but its header says the previous segment starts at seq %d",
				ErrMissingSegment, segmentName(first), segmentName(firsts[i-1]), hdr.prevFirst)}, i)
		}
		segs = append(segs, s)
	}
	if firstBreak != nil {
		if !j.opts.KeepTail {
			return firstBreak
		}
		for _, s := range segs[:tail] {
			if err := os.Rename(s.path, s.path+".broken"); err != nil {
				return err
			}
			rep.Quarantined = append(rep.Quarantined, s.path)
		}
		dirChanged = true
		j.log.Error("journal: broken segment chain; kept the contiguous tail", "err", firstBreak,
			"quarantined", rep.Quarantined)
		segs = segs[tail:]
	}

	// 3. Scan the last segment fully and cut it at the first bad record.
	ls := segs[len(segs)-1]
	f, err := os.OpenFile(ls.path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := scanSegment(f, lastSize, lastHdr)
	if err != nil {
		return err
	}
	if res.end < lastSize {
		cut(res.reason, res.cause, lastSize-res.end, ls.path)
		rep.TruncatedAt = res.end
		if err := f.Truncate(res.end); err != nil {
			return err
		}
	}
	// Whatever survived is made durable now, so Synced() == Last() holds
	// from the start (a killed process may have left data only in the page
	// cache).
	if err := j.fsync(f); err != nil {
		return err
	}
	if dirChanged {
		if err := j.syncDir(); err != nil {
			return err
		}
	}
	af, err := os.OpenFile(ls.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}

	ls.size.Store(res.end)
	ls.idx, ls.idxBuilt = res.index, true
	j.segs = segs
	j.file, j.fseg = af, ls
	j.wseg, j.segSize, j.segRecs, j.ix = ls, res.end, res.count, res.ix
	j.maxTs = max(lastHdr.maxTsBefore, res.maxTs)
	j.lastTs = res.lastTs
	j.last = res.last
	j.written.Store(res.last)
	j.synced.Store(res.last)
	rep.LastSegment = ls.path
	rep.LastSegmentRecords = res.count
	return nil
}

// readSegHeader reads and checks the header of the segment file named for
// first. Damage comes back as a reason and cause; err is for I/O failures.
func readSegHeader(path string, first uint64) (h segHeader, size int64, reason Reason, cause, err error) {
	f, err := os.Open(path)
	if err != nil {
		return h, 0, 0, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return h, 0, 0, nil, err
	}
	size = fi.Size()
	switch {
	case size == 0:
		return h, size, ReasonEmptySegment, fmt.Errorf("%w: empty segment file", ErrTorn), nil
	case size < segHeaderSize:
		return h, size, ReasonTorn, fmt.Errorf("%w: segment header cut short at %d bytes", ErrTorn, size), nil
	}
	var buf [segHeaderSize]byte
	if _, err := f.ReadAt(buf[:], 0); err != nil {
		return h, size, 0, nil, err
	}
	h, derr := decodeSegHeader(buf[:])
	if derr != nil {
		return h, size, ReasonBadHeader, derr, nil
	}
	if h.first != first {
		return h, size, ReasonBadHeader, fmt.Errorf("%w: header says first seq %d, file name %d", ErrBadHeader, h.first, first), nil
	}
	return h, size, ReasonNone, nil, nil
}

// resetSegment rewrites path as a header-only segment.
func (j *File) resetSegment(path string, h segHeader) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	var buf [segHeaderSize]byte
	h.encode(buf[:])
	_, err = f.Write(buf[:])
	if err == nil {
		err = j.fsync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
