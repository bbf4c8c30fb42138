package journal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
)

// The on-disk format, byte by byte, is in docs/journal-format.md; keep the
// two in step. All integers are little-endian.

const (
	// segMagic opens every segment file.
	segMagic = "TAPJ"
	// formatVersion is bumped on any incompatible change to the layout.
	formatVersion = 1
	// segHeaderSize is the size of the segment header (version 1).
	segHeaderSize = 48
	// recHeaderSize is the size of a record header: crc, length, seq, ts.
	recHeaderSize = 24
	// MaxPayload is the largest payload Append accepts. Market events are
	// 40-120 bytes; the bound exists so a corrupt length field can never make
	// a reader allocate gigabytes.
	MaxPayload = 4 << 20

	// Sparse index spacing: an entry every indexEvery records or indexBytes
	// bytes, whichever comes first, so positioning scans at most ~4096
	// records or 64 KiB.
	indexEvery = 4096
	indexBytes = 64 << 10

	segSuffix  = ".seg"
	segNameLen = 20 + len(segSuffix)
)

// castagnoli is the CRC32-C table; Go uses the SSE4.2/ARMv8 instruction.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var le = binary.LittleEndian

// segHeader is the decoded segment header. Besides identifying the file it
// carries three facts about the records *before* the segment, which let Open
// check the chain and let retention and SeekTime work without scanning
// sealed segments:
//   - prevFirst: first seq of the previous segment (0 for none) - a missing
//     segment shows up as a mismatch with the previous file's name;
//   - maxTsBefore: the largest event time of every record before this
//     segment (math.MinInt64 for none) - monotone over segments, so SeekTime
//     can binary-search segments;
//   - prevLastTs: the event time of record first-1, the last record of the
//     previous segment - what MaxAge retention judges that segment by.
type segHeader struct {
	first       uint64
	prevFirst   uint64
	maxTsBefore int64
	prevLastTs  int64
}

func (h *segHeader) encode(b []byte) {
	_ = b[segHeaderSize-1]
	copy(b[0:4], segMagic)
	b[4] = formatVersion
	b[5] = 0 // flags, none defined
	le.PutUint16(b[6:], segHeaderSize)
	le.PutUint64(b[8:], h.first)
	le.PutUint64(b[16:], h.prevFirst)
	le.PutUint64(b[24:], uint64(h.maxTsBefore))
	le.PutUint64(b[32:], uint64(h.prevLastTs))
	le.PutUint32(b[40:], 0) // reserved
	le.PutUint32(b[44:], crc32.Checksum(b[:44], castagnoli))
}

func decodeSegHeader(b []byte) (segHeader, error) {
	if len(b) < segHeaderSize {
		return segHeader{}, fmt.Errorf("%w: %d bytes, want %d", ErrBadHeader, len(b), segHeaderSize)
	}
	if string(b[0:4]) != segMagic {
		return segHeader{}, fmt.Errorf("%w: magic %q", ErrBadHeader, b[0:4])
	}
	if got, want := le.Uint32(b[44:]), crc32.Checksum(b[:44], castagnoli); got != want {
		return segHeader{}, fmt.Errorf("%w: checksum %08x, want %08x", ErrBadHeader, got, want)
	}
	// Version and length are checked after the CRC: a header that passes the
	// CRC but has another version was written by another format revision.
	if b[4] != formatVersion || le.Uint16(b[6:]) != segHeaderSize {
		return segHeader{}, fmt.Errorf("%w: unsupported version %d (header %d bytes)", ErrBadHeader, b[4], le.Uint16(b[6:]))
	}
	h := segHeader{
		first:       le.Uint64(b[8:]),
		prevFirst:   le.Uint64(b[16:]),
		maxTsBefore: int64(le.Uint64(b[24:])),
		prevLastTs:  int64(le.Uint64(b[32:])),
	}
	if h.first == 0 {
		return segHeader{}, fmt.Errorf("%w: first seq 0", ErrBadHeader)
	}
	return h, nil
}

