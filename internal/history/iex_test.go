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

// iexTrade is a trade printed on IEX: a consolidated trade that the IEX
// view has too.
func iexTrade(sym string, t int64, price float64, id int64) market.Event {
	e := trade(sym, t, price, id)
	e.Trade.Exchange = market.IEXExchange
	return e
}

// iexQuote is IEX's own top of book, unlike the NBBO of quote.
func iexQuote(sym string, t int64, bid float64) market.Event {
	return market.Event{Kind: market.KindIEXQuote, Symbol: sym, Time: t,
		Quote: market.Quote{BidPrice: bid, AskPrice: bid + 0.03, BidSize: 1, AskSize: 2, BidExchange: 'V', AskExchange: 'V', Tape: 'C'}}
}

// iexDataset is a simulated record: trades (about a quarter on IEX, some
// late), NBBO and IEX quotes, consolidated and IEX minute bars (IEX ones
// for fewer minutes, with other values), updated bars and daily bars of
// both views, over two days in two months (so minute bars span two
// files). IEXONLY has an IEX quote and nothing else; NBBOONLY a quote
// and a trade off IEX.
func iexDataset() []market.Event {
	r := rand.New(rand.NewPCG(9, 9))
	syms := []string{"AAPL", "MSFT", "SPY"}
	var evs []market.Event
	id := int64(0)
	for _, day := range []string{"2024-05-31", "2024-06-03"} {
		t := at(day + " 09:30:00")
		minute := t
		end := t + 25*nsPerMinute
		vol := map[string]uint64{}
		for t < end {
			sym := syms[r.IntN(len(syms))]
			id++
			tr := trade(sym, t, 100+float64(id%11)/10, id)
			if r.IntN(4) == 0 {
				tr = iexTrade(sym, t, 100+float64(id%11)/10, id)
			}
			if id%37 == 0 {
				tr.Time -= int64(r.IntN(3000)) * 1e6 // a late report
			}
			evs = append(evs, tr, quote(sym, t+1e6, 100+float64(id%13)/10))
			if r.IntN(3) == 0 {
				evs = append(evs, iexQuote(sym, t+2e6, 99+float64(id%7)/10))
			}
			t += int64(r.IntN(1500)+1) * 1e6
			for ; t >= minute+nsPerMinute; minute += nsPerMinute {
				i := uint64((minute - at(day+" 09:30")) / nsPerMinute)
				for k, sym := range syms {
					vol[sym] += 1000 + i
					p := 100 + float64(k) + float64(i%5)/4
					evs = append(evs, bar(market.KindBar, sym, minute, p, p+1, p-1, p+0.5, 1000+i, 20+i, p+0.25))
					if (i+uint64(k))%3 != 0 { // IEX trades in this minute
						q := p + 0.125
						evs = append(evs, bar(market.KindIEXBar, sym, minute, q, q+0.5, q-0.5, q+0.25, 10+i, 1+i%4, q))
					}
					if i%20 == 19 {
						evs = append(evs,
							bar(market.KindUpdatedBar, sym, minute-5*nsPerMinute, p, p+2, p-2, p, 5000+i, 99, p),
							bar(market.KindIEXUpdatedBar, sym, minute-6*nsPerMinute, p, p+0.75, p-0.75, p, 55+i, 7, p),
							bar(market.KindDailyBar, sym, at(day+" 00:00"), 100, 110, 90, p, vol[sym], 500+i, 101),
							bar(market.KindIEXDailyBar, sym, at(day+" 00:00"), 100.5, 105, 95, p+0.5, vol[sym]/20, 50+i, 100.75))
					}
				}
			}
		}
	}
	evs = append(evs, iexQuote("IEXONLY", at("2024-06-03 12:00:00"), 5),
		quote("NBBOONLY", at("2024-06-03 12:00:00"), 6), trade("NBBOONLY", at("2024-06-03 12:00:01"), 6, 1e6))
	return evs
}

// splitViews splits a sequenced record into what each view must hold, as
// stock events with the same seqs: the consolidated view (everything but
// the iex feed's kinds) and the IEX view (the trades on IEX, and the iex
// feed's quotes and bars as the consolidated kinds).
func splitViews(evs []market.Event) (sip, iexView []market.Event) {
	for _, e := range evs {
		switch {
		case e.Kind.IsIEX():
			e.Kind = e.Kind.Consolidated()
			iexView = append(iexView, e)
		case e.Kind == market.KindTrade && e.Trade.Exchange == market.IEXExchange:
			sip = append(sip, e)
			iexView = append(iexView, e)
		default:
			sip = append(sip, e)
		}
	}
	return sip, iexView
}

