// Package journal is Tape's durable capture (PRODUCT.md F6): an append-only
// log of sequenced records, (seq, event time, payload), that the ingest
// goroutine writes and that replay, history, resume and tailing readers read.
// It does not know what a payload means.
//
// # Model
//
// One goroutine, the sequencer in the ingest loop, numbers events 1, 2, 3…
// and calls Append for each and Commit once per batch. Append copies the
// record into an in-memory group-commit buffer and returns; it blocks only
// when that buffer is full while the other one is still being written
// (back-pressure, never loss). A background flusher owned by the journal
// takes the filled buffer, so Append carries on in the other one (double
// buffering), write()s it to the active segment file, fsyncs according to
// the policy and then advances two watermarks:
//
//   - Written(): the highest seq handed to the operating system. It survives
//     a crash of the process (kill -9, panic, OOM kill), because the kernel
//     owns the bytes from then on. Readers see records up to Written, and
//     never a partial one.
//   - Synced(): the highest seq fsynced. It survives a crash of the machine
//     (power loss, kernel panic).
//
// Synced <= Written <= Last. Commit never blocks; callers that must know a
// record is durable wait with WaitWritten or WaitSynced, or call Sync.
//
// # Guarantees and loss windows
//
// On a process crash nothing Written is lost, whatever the policy. What can
// be lost is what was appended but not yet Written: at most the two buffers
// (2 x BufferBytes), in time the records committed during the flusher's last
// cycle (one write, plus one fsync under always).
//
// On power loss, by FsyncPolicy:
//
//   - always: nothing Synced is lost. Each write is fsynced before Synced
//     moves over it; commits that arrive during an fsync are written and
//     fsynced together by the next one (group commit), so the cost is one
//     fsync per flush, not per batch. Lost at most: records committed in the
//     last two flush cycles, none of which were reported Synced.
//   - interval=d (the default, d = 100ms): written data is fsynced at most
//     once per d and no later than d after it was written, so the loss is at
//     most the records committed in the last d plus two flush cycles (a few
//     milliseconds on a healthy disk).
//   - never: the journal leaves write-back to the kernel (Linux writes dirty
//     pages back after about 30 s by default), but still fsyncs every
//     segment it seals and on Sync and Close. The loss is bounded only by
//     the kernel: up to everything since the last sealed segment.
//
// The default is interval=100ms: a kill -9 loses nothing Written under any
// policy, and a tenth of a second is a bounded, stated power-loss window;
// NATS JetStream's 2-minute default (anchors.md §7) is the counter-example.
// Choose always when an acknowledgement must survive power loss, and
// acknowledge on Synced.
//
// For resume (F9) to have no gap and no duplicate across restarts, the
// server must not let a client see a seq the journal could still lose:
// publish or acknowledge up to Written (kill -9 safe) or Synced (power-loss
// safe), and restart the sequencer at Last()+1 after Open.
//
// # Storage
//
// A journal is a directory of segment files named by the seq of their first
// record (00000000000000000001.seg), each a 48-byte header and then records
// of a 24-byte header (CRC32-C, length, seq, ts) and the payload. A segment
// is sealed (fsynced and closed) when the next record would take it past
// SegmentBytes, and only then is the next one created. docs/journal-format.md
// documents every byte.
//
// # Open and repair
//
// Because a segment is sealed before the next exists, only the last segment
// can be torn by a crash. Open therefore reads the header of every segment
// (to check the chain: each header names its predecessor, so a missing
// segment is detected without scanning) and scans only the last segment
// fully, truncating it at the first record that is short, fails its CRC,
// is zero-filled or out of sequence. The cost is one segment scan (tens of
// milliseconds for a full 128 MiB segment) plus one header read per segment,
// whatever the journal's length. The OpenReport says what was cut and why,
// and Open logs it. A hole in the middle is not what a crash produces: Open
// refuses with a *CorruptionErr, unless Options.KeepTail asks it to keep
// the contiguous tail. Damage inside older segments is found by the readers
// that reach it, which return a *CorruptionErr, never garbage.
//
// # Readers and time
//
// A reader iterates from any retained seq across segments, through its own
// file handle and buffer, with no lock on its hot path. Next tails: it waits
// for more records to be Written. SeekTime finds the first record (in
// sequence order) whose event time is at least t. Event times are only
// roughly monotonic (late trades), so the journal keeps, for every segment
// and for every sparse index point (one per 4096 records or 64 KiB), the
// largest event time of everything before it. That running maximum is
// monotonic, so a binary search over segment headers and then over the index
// finds a start point before which every record is older than t, and a
// short scan finds the record. The index of the active segment is built
// while appending; that of a sealed segment is built by scanning it on first
// use and kept in memory (no index files: nothing to go stale or repair).
//
// # Retention
//
// MaxAge and MaxBytes delete whole sealed segments from the oldest, never
// the active one, so what remains is always a contiguous range. A segment's
// age is the event time of its last record, which the next segment's header
// records. Retention runs whenever a segment is sealed and whenever the
// server calls Prune.
//
// # Two implementations
//
// File is the durable journal; Memory keeps everything in memory with the
// same semantics (including segment boundaries, so retention removes the
// same records). Both implement Journal, and one test suite runs against
// both (style habit 8).
package journal
