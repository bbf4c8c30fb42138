package history

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tapehq/tape/internal/market"
)

// cryptoDataset is two pairs trading around the clock over two days
// (across UTC and New York midnights): trades with fractional sizes, taker
// sides and 64-bit IDs, some late; quotes; a bar every minute (some with
// zero volume, as Alpaca sends them), updated bars and daily bars; then a
// backfill of BTC/USD's first hours arriving after the rest (a second run).
// Volumes and VWAPs are multiples of powers of two, so that sums are exact
// in any order. A stock "X" and a pair "X" share a name, not data.
func cryptoDataset() []market.Event {
	r := rand.New(rand.NewPCG(3, 3))
	var evs, backfill []market.Event
	start := at("2024-06-03 18:00:00")
	sides := []byte{'B', 'S', '-', 0}
	for i := range 3000 {
		t := start + int64(i)*10e9 // 3000 × 10 s: 8 h 20 min
		for k, sym := range []string{"BTC/USD", "ETH/USD", "X"} {
			ts := t + int64(k)*1e6
			if i%17 == 5 {
				ts -= int64(r.IntN(4000)) * 1e6 // late
			}
			tr := cryptoTrade(sym, ts, 60000+float64(i%100)/4, float64(1+i%7)/64, 1<<40+int64(i), sides[i%4])
			if sym == "BTC/USD" && i < 1500 {
				backfill = append(backfill, tr) // sent again later, as a backfill
			}
			evs = append(evs, tr, cryptoQuote(sym, ts+5e5, 59999+float64(i%9)/8, float64(i%5)/16, 0.375))
		}
		if i%6 == 5 { // a minute closed
			m := t - t%nsPerMinute
			for _, sym := range []string{"BTC/USD", "ETH/USD"} {
				vol := float64(i%4) / 8 // zero sometimes
				evs = append(evs, cryptoBar(market.KindCryptoBar, sym, m, 60000, 60001.5, 59999.25, 60000.5, vol, uint64(i%4), 60000.25))
				if i%60 == 59 {
					evs = append(evs, cryptoBar(market.KindCryptoUpdatedBar, sym, m-5*nsPerMinute, 60000, 60002, 59999, 60001, 0.75, 9, 60000.5))
				}
				day, _, _ := (calendar{loc: ny}).dayOf(m)
				evs = append(evs, cryptoBar(market.KindCryptoDailyBar, sym, (calendar{loc: ny}).dayStart(day), 59000, 61000, 58000, 60000.5, float64(i)/4, uint64(i), 60000))
			}
		}
	}
	evs = append(evs, trade("X", start, 10, 1), trade("X", start+1e9, 11, 2), quote("X", start, 9.5),
		bar(market.KindBar, "X", start, 1, 2, 0.5, 1.5, 100, 3, 1.2))
	return append(evs, sortedByTime(backfill)...)
}

// expectCryptoBars aggregates the oracle's crypto minute or daily bars in
// buckets, by brute force: Store.Bars' contract for crypto.
func expectCryptoBars(o *oracle, src string, bk bucketer, q Query) []market.Event {
	var out []market.Event
	for _, sym := range sortedUnique(q.Symbols) {
		bars := o.expectBars(src, Query{Symbols: []string{sym}, Start: math.MinInt64, End: math.MaxInt64})
		var g []market.Event
		for i := 0; i < len(bars); {
			b := bk.floor(bars[i].Time)
			j := i
			for j < len(bars) && bk.floor(bars[j].Time) == b {
				j++
			}
			if b >= q.Start && b <= q.End {
				c := market.CryptoBar{Open: bars[i].CryptoBar.Open, Close: bars[j-1].CryptoBar.Close, High: math.Inf(-1), Low: math.Inf(1)}
				var pv float64
				var seq uint64
				for _, e := range bars[i:j] {
					c.High, c.Low = max(c.High, e.CryptoBar.High), min(c.Low, e.CryptoBar.Low)
					c.Volume += e.CryptoBar.Volume
					c.TradeCount += e.CryptoBar.TradeCount
					pv += e.CryptoBar.VWAP * e.CryptoBar.Volume
					seq = max(seq, e.Seq)
				}
				c.VWAP = bars[j-1].CryptoBar.VWAP
				if c.Volume > 0 {
					c.VWAP = pv / c.Volume
				}
				g = append(g, market.Event{Seq: seq, Time: b, Symbol: sym, Kind: market.KindCryptoBar, CryptoBar: &c})
			}
			i = j
		}
		if q.Desc {
			slices.Reverse(g)
		}
		out = append(out, g...)
	}
	return out
}