// aggTimeframes are timeframes aggregated from minute or daily bars.
var aggTimeframes = []market.Timeframe{{N: 5, Unit: market.Minute}, {N: 1, Unit: market.Hour}, {N: 1, Unit: market.Week}, {N: 1, Unit: market.Month}}

// sameViews checks that two views answer alike: everything dumpStore
// compares, and the aggregated timeframes in both directions.
func sameViews(t *testing.T, got, want view) {
	t.Helper()
	sameDump(t, dumpStore(t, got), dumpStore(t, want))
	syms := append(want.Symbols(), "NOPE")
	for _, desc := range []bool{false, true} {
		q := Query{Symbols: syms, Start: math.MinInt64, End: math.MaxInt64, Desc: desc, Limit: 29}
		for _, tf := range aggTimeframes {
			bars := func(v view) fetchFunc {
				return func(ctx contextT, q Query) (Result, error) { return v.Bars(ctx, q, tf) }
			}
			w := walk(t, bars(want), q)
			if len(w) == 0 {
				t.Fatalf("%v: no bars", tf)
			}
			sameEvents(t, tf.String(), walk(t, bars(got), q), w)
		}
		q.Limit = 61
		sameEvents(t, "trades", walk(t, got.Trades, q), walk(t, want.Trades, q))
		sameEvents(t, "quotes", walk(t, got.Quotes, q), walk(t, want.Quotes, q))
	}
}

