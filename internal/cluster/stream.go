package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Message headers. The payload of a data message is the journal's payload
// (market.AppendBinary of the event), unchanged; everything else an edge
// needs rides in headers.
const (
	// HeaderSeq is Tape's sequence number of the record, in decimal. A claim
	// carries the last sequence number the stream held when it was written.
	HeaderSeq = "Tape-Seq"
	// HeaderNow is the origin's feed clock (ns since the Unix epoch) when the
	// record was published: never less than the Batch.Now of the batch that
	// carried it. Edges use it as their own Batch.Now.
	HeaderNow = "Tape-Now"
	// HeaderTime is the record's time in the origin's journal (ns since
	// the Unix epoch): an edge journals the record with it, so its journal
	// equals the origin's byte for byte.
	HeaderTime = "Tape-Time"
	// HeaderEpoch is the writer's epoch (its lease revision; 0 without a
	// lease). A writer whose epoch is below the last message's is fenced.
	HeaderEpoch = "Tape-Epoch"
	// HeaderFlags is market.Flags in decimal, present only when not zero
	// (the payload has them too; the header lets consumers filter without
	// decoding).
	HeaderFlags = "Tape-Flags"
)

// NATS' own headers, which the nats package does not export as constants.
const (
	hdrMsgID        = "Nats-Msg-Id"
	hdrExpectedLast = "Nats-Expected-Last-Sequence"
)

// StreamOptions configures the JetStream stream Tape publishes into. The
// zero value is a single-replica file stream named TAPE on tape.> that keeps
// a week.
type StreamOptions struct {
	// Name of the stream. Default "TAPE".
	Name string
	// Prefix is the first token of every subject. Default "tape".
	Prefix string
	// Replicas is how many servers hold the stream: 1 (the default) for a
	// single server, 3 for a cluster that must survive the loss of one.
	Replicas int
	// MaxAge removes messages older than this; it is how far back a new
	// edge can bootstrap from. Default DefaultMaxAge; negative keeps
	// messages forever.
	MaxAge time.Duration
	// MaxBytes bounds the stream's size, removing the oldest messages
	// first. 0 (the default) is unlimited.
	MaxBytes int64
	// MaxMsgs bounds the stream's message count the same way. 0 (the
	// default) is unlimited.
	MaxMsgs int64
	// DedupeWindow is how long the stream remembers Nats-Msg-Ids. Default
	// DefaultDedupeWindow. Every id in the window costs server memory
	// (about 150 bytes), so at 100k events/s NATS' own 2-minute default
	// would hold 12M ids; exactly-once does not depend on it (see Claim).
	DedupeWindow time.Duration
	// Memory keeps the stream in memory rather than in files: for tests and
	// benchmarks only, since it does not survive a server restart.
	Memory bool
}

// Defaults of StreamOptions.
const (
	DefaultStreamName   = "TAPE"
	DefaultMaxAge       = 7 * 24 * time.Hour
	DefaultDedupeWindow = 10 * time.Second
)

