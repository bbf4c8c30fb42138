package history

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// dump is everything a store answers, to compare two stores.
type dump struct {
	trades, quotes, minute, daily, hourly []market.Event
	latest                                map[string][3]market.Event
	snaps                                 map[string]Snapshot
	symbols                               []string
}

// view is the stock API of the store and of its IEX view.
type view interface {
	Trades(ctx context.Context, q Query) (Result, error)
	Quotes(ctx context.Context, q Query) (Result, error)
	Bars(ctx context.Context, q Query, tf market.Timeframe) (Result, error)
	LatestTrade(symbol string) (market.Event, bool)
	LatestQuote(symbol string) (market.Event, bool)
	LatestBar(symbol string) (market.Event, bool)
	Snapshot(symbol string) (Snapshot, bool)
	Symbols() []string
}

func dumpStore(t *testing.T, s view) dump {
	t.Helper()
	d := dump{latest: map[string][3]market.Event{}, snaps: map[string]Snapshot{}, symbols: s.Symbols()}
	q := everything
	q.Symbols = d.symbols
	var err error
	var r Result
	if r, err = s.Trades(t.Context(), q); err != nil {
		t.Fatal(err)
	}
	d.trades = r.Events
	if r, err = s.Quotes(t.Context(), q); err != nil {
		t.Fatal(err)
	}
	d.quotes = r.Events
	if r, err = s.Bars(t.Context(), q, market.OneMinute); err != nil {
		t.Fatal(err)
	}
	d.minute = r.Events
	if r, err = s.Bars(t.Context(), q, market.OneDay); err != nil {
		t.Fatal(err)
	}
	d.daily = r.Events
	if r, err = s.Bars(t.Context(), q, market.Timeframe{N: 1, Unit: market.Hour}); err != nil {
		t.Fatal(err)
	}
	d.hourly = r.Events
	for _, sym := range d.symbols {
		lt, _ := s.LatestTrade(sym)
		lq, _ := s.LatestQuote(sym)
		lb, _ := s.LatestBar(sym)
		d.latest[sym] = [3]market.Event{lt, lq, lb}
		d.snaps[sym], _ = s.Snapshot(sym)
	}
	return d
}

func sameDump(t *testing.T, got, want dump) {
	t.Helper()
	sameEvents(t, "trades", got.trades, want.trades)
	sameEvents(t, "quotes", got.quotes, want.quotes)
	sameEvents(t, "minute bars", got.minute, want.minute)
	sameEvents(t, "daily bars", got.daily, want.daily)
	sameEvents(t, "hourly bars", got.hourly, want.hourly)
	if !reflect.DeepEqual(got.symbols, want.symbols) {
		t.Fatalf("symbols %q, want %q", got.symbols, want.symbols)
	}
	if !reflect.DeepEqual(got.latest, want.latest) {
		t.Fatalf("latest differs:\n%v\n%v", got.latest, want.latest)
	}
	if !reflect.DeepEqual(got.snaps, want.snaps) {
		t.Fatalf("snapshots differ:\n%v\n%v", got.snaps, want.snaps)
	}
}

// mixedDataset is ticks plus minute and daily bars, with late trades and
// updated bars, over two days.
func mixedDataset() []market.Event {
	evs := tickDataset()
	for _, sym := range []string{"AAPL", "MSFT"} {
		for _, day := range []string{"2024-06-03", "2024-06-04"} {
			for i := range 90 {
				tm := at(day+" 09:30") + int64(i)*nsPerMinute
				evs = append(evs, bar(market.KindBar, sym, tm, 1, 2, 0.5, 1+float64(i)/100, uint64(i+1), 2, 1.1))
				if i%30 == 29 {
					evs = append(evs, bar(market.KindUpdatedBar, sym, tm-10*nsPerMinute, 1, 3, 0.5, 1, 500, 9, 1.3))
					evs = append(evs, bar(market.KindDailyBar, sym, at(day+" 00:00"), 1, 3, 0.5, 1, uint64(1000+i), 9, 1.3))
				}
			}
		}
	}
	evs = append(evs, market.Event{Kind: market.KindStatus, Symbol: "AAPL", Status: &market.Status{StatusCode: "H"}})
	return evs
}

