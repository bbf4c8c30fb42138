package journal

import (
	"errors"
	"fmt"
)

// Sentinel errors. Wrapped errors carry details; test with errors.Is.
var (
	// ErrClosed is returned by calls on a closed journal, and by readers once
	// they have delivered every record written before Close.
	ErrClosed = errors.New("journal: closed")
	// ErrOutOfOrder is returned by Append when seq is 0 or not above Last().
	ErrOutOfOrder = errors.New("journal: sequence number not above the last one")
	// ErrSeqGap is returned by Append when seq skips past Last()+1. The
	// sequencer hands out contiguous numbers; a gap means a bug upstream, and
	// accepting it would make "read from N" ambiguous.
	ErrSeqGap = errors.New("journal: sequence number skips ahead")
	// ErrTooLarge is returned by Append for a payload over MaxPayload bytes.
	ErrTooLarge = errors.New("journal: payload too large")
	// ErrPruned is returned when a reader asks for records that retention
	// (or repair) has removed. Resume clients must treat it as a gap.
	ErrPruned = errors.New("journal: records no longer retained")

	// The causes inside a CorruptionErr.

	// ErrChecksum: a record's CRC does not match, or its header is impossible.
	ErrChecksum = errors.New("journal: bad record checksum")
	// ErrTorn: a record or segment ends before its declared length.
	ErrTorn = errors.New("journal: torn record")
	// ErrSequence: a record carries a valid checksum but not the next seq.
	ErrSequence = errors.New("journal: record out of sequence")
	// ErrBadHeader: a segment header has a wrong magic, version, checksum or
	// first sequence number.
	ErrBadHeader = errors.New("journal: bad segment header")
	// ErrMissingSegment: the chain of segments has a hole (a segment file in
	// the middle is gone), found at Open from the segment headers.
	ErrMissingSegment = errors.New("journal: missing segment")
)

// CorruptionErr reports damage found in a segment file: which file, where,
// and why (one of the cause sentinels above, possibly wrapped with detail).
// It mirrors prometheus tsdb/wlog's CorruptionErr.
type CorruptionErr struct {
	Segment string // path of the segment file
	Offset  int64  // byte offset of the bad record or header in that file
	Err     error  // the cause; errors.Is(err, ErrChecksum) etc. sees through
}

func (e *CorruptionErr) Error() string {
	return fmt.Sprintf("journal: corruption in segment %s at offset %d: %v", e.Segment, e.Offset, e.Err)
}

// Unwrap returns the cause.
func (e *CorruptionErr) Unwrap() error { return e.Err }