// TestIEXView checks the IEX view of a record against a store that holds
// only the IEX data, as stock data, and the consolidated view against one
// that holds only the rest, in every state of memory and disk.
func TestIEXView(t *testing.T) {
	var g seqr
	evs := g.seq(iexDataset())
	sip, iexView := splitViews(evs)
	wantSIP := storeState(t, "memory", sip)
	wantIEX := storeState(t, "memory", iexView)
	var nIEXTrades, nIEXQuotes, nQuotes int
	for _, e := range evs {
		switch {
		case e.Kind == market.KindIEXQuote:
			nIEXQuotes++
		case e.Kind == market.KindQuote:
			nQuotes++
		case e.OnIEX():
			nIEXTrades++
		}
	}
	all := []string{"AAPL", "IEXONLY", "MSFT", "NBBOONLY", "SPY"}
	for _, state := range states {
		t.Run(state, func(t *testing.T) {
			s := storeState(t, state, evs)
			v := s.IEX()
			if !s.HasIEX() {
				t.Fatal("HasIEX is false")
			}
			sameViews(t, v, wantIEX)
			sameViews(t, s, wantSIP)

			// Directly: the views hold what they should and nothing else.
			q := everything
			q.Symbols = all
			r, err := v.Trades(t.Context(), q)
			if err != nil || len(r.Events) != nIEXTrades || nIEXTrades < 50 {
				t.Fatalf("IEX trades: %d, %v; want %d", len(r.Events), err, nIEXTrades)
			}
			for _, e := range r.Events {
				if e.Kind != market.KindTrade || e.Trade.Exchange != market.IEXExchange {
					t.Fatalf("IEX view trade %s", evString(e))
				}
			}
			if r, err := s.Trades(t.Context(), q); err != nil || len(r.Events) <= nIEXTrades {
				t.Fatalf("consolidated trades: %d, %v", len(r.Events), err)
			}
			r, err = v.Quotes(t.Context(), q)
			if err != nil || len(r.Events) != nIEXQuotes {
				t.Fatalf("IEX quotes: %d, %v; want %d", len(r.Events), err, nIEXQuotes)
			}
			for _, e := range r.Events {
				if e.Kind != market.KindQuote || e.Quote.BidExchange != 'V' {
					t.Fatalf("IEX view quote %s", evString(e))
				}
			}
			r, err = s.Quotes(t.Context(), q)
			if err != nil || len(r.Events) != nQuotes {
				t.Fatalf("consolidated quotes: %d, %v; want %d", len(r.Events), err, nQuotes)
			}
			for _, e := range r.Events {
				if e.Quote.BidExchange == 'V' {
					t.Fatalf("an IEX quote among the consolidated: %s", evString(e))
				}
			}
			ib, err := v.Bars(t.Context(), q, market.OneMinute)
			if err != nil {
				t.Fatal(err)
			}
			sb, err := s.Bars(t.Context(), q, market.OneMinute)
			if err != nil || len(ib.Events) == 0 || len(ib.Events) >= len(sb.Events) {
				t.Fatalf("%d IEX minute bars, %d consolidated, %v", len(ib.Events), len(sb.Events), err)
			}
			for _, e := range ib.Events {
				if e.Kind != market.KindBar || e.Bar.Volume >= 1000 {
					t.Fatalf("IEX minute bar %s", evString(e))
				}
			}
			for _, e := range sb.Events {
				if e.Bar.Volume < 1000 {
					t.Fatalf("an IEX bar among the consolidated: %s", evString(e))
				}
			}

			// Latest values and snapshots are the view's.
			snap, ok := v.Snapshot("AAPL")
			ssnap, _ := s.Snapshot("AAPL")
			if !ok || snap.LatestTrade == nil || snap.LatestQuote == nil || snap.MinuteBar == nil || snap.DailyBar == nil || snap.PrevDailyBar == nil {
				t.Fatalf("IEX snapshot %+v", snap)
			}
			if snap.LatestTrade.Trade.Exchange != 'V' || snap.LatestQuote.Quote.BidExchange != 'V' || snap.MinuteBar.Bar.Volume >= 1000 ||
				snap.DailyBar.Bar.Open != 100.5 || snap.PrevDailyBar.Bar.Open != 100.5 || snap.LatestQuote.Kind != market.KindQuote ||
				snap.MinuteBar.Kind != market.KindBar || snap.DailyBar.Kind != market.KindBar {
				t.Fatalf("IEX snapshot has other values: trade %s quote %s bar %s daily %s", evString(*snap.LatestTrade),
					evString(*snap.LatestQuote), evString(*snap.MinuteBar), evString(*snap.DailyBar))
			}
			if ssnap.LatestQuote == nil || ssnap.LatestQuote.Quote.BidExchange == 'V' || ssnap.DailyBar.Bar.Open != 100 {
				t.Fatalf("consolidated snapshot %+v", ssnap)
			}
			if got := v.Symbols(); !slices.Equal(got, []string{"AAPL", "IEXONLY", "MSFT", "SPY"}) {
				t.Fatalf("IEX symbols %q", got)
			}
			if got := s.Symbols(); !slices.Equal(got, []string{"AAPL", "MSFT", "NBBOONLY", "SPY"}) {
				t.Fatalf("stock symbols %q", got)
			}
			if _, ok := v.LatestTrade("NBBOONLY"); ok {
				t.Fatal("IEX view has a trade of NBBOONLY")
			}
			if _, ok := v.Snapshot("NBBOONLY"); ok {
				t.Fatal("IEX view has a snapshot of NBBOONLY")
			}
			if lq, ok := v.LatestQuote("IEXONLY"); !ok || lq.Quote.BidPrice != 5 || lq.Kind != market.KindQuote {
				t.Fatalf("IEXONLY latest quote %v %v", evString(lq), ok)
			}
			if _, ok := s.LatestQuote("IEXONLY"); ok {
				t.Fatal("the consolidated view has IEXONLY's IEX quote")
			}
			// The IEX view is of stocks only.
			q.Class = market.ClassCrypto
			if _, err := v.Trades(t.Context(), q); !errors.Is(err, ErrBadQuery) {
				t.Fatalf("a crypto query of the IEX view: %v", err)
			}
		})
	}
}