func TestReopenReturnsTheSame(t *testing.T) {
	var g seqr
	evs := g.seq(mixedDataset())
	dir := t.TempDir()
	s := openStore(t, dir)
	s.Apply(evs[:len(evs)/3])
	mustFlush(t, s)
	s.Apply(evs[len(evs)/3:])
	before := dumpStore(t, s)
	if len(before.trades) == 0 || len(before.minute) == 0 || len(before.daily) == 0 || len(before.snaps) != 3 {
		t.Fatalf("dataset too small: %d trades, %d bars, %d daily, %d snapshots", len(before.trades), len(before.minute), len(before.daily), len(before.snaps))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	defer s.Close()
	sameDump(t, dumpStore(t, s), before)
	if got, want := s.AppliedSeq(), evs[len(evs)-1].Seq; got != want {
		t.Fatalf("AppliedSeq %d after Close, want %d (the last seq, an ignored kind)", got, want)
	}
	// The latest trade of AAPL is the one after midnight, not the later
	// applied late report of the day before.
	if lt, _ := s.LatestTrade("AAPL"); lt.Time != at("2024-06-05 00:00:01") {
		t.Fatalf("latest AAPL trade at %s", evString(lt))
	}
}

func TestIdempotentReapply(t *testing.T) {
	var g seqr
	evs := g.seq(mixedDataset())
	o := newOracle()
	o.apply(evs)
	dir := t.TempDir()
	s := openStore(t, dir)
	half := len(evs) / 2
	s.Apply(evs[:half])
	mustFlush(t, s)
	s.Apply(evs[:half]) // all old: no-op
	s.Apply(evs[half/2 : half+100])
	s.Apply(evs[half-5:])
	want := dumpStore(t, s)
	sameEvents(t, "trades", want.trades, o.expectTicks(market.KindTrade, Query{Symbols: want.symbols, Start: math.MinInt64, End: math.MaxInt64}))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	defer s.Close()
	s.Apply(evs) // everything is at or below AppliedSeq
	mustFlush(t, s)
	sameDump(t, dumpStore(t, s), want)
}

func TestCheckpoint(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	if s.AppliedSeq() != 0 {
		t.Fatalf("new store: AppliedSeq %d", s.AppliedSeq())
	}
	var g seqr
	evs := g.seq([]market.Event{trade("A", at("2024-06-03 10:00:00"), 1, 1), trade("A", at("2024-06-03 10:00:01"), 1, 2)})
	s.Apply(evs)
	if s.AppliedSeq() != 0 {
		t.Fatal("AppliedSeq advanced before a flush")
	}
	mustFlush(t, s)
	if s.AppliedSeq() != 2 {
		t.Fatalf("AppliedSeq %d after flush, want 2", s.AppliedSeq())
	}
	// Kinds the store ignores still advance it: their effect (none) is
	// durable, and the replay need not resend them.
	s.Apply(g.seq([]market.Event{{Kind: market.KindLULD, Symbol: "A", LULD: &market.LULD{}}}))
	mustFlush(t, s)
	if s.AppliedSeq() != 3 {
		t.Fatalf("AppliedSeq %d, want 3", s.AppliedSeq())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	if s.AppliedSeq() != 3 {
		t.Fatalf("AppliedSeq %d after reopen, want 3", s.AppliedSeq())
	}
	s.Close()

	// A different Location is refused; a corrupt checkpoint is reported.
	if _, err := Open(dir, Options{Location: time.UTC, noSync: true}); !errors.Is(err, ErrLocationMismatch) {
		t.Fatalf("other location: %v", err)
	}
	ck := filepath.Join(dir, checkpointName)
	b, _ := os.ReadFile(ck)
	b[9] ^= 1
	os.WriteFile(ck, b, 0o644)
	if _, err := Open(dir, testOptions()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt checkpoint: %v", err)
	}
}

// TestCrashBeforeCheckpoint stops a flush after its data is written and
// synced but before the checkpoint, abandons the store as a kill -9 would,
// and checks that the reopened store is at the old checkpoint with the
// extra records gone, and that the journal replay restores everything
// exactly once.
func TestCrashBeforeCheckpoint(t *testing.T) {
	var g seqr
	evs := g.seq(mixedDataset())
	// A third batch on a day the first two never touched, so the flush
	// must name it in the checkpoint before writing.
	extra := g.seq([]market.Event{
		trade("AAPL", at("2024-06-06 10:00:00"), 5, 9001),
		trade("MSFT", at("2024-06-06 10:00:00"), 5, 9002),
		bar(market.KindBar, "AAPL", at("2024-06-06 10:00"), 5, 5, 5, 5, 5, 5, 5),
		bar(market.KindDailyBar, "AAPL", at("2024-06-06 00:00"), 5, 5, 5, 5, 5, 5, 5),
	})
	evs = append(evs, extra...)
	o := newOracle()
	o.apply(evs)
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
	// kill -9: s is abandoned without Close.

	s2 := openStore(t, dir)
	defer s2.Close()
	checkDisk(t, s2)
	if s2.AppliedSeq() != durable {
		t.Fatalf("AppliedSeq %d after crash, want %d", s2.AppliedSeq(), durable)
	}
	r, err := s2.Trades(t.Context(), Query{Symbols: s2.Symbols(), Start: math.MinInt64, End: math.MaxInt64, Limit: math.MaxInt})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range r.Events {
		if e.Seq > durable {
			t.Fatalf("trade seq %d > checkpoint %d survived recovery", e.Seq, durable)
		}
	}
	// Replay from the journal: AppliedSeq()+1 on, plus an overlap, which
	// must be ignored.
	s2.Apply(evs[cut-50:])
	q := Query{Symbols: s2.Symbols(), Start: math.MinInt64, End: math.MaxInt64, Limit: math.MaxInt}
	check := func(s *Store) {
		t.Helper()
		sameEvents(t, "trades", walk(t, s.Trades, q), o.expectTicks(market.KindTrade, q))
		sameEvents(t, "quotes", walk(t, s.Quotes, q), o.expectTicks(market.KindQuote, q))
		sameEvents(t, "bars", walk(t, func(ctx contextT, q Query) (Result, error) { return s.Bars(ctx, q, market.OneMinute) }, q), o.expectBars("m", q))
		sameEvents(t, "daily", walk(t, func(ctx contextT, q Query) (Result, error) { return s.Bars(ctx, q, market.OneDay) }, q), o.expectBars("d", q))
	}
	check(s2)
	mustFlush(t, s2)
	check(s2)
	checkDisk(t, s2)
}

// TestTornTail appends partial records and zeroed records to the files of
// the last flush, as a kill -9 mid-write or a power loss can leave them.
func TestTornTail(t *testing.T) {
	var g seqr
	evs := g.seq(mixedDataset())
	dir := t.TempDir()
	s := openStore(t, dir)
	s.Apply(evs)
	want := dumpStore(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int64{}
	for _, f := range []struct {
		name string
		add  []byte
	}{
		{"symbols/AAPL/" + tickFileName(kindTrades, civilDay(2024, 6, 4)), make([]byte, 3*tickRecSize+17)},
		{"symbols/MSFT/" + tickFileName(kindQuotes, civilDay(2024, 6, 4)), []byte("partial")},
		{"symbols/AAPL/" + barFileName(2024*12+5), make([]byte, barRecSize+5)},
		{"symbols/MSFT/" + dailyFileName, make([]byte, 2*barRecSize)},
	} {
		p := filepath.Join(dir, f.name)
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		sizes[p] = st.Size()
		fh, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fh.Write(f.add)
		fh.Close()
	}
	s = openStore(t, dir)
	defer s.Close()
	checkDisk(t, s)
	for p, size := range sizes {
		if st, _ := os.Stat(p); st.Size() != size {
			t.Errorf("%s: size %d after recovery, want %d", p, st.Size(), size)
		}
	}
	sameDump(t, dumpStore(t, s), want)
}

func TestOpenFilesBounded(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	opts.MaxOpenFiles = 3
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var evs []market.Event
	var syms []string
	for i := range 40 {
		sym := string(rune('A'+i%26)) + string(rune('A'+i/26))
		syms = append(syms, sym)
		for d := range 3 {
			evs = append(evs, trade(sym, at("2024-06-03 10:00:00")+int64(d)*nsPerDay, 1, int64(i)))
			evs = append(evs, bar(market.KindBar, sym, at("2024-06-03 10:00")+int64(d)*31*nsPerDay, 1, 1, 1, 1, 1, 1, 1))
		}
	}
	var g seqr
	s.Apply(g.seq(evs))
	mustFlush(t, s)
	if n := s.files.openCount(); n > 3 {
		t.Fatalf("%d files open, bound 3", n)
	}
	q := everything
	q.Symbols = sortedUnique(syms)
	r, err := s.Trades(t.Context(), q)
	if err != nil || len(r.Events) != 120 {
		t.Fatalf("%d trades, %v", len(r.Events), err)
	}
	r, err = s.Bars(t.Context(), q, market.OneMinute)
	if err != nil || len(r.Events) != 120 {
		t.Fatalf("%d bars, %v", len(r.Events), err)
	}
	if n := s.files.openCount(); n > 3 {
		t.Fatalf("%d files open, bound 3", n)
	}
}

// TestCloseWhileRunning closes the store under a running flusher: Run
// returns, Close's flush makes everything durable.
func TestCloseWhileRunning(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	opts.FlushInterval = time.Millisecond
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(t.Context()) }()
	var g seqr
	evs := g.seq(mixedDataset())
	for i := 0; i < len(evs); i += 100 {
		s.Apply(evs[i:min(i+100, len(evs))])
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if s.AppliedSeq() != g.next-1 {
		t.Fatalf("AppliedSeq %d, want %d", s.AppliedSeq(), g.next-1)
	}
	o := newOracle()
	o.apply(evs)
	s = openStore(t, dir)
	defer s.Close()
	q := everything
	q.Symbols = s.Symbols()
	sameEvents(t, "trades", walk(t, s.Trades, q), o.expectTicks(market.KindTrade, q))
}
