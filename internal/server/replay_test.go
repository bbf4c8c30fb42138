package server

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/streamclient"
)

// TestReplayYieldsTheRecording records a simulated stretch, then replays it
// at max speed to a client subscribed to everything: the client receives
// exactly the journaled messages, in the same order.
func TestReplayYieldsTheRecording(t *testing.T) {
	dir := t.TempDir()
	start0 := regularSession()
	srv, stop := start(t, Options{DataDir: dir, Source: simSource(t, 3000, 60)})
	deadline := time.Now().Add(10 * time.Second)
	for srv.pipe().Stats().Released < 20000 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()

	// What the journal holds, decoded.
	j, err := journal.Open(dir+"/journal", journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var want []market.Event
	r, _ := j.NewReader(0)
	var in market.Interner
	for {
		rec, ok, err := r.TryNext()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		var e market.Event
		if err := market.DecodeBinary(rec.Payload, &e, &in); err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
	}
	r.Close()
	j.Close()
	if len(want) < 20000 {
		t.Fatalf("recorded only %d events", len(want))
	}

	// The sip feed replays every consolidated event; the iex feed IEX's
	// own: the trades (corrections, cancels) printed on IEX, IEX quotes
	// and bars (as Alpaca's ordinary messages), and the statuses, LULDs and
	// imbalances both feeds carry.
	var sip, iex []market.Event
	for _, e := range want {
		if !e.Kind.IsIEX() {
			sip = append(sip, e)
		}
		switch ch := e.Kind.Channel(); {
		case e.Kind.IsIEX():
			e.Kind = e.Kind.Consolidated()
			iex = append(iex, e)
		case e.OnIEX(), ch == market.ChanStatuses || ch == market.ChanLULDs || ch == market.ChanImbalances:
			iex = append(iex, e)
		}
	}
	if len(iex) < 1000 || len(iex) > len(sip)/2 {
		t.Fatalf("recorded %d events of the iex feed, %d consolidated", len(iex), len(sip))
	}
	replayFeed(t, dir, start0, "sip", sip)
	replayFeed(t, dir, start0, "iex", iex)
}

// replayFeed replays the record in dir on a stream feed and checks a
// client subscribed to everything receives want, in order.
func replayFeed(t *testing.T, dir string, start0 time.Time, feed string, want []market.Event) {
	t.Helper()
	// From a minute early: the first late trades are stamped before the
	// simulator's start.
	rs, stop := start(t, Options{DataDir: dir, Feed: "replay", ReplayFrom: start0.Add(-time.Minute), Speed: math.Inf(1)})
	defer stop()
	var sub alpacawire.Subscription
	for _, c := range alpacawire.StreamStocks.Channels() { // every channel of the stock stream it dials
		sub[c] = []string{"*"}
	}
	c, _ := streamclient.New(streamclient.Options{URL: "ws://" + rs.Addr().String() + "/v2/" + feed, Subscription: sub})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []market.Event
	err := c.Run(ctx, func(msgs []alpacawire.Message) {
		for _, m := range msgs {
			if m.Event.Kind != market.KindInvalid {
				e := m.Event
				e.Seq = 0
				got = append(got, e)
			}
		}
		if len(got) >= len(want) {
			cancel()
		}
	})
	if len(got) != len(want) {
		t.Fatalf("%s: replayed %d events, recorded %d (run: %v)", feed, len(got), len(want), err)
	}
	for i := range want {
		if !sameEvent(got[i], want[i]) {
			t.Fatalf("%s: event %d: replayed %+v, recorded %+v", feed, i, got[i], want[i])
		}
	}
}

func sameEvent(a, b market.Event) bool {
	if a.Kind != b.Kind || a.Symbol != b.Symbol || a.Time != b.Time || a.Trade != b.Trade || a.Quote != b.Quote || a.Bar != b.Bar {
		return false
	}
	switch a.Kind {
	case market.KindStatus:
		return *a.Status == *b.Status
	case market.KindLULD:
		return *a.LULD == *b.LULD
	case market.KindCorrection:
		return *a.Correction == *b.Correction
	case market.KindCancelError:
		return *a.CancelError == *b.CancelError
	case market.KindImbalance:
		return *a.Imbalance == *b.Imbalance
	}
	return true
}
