package journal

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
)

// readerBufSize is the read-ahead of a file reader: big enough that the
// per-syscall cost vanishes, small enough for thousands of resuming clients.
const readerBufSize = 256 << 10

// fileReader reads records through its own file handle and buffer, with no
// lock on the hot path: the only shared state it touches per record is the
// Written watermark (an atomic load).
//
// Never seeing a partial record rests on one rule: bytes are trusted only
// for records with seq <= valid, where valid is the Written watermark loaded
// *before* the read that fetched them. Those records were completely in the
// file before the read began. Anything newer is re-read after Written moves.
type fileReader struct {
	j    *File
	from uint64 // records below from are skipped (positioning)
	at   uint64 // seq of the record at the read position

	seg       *segment
	f         *os.File
	nextFirst uint64 // first seq of the following segment; 0 while unknown

	buf    []byte
	bufOff int64 // file offset of buf[0]
	rp, w  int   // parse position and end of valid bytes in buf
	valid  uint64

	err error // sticky
}

// NewReader implements Journal.
func (j *File) NewReader(from uint64) (Reader, error) {
	if j.stopped.Load() {
		return nil, ErrClosed
	}
	first, last := j.First(), j.Last()
	switch {
	case from == 0 && first != 0:
		from = first
	case from == 0:
		from = last + 1 // empty: tail from the next record
	case first != 0 && from < first, first == 0 && from <= last:
		return nil, fmt.Errorf("%w: seq %d, oldest retained %d", ErrPruned, from, first)
	}
	return j.newReader(from, readerBufSize), nil
}

func (j *File) newReader(from uint64, bufSize int) *fileReader {
	return &fileReader{j: j, from: from, at: from, buf: make([]byte, bufSize)}
}

// Next implements Reader.
func (r *fileReader) Next(ctx context.Context) (Record, error) {
	for {
		rec, ok, err := r.TryNext()
		if ok || err != nil {
			return rec, err
		}
		c := r.j.adv.wait()
		if r.at <= r.j.written.Load() {
			continue
		}
		if err := r.j.stopErr(); err != nil {
			return Record{}, err
		}
		select {
		case <-c:
		case <-ctx.Done():
			return Record{}, ctx.Err()
		}
	}
}

// TryNext implements Reader.
func (r *fileReader) TryNext() (Record, bool, error) {
	if r.err != nil {
		return Record{}, false, r.err
	}
	rec, ok, err := r.read()
	if err != nil {
		r.err = err
		r.closeFile()
	}
	return rec, ok, err
}

func (r *fileReader) read() (Record, bool, error) {
	for {
		if r.at > r.j.written.Load() {
			return Record{}, false, nil
		}
		if r.f == nil || (r.nextFirst != 0 && r.at >= r.nextFirst) {
			if err := r.openSegment(); err != nil {
				return Record{}, false, err
			}
		}
		rec, ok, err := r.parse()
		if err != nil {
			return Record{}, false, err
		}
		if !ok {
			// Written covers r.at but the file has no such record: either the
			// writer has started a new segment since this one was opened, or
			// the file is damaged.
			if err := r.nextSegment(); err != nil {
				return Record{}, false, err
			}
			continue
		}
		if rec.Seq >= r.from {
			return rec, true, nil
		}
	}
}

