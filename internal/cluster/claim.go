package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tapehq/tape/internal/journal"
)

// Journal is the part of a local journal the cluster components read;
// journal.File and journal.Memory implement it.
type Journal interface {
	First() uint64
	Last() uint64
	NewReader(from uint64) (journal.Reader, error)
}

// How the stream stays exactly-once and fenced (docs/cluster.md has the
// long form):
//
// Every record is published with Nats-Expected-Last-Sequence: the stream
// sequence its writer expects the stream to end at, i.e. where its
// predecessor went. JetStream checks it in order, before proposing the
// message to the replicas, so the writer can keep a window of messages in
// flight (each expecting the one before) and the stream stays gap-free and
// exactly-once: a record stored twice would need the stream to end twice
// at the same place.
//
// A writer starts with a claim: FenceWidth messages on <prefix>.claim,
// published as one atomic batch whose first message expects the stream's
// last sequence as the writer read it (compare-and-set). A writer never has
// more than MaxWindow messages in flight, each expecting at most
// MaxWindow-1 past the last sequence it saw acknowledged, which was at most
// the stream's last sequence when the claim read it; the claim moves the
// stream's end past all of those in one step. So once a claim is stored,
// nothing any earlier writer sent or will send can be stored — the stream
// itself refuses a paused, deposed origin. Epochs order writers: a writer
// never claims over a newer epoch, and a writer that finds a newer epoch
// at the end of the stream is fenced.
//
// Why not Nats-Expected-Last-Msg-Id: on a replicated stream (nats-server
// 2.15.3) JetStream checks it only when applying the message, and a failed
// check there stops the stream from applying anything further (every later
// publish times out), so one refused message from a deposed origin would
// take the stream down. Why not the bare sequence number as Nats-Msg-Id:
// the duplicate check comes first, so a deposed writer's copy of a
// sequence number the new writer already stored would be acknowledged as
// a duplicate, freeing its window to send further. Ids are
// "<writer>:<seq>", unique to one claim, and serve only to make a resend
// of the very same message (the client retries on "no responders")
// harmless.

// FenceWidth is the number of messages in a claim, and MaxWindow the most
// messages a Publisher keeps in flight: the claim must jump the stream's
// end past any position an earlier writer's window can expect.
const (
	MaxWindow  = 512
	FenceWidth = MaxWindow + 1
)

// claimed is where a writer continues after a successful claim.
type claimed struct {
	next   uint64 // the first Tape sequence number to publish
	pos    uint64 // the stream sequence of the claim's last message: what the first record expects
	writer string // this claim's writer token, unique per claim
}

func newWriterToken(epoch uint64) string {
	return strconv.FormatUint(epoch, 10) + "." + strconv.FormatUint(rand.Uint64(), 36)
}

// isWrongLast reports whether err is JetStream refusing an expected-last
// check: someone else wrote first.
func isWrongLast(err error) bool {
	var ae *jetstream.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode {
	case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
		return true
	}
	return false
}

// claimStream makes epoch the stream's writer: it checks that the local
// journal holds everything the stream does (and the same bytes at the last
// record), then writes a claim. It retries while other writes race it,
// and returns ErrFenced if a newer epoch already wrote, a *SeqError
// (ErrBehind, ErrDiverged) if the journal cannot continue the stream, or a
// *GapError if the journal no longer holds records the stream lacks.
func claimStream(ctx context.Context, nc *nats.Conn, s jetstream.Stream, prefix string,
	epoch uint64, j Journal) (claimed, error) {
	backoff := 10 * time.Millisecond
	for {
		c, err := tryClaim(ctx, nc, s, prefix, epoch, j)
		if err == nil || !isWrongLast(err) {
			return c, err
		}
		// Someone wrote between our read and our claim: read again. A
		// deposed writer's in-flight messages can do this for a moment.
		if err := sleep(ctx, backoff); err != nil {
			return claimed{}, err
		}
		backoff = min(2*backoff, time.Second)
	}
}

func tryClaim(ctx context.Context, nc *nats.Conn, s jetstream.Stream, prefix string,
	epoch uint64, j Journal) (claimed, error) {
	t, err := readTail(ctx, s, prefix)
	if err != nil {
		return claimed{}, err
	}
	if t.last.epoch > epoch {
		return claimed{}, fmt.Errorf("%w: the stream's last message is from epoch %d, ours is %d", ErrFenced, t.last.epoch, epoch)
	}
	last := t.last.tapeSeq // a claim carries the last sequence before it
	next := last + 1
	if t.last.streamSeq == 0 { // the stream holds nothing: start at the journal's oldest record
		next = max(j.First(), 1)
		if j.Last() == 0 {
			next = 1
		}
	}
	if jl := j.Last(); last > 0 && jl < last {
		return claimed{}, &SeqError{Seq: last, Journal: jl, Stream: last, Err: ErrBehind}
	}
	if first := j.First(); first > next && j.Last() >= first {
		return claimed{}, &GapError{Want: next, Have: first}
	}
	if r := t.record; r.streamSeq != 0 && j.First() > 0 && r.tapeSeq >= j.First() {
		same, err := journalHas(ctx, j, r.tapeSeq, r.data)
		if err != nil {
			return claimed{}, err
		}
		if !same {
			return claimed{}, &SeqError{Seq: r.tapeSeq, Journal: j.Last(), Stream: last, Err: ErrDiverged}
		}
	}
	writer := newWriterToken(epoch)
	pos, err := publishClaim(ctx, nc, prefix, writer, epoch, next-1, t.lastStreamSeq)
	if err != nil {
		return claimed{}, err
	}
	return claimed{next: next, pos: pos, writer: writer}, nil
}

