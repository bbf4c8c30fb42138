package cluster_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tapehq/tape/internal/cluster"
	"github.com/tapehq/tape/internal/cluster/clustertest"
	"github.com/tapehq/tape/internal/journal"
)

// streamSeqOf returns the stream sequence of record seq.
func streamSeqOf(t *testing.T, s jetstream.Stream, seq uint64) uint64 {
	t.Helper()
	ctx := testCtx(t)
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for ss := info.State.FirstSeq; ss <= info.State.LastSeq; ss++ {
		m, err := s.GetMsg(ctx, ss)
		if err != nil {
			continue
		}
		if m.Subject != cluster.ClaimSubject(cluster.DefaultPrefix) && m.Header.Get(cluster.HeaderSeq) == strconv.FormatUint(seq, 10) {
			return ss
		}
	}
	t.Fatalf("record %d is not in the stream", seq)
	return 0
}

// TestEdgeStartChecks: where an edge starts, against what the stream holds.
func TestEdgeStartChecks(t *testing.T) {
	c := clustertest.Single(t)
	nc := c.Connect(t)
	origin := journal.NewMemory(journal.Options{})
	appendEvents(t, origin, 1, 300, 0)
	pub := startPublisher(t, nc, cluster.PublisherOptions{Journal: origin})
	waitFor(t, "300 acked", func() bool { return pub.p.Stats().Acked == 300 })
	if err := pub.stop(); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(testCtx(t), cluster.DefaultStreamName)
	if err != nil {
		t.Fatal(err)
	}
	// Retention removes everything before record 201.
	if err := s.Purge(testCtx(t), jetstream.WithPurgeSequence(streamSeqOf(t, s, 201))); err != nil {
		t.Fatal(err)
	}

	t.Run("GapReported", func(t *testing.T) {
		j := journal.NewMemory(journal.Options{})
		appendEvents(t, j, 1, 100, 0)
		ed := startEdge(t, nc, j, cluster.EdgeOptions{})
		waitFor(t, "the edge to stop", ed.done)
		var gap *cluster.GapError
		if err := ed.result(); !errors.As(err, &gap) || gap.Want != 101 || gap.Have != 201 {
			t.Fatalf("edge after 100: %v, want a gap 101..200", err)
		}
		if j.Last() != 100 {
			t.Fatalf("the edge applied past the gap: last %d", j.Last())
		}
	})
	t.Run("NewEdgeBootstraps", func(t *testing.T) {
		j := journal.NewMemory(journal.Options{})
		startEdge(t, nc, j, cluster.EdgeOptions{})
		waitFor(t, "the edge at 300", func() bool { return j.Last() == 300 })
		sameRecords(t, "bootstrapped edge", origin, j, 201, 300)
		if j.First() != 201 {
			t.Fatalf("bootstrapped edge starts at %d, want the stream's first record 201", j.First())
		}
	})
	t.Run("ResumesAtFirstRetained", func(t *testing.T) {
		// The edge's last record is the one before the stream's first:
		// nothing is missing, though its own last record cannot be checked.
		j := journal.NewMemory(journal.Options{})
		appendEvents(t, j, 1, 200, 0)
		startEdge(t, nc, j, cluster.EdgeOptions{})
		waitFor(t, "the edge at 300", func() bool { return j.Last() == 300 })
		sameRecords(t, "edge", origin, j, 1, 300)
	})
	t.Run("DivergedRefused", func(t *testing.T) {
		j := journal.NewMemory(journal.Options{})
		appendEvents(t, j, 1, 250, 1) // the same numbers, other records
		ed := startEdge(t, nc, j, cluster.EdgeOptions{})
		waitFor(t, "the edge to stop", ed.done)
		var se *cluster.SeqError
		if err := ed.result(); !errors.Is(err, cluster.ErrDiverged) || !errors.As(err, &se) || se.Seq != 250 {
			t.Fatalf("edge with other records: %v, want ErrDiverged at 250", err)
		}
	})
	t.Run("AheadOfStreamRefused", func(t *testing.T) {
		j := journal.NewMemory(journal.Options{})
		appendEvents(t, j, 1, 400, 0)
		ed := startEdge(t, nc, j, cluster.EdgeOptions{})
		waitFor(t, "the edge to stop", ed.done)
		if err := ed.result(); !errors.Is(err, cluster.ErrDiverged) {
			t.Fatalf("edge ahead of the stream: %v, want ErrDiverged", err)
		}
	})
	t.Run("ClaimBehindRefused", func(t *testing.T) {
		j := journal.NewMemory(journal.Options{})
		appendEvents(t, j, 1, 250, 0)
		err := cluster.Claim(testCtx(t), nc, cluster.StreamOptions{}, 0, j)
		var se *cluster.SeqError
		if !errors.Is(err, cluster.ErrBehind) || !errors.As(err, &se) || se.Stream != 300 || se.Journal != 250 {
			t.Fatalf("claim with a journal at 250: %v, want ErrBehind (stream 300)", err)
		}
	})
	t.Run("ClaimFencedByNewerEpoch", func(t *testing.T) {
		if err := cluster.Claim(testCtx(t), nc, cluster.StreamOptions{}, 7, origin); err != nil {
			t.Fatalf("claim for epoch 7: %v", err)
		}
		if err := cluster.Claim(testCtx(t), nc, cluster.StreamOptions{}, 6, origin); !errors.Is(err, cluster.ErrFenced) {
			t.Fatalf("claim for epoch 6 after 7: %v, want ErrFenced", err)
		}
	})
	t.Run("ResumeWhenTheTailIsAClaim", func(t *testing.T) {
		// The stream now ends with claims naming 300, and no record yet
		// from their writer: an edge at 300 is current, not ahead.
		j := journal.NewMemory(journal.Options{})
		appendEvents(t, j, 1, 300, 0)
		ed := startEdge(t, nc, j, cluster.EdgeOptions{})
		appendEvents(t, origin, 301, 350, 0)
		pub := startPublisher(t, nc, cluster.PublisherOptions{Journal: origin, Epoch: 7})
		waitFor(t, "the edge at 350", func() bool { return j.Last() == 350 || ed.done() })
		if err := ed.result(); err != nil {
			t.Fatalf("edge: %v", err)
		}
		sameRecords(t, "edge", origin, j, 1, 350)
		if err := pub.stop(); err != nil {
			t.Fatal(err)
		}
	})
}