func (o StreamOptions) withDefaults() StreamOptions {
	if o.Name == "" {
		o.Name = DefaultStreamName
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.DedupeWindow <= 0 {
		o.DedupeWindow = DefaultDedupeWindow
	}
	return o
}

// Config returns the JetStream configuration EnsureStream applies.
func (o StreamOptions) Config() jetstream.StreamConfig {
	o = o.withDefaults()
	cfg := jetstream.StreamConfig{
		Name:        o.Name,
		Description: "Tape's sequenced record: one message per journal record, in sequence order",
		Subjects:    []string{o.Prefix + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		MaxAge:      max(o.MaxAge, 0),
		MaxBytes:    -1,
		MaxMsgs:     -1,
		Duplicates:  o.DedupeWindow,
		// Direct gets let any replica answer "the last trade of AAPL"
		// (last_by_subj) for clients other than Tape.
		AllowDirect: true,
		// Claims are atomic batches (see Claim).
		AllowAtomicPublish: true,
	}
	if o.MaxAge < 0 {
		cfg.MaxAge = 0
	}
	if cfg.MaxAge > 0 && cfg.Duplicates > cfg.MaxAge {
		cfg.Duplicates = cfg.MaxAge
	}
	if o.MaxBytes > 0 {
		cfg.MaxBytes = o.MaxBytes
	}
	if o.MaxMsgs > 0 {
		cfg.MaxMsgs = o.MaxMsgs
	}
	if o.Memory {
		cfg.Storage = jetstream.MemoryStorage
	}
	return cfg
}

// EnsureStream creates the stream, or updates it to the options if it
// exists: it is idempotent, so every publisher and edge can call it at
// start. A change JetStream cannot make in place (storage type) is an
// error.
func EnsureStream(ctx context.Context, js jetstream.JetStream, o StreamOptions) (jetstream.Stream, error) {
	cfg := o.Config()
	s, err := js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster: stream %s: %w", cfg.Name, err)
	}
	return s, nil
}

// storedMsg is one message read back from the stream.
type storedMsg struct {
	streamSeq uint64
	tapeSeq   uint64 // HeaderSeq
	epoch     uint64 // HeaderEpoch
	claim     bool   // a writer claim rather than a record
	id        string // Nats-Msg-Id
	data      []byte
}

func parseStored(prefix string, m *jetstream.RawStreamMsg) (storedMsg, error) {
	sm := storedMsg{streamSeq: m.Sequence, id: m.Header.Get(hdrMsgID), data: m.Data,
		claim: m.Subject == ClaimSubject(prefix)}
	var err error
	if sm.tapeSeq, err = headerUint(m.Header, HeaderSeq); err != nil {
		return sm, fmt.Errorf("cluster: stream message %d on %s: %w", m.Sequence, m.Subject, err)
	}
	if sm.epoch, err = headerUint(m.Header, HeaderEpoch); err != nil {
		return sm, fmt.Errorf("cluster: stream message %d on %s: %w", m.Sequence, m.Subject, err)
	}
	return sm, nil
}

func headerUint(h nats.Header, key string) (uint64, error) {
	v := h.Get(key)
	if v == "" {
		return 0, fmt.Errorf("%w: no %s header", ErrForeignMessage, key)
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q", ErrForeignMessage, key, v)
	}
	return n, nil
}

// getMsg reads one message, retrying "not found" a few times: a direct get
// may be answered by a replica that has not applied the newest message yet.
func getMsg(ctx context.Context, s jetstream.Stream, prefix string, seq uint64) (storedMsg, error) {
	var err error
	for attempt := range 5 {
		var m *jetstream.RawStreamMsg
		if m, err = s.GetMsg(ctx, seq); err == nil {
			return parseStored(prefix, m)
		}
		if !errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err := sleep(ctx, time.Duration(attempt+1)*20*time.Millisecond); err != nil {
			return storedMsg{}, err
		}
	}
	return storedMsg{}, fmt.Errorf("cluster: get stream message %d: %w", seq, err)
}

// tail is what a writer needs to know about the end of the stream.
type tail struct {
	lastStreamSeq uint64    // the stream's last sequence (0: never written)
	last          storedMsg // the last message; zero if the stream holds none
	record        storedMsg // the last data record; zero if none
}

// readTail reads the stream's last message and its last data record.
func readTail(ctx context.Context, s jetstream.Stream, prefix string) (tail, error) {
	info, err := s.Info(ctx)
	if err != nil {
		return tail{}, fmt.Errorf("cluster: stream info: %w", err)
	}
	st := info.State
	t := tail{lastStreamSeq: st.LastSeq}
	if st.Msgs == 0 {
		return t, nil
	}
	if t.last, err = getMsg(ctx, s, prefix, st.LastSeq); err != nil {
		return t, err
	}
	if !t.last.claim {
		t.record = t.last
		return t, nil
	}
	m, err := s.GetLastMsgForSubject(ctx, DataFilter(prefix))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return t, nil // only claims are left; they say where the record ended
	}
	if err != nil {
		return t, fmt.Errorf("cluster: last record: %w", err)
	}
	t.record, err = parseStored(prefix, m)
	return t, err
}

// position is where a Tape sequence number sits in the stream.
type position struct {
	streamSeq uint64    // the first message at or after the wanted record
	msg       storedMsg // that message
	found     bool      // msg is the wanted record itself
	none      bool      // every message in the stream is before the wanted record
}

// locate finds the data record with Tape sequence number want by binary
// search over stream sequences: HeaderSeq never decreases along the
// stream (a claim carries the sequence number of the record before it).
// It costs about log2(stream length) gets, once per edge start.
func locate(ctx context.Context, s jetstream.Stream, prefix string, want uint64) (position, error) {
	info, err := s.Info(ctx)
	if err != nil {
		return position{}, fmt.Errorf("cluster: stream info: %w", err)
	}
	lo, hi := info.State.FirstSeq, info.State.LastSeq
	if info.State.Msgs == 0 {
		return position{none: true}, nil
	}
	// before reports whether m sorts before the wanted record. A claim
	// names the last record before it, so claims naming want come after
	// it: HeaderSeq never decreases along the stream.
	before := func(m storedMsg) bool { return m.tapeSeq < want }
	last, err := getMsg(ctx, s, prefix, hi)
	if err != nil {
		return position{}, err
	}
	if before(last) {
		return position{none: true, msg: last}, nil
	}
	var found storedMsg
	found = last
	for lo < hi { // invariant: the answer is in [lo, hi]; msg(hi) is not before
		mid := lo + (hi-lo)/2
		m, err := getMsg(ctx, s, prefix, mid)
		if err != nil {
			return position{}, err
		}
		if before(m) {
			lo = mid + 1
		} else {
			hi, found = mid, m
		}
	}
	if found.streamSeq != lo {
		if found, err = getMsg(ctx, s, prefix, lo); err != nil {
			return position{}, err
		}
	}
	return position{streamSeq: lo, msg: found, found: !found.claim && found.tapeSeq == want}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
