package cluster

import (
	"errors"
	"fmt"
)

// Sentinel errors. Wrapped errors carry details; test with errors.Is.
var (
	// ErrFenced: a writer with a newer epoch has claimed the stream. The
	// writer that gets it must stop: it is no longer the origin.
	ErrFenced = errors.New("cluster: fenced by a newer writer")
	// ErrLeaseLost: the lease was taken over or expired before it could be
	// renewed.
	ErrLeaseLost = errors.New("cluster: lease lost")
	// ErrForeignMessage: a message in the stream lacks Tape's headers
	// (someone else publishes under Tape's prefix).
	ErrForeignMessage = errors.New("cluster: message without Tape headers")
	// ErrBehind: the stream holds records the local journal does not have,
	// so this node cannot continue the sequence; it must catch up as an
	// edge first.
	ErrBehind = errors.New("cluster: local journal behind the stream")
	// ErrDiverged: the local journal and the stream hold different records
	// under the same sequence number (a deposed origin journaled records
	// that never reached the stream). The local journal must be cut back or
	// rebuilt; nothing is done automatically.
	ErrDiverged = errors.New("cluster: local journal diverged from the stream")
	// ErrGap: records the edge needs are no longer in the stream (retention
	// removed them), so it cannot continue without a gap.
	ErrGap = errors.New("cluster: records missing from the stream")
)

// GapError reports records an edge needs that the stream no longer holds:
// Want is the first sequence number the edge needed, Have the first the
// stream could deliver after it. It matches ErrGap.
type GapError struct {
	Want, Have uint64
}

func (e *GapError) Error() string {
	return fmt.Sprintf("cluster: records %d..%d are no longer in the stream (retention removed them)", e.Want, e.Have-1)
}

// Unwrap returns ErrGap.
func (e *GapError) Unwrap() error { return ErrGap }

// SeqError reports a sequence number where the local journal and the
// stream disagree. It wraps ErrBehind or ErrDiverged.
type SeqError struct {
	Seq     uint64 // the sequence number in question
	Journal uint64 // the local journal's last sequence number
	Stream  uint64 // the stream's last record's sequence number
	Err     error  // ErrBehind or ErrDiverged
}

func (e *SeqError) Error() string {
	return fmt.Sprintf("%v at seq %d (journal last %d, stream last %d)", e.Err, e.Seq, e.Journal, e.Stream)
}

// Unwrap returns the cause.
func (e *SeqError) Unwrap() error { return e.Err }