// TestIEXFiles checks where the IEX view goes on disk (its own tree, in
// the stock format), that Stats count it, and that PruneBefore prunes it.
func TestIEXFiles(t *testing.T) {
	var g seqr
	evs := g.seq(iexDataset())
	dir := t.TempDir()
	s := openStore(t, dir)
	defer func() { s.Close() }()
	s.Apply(evs)
	_, iexView := splitViews(evs)
	var pending int64
	for _, e := range evs {
		switch e.Kind {
		case market.KindTrade, market.KindQuote, market.KindIEXQuote:
			pending += tickRecSize
			if e.OnIEX() {
				pending += tickRecSize // in both views
			}
		}
	}
	st := s.Stats()
	if st.Symbols != 8 || st.PendingBytes < pending {
		t.Fatalf("stats %+v; want 8 symbols (4 + 4) and at least %d pending bytes", st, pending)
	}
	mustFlush(t, s)
	aapl := filepath.Join(dir, "iex", "AAPL")
	for _, name := range []string{"trades-2024-05-31.dat", "quotes-2024-06-03.dat", "bars-2024-05.dat", "bars-2024-06.dat", "daily.dat"} {
		if _, err := os.Stat(filepath.Join(aapl, name)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(filepath.Join(aapl, "trades-2024-05-31.dat"))
	must(t, err)
	var hb [headerSize]byte
	must(t, readFull(f, hb[:], 0))
	f.Close()
	if _, err := decodeHeader(hb[:], kindTrades); err != nil {
		t.Fatalf("IEX trade file header: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "iex", "NBBOONLY")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("NBBOONLY in the IEX tree: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "symbols", "IEXONLY")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("IEXONLY in the stock tree: %v", err)
	}
	checkDisk(t, s)
	if st := s.Stats(); st.PendingBytes != 0 || st.AppliedSeq != evs[len(evs)-1].Seq {
		t.Fatalf("after flush: %+v", st)
	}

	rep, err := s.PruneBefore(at("2024-06-01 00:00:00"))
	if err != nil || rep.Files == 0 {
		t.Fatalf("prune: %+v, %v", rep, err)
	}
	if _, err := os.Stat(filepath.Join(aapl, "trades-2024-05-31.dat")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an IEX trade file survived the prune: %v", err)
	}
	if _, err := os.Stat(filepath.Join(aapl, "bars-2024-05.dat")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an IEX bar file survived the prune: %v", err)
	}
	checkDisk(t, s)
	v := s.IEX()
	q := everything
	q.Symbols = []string{"AAPL"}
	r, err := v.Trades(t.Context(), q)
	if err != nil || len(r.Events) == 0 || r.Events[0].Time < at("2024-06-01 00:00:00") {
		t.Fatalf("IEX trades after the prune: %d, %v", len(r.Events), err)
	}
	d, err := v.Bars(t.Context(), q, market.OneDay)
	if err != nil || len(d.Events) != 2 {
		t.Fatalf("IEX daily bars after the prune: %d, %v", len(d.Events), err)
	}

	// Reopened, the pruned view is the one the pruned data makes.
	must(t, s.Close())
	s = openStore(t, dir)
	checkDisk(t, s)
	var kept []market.Event
	for _, e := range iexView {
		if e.Time >= at("2024-06-01 00:00:00") || e.Kind == market.KindDailyBar {
			kept = append(kept, e)
		}
	}
	sameViews(t, s.IEX(), storeState(t, "memory", kept))
	if !s.HasIEX() {
		t.Fatal("HasIEX false after reopening")
	}
}

// TestHasIEX: a record of one received feed, whose trades include IEX's,
// has no IEX view of its own; an IEX quote or bar, applied or on disk,
// makes one.
func TestHasIEX(t *testing.T) {
	var g seqr
	recv := g.seq([]market.Event{
		trade("AAPL", at("2024-06-03 10:00:00"), 1, 1),
		iexTrade("AAPL", at("2024-06-03 10:00:01"), 2, 2),
		quote("AAPL", at("2024-06-03 10:00:02"), 3),
		bar(market.KindBar, "AAPL", at("2024-06-03 10:00"), 1, 2, 1, 2, 300, 2, 1.5),
		bar(market.KindDailyBar, "AAPL", at("2024-06-03 00:00"), 1, 2, 1, 2, 300, 2, 1.5),
	})
	for _, tc := range []struct {
		name string
		ev   market.Event
	}{
		{"quote", iexQuote("AAPL", at("2024-06-03 10:00:03"), 4)},
		{"bar", bar(market.KindIEXBar, "AAPL", at("2024-06-03 10:00"), 2, 2, 2, 2, 100, 1, 2)},
		{"updated bar", bar(market.KindIEXUpdatedBar, "AAPL", at("2024-06-03 10:00"), 2, 2, 2, 2, 100, 1, 2)},
		{"daily bar", bar(market.KindIEXDailyBar, "AAPL", at("2024-06-03 00:00"), 2, 2, 2, 2, 100, 1, 2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir)
			defer func() { s.Close() }()
			s.Apply(recv)
			if s.HasIEX() {
				t.Fatal("HasIEX with received data only")
			}
			// The IEX trade is in the IEX view all the same.
			if lt, ok := s.IEX().LatestTrade("AAPL"); !ok || lt.Trade.ID != 2 {
				t.Fatalf("IEX latest trade %v %v", evString(lt), ok)
			}
			if lt, _ := s.LatestTrade("AAPL"); lt.Trade.ID != 2 {
				t.Fatalf("latest trade %v", evString(lt))
			}
			must(t, s.Close())
			s = openStore(t, dir)
			if s.HasIEX() {
				t.Fatal("HasIEX with received data only, reopened")
			}
			ev := tc.ev
			ev.Seq = recv[len(recv)-1].Seq + 1
			s.Apply([]market.Event{ev})
			if !s.HasIEX() {
				t.Fatal("HasIEX false after an IEX event")
			}
			must(t, s.Close())
			s = openStore(t, dir)
			if !s.HasIEX() {
				t.Fatal("HasIEX false after reopening")
			}
		})
	}
}

// TestIEXOldStore opens a store written before the IEX view existed (no
// iex directory), and then gives it one.
func TestIEXOldStore(t *testing.T) {
	var g seqr
	evs := g.seq(mixedDataset())
	dir := t.TempDir()
	s := openStore(t, dir)
	s.Apply(evs)
	want := dumpStore(t, s)
	must(t, s.Close())
	must(t, os.Remove(filepath.Join(dir, "iex"))) // empty: mixedDataset has no IEX trade

	s = openStore(t, dir)
	defer func() { s.Close() }()
	sameDump(t, dumpStore(t, s), want)
	if s.HasIEX() || len(s.IEX().Symbols()) != 0 {
		t.Fatalf("an old store has an IEX view: %q", s.IEX().Symbols())
	}
	checkDisk(t, s)
	more := g.seq([]market.Event{iexTrade("AAPL", at("2024-06-06 10:00:00"), 7, 7e6), iexQuote("AAPL", at("2024-06-06 10:00:00"), 6)})
	s.Apply(more)
	mustFlush(t, s)
	must(t, s.Close())
	s = openStore(t, dir)
	checkDisk(t, s)
	if lq, ok := s.IEX().LatestQuote("AAPL"); !ok || lq.Quote.BidPrice != 6 || !s.HasIEX() {
		t.Fatalf("IEX latest quote %v %v", evString(lq), ok)
	}
	if lt, ok := s.LatestTrade("AAPL"); !ok || lt.Trade.ID != 7e6 {
		t.Fatalf("latest trade %v %v", evString(lt), ok)
	}
}

// TestIEXCrash: a crash before the checkpoint leaves IEX records past it,
// which Open drops and the replay restores exactly once.
func TestIEXCrash(t *testing.T) {
	var g seqr
	evs := g.seq(iexDataset())
	_, iexView := splitViews(evs)
	cut := len(evs) * 2 / 3
	dir := t.TempDir()
	s := openStore(t, dir)
	s.Apply(evs[:cut])
	mustFlush(t, s)
	durable := s.AppliedSeq()
	s.Apply(evs[cut:])
	s.testCrashBeforeCheckpoint = true
	if err := s.Flush(); !errors.Is(err, errTestCrash) {
		t.Fatalf("flush: %v", err)
	}
	s2 := openStore(t, dir)
	defer s2.Close()
	checkDisk(t, s2)
	q := everything
	q.Symbols = s2.IEX().Symbols()
	for _, f := range []fetchFunc{s2.IEX().Trades, s2.IEX().Quotes} {
		r, err := f(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range r.Events {
			if e.Seq > durable {
				t.Fatalf("IEX seq %d > checkpoint %d survived recovery", e.Seq, durable)
			}
		}
	}
	s2.Apply(evs[cut-50:])
	want := storeState(t, "memory", iexView)
	sameViews(t, s2.IEX(), want)
	mustFlush(t, s2)
	sameViews(t, s2.IEX(), want)
	checkDisk(t, s2)
}
