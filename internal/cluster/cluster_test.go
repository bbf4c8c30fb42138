package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tapehq/tape/internal/cluster"
	"github.com/tapehq/tape/internal/cluster/clustertest"
	"github.com/tapehq/tape/internal/journal"
)

// TestCluster runs the scale-out guarantees against a real three-server
// JetStream cluster with three-replica streams. One cluster serves every
// case (starting one is most of the cost); each case has its own stream.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster")
	}
	c := clustertest.Start(t, 3)
	stream := func(name string) cluster.StreamOptions {
		return cluster.StreamOptions{Name: name, Prefix: name, Replicas: 3}
	}

	t.Run("TwoEdgesExactlyOnce", func(t *testing.T) {
		so := stream("two")
		origin := journal.NewMemory(journal.Options{})
		appendEvents(t, origin, 1, 700, 0)
		pub := startPublisher(t, c.Connect(t), cluster.PublisherOptions{Journal: origin, Stream: so})
		j1, j2 := journal.NewMemory(journal.Options{}), journal.NewMemory(journal.Options{})
		startEdge(t, c.Connect(t), j1, cluster.EdgeOptions{Stream: so})
		startEdge(t, c.Connect(t), j2, cluster.EdgeOptions{Stream: so, MaxBatch: 7})
		appendEvents(t, origin, 701, 2000, 0)
		waitFor(t, "both edges at 2000", func() bool { return j1.Last() == 2000 && j2.Last() == 2000 })
		sameRecords(t, "edge 1", origin, j1, 1, 2000)
		sameRecords(t, "edge 2", origin, j2, 1, 2000)
		if err := pub.stop(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("PublisherCrashRepublishDeduplicated", func(t *testing.T) {
		so := stream("crash")
		origin := journal.NewMemory(journal.Options{})
		appendEvents(t, origin, 1, 1500, 0)
		// Record every message the first publisher sends, headers and all,
		// as a network would hold them.
		spy := c.Connect(t)
		sent := make(chan *nats.Msg, 4096)
		sub, err := spy.ChanSubscribe(so.Prefix+".>", sent)
		if err != nil {
			t.Fatal(err)
		}
		if err := spy.Flush(); err != nil {
			t.Fatal(err)
		}
		// The first publisher "crashes": its connection drops mid-stream,
		// with messages in flight.
		nc1 := c.Connect(t)
		pub1 := startPublisher(t, nc1, cluster.PublisherOptions{Journal: origin, Stream: so, MaxInFlight: 256})
		waitFor(t, "the first publisher to get going", func() bool { return pub1.p.Stats().Acked >= 600 })
		nc1.Close()
		pub1.stop()
		acked1 := pub1.p.Stats().Acked
		// Keep only the first process's messages (the spy has seen at
		// least every one the stream acknowledged, and its claim).
		waitFor(t, "the spy to see the first publisher's messages", func() bool { return uint64(len(sent)) > acked1 })
		if err := sub.Unsubscribe(); err != nil {
			t.Fatal(err)
		}

		// A new process starts over, from the stream's last record.
		pub2 := startPublisher(t, c.Connect(t), cluster.PublisherOptions{Journal: origin, Stream: so})
		waitFor(t, "the second publisher to finish", func() bool { return pub2.p.Stats().Acked == 1500 })
		if err := pub2.stop(); err != nil {
			t.Fatal(err)
		}

		// The first process's messages arrive again, late, verbatim — a
		// republished overlap. Every one must be refused.
		js, err := jetstream.New(c.Connect(t))
		if err != nil {
			t.Fatal(err)
		}
		ctx := testCtx(t)
		replayed := 0
		for len(sent) > 0 {
			m := <-sent
			resend := &nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data}
			ack, err := js.PublishMsg(ctx, resend)
			if err == nil && !ack.Duplicate {
				t.Fatalf("republished %s (seq %s) was stored again at %d", m.Header.Get("Nats-Msg-Id"),
					m.Header.Get(cluster.HeaderSeq), ack.Sequence)
			}
			replayed++
		}
		if replayed < int(acked1) {
			t.Fatalf("replayed %d messages, want at least the %d the first publisher had acknowledged", replayed, acked1)
		}
		// An edge reading the stream sees each record once.
		ej := journal.NewMemory(journal.Options{})
		ed := startEdge(t, c.Connect(t), ej, cluster.EdgeOptions{Stream: so})
		waitFor(t, "the edge at 1500", func() bool { return ej.Last() == 1500 })
		ed.stop()
		sameRecords(t, "edge", origin, ej, 1, 1500)
		if d := ed.feed.Stats().Duplicates; d != 0 {
			t.Fatalf("the edge dropped %d duplicates: the stream holds some record twice", d)
		}
	})

	t.Run("EdgeRestartResumes", func(t *testing.T) {
		so := stream("restart")
		origin := journal.NewMemory(journal.Options{})
		pub := startPublisher(t, c.Connect(t), cluster.PublisherOptions{Journal: origin, Stream: so})
		dir := t.TempDir()
		open := func() *journal.File {
			j, err := journal.Open(dir, journal.Options{Fsync: journal.FsyncPolicy{Mode: journal.FsyncNever}})
			if err != nil {
				t.Fatal(err)
			}
			return j
		}
		var last uint64
		for round, upTo := range []uint64{400, 900, 1600} {
			appendEvents(t, origin, last+1, upTo, 0)
			ej := open()
			ed := startEdge(t, c.Connect(t), ej, cluster.EdgeOptions{Stream: so, MaxBatch: 64})
			// Stop the edge somewhere in the middle of the new records:
			// a restart must neither skip nor repeat any.
			mid := last + (upTo-last)/2
			waitFor(t, fmt.Sprintf("round %d: the edge past %d", round, mid), func() bool { return ej.Last() >= mid })
			ed.stop()
			if err := ed.result(); !errors.Is(err, context.Canceled) {
				t.Fatalf("round %d: edge ended with %v", round, err)
			}
			if err := ej.Close(); err != nil {
				t.Fatal(err)
			}
			last = upTo
		}
		ej := open()
		defer ej.Close()
		ed := startEdge(t, c.Connect(t), ej, cluster.EdgeOptions{Stream: so})
		waitFor(t, "the edge at 1600", func() bool { return ej.Last() == 1600 })
		ed.stop()
		sameRecords(t, "restarted edge", origin, ej, 1, 1600)
		if err := pub.stop(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("LeaseTakeoverFencesPausedLeader", func(t *testing.T) {
		so := stream("fence")
		lo := cluster.LeaseOptions{Bucket: "fence_lease", TTL: time.Second, Replicas: 3}
		ctx := testCtx(t)
		leaseA := cluster.NewLease(c.Connect(t), withHolder(lo, "A"))
		leaseB := cluster.NewLease(c.Connect(t), withHolder(lo, "B"))
		epochA, ok, err := leaseA.Acquire(ctx)
		if err != nil || !ok {
			t.Fatalf("A: acquire: %v %v", ok, err)
		}
		if _, ok, err := leaseB.Acquire(ctx); err != nil || ok {
			t.Fatalf("B acquired a held lease: %v %v", ok, err)
		}
		ja := journal.NewMemory(journal.Options{})
		appendEvents(t, ja, 1, 300, 0)
		pubA := startPublisher(t, c.Connect(t), cluster.PublisherOptions{Journal: ja, Stream: so, Epoch: epochA})
		waitFor(t, "A to publish 300", func() bool { return pubA.p.Stats().Acked == 300 })

		// A pauses: it neither renews nor sequences. Once the lease has
		// expired, B takes it over.
		var epochB uint64
		waitFor(t, "B to take the expired lease", func() bool {
			e, ok, err := leaseB.Acquire(ctx)
			if err != nil {
				t.Fatalf("B: acquire: %v", err)
			}
			epochB = e
			return ok
		})
		if epochB <= epochA {
			t.Fatalf("B's epoch %d is not after A's %d", epochB, epochA)
		}
		// B, a standby, has followed the stream; it claims it and
		// continues the sequence with its own (different) records.
		jb := journal.NewMemory(journal.Options{})
		ed := startEdge(t, c.Connect(t), jb, cluster.EdgeOptions{Stream: so})
		waitFor(t, "B's edge at 300", func() bool { return jb.Last() == 300 })
		ed.stop()
		if err := cluster.Claim(ctx, c.Connect(t), so, epochB, jb); err != nil {
			t.Fatalf("B: claim: %v", err)
		}
		appendEvents(t, jb, 301, 400, 1)
		pubB := startPublisher(t, c.Connect(t), cluster.PublisherOptions{Journal: jb, Stream: so, Epoch: epochB})
		waitFor(t, "B to publish 400", func() bool { return pubB.p.Stats().Acked == 400 })

		// A resumes, still believing it leads, and publishes 301..350.
		appendEvents(t, ja, 301, 350, 0)
		waitFor(t, "A's publisher to give up", func() bool {
			t.Logf("A: %+v", pubA.p.Stats())
			time.Sleep(200 * time.Millisecond)
			return pubA.finished()
		})
		if err := pubA.stop(); !errors.Is(err, cluster.ErrFenced) {
			t.Fatalf("A's publisher ended with %v, want ErrFenced", err)
		}
		st := pubA.p.Stats()
		if st.Published <= 300 || st.Refused == 0 || st.Acked != 300 || !st.Fenced {
			t.Fatalf("A's publisher %+v: want records past 300 sent, refused by the stream, none acknowledged", st)
		}
		if err := leaseA.Renew(ctx); !errors.Is(err, cluster.ErrLeaseLost) {
			t.Fatalf("A: renew after takeover: %v, want ErrLeaseLost", err)
		}
		// The stream is B's record: 1..300 as A wrote them, then B's.
		check := journal.NewMemory(journal.Options{})
		ed = startEdge(t, c.Connect(t), check, cluster.EdgeOptions{Stream: so})
		waitFor(t, "a fresh edge at 400", func() bool { return check.Last() == 400 })
		ed.stop()
		sameRecords(t, "stream", jb, check, 1, 400)
		if err := pubB.stop(); err != nil {
			t.Fatal(err)
		}
		// A, back as a standby, finds its journal diverged from the stream
		// at its last record and refuses to follow.
		ed = startEdge(t, c.Connect(t), ja, cluster.EdgeOptions{Stream: so})
		waitFor(t, "A's edge to refuse", ed.done)
		if err := ed.result(); !errors.Is(err, cluster.ErrDiverged) {
			t.Fatalf("A as an edge: %v, want ErrDiverged", err)
		}
	})

	// Last: it takes a server down and brings it back.
	t.Run("ServerLossLosesNothing", func(t *testing.T) {
		so := stream("loss")
		origin := journal.NewMemory(journal.Options{})
		appendEvents(t, origin, 1, 1000, 0)
		pub := startPublisher(t, c.Connect(t), cluster.PublisherOptions{Journal: origin, Stream: so, AckTimeout: 2 * time.Second})
		ej := journal.NewMemory(journal.Options{})
		ed := startEdge(t, c.Connect(t), ej, cluster.EdgeOptions{Stream: so, Heartbeat: 500 * time.Millisecond})
		waitFor(t, "the edge past 500", func() bool { return ej.Last() >= 500 })
		// Take down the stream's leader, the server that matters most.
		victim := streamLeader(t, c, so.Name)
		c.Kill(victim)
		appendEvents(t, origin, 1001, 2500, 0)
		waitFor(t, "the edge at 2500 with a server down", func() bool { return ej.Last() == 2500 })
		c.Restart(victim)
		appendEvents(t, origin, 2501, 3000, 0)
		waitFor(t, "the edge at 3000", func() bool { return ej.Last() == 3000 })
		ed.stop()
		if err := pub.stop(); err != nil {
			t.Fatal(err)
		}
		sameRecords(t, "edge", origin, ej, 1, 3000)
	})
}

func withHolder(o cluster.LeaseOptions, h string) cluster.LeaseOptions {
	o.Holder = h
	return o
}

// streamLeader returns the index of the node leading the stream.
func streamLeader(t *testing.T, c *clustertest.Cluster, name string) int {
	t.Helper()
	js, err := jetstream.New(c.Connect(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(testCtx(t), name)
	if err != nil {
		t.Fatal(err)
	}
	info := s.CachedInfo()
	if info.Cluster == nil || info.Cluster.Leader == "" {
		t.Fatalf("stream %s has no leader: %+v", name, info.Cluster)
	}
	var i int
	if _, err := fmt.Sscanf(info.Cluster.Leader, "n%d", &i); err != nil {
		t.Fatalf("leader %q: %v", info.Cluster.Leader, err)
	}
	return i
}
