package server

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/feed/alpaca"
	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/market"
)

type symID struct {
	sym string
	id  int64
}

// tradesIn returns the trades of syms in h between lo and hi, counting
// each (symbol, ID).
func tradesIn(t *testing.T, h *history.Store, syms []string, lo, hi int64) map[symID]int {
	t.Helper()
	out := map[symID]int{}
	res, err := h.Trades(context.Background(), history.Query{Symbols: syms, Start: lo, End: hi, Limit: math.MaxInt32})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Events {
		out[symID{e.Symbol, e.Trade.ID}]++
	}
	return out
}

// TestGapFillSingleTape: a Tape in front of an upstream (another Tape,
// standing in for Alpaca's stream and REST API) whose connection drops
// four times ends with every trade the upstream recorded exactly once in
// its history — the trades sent while it was reconnecting fetched from the
// REST API, flagged gap-filled, none twice.
func TestGapFillSingleTape(t *testing.T) {
	syms := []string{"AAPL", "MSFT"}
	up, _ := start(t, Options{Symbols: syms, Seed: 11, Rate: 400, Speed: 1, SimStart: regularSession(), CryptoSymbols: []string{}})
	proxy, _ := start(t, Options{Feed: "alpaca", AlpacaStreamURL: "ws://" + up.Addr().String() + "/v2", AlpacaFeed: "sip",
		AlpacaDataURL: "http://" + up.Addr().String(), AlpacaKey: "k", AlpacaSecret: "s", Symbols: syms})
	f := proxy.src.main.(*alpaca.Feed)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	waitFor(t, ctx, "the first trades", func() bool { return proxy.pipe().Stats().Events > 50 }, nil)
	for range 4 {
		before := f.GapStats().Gaps
		f.Disconnect() // the upstream trades on while the proxy reconnects
		waitFor(t, ctx, "the gap filled", func() bool { return f.GapStats().Gaps > before }, nil)
		time.Sleep(500 * time.Millisecond)
	}
	waitFor(t, ctx, "the last fill", func() bool {
		st := f.GapStats()
		return st.Filled > 0 && time.Since(st.LastTo) > 0
	}, nil)
	time.Sleep(12 * time.Second) // past the simulator's late reports (up to 9 s)
	if st := f.GapStats(); st.Failures != 0 || st.Filled == 0 {
		t.Fatalf("gap fill: %+v", st)
	}
	// The period both record completely: from the proxy's first trade to
	// 10 s before its clock (late reports of the end are still coming).
	first, err := proxy.dir.History.Trades(ctx, history.Query{Symbols: syms, Start: 0, End: math.MaxInt64, Limit: 1})
	if err != nil || len(first.Events) == 0 {
		t.Fatalf("no trades: %v", err)
	}
	lo := first.Events[0].Time + int64(time.Second)
	hi := proxy.pipe().Stats().Clock - int64(10*time.Second)
	want := tradesIn(t, up.dir.History, syms, lo, hi)
	got := tradesIn(t, proxy.dir.History, syms, lo, hi)
	if len(want) < 200 {
		t.Fatalf("only %d upstream trades in the period", len(want))
	}
	for k, n := range got {
		if n != 1 {
			t.Errorf("%v recorded %d times", k, n)
		}
	}
	missing := 0
	for k := range want {
		if got[k] == 0 {
			missing++
		}
	}
	if missing > 0 || len(got) != len(want) {
		t.Fatalf("the proxy recorded %d of the upstream's %d trades (%d missing)", len(got), len(want), missing)
	}
	st := proxy.pipe().Stats()
	if st.ByKind[market.KindTrade] == 0 {
		t.Fatal("no trades sequenced")
	}
	t.Logf("%d trades, %d filled events in %d gaps", len(want), f.GapStats().Filled, f.GapStats().Gaps)
}
