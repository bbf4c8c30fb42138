package datadir

import (
	"context"
	"errors"
	"fmt"

	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
)

// ErrLocked is wrapped by Lock's error when another process (normally a
// running `tape serve`) holds the directory.
var ErrLocked = errors.New("the data directory is in use")

// Journal is the part of the journal CatchUpHistory reads.
type Journal interface {
	First() uint64
	Last() uint64
	NewReader(from uint64) (journal.Reader, error)
}

// Store is the part of the history store CatchUpHistory feeds.
type Store interface {
	AppliedSeq() uint64
	Apply(events []market.Event)
}

// CatchUpHistory applies to s the journal's records it has not durably
// applied: those after s.AppliedSeq(). The store is derived from the
// journal, so after a crash this replays what it had not flushed; events it
// already holds are ignored by Apply, so an overlap is harmless. It returns
// the first seq it read and how many events it applied (0, 0 when the
// store was up to date).
func CatchUpHistory(ctx context.Context, j Journal, s Store) (from uint64, n int, err error) {
	from = s.AppliedSeq() + 1
	if from > j.Last() {
		return 0, 0, nil
	}
	from = max(from, j.First())
	r, err := j.NewReader(from)
	if err != nil {
		return from, 0, fmt.Errorf("history catch-up: %w", err)
	}
	defer r.Close()
	var in market.Interner
	batch := make([]market.Event, 0, 4096)
	for {
		if ctx.Err() != nil {
			return from, n, ctx.Err()
		}
		rec, ok, err := r.TryNext()
		if err != nil {
			return from, n, fmt.Errorf("history catch-up: %w", err)
		}
		if ok {
			var e market.Event
			e.Seq = rec.Seq
			if err := market.DecodeBinary(rec.Payload, &e, &in); err != nil {
				return from, n, fmt.Errorf("history catch-up: record %d: %w", rec.Seq, err)
			}
			batch = append(batch, e)
		}
		if len(batch) == cap(batch) || (!ok && len(batch) > 0) {
			s.Apply(batch)
			n += len(batch)
			batch = batch[:0]
		}
		if !ok {
			return from, n, nil
		}
	}
}
