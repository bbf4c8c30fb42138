package cluster_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tapehq/tape/internal/cluster"
	"github.com/tapehq/tape/internal/cluster/clustertest"
	"github.com/tapehq/tape/internal/journal"
)

// TestPublisherToEdge: an origin's journal, published into a single-server
// stream, arrives in an edge's journal whole: the same records, once each,
// in order, with the origin's numbers; and the edge's batches carry the
// origin's clock.
func TestPublisherToEdge(t *testing.T) {
	c := clustertest.Single(t)
	nc := c.Connect(t)
	origin := journal.NewMemory(journal.Options{})
	appendEvents(t, origin, 1, 500, 0)
	var clock int64 = 42
	pub := startPublisher(t, nc, cluster.PublisherOptions{Journal: origin, MaxInFlight: 64,
		Clock: func() int64 { return clock }})
	ej := journal.NewMemory(journal.Options{})
	ed := startEdge(t, nc, ej, cluster.EdgeOptions{MaxBatch: 100})
	appendEvents(t, origin, 501, 1200, 0)
	waitFor(t, "the edge to apply 1200", func() bool { return ej.Last() == 1200 })
	// The edge can apply a record before the publisher has handled the
	// stream's acknowledgement of it; stopping in between abandons that
	// acknowledgement. A stepping-down origin waits for its acks (see
	// WaitAcked), and so does this test.
	if err := pub.p.WaitAcked(testCtx(t), 1200); err != nil {
		t.Fatalf("publisher: %v", err)
	}
	ed.stop()
	if err := pub.stop(); err != nil {
		t.Fatalf("publisher: %v", err)
	}
	sameRecords(t, "edge", origin, ej, 1, 1200)
	for _, n := range ed.nows {
		if n != 42 {
			t.Fatalf("edge batch Now = %d, want the origin's clock 42", n)
		}
	}
	st := pub.p.Stats()
	if st.Acked != 1200 || st.Published != 1200 || st.InFlight != 0 || st.Lag != 0 {
		t.Fatalf("publisher stats %+v, want everything acked", st)
	}
	if es := ed.feed.Stats(); es.Applied != 1200 || es.Lag != 0 || es.Events != 1200 {
		t.Fatalf("edge stats %+v", es)
	}
}

// TestSubjectsInStream: each record is stored on its class/kind/symbol
// subject, with symbols escaped, so consumers other than Tape can filter.
func TestSubjectsInStream(t *testing.T) {
	c := clustertest.Single(t)
	nc := c.Connect(t)
	origin := journal.NewMemory(journal.Options{})
	appendEvents(t, origin, 1, 14, 0)
	pub := startPublisher(t, nc, cluster.PublisherOptions{Journal: origin})
	waitFor(t, "14 acked", func() bool { return pub.p.Stats().Acked == 14 })
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	s, err := js.Stream(ctx, cluster.DefaultStreamName)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ subject, seq string }{
		{"tape.stocks.trade.BRK%2EB", "9"},
		{"tape.crypto.trade.BTC%2FUSD", "12"},
		{"tape.stocks.bar.MSFT", "6"},
		{"tape.stocks.bar.BRK%2EB", "13"},
		{"tape.stocks.quote.AAPL", "4"},
	} {
		t.Run(tc.subject, func(t *testing.T) {
			m, err := s.GetLastMsgForSubject(ctx, tc.subject)
			if err != nil {
				t.Fatalf("last message on %s: %v", tc.subject, err)
			}
			if got := m.Header.Get(cluster.HeaderSeq); got != tc.seq {
				t.Fatalf("%s: %s = %s, want %s", tc.subject, cluster.HeaderSeq, got, tc.seq)
			}
		})
	}
	_, err = s.GetLastMsgForSubject(ctx, "tape.stocks.trade.BRK.B")
	if !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("an unescaped dotted symbol must not be a subject: %v", err)
	}
}

// TestClaimRefreshKeepsTheEnd: when retention removes every record of a
// quiet stream, the refreshed claims still name the last one, so a
// restarted publisher continues after it instead of starting over.
func TestClaimRefreshKeepsTheEnd(t *testing.T) {
	c := clustertest.Single(t)
	nc := c.Connect(t)
	ctx := testCtx(t)
	so := cluster.StreamOptions{Name: "AGE", Prefix: "age", MaxAge: 2 * time.Second}
	origin := journal.NewMemory(journal.Options{})
	appendEvents(t, origin, 1, 20, 0)
	pub := startPublisher(t, nc, cluster.PublisherOptions{Journal: origin, Stream: so, ClaimRefresh: 200 * time.Millisecond})
	waitFor(t, "20 acked", func() bool { return pub.p.Stats().Acked == 20 })
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, so.Name)
	if err != nil {
		t.Fatal(err)
	}
	records := func() uint64 {
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(cluster.DataFilter(so.Prefix)))
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, c := range info.State.Subjects {
			n += c
		}
		return n
	}
	waitFor(t, "retention to remove every record", func() bool { return records() == 0 })
	if err := pub.stop(); err != nil {
		t.Fatal(err)
	}
	if n := pub.p.Stats().Claims; n < 2 {
		t.Fatalf("%d claims: the idle publisher never claimed again", n)
	}
	appendEvents(t, origin, 21, 30, 0)
	pub = startPublisher(t, nc, cluster.PublisherOptions{Journal: origin, Stream: so})
	waitFor(t, "30 acked", func() bool { return pub.p.Stats().Acked == 30 })
	if n := records(); n > 10 {
		t.Fatalf("the stream holds %d records: the publisher started over instead of after 20", n)
	}
	if err := pub.stop(); err != nil {
		t.Fatal(err)
	}
}