func TestCrypto(t *testing.T) {
	var g seqr
	evs := g.seq(cryptoDataset())
	o := newOracle()
	o.apply(evs)
	pairs := []string{"BTC/USD", "ETH/USD", "X"}
	for _, state := range states {
		t.Run(state, func(t *testing.T) {
			s := storeState(t, state, evs)
			c := s.Crypto()
			for _, desc := range []bool{false, true} {
				q := Query{Symbols: pairs, Start: math.MinInt64, End: math.MaxInt64, Desc: desc, Limit: 997}
				sameEvents(t, "trades", walk(t, c.Trades, q), o.expectTicks(market.KindCryptoTrade, q))
				sameEvents(t, "quotes", walk(t, c.Quotes, q), o.expectTicks(market.KindCryptoQuote, q))
				bars := func(tf market.Timeframe) fetchFunc {
					return func(ctx contextT, q Query) (Result, error) { return c.Bars(ctx, q, tf) }
				}
				sameEvents(t, "1Min", walk(t, bars(market.OneMinute), q), o.expectBars("cm", q))
				sameEvents(t, "1Day", walk(t, bars(market.OneDay), q), o.expectBars("cd", q))
				sameEvents(t, "4Hour", walk(t, bars(market.Timeframe{N: 4, Unit: market.Hour}), q),
					expectCryptoBars(o, "cm", utcBuckets{4 * 60 * nsPerMinute}, q))
				sameEvents(t, "1Week", walk(t, bars(market.Timeframe{N: 1, Unit: market.Week}), q),
					expectCryptoBars(o, "cd", weekBuckets{ny}, q))
				// A window inside the day, through Query.Class.
				q.Class, q.Start, q.End = market.ClassCrypto, at("2024-06-03 23:30:00"), at("2024-06-04 01:30:00")
				sameEvents(t, "window", walk(t, s.Trades, q), o.expectTicks(market.KindCryptoTrade, q))
			}
			// The namespaces: the stock X and the pair X.
			q := Query{Symbols: []string{"X"}, Start: math.MinInt64, End: math.MaxInt64, Limit: 10}
			if r, err := s.Trades(t.Context(), q); err != nil || len(r.Events) != 2 || r.Events[0].Kind != market.KindTrade {
				t.Fatalf("stock X: %d trades, %v", len(r.Events), err)
			}
			if got := s.Symbols(); !slices.Equal(got, []string{"X"}) {
				t.Fatalf("stock symbols %q", got)
			}
			if got := c.Symbols(); !slices.Equal(got, pairs) {
				t.Fatalf("crypto symbols %q", got)
			}
			q.Class = market.ClassOptions
			if _, err := s.Trades(t.Context(), q); !errors.Is(err, ErrBadQuery) {
				t.Fatalf("options query: %v", err)
			}
			for _, sym := range pairs {
				snap, ok := c.Snapshot(sym)
				wantT, _ := o.latestTick(market.KindCryptoTrade, sym)
				wantQ, _ := o.latestTick(market.KindCryptoQuote, sym)
				if !ok || !sameEvent(snap.LatestTrade, wantT) || !sameEvent(snap.LatestQuote, wantQ) {
					t.Fatalf("%s snapshot trade %v quote %v; want %v %v", sym, snap.LatestTrade, snap.LatestQuote, evString(wantT), evString(wantQ))
				}
				if lt, _ := c.LatestTrade(sym); !sameEvent(&lt, wantT) {
					t.Fatalf("%s latest trade %v", sym, evString(lt))
				}
				if sym == "X" {
					continue // no crypto bars
				}
				mins := o.expectBars("cm", Query{Symbols: []string{sym}, Start: math.MinInt64, End: math.MaxInt64})
				days := o.expectBars("cd", Query{Symbols: []string{sym}, Start: math.MinInt64, End: math.MaxInt64})
				lb, _ := c.LatestBar(sym)
				if !sameEvent(snap.MinuteBar, mins[len(mins)-1]) || !sameEvent(&lb, mins[len(mins)-1]) ||
					!sameEvent(snap.DailyBar, days[len(days)-1]) || !sameEvent(snap.PrevDailyBar, days[len(days)-2]) {
					t.Fatalf("%s bars in snapshot %+v", sym, snap)
				}
			}
			if st, ok := s.Snapshot("BTC/USD"); ok {
				t.Fatalf("stock snapshot of a pair: %+v", st)
			}
		})
	}
}

func sameEvent(got *market.Event, want market.Event) bool {
	return got != nil && evString(*got) == evString(want) && (got.CryptoBar == nil) == (want.CryptoBar == nil) &&
		(got.CryptoBar == nil || *got.CryptoBar == *want.CryptoBar)
}

// TestCryptoFiles checks where crypto data goes: its own directory tree
// (symbols escaped), its own record kinds, runs for the backfill, and
// PruneBefore covering it.
func TestCryptoFiles(t *testing.T) {
	var g seqr
	evs := g.seq(cryptoDataset())
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	s.Apply(evs)
	mustFlush(t, s)
	btc := filepath.Join(dir, "crypto", "BTC%2FUSD")
	for _, name := range []string{"trades-2024-06-03.dat", "trades-2024-06-03.runs", "quotes-2024-06-04.dat", "bars-2024-06.dat", "daily.dat"} {
		if _, err := os.Stat(filepath.Join(btc, name)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(filepath.Join(btc, "trades-2024-06-03.dat"))
	must(t, err)
	var hb [headerSize]byte
	must(t, readFull(f, hb[:], 0))
	f.Close()
	if h, err := decodeHeader(hb[:], kindCryptoTrades); err != nil || h.closed == 0 {
		t.Fatalf("crypto trade file header %+v, %v", h, err)
	}
	if _, err := decodeHeader(hb[:], kindTrades); err == nil {
		t.Fatal("a crypto trade file reads as a stock one")
	}
	if _, err := os.Stat(filepath.Join(dir, "symbols", "X", "trades-2024-06-03.dat")); err != nil {
		t.Fatal(err)
	}
	checkDisk(t, s)

	rep, err := s.PruneBefore(at("2024-06-04 00:00:00"))
	if err != nil || rep.Files == 0 {
		t.Fatalf("prune: %+v, %v", rep, err)
	}
	q := Query{Class: market.ClassCrypto, Symbols: []string{"BTC/USD"}, Start: math.MinInt64, End: math.MaxInt64, Limit: math.MaxInt}
	r, err := s.Trades(t.Context(), q)
	if err != nil || len(r.Events) == 0 || r.Events[0].Time < at("2024-06-04 00:00:00") {
		t.Fatalf("after the prune: %d trades, %v", len(r.Events), err)
	}
	checkDisk(t, s)
}