// putRecord encodes one record into b, which must be exactly
// recHeaderSize+len(payload) bytes. The CRC covers everything after itself.
func putRecord(b []byte, seq uint64, ts int64, payload []byte) {
	le.PutUint32(b[4:], uint32(len(payload)))
	le.PutUint64(b[8:], seq)
	le.PutUint64(b[16:], uint64(ts))
	copy(b[recHeaderSize:], payload)
	le.PutUint32(b[0:], crc32.Checksum(b[4:], castagnoli))
}

// segmentName is the file name of the segment whose first record is first:
// 20 decimal digits, so lexical order is numeric order.
func segmentName(first uint64) string {
	return fmt.Sprintf("%020d%s", first, segSuffix)
}

// parseSegmentName returns the first seq encoded in a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	if len(name) != segNameLen || !strings.HasSuffix(name, segSuffix) {
		return 0, false
	}
	n, err := strconv.ParseUint(name[:20], 10, 64)
	if err != nil || n == 0 {
		return 0, false
	}
	return n, true
}

func segmentPath(dir string, first uint64) string {
	return filepath.Join(dir, segmentName(first))
}

// indexEntry is one point of the sparse index: the record seq starts at byte
// off of its segment, and every record before it (in the whole journal, as
// written, including records since deleted) has ts <= maxBefore.
type indexEntry struct {
	seq       uint64
	off       int64
	maxBefore int64
}

// indexer decides where index points go. The writer and the scanner share
// it, so an index rebuilt from disk equals the one built while appending.
type indexer struct {
	has   bool  // the segment has at least one entry
	recs  int   // records since the last entry
	bytes int64 // bytes since the last entry
}

func (x *indexer) due() bool {
	return !x.has || x.recs >= indexEvery || x.bytes >= indexBytes
}

func (x *indexer) mark() { x.has, x.recs, x.bytes = true, 0, 0 }

func (x *indexer) add(size int) { x.recs++; x.bytes += int64(size) }

// Reason says why Open cut the tail of the journal.
type Reason uint8

const (
	// ReasonNone: the tail was clean; nothing was cut.
	ReasonNone Reason = iota
	// ReasonTorn: the file ends inside a record (a write cut short).
	ReasonTorn
	// ReasonChecksum: a record fails its CRC or has an impossible length.
	ReasonChecksum
	// ReasonZeroTail: from the cut to the end of the file every byte is zero
	// (space allocated by the file system but never written, after a crash).
	ReasonZeroTail
	// ReasonSequence: a record with a valid CRC carries the wrong seq.
	ReasonSequence
	// ReasonBadHeader: the last segment's header is invalid; the file was
	// removed (or reset when it was the only segment).
	ReasonBadHeader
	// ReasonEmptySegment: the last segment file is shorter than a header (a
	// crash right after it was created); it was removed.
	ReasonEmptySegment
)

var reasonNames = [...]string{"none", "torn", "checksum", "zero-tail", "sequence", "bad-header", "empty-segment"}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// chunkReader serves byte ranges of a file through one reusable buffer, for
// sequential scans.
type chunkReader struct {
	r    io.ReaderAt
	size int64
	buf  []byte
	off  int64 // file offset of buf[0]
	n    int   // valid bytes in buf
}

// bytes returns file[pos:pos+k], or ok=false if the file is shorter.
func (c *chunkReader) bytes(pos int64, k int) ([]byte, bool, error) {
	if pos+int64(k) > c.size {
		return nil, false, nil
	}
	if pos >= c.off && pos+int64(k) <= c.off+int64(c.n) {
		s := pos - c.off
		return c.buf[s : s+int64(k)], true, nil
	}
	if k > len(c.buf) {
		c.buf = make([]byte, max(k, 2*len(c.buf)))
	}
	want := int(min(int64(len(c.buf)), c.size-pos))
	n, err := c.r.ReadAt(c.buf[:want], pos)
	if n < k {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF // the file shrank under us
		}
		return nil, false, err
	}
	c.off, c.n = pos, n
	return c.buf[:k], true, nil
}

