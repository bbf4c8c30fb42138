package journal

import (
	"context"
	"sync"
	"time"
)

// Record is one journal entry. Payload belongs to the reader that returned
// it: it stays valid until that reader's next call and must not be modified.
type Record struct {
	Seq     uint64
	TS      int64 // event time, ns since the Unix epoch
	Payload []byte
}

// Journal is what File and Memory both implement, and what the shared test
// suite runs against (style habit 8). The ingest goroutine is the only
// caller of Append and Commit; every other method is safe for concurrent
// use.
type Journal interface {
	// Append adds a record. seq must be Last()+1 (any seq >= 1 for an empty,
	// new journal). The payload is copied; the caller may reuse it at once.
	// Append does not block unless the group-commit buffer is full.
	Append(seq uint64, ts int64, payload []byte) error
	// Commit hands everything appended so far to the flusher. It never
	// blocks; the ingest loop calls it once per batch.
	Commit()
	// Sync commits and waits until everything appended so far is fsynced,
	// whatever the policy.
	Sync(ctx context.Context) error

	// Written is the highest seq handed to the operating system: it survives
	// a crash of the process (kill -9). Readers see records up to it.
	Written() uint64
	// Synced is the highest seq fsynced: it survives a crash of the machine.
	Synced() uint64
	// WaitWritten waits until Written() >= seq.
	WaitWritten(ctx context.Context, seq uint64) error
	// WaitSynced waits until Synced() >= seq. Under FsyncNever this takes a
	// segment seal, Sync or Close.
	WaitSynced(ctx context.Context, seq uint64) error

	// First is the oldest retained seq; 0 when the journal holds no record.
	First() uint64
	// Last is the newest appended seq (Written or not); 0 if none ever was.
	// After a restart the sequencer continues at Last()+1.
	Last() uint64

	// NewReader returns a reader of the records with seq >= from (0: from the
	// oldest retained). It fails with ErrPruned if from is older than that.
	NewReader(from uint64) (Reader, error)
	// SeekTime returns the smallest seq s such that every retained record
	// before s has ts < t: the first record (in sequence order) with ts >= t,
	// or Written()+1 if no written record has one. Records after s may still
	// have ts < t (late trades); time filters must check each record.
	SeekTime(t int64) (uint64, error)

	// Prune applies MaxAge and MaxBytes now, deleting whole sealed segments
	// from the oldest, never the active one. It returns how many it deleted.
	// The journal also prunes by itself each time it seals a segment.
	Prune() (int, error)

	// Close flushes, fsyncs and releases everything. It is idempotent.
	// Readers keep delivering what was written, then return ErrClosed.
	Close() error
}

// Reader iterates records in sequence order, across segments. A reader is
// not safe for concurrent use; open one per consumer.
type Reader interface {
	// Next returns the next record, waiting for it to be written if needed
	// (tailing). It returns ctx.Err() when ctx ends, ErrClosed when the
	// journal is closed and the reader has caught up, and a *CorruptionErr
	// (never garbage) on damaged data. After an error other than ctx's the
	// reader is done.
	Next(ctx context.Context) (Record, error)
	// TryNext is Next without waiting: ok is false when the reader has caught
	// up with Written().
	TryNext() (rec Record, ok bool, err error)
	// Close releases the reader's file handle.
	Close() error
}

// OpenReport says what Open found and what it repaired.
type OpenReport struct {
	Segments           int    // segment files in use after repair
	First, Last        uint64 // as First() and Last() after repair
	LastSegment        string // path of the active segment ("" if none)
	LastSegmentRecords int    // valid records in it
	// Truncated is how many bytes were cut: the invalid tail of the last
	// segment plus the size of any removed last-segment files.
	Truncated int64
	// TruncatedAt is the offset in LastSegment where the tail was cut, or -1.
	TruncatedAt int64
	// Reason is the cause of the first cut (the newest damage); Detail says
	// more, for logs.
	Reason Reason
	Detail string
	// Removed lists last-segment files deleted because they were empty or had
	// a bad header; Quarantined lists older segments renamed to *.broken by
	// KeepTail.
	Removed     []string
	Quarantined []string
	// Duration is how long Open took, repair included.
	Duration time.Duration
}

// notifier is a broadcast: waiters take the current channel, an event closes
// it. It allocates only when someone waits, so the flusher's steady state
// stays allocation-free.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) broadcast() {
	n.mu.Lock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
	n.mu.Unlock()
}

// waitFor blocks until cond() holds, stop() returns an error, or ctx ends.
// cond is checked after taking the channel, so no event is missed.
func waitFor(ctx context.Context, n *notifier, cond func() bool, stop func() error) error {
	for {
		c := n.wait()
		if cond() {
			return nil
		}
		if err := stop(); err != nil {
			return err
		}
		select {
		case <-c:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