// Atomic batch headers (JetStream 2.12+).
const (
	hdrBatchID     = "Nats-Batch-Id"
	hdrBatchSeq    = "Nats-Batch-Sequence"
	hdrBatchCommit = "Nats-Batch-Commit"
)

// claimTimeout bounds the wait for a claim's acknowledgement.
const claimTimeout = 10 * time.Second

// publishClaim writes the FenceWidth claim messages as one atomic batch
// whose first message expects the stream to end at expectLast. It returns
// the stream sequence of the claim's last message.
func publishClaim(ctx context.Context, nc *nats.Conn, prefix, writer string, epoch, tapeSeq, expectLast uint64) (uint64, error) {
	subj := ClaimSubject(prefix)
	seq, ep := strconv.FormatUint(tapeSeq, 10), strconv.FormatUint(epoch, 10)
	batch := "tape-claim-" + writer
	for i := 1; i <= FenceWidth; i++ {
		m := &nats.Msg{Subject: subj, Header: nats.Header{
			HeaderSeq:   {seq},
			HeaderEpoch: {ep},
			hdrBatchID:  {batch},
			hdrBatchSeq: {strconv.Itoa(i)},
		}}
		if i == 1 {
			m.Header[hdrExpectedLast] = []string{strconv.FormatUint(expectLast, 10)}
		}
		if i < FenceWidth {
			if err := nc.PublishMsg(m); err != nil {
				return 0, fmt.Errorf("cluster: claim for epoch %d: %w", epoch, err)
			}
			continue
		}
		m.Header[hdrBatchCommit] = []string{"1"}
		// Bounded: a batch the server dropped (it timed out waiting for
		// the rest of it, on a loaded machine) gets no answer at all. The
		// caller's session then fails and claims again.
		rctx, cancel := context.WithTimeout(ctx, claimTimeout)
		resp, err := nc.RequestMsgWithContext(rctx, m)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("cluster: claim for epoch %d: %w", epoch, err)
		}
		var ack struct {
			Error *jetstream.APIError `json:"error,omitempty"`
			Seq   uint64              `json:"seq"`
		}
		if err := json.Unmarshal(resp.Data, &ack); err != nil {
			return 0, fmt.Errorf("cluster: claim for epoch %d: bad acknowledgement %q: %w", epoch, resp.Data, err)
		}
		if ack.Error != nil {
			return 0, fmt.Errorf("cluster: claim for epoch %d: %w", epoch, ack.Error)
		}
		return ack.Seq, nil
	}
	panic("unreachable")
}

// journalHas reports whether the local journal's record seq has payload p.
func journalHas(ctx context.Context, j Journal, seq uint64, p []byte) (bool, error) {
	r, err := j.NewReader(seq)
	if errors.Is(err, journal.ErrPruned) {
		return true, nil // nothing left to compare with
	}
	if err != nil {
		return false, fmt.Errorf("cluster: journal reader at %d: %w", seq, err)
	}
	defer r.Close()
	rec, err := r.Next(ctx)
	if err != nil {
		return false, fmt.Errorf("cluster: journal record %d: %w", seq, err)
	}
	return rec.Seq == seq && bytes.Equal(rec.Payload, p), nil
}

// Claim makes epoch the writer of the stream so (creating or updating the
// stream first), for a node about to become the origin: after it returns
// nil, no writer with an older epoch can add to the stream, and the local
// journal holds everything the stream does, so the node's pipeline may
// continue the sequence at j.Last()+1. Call it before the pipeline
// sequences anything; Roles does. Errors: ErrFenced, *SeqError (ErrBehind:
// catch up as an edge first; ErrDiverged), *GapError.
//
// The Publisher claims again when it starts (a cheap, idempotent second
// claim), so Claim is needed only where the order matters: before
// sequencing.
func Claim(ctx context.Context, nc *nats.Conn, so StreamOptions, epoch uint64, j Journal) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	so = so.withDefaults()
	s, err := EnsureStream(ctx, js, so)
	if err != nil {
		return err
	}
	_, err = claimStream(ctx, nc, s, so.Prefix, epoch, j)
	return err
}
