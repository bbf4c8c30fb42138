package cluster

import (
	"bytes"
	"context"
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
// Every message carries Nats-Msg-Id "<writer>:<seq>", where the writer
// token "<epoch>.<random>" is new for every claim, and
// Nats-Expected-Last-Msg-Id naming the message before it. JetStream checks
// the latter in log order when it applies a message, on every replica, so
// a message is stored only directly after the one its writer saw last.
// That alone makes the stream exactly-once and gap-free: a republished
// record names a predecessor that is no longer last and is refused.
//
// A writer starts with a claim: a message on <prefix>.claim written with
// Nats-Expected-Last-Sequence (compare-and-set on the whole stream), whose
// id is the first Expected-Last-Msg-Id of the writer's records. After a new
// writer's claim, the last id in the stream is never one an older writer
// can name, so every message an older writer sends — from its in-flight
// window, after a pause, forever — is refused by the stream itself.
// Epochs order writers: a writer never claims over a newer epoch.
//
// Why not the bare sequence number as Nats-Msg-Id: the dedupe check runs
// before the expected-last check, so a deposed writer's copy of a sequence
// number the new writer already stored would be answered "duplicate", and
// its next record would then name the new writer's last id and be stored.
// And a replicated stream keeps an id refused at apply time in its dedupe
// map as "in process" until the window passes, so a writer re-sending it
// after a resync would be refused for the whole window: a fresh writer
// token per claim avoids both.

// claimed is where a writer continues after a successful claim.
type claimed struct {
	next   uint64 // the first Tape sequence number to publish
	prevID string // the claim's id: what the first record must name
	writer string // this claim's writer token
	claim  uint64 // the claim's stream sequence
}

func newWriterToken(epoch uint64) string {
	return strconv.FormatUint(epoch, 10) + "." + strconv.FormatUint(uint64(rand.Uint32()), 36)
}

// isWrongLast reports whether err is JetStream refusing an expected-last
// check (sequence or message id): someone else wrote first.
func isWrongLast(err error) bool {
	var ae *jetstream.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode {
	case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant,
		jsErrCodeStreamWrongLastMsgID:
		return true
	}
	return false
}

// jsErrCodeStreamWrongLastMsgID is JSStreamWrongLastMsgIDErr, which the
// jetstream package does not export.
const jsErrCodeStreamWrongLastMsgID jetstream.ErrorCode = 10070

// claimStream makes epoch the stream's writer: it checks that the local
// journal holds everything the stream does (and the same bytes at the last
// record), then writes a claim with compare-and-set on the stream's last
// sequence. It retries while other writes race it, and returns ErrFenced if
// a newer epoch already wrote, a *SeqError (ErrBehind, ErrDiverged) if the
// journal cannot continue the stream, or a *GapError if the journal no
// longer holds records the stream lacks.
func claimStream(ctx context.Context, js jetstream.JetStream, s jetstream.Stream, prefix string,
	epoch uint64, j Journal) (claimed, error) {
	backoff := 10 * time.Millisecond
	for {
		c, err := tryClaim(ctx, js, s, prefix, epoch, j)
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

func tryClaim(ctx context.Context, js jetstream.JetStream, s jetstream.Stream, prefix string,
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
	if r := t.record; r.streamSeq != 0 && r.tapeSeq >= j.First() && j.First() > 0 {
		same, err := journalHas(ctx, j, r.tapeSeq, r.data)
		if err != nil {
			return claimed{}, err
		}
		if !same {
			return claimed{}, &SeqError{Seq: r.tapeSeq, Journal: j.Last(), Stream: last, Err: ErrDiverged}
		}
	}
	writer := newWriterToken(epoch)
	id := writer + ":claim"
	m := nats.NewMsg(ClaimSubject(prefix))
	m.Header[hdrMsgID] = []string{id}
	m.Header[HeaderSeq] = []string{strconv.FormatUint(next-1, 10)}
	m.Header[HeaderEpoch] = []string{strconv.FormatUint(epoch, 10)}
	m.Header[hdrExpectedLast] = []string{strconv.FormatUint(t.lastStreamSeq, 10)}
	ack, err := js.PublishMsg(ctx, m)
	if err != nil {
		return claimed{}, fmt.Errorf("cluster: claim for epoch %d: %w", epoch, err)
	}
	return claimed{next: next, prevID: id, writer: writer, claim: ack.Sequence}, nil
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
	_, err = claimStream(ctx, js, s, so.Prefix, epoch, j)
	return err
}