// openSegment opens the segment holding r.at and positions the reader on
// it, using the sparse index when r.at is inside the segment.
func (r *fileReader) openSegment() error {
	r.closeFile()
	s, next := r.j.segmentFor(r.at)
	if s == nil {
		return fmt.Errorf("%w: seq %d", ErrPruned, r.at)
	}
	f, err := os.Open(s.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// Retention removed it between the lookup and the open.
			return fmt.Errorf("%w: seq %d (%s)", ErrPruned, r.at, s.path)
		}
		return err
	}
	var hb [segHeaderSize]byte
	if _, err := f.ReadAt(hb[:], 0); err != nil && err != io.EOF {
		f.Close()
		return err
	}
	if h, err := decodeSegHeader(hb[:]); err != nil || h.first != s.first {
		f.Close()
		if err == nil {
			err = fmt.Errorf("%w: header says first seq %d", ErrBadHeader, h.first)
		}
		return &CorruptionErr{Segment: s.path, Offset: 0, Err: err}
	}
	off, at := int64(segHeaderSize), s.first
	if r.at > s.first {
		e, err := s.lookup(r.at)
		if err != nil {
			f.Close()
			return err
		}
		off, at = e.off, e.seq
	}
	r.seg, r.f, r.nextFirst = s, f, next
	r.bufOff, r.rp, r.w, r.valid, r.at = off, 0, 0, 0, at
	return nil
}

// nextSegment handles the end of the current file: fine if the next
// segment starts exactly at r.at, corruption otherwise.
func (r *fileReader) nextSegment() error {
	if s, _ := r.j.segmentFor(r.at); s != nil && s != r.seg && s.first == r.at {
		r.nextFirst = r.at // openSegment on the next round
		return nil
	} else if s == nil {
		return fmt.Errorf("%w: seq %d", ErrPruned, r.at)
	}
	return &CorruptionErr{Segment: r.seg.path, Offset: r.bufOff + int64(r.rp),
		Err: fmt.Errorf("%w: segment ends before seq %d", ErrTorn, r.at)}
}

// parse decodes the record at the read position. ok is false when the file
// holds no (complete) record there.
func (r *fileReader) parse() (Record, bool, error) {
	filled := false
	if r.at > r.valid {
		if err := r.fill(); err != nil {
			return Record{}, false, err
		}
		filled = true
	}
	for {
		need := recHeaderSize
		if avail := r.w - r.rp; avail >= recHeaderSize {
			h := r.buf[r.rp:r.w]
			n := int(le.Uint32(h[4:]))
			if n > MaxPayload {
				return Record{}, false, r.corrupt(fmt.Errorf("%w: length %d over the %d limit", ErrChecksum, n, MaxPayload))
			}
			need = recHeaderSize + n
			if avail >= need {
				rec := h[:need:need]
				if got, want := le.Uint32(rec), crc32.Checksum(rec[4:], castagnoli); got != want {
					return Record{}, false, r.corrupt(fmt.Errorf("%w: %08x, want %08x", ErrChecksum, got, want))
				}
				if seq := le.Uint64(rec[8:]); seq != r.at {
					return Record{}, false, r.corrupt(fmt.Errorf("%w: seq %d, want %d", ErrSequence, seq, r.at))
				}
				r.rp += need
				r.at++
				return Record{Seq: r.at - 1, TS: int64(le.Uint64(rec[16:])), Payload: rec[recHeaderSize:]}, true, nil
			}
		}
		// A fill that stopped short of a full buffer reached the end of file.
		if filled && r.w < len(r.buf) {
			return Record{}, false, nil
		}
		if need > len(r.buf) {
			r.buf = make([]byte, need) // a record larger than the read-ahead
		}
		if err := r.fill(); err != nil {
			return Record{}, false, err
		}
		filled = true
	}
}

// fill re-reads the buffer from the read position. It always starts afresh
// at the current record, so no byte fetched before valid advanced is reused.
func (r *fileReader) fill() error {
	r.valid = r.j.written.Load()
	r.bufOff += int64(r.rp)
	r.rp, r.w = 0, 0
	n, err := r.f.ReadAt(r.buf, r.bufOff)
	if err != nil && err != io.EOF {
		return err
	}
	r.w = n
	return nil
}

func (r *fileReader) corrupt(err error) error {
	return &CorruptionErr{Segment: r.seg.path, Offset: r.bufOff + int64(r.rp), Err: err}
}

func (r *fileReader) closeFile() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// Close implements Reader.
func (r *fileReader) Close() error {
	r.closeFile()
	if r.err == nil {
		r.err = ErrClosed
	}
	return nil
}
