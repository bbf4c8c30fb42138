package journal

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// FsyncMode says when the flusher calls fsync. See FsyncPolicy.
type FsyncMode uint8

const (
	// FsyncInterval fsyncs written data at most once per Interval and no
	// later than Interval after it was written. It is the zero value, so a
	// zero Options gets the default policy.
	FsyncInterval FsyncMode = iota
	// FsyncAlways fsyncs after every write of a group-commit batch, before
	// Synced advances over it. Concurrent commits share one fsync.
	FsyncAlways
	// FsyncNever leaves write-back to the operating system. The journal still
	// fsyncs when it seals a segment and on Sync and Close.
	FsyncNever
)

// DefaultFsyncInterval is the Interval of the default policy.
//
// Why interval=100ms by default and not always: with group commit, always
// costs little throughput on a fast disk, but on a slow or shared disk it
// ties ingest to fsync latency, and a kill -9 loses nothing either way
// (Written data is in the page cache). 100 ms bounds the power-loss window
// to a tenth of a second of data, two orders of magnitude tighter than
// NATS JetStream's 2-minute default that anchors.md warns about. Deployments
// that acknowledge writes to someone who cannot lose them use always and
// wait on Synced.
const DefaultFsyncInterval = 100 * time.Millisecond

// FsyncPolicy is the --fsync setting.
type FsyncPolicy struct {
	Mode FsyncMode
	// Interval applies to FsyncInterval; 0 means DefaultFsyncInterval.
	Interval time.Duration
}

// String returns the policy in ParseFsyncPolicy's syntax.
func (p FsyncPolicy) String() string {
	switch p.Mode {
	case FsyncAlways:
		return "always"
	case FsyncNever:
		return "never"
	}
	d := p.Interval
	if d <= 0 {
		d = DefaultFsyncInterval
	}
	return "interval=" + d.String()
}

// ParseFsyncPolicy parses "always", "never", "interval" (the default
// interval) or "interval=<duration>" such as "interval=100ms".
func ParseFsyncPolicy(s string) (FsyncPolicy, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	switch v {
	case "always":
		return FsyncPolicy{Mode: FsyncAlways}, nil
	case "never":
		return FsyncPolicy{Mode: FsyncNever}, nil
	case "interval":
		return FsyncPolicy{Mode: FsyncInterval, Interval: DefaultFsyncInterval}, nil
	}
	if d, ok := strings.CutPrefix(v, "interval="); ok {
		iv, err := time.ParseDuration(d)
		if err != nil {
			return FsyncPolicy{}, fmt.Errorf("journal: fsync policy %q: %w", s, err)
		}
		if iv <= 0 {
			return FsyncPolicy{}, fmt.Errorf("journal: fsync policy %q: interval must be positive", s)
		}
		return FsyncPolicy{Mode: FsyncInterval, Interval: iv}, nil
	}
	return FsyncPolicy{}, fmt.Errorf("journal: fsync policy %q: want always, never or interval=<duration>", s)
}

// Default sizes.
const (
	DefaultSegmentBytes = 128 << 20
	DefaultBufferBytes  = 8 << 20
)

// Options configures a journal. The zero value is valid: every zero field
// takes its documented default.
type Options struct {
	// SegmentBytes is the size at which the active segment is sealed and a
	// new one started. A segment exceeds it only when a single record does.
	// Default 128 MiB.
	SegmentBytes int64
	// Fsync is the durability policy. Default interval=100ms.
	Fsync FsyncPolicy
	// MaxAge deletes sealed segments whose last record's event time is older
	// than Now()-MaxAge. 0 keeps everything.
	MaxAge time.Duration
	// MaxBytes deletes the oldest sealed segments while the journal's total
	// size is above it. 0 keeps everything. The active segment is never
	// deleted, so a journal can exceed MaxBytes by up to one segment.
	MaxBytes int64
	// BufferBytes is the capacity of each of the two group-commit buffers
	// (the writer fills one while the flusher writes the other), so memory
	// use is twice this. Append waits (back-pressure) only when the buffer it
	// fills is full while the other is still being written. Default 8 MiB.
	BufferBytes int
	// KeepTail makes Open repair a broken chain of segments (a missing
	// segment or a bad header in an older segment) by keeping only the
	// contiguous tail: older segments are renamed to *.seg.broken and
	// reported. Without it Open returns a *CorruptionErr and touches nothing.
	KeepTail bool
	// Logger receives repair, retention and failure events. Default: discard.
	Logger *slog.Logger
	// Now is the clock MaxAge is measured against. Default time.Now.
	Now func() time.Time

	// noFsync skips every fsync. Tests only: fuzzing runs thousands of
	// opens a second, and fsync would make it a disk benchmark.
	noFsync bool
}

func (o Options) withDefaults() (Options, error) {
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.BufferBytes == 0 {
		o.BufferBytes = DefaultBufferBytes
	}
	if o.Fsync.Mode == FsyncInterval && o.Fsync.Interval <= 0 {
		o.Fsync.Interval = DefaultFsyncInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case o.SegmentBytes < 0, o.BufferBytes < 0, o.MaxBytes < 0, o.MaxAge < 0:
		return o, errors.New("journal: negative size or age in Options")
	case o.Fsync.Mode > FsyncNever:
		return o, fmt.Errorf("journal: unknown fsync mode %d", o.Fsync.Mode)
	}
	return o, nil
}
