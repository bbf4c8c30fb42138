package server

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata/stream"

	"github.com/tapehq/tape/internal/backfill/backfilltest"
	"github.com/tapehq/tape/internal/feed/poll"
	"github.com/tapehq/tape/internal/market"
)

func polledTrade(id int64, sec int, price float64) market.Event {
	return market.Event{Kind: market.KindTrade, Symbol: "AAPL", Time: time.Date(2026, 11, 24, 15, 0, sec, 0, time.UTC).UnixNano(),
		Trade: market.Trade{ID: id, Price: price, Size: 100, Exchange: 'V', Tape: 'C', Conditions: market.MakeConditions("@")}}
}

// TestPollFeed: with --feed poll, Tape polls a fake of Alpaca's REST API
// and an SDK client receives the trades that changed, as it would from a
// stream; the feed's state shows in the status. Restarted on the same
// data directory, Tape does not publish again what it already stored.
func TestPollFeed(t *testing.T) {
	fake := backfilltest.New(t)
	fake.SetKeys("AK", "SK")
	fake.SetLatest(polledTrade(1, 0, 230))
	dir := t.TempDir()
	opts := Options{Feed: "poll", DataDir: dir, AlpacaDataURL: fake.URL, AlpacaKey: "AK", AlpacaSecret: "SK",
		Symbols: []string{"AAPL"}, PollInterval: 10 * time.Millisecond}
	srv, stop := start(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var mu sync.Mutex
	var got []stream.Trade
	client := stream.NewStocksClient("iex", stream.WithBaseURL(baseURL(srv)), stream.WithCredentials("k", "s"),
		stream.WithLogger(stream.ErrorOnlyLogger()),
		stream.WithTrades(func(tr stream.Trade) { mu.Lock(); got = append(got, tr); mu.Unlock() }, "AAPL"))
	connCtx, disconnect := context.WithCancel(ctx)
	if err := client.Connect(connCtx); err != nil {
		t.Fatal(err)
	}
	// Subscribed: the next change reaches the client.
	fake.SetLatest(polledTrade(2, 1, 231.5))
	waitFor(t, ctx, "the polled trade", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0 && got[len(got)-1].ID == 2
	}, nil)
	mu.Lock()
	last := got[len(got)-1]
	mu.Unlock()
	if last.Price != 231.5 || last.Size != 100 || last.Exchange != "V" || !last.Timestamp.Equal(time.Unix(0, polledTrade(2, 1, 0).Time)) {
		t.Fatalf("trade %+v", last)
	}
	st := srv.Status()
	if st.Feed.Name != "poll" || st.Feed.State != poll.StatePolling {
		t.Fatalf("feed status %+v", st.Feed)
	}
	resp, err := http.Get("http://" + srv.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "tape_poll_polls_total ") || !strings.Contains(string(body), "tape_poll_errors_total 0") {
		t.Fatalf("metrics lack the poll counters")
	}
	waitFor(t, ctx, "the trade in history", func() bool {
		e, ok := srv.dir.History.LatestTrade("AAPL")
		return ok && e.Trade.ID == 2
	}, nil)
	disconnect()
	<-client.Terminated()
	stop()

	// Restart: the latest trade is already stored; polls find nothing new.
	srv, _ = start(t, opts)
	pf := srv.src.main.(*poll.Feed)
	waitFor(t, ctx, "three polls", func() bool { polls, _, _ := pf.Stats(); return polls >= 3 }, nil)
	if n := srv.pipe().Stats().Events; n != 0 {
		t.Fatalf("%d events published again after a restart", n)
	}
}

// TestPollFeedOptions: what --feed poll requires.
func TestPollFeedOptions(t *testing.T) {
	cases := []struct {
		opts Options
		want string
	}{
		{Options{Feed: "poll", Symbols: []string{"AAPL"}}, "needs your Alpaca keys"},
		{Options{Feed: "poll", AlpacaKey: "k", AlpacaSecret: "s"}, "needs --symbols"},
		{Options{Feed: "poll", AlpacaKey: "k", AlpacaSecret: "s", Symbols: []string{"A"}, AlpacaFeed: "test"}, "cannot be polled"},
		{Options{Feed: "poll", AlpacaKey: "k", AlpacaSecret: "s", Symbols: []string{"A"}, AlpacaDataURL: "data.alpaca.markets"}, "--alpaca-data-url"},
		{Options{Feed: "bogus"}, "choose sim, alpaca, poll, replay or nats"},
	}
	for _, c := range cases {
		c.opts.DataDir = t.TempDir()
		if _, err := New(c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.opts, err, c.want)
		}
	}
}