// scanResult describes the valid prefix of a segment.
type scanResult struct {
	end    int64  // offset just past the last valid record
	count  int    // valid records
	last   uint64 // seq of the last valid record; first-1 if none
	maxTs  int64  // largest ts among them; MinInt64 if none
	lastTs int64  // ts of the last one; the header's prevLastTs if none
	index  []indexEntry
	ix     indexer // index state after the last valid record

	reason Reason // why the scan stopped before the end of the file
	cause  error  // detail for reason, wrapping a cause sentinel
}

// scanSegment validates the records of a segment from the end of its header
// and stops at the first bad one. It is the repair scan of Open and the lazy
// index build for sealed segments. It reads sequentially through a 1 MiB
// buffer and allocates nothing per record. A non-nil error is an I/O error;
// damage is reported in the result.
func scanSegment(r io.ReaderAt, size int64, hdr segHeader) (scanResult, error) {
	res := scanResult{end: segHeaderSize, last: hdr.first - 1, maxTs: math.MinInt64, lastTs: hdr.prevLastTs}
	running := hdr.maxTsBefore // max ts of everything before the next record
	c := chunkReader{r: r, size: size, buf: make([]byte, 1<<20)}
	off := int64(segHeaderSize)
	expect := hdr.first
	stop := func(reason Reason, cause error) {
		res.reason, res.cause = reason, cause
	}
	for off < size {
		h, ok, err := c.bytes(off, recHeaderSize)
		if err != nil {
			return res, err
		}
		if !ok {
			stop(ReasonTorn, fmt.Errorf("%w: %d bytes left, record header needs %d", ErrTorn, size-off, recHeaderSize))
			break
		}
		n := int(le.Uint32(h[4:]))
		if n > MaxPayload {
			stop(ReasonChecksum, fmt.Errorf("%w: length %d over the %d limit", ErrChecksum, n, MaxPayload))
			break
		}
		rec, ok, err := c.bytes(off, recHeaderSize+n)
		if err != nil {
			return res, err
		}
		if !ok {
			stop(ReasonTorn, fmt.Errorf("%w: record of %d bytes, %d left", ErrTorn, recHeaderSize+n, size-off))
			break
		}
		if got, want := le.Uint32(rec), crc32.Checksum(rec[4:], castagnoli); got != want {
			stop(ReasonChecksum, fmt.Errorf("%w: %08x, want %08x", ErrChecksum, got, want))
			break
		}
		if seq := le.Uint64(rec[8:]); seq != expect {
			stop(ReasonSequence, fmt.Errorf("%w: seq %d, want %d", ErrSequence, seq, expect))
			break
		}
		ts := int64(le.Uint64(rec[16:]))
		if res.ix.due() {
			res.index = append(res.index, indexEntry{seq: expect, off: off, maxBefore: running})
			res.ix.mark()
		}
		res.ix.add(recHeaderSize + n)
		running = max(running, ts)
		res.maxTs = max(res.maxTs, ts)
		res.lastTs = ts
		res.last = expect
		res.count++
		expect++
		off += int64(recHeaderSize + n)
		res.end = off
	}
	if res.reason != ReasonNone {
		zero, err := allZero(r, off, size)
		if err != nil {
			return res, err
		}
		if zero {
			res.reason = ReasonZeroTail
		}
	}
	return res, nil
}

// allZero reports whether file[from:to] holds only zero bytes.
func allZero(r io.ReaderAt, from, to int64) (bool, error) {
	buf := make([]byte, 64<<10)
	for from < to {
		k := int(min(int64(len(buf)), to-from))
		n, err := r.ReadAt(buf[:k], from)
		for _, c := range buf[:n] {
			if c != 0 {
				return false, nil
			}
		}
		if n < k {
			if err == nil || err == io.EOF {
				return true, nil // shrank: what we saw was zero
			}
			return false, err
		}
		from += int64(n)
	}
	return true, nil
}
