package ingest

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/bars"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/feed/sim"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
)

// simBatches generates n batches of a busy simulated session from start.
func simBatches(t *testing.T, seed int64, start time.Time, n int, crypto ...string) []feed.Batch {
	t.Helper()
	s, err := sim.New(sim.Options{Seed: seed, Rate: 400, Start: start, Symbols: []string{"AAPL", "MSFT", "SPY"}, CryptoSymbols: crypto})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]feed.Batch, 0, n)
	for range n {
		evs, now := s.Next(nil)
		out = append(out, feed.Batch{Events: evs, Now: now})
	}
	return out
}

func cloneBatch(b feed.Batch) feed.Batch {
	return feed.Batch{Events: append([]market.Event(nil), b.Events...), Now: b.Now}
}

type discard struct{}

func (discard) Publish([]market.Event) {}

// liveBars is a bar builder a pipeline derives bars with and checkpoints.
type liveBars interface {
	Bars
	BarState
}

// TestRecoverFromCheckpoint: a pipeline runs with checkpoints, stops, then
// sequences more batches without cutting one (as if killed before the next
// checkpoint). Recover rebuilds, from the checkpoint plus the journal after
// it, a State equal to the live one and a bar builder that emits exactly
// what the live builder emits for the batches that follow: a Builder, or a
// Set with IEX bars (whose IEX builder must come back as well).
func TestRecoverFromCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name   string
		make   func() liveBars
		crypto []string
	}{
		{"builder", func() liveBars { return bars.New(bars.Options{}) }, nil},
		{"set with IEX", func() liveBars { return bars.NewSetWithIEX(bars.Options{}) }, nil},
		// Crypto trades feed the Set's crypto builder; the replay must
		// apply them too, or the recovered crypto bars of the minute in
		// progress lack the trades journaled before the crash.
		{"set with IEX and crypto", func() liveBars { return bars.NewSetWithIEX(bars.Options{}) }, []string{"BTC/USD", "ETH/USD"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outLive, outRebuilt := recoverFromCheckpoint(t, tc.make(), tc.make(), tc.crypto...)
			if !reflect.DeepEqual(outLive, outRebuilt) {
				t.Fatalf("the recovered bar builder emits %d events, the live one %d (or different ones)", len(outRebuilt), len(outLive))
			}
			if _, ok := tc.make().(*bars.Set); ok && countIEX(outLive) == 0 {
				t.Fatal("no IEX bars in the last two minutes")
			}
			if len(tc.crypto) > 0 && countIf(outLive, func(k market.Kind) bool { return k.Class() == market.ClassCrypto }) == 0 {
				t.Fatal("no crypto bars in the last two minutes")
			}
		})
	}
}

// countIEX counts the events of the iex feed's kinds.
func countIEX(evs []market.Event) int {
	return countIf(evs, func(k market.Kind) bool { return k.IsIEX() })
}

// countIf counts the events whose kind satisfies f.
func countIf(evs []market.Event, f func(market.Kind) bool) int {
	n := 0
	for _, e := range evs {
		if f(e.Kind) {
			n++
		}
	}
	return n
}

// sameFuture feeds the same batches to two bar builders, as a pipeline
// would, and returns what each emits.
func sameFuture(live, rebuilt Bars, batches []feed.Batch) (outLive, outRebuilt []market.Event) {
	for _, b := range batches {
		bl, br := cloneBatch(b), cloneBatch(b)
		for i := range bl.Events {
			live.Apply(&bl.Events[i])
			rebuilt.Apply(&br.Events[i])
		}
		outLive = live.Advance(b.Now, outLive)
		outRebuilt = rebuilt.Advance(b.Now, outRebuilt)
	}
	return outLive, outRebuilt
}

// recoverFromCheckpoint runs six simulated minutes through a pipeline with
// checkpoints, deriving bars with live, kills it after four (a journal
// tail past the last checkpoint), recovers rebuilt from the checkpoint and
// the journal, and returns what live and rebuilt then emit for the last two
// minutes' batches.
func recoverFromCheckpoint(t *testing.T, live, rebuilt liveBars, crypto ...string) (outLive, outRebuilt []market.Event) {
	t.Helper()
	dir := t.TempDir()
	j := journal.NewMemory(journal.Options{})
	defer j.Close()
	start := time.Date(2026, 11, 24, 14, 55, 0, 0, time.UTC)
	batches := simBatches(t, 9, start, 36_000, crypto...) // six simulated minutes
	st := NewState()
	p := New(Options{Publish: discard{}, Journal: j, State: st, Bars: live,
		Checkpoint: &Checkpoint{Dir: dir, Bars: live, Every: 20_000}})
	in := make(chan feed.Batch)
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background(), in) }()
	for _, b := range batches[:20_000] {
		in <- cloneBatch(b)
	}
	close(in)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p.Stats().CheckpointSeq != j.Last() {
		t.Fatalf("the last checkpoint is at %d, the journal ends at %d", p.Stats().CheckpointSeq, j.Last())
	}
	// More batches, no checkpoint: the tail Recover must replay.
	for _, b := range batches[20_000:24_000] {
		if err := p.Process(cloneBatch(b)); err != nil {
			t.Fatal(err)
		}
	}

	got, rep, err := Recover(context.Background(), j, RecoverOptions{Dir: dir, Bars: rebuilt})
	if err != nil {
		t.Fatal(err)
	}
	if rep.CheckpointSeq == 0 || rep.Replayed == 0 || rep.Discarded != "" {
		t.Fatalf("report %+v: want a checkpoint and a replayed tail", rep)
	}
	st.last, got.last = nil, nil
	if got.Seq != st.Seq || got.Clock != st.Clock || !reflect.DeepEqual(got.syms, st.syms) {
		t.Fatalf("recovered state differs:\n got  seq %d clock %d %d symbols\n want seq %d clock %d %d symbols",
			got.Seq, got.Clock, len(got.syms), st.Seq, st.Clock, len(st.syms))
	}
	// The two builders now see the same future.
	outLive, outRebuilt = sameFuture(live, rebuilt, batches[24_000:])
	if len(outLive) == 0 {
		t.Fatal("no bars in the last two minutes")
	}
	return outLive, outRebuilt
}

// TestRecoverIgnoresABadCheckpoint: a damaged checkpoint, or one beyond
// the journal's end, is not used: the state is rebuilt from the journal,
// and the report says why.
func TestRecoverIgnoresABadCheckpoint(t *testing.T) {
	dir := t.TempDir()
	j := journal.NewMemory(journal.Options{})
	defer j.Close()
	st := NewState()
	p := New(Options{Publish: discard{}, Journal: j, State: st})
	for _, b := range simBatches(t, 3, time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC), 300) {
		p.Process(b)
	}
	for name, c := range map[string]checkpoint{
		"beyond the journal": {seq: j.Last() + 10, state: NewState().AppendBinary(nil)},
	} {
		if err := writeCheckpoint(dir, c); err != nil {
			t.Fatal(err)
		}
		got, rep, err := Recover(context.Background(), j, RecoverOptions{Dir: dir})
		if err != nil || rep.Discarded == "" || got.Seq != j.Last() || got.Clock != st.Clock {
			t.Fatalf("%s: %+v, %v; state seq %d", name, rep, err, got.Seq)
		}
	}
	// A flipped byte fails the checksum.
	path := filepath.Join(dir, checkpointName)
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0xff
	os.WriteFile(path, b, 0o644)
	got, rep, err := Recover(context.Background(), j, RecoverOptions{Dir: dir})
	if err != nil || rep.Discarded == "" || got.Seq != j.Last() {
		t.Fatalf("corrupt checkpoint: %+v, %v", rep, err)
	}
}

// FuzzDecodeCheckpoint: checkpoint files come from disk; decoding never
// panics and never allocates beyond the input.
func FuzzDecodeCheckpoint(f *testing.F) {
	st := NewState()
	st.observe(&market.Event{Kind: market.KindTrade, Symbol: "AAPL", Time: 5, Trade: market.Trade{ID: 7, Price: 1, Size: 2}})
	f.Add(encodeCheckpoint(checkpoint{seq: 9, state: st.AppendBinary(nil), bars: []byte("bars")}))
	f.Add([]byte(checkpointMagic))
	f.Fuzz(func(t *testing.T, p []byte) {
		c, err := decodeCheckpoint(p)
		if err != nil {
			return
		}
		DecodeState(c.state)
	})
}

// TestRecoverAfterThePast: a fresh simulated record begins with its
// synthetic past (stock and crypto bars, flagged synthetic) and goes on
// live; killed before any checkpoint, it is rebuilt from the journal alone.
// The crypto builder folds the past's crypto bars of the day into the
// pair's daily bar; a rebuild that skipped them (or took them for derived
// bars) would emit a different daily bar once the live run goes on.
func TestRecoverAfterThePast(t *testing.T) {
	start := time.Date(2026, 11, 24, 14, 55, 0, 0, time.UTC)
	past, err := sim.NewPast(sim.PastOptions{Symbols: []string{"AAPL", "MSFT", "SPY"}, CryptoSymbols: []string{"BTC/USD"},
		Seed: 9, Rate: 400, End: start, Days: 3, MinuteDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	var (
		batches   []feed.Batch
		synthetic int
		pastBars  []market.Event // BTC/USD's minute bars
	)
	for !past.Done() {
		evs, now := past.Next(nil)
		synthetic += len(evs)
		batches = append(batches, feed.Batch{Events: evs, Now: now})
		for _, e := range evs {
			if e.Kind == market.KindCryptoBar {
				pastBars = append(pastBars, e)
			}
		}
	}
	live, err := sim.New(sim.Options{Seed: 9, Rate: 400, Start: start, Symbols: []string{"AAPL", "MSFT", "SPY"},
		CryptoSymbols: []string{"BTC/USD"}, Resume: past.Resume()})
	if err != nil {
		t.Fatal(err)
	}
	nPast := len(batches)
	for range 24_000 { // four simulated minutes
		evs, now := live.Next(nil)
		batches = append(batches, feed.Batch{Events: evs, Now: now})
	}
	j := journal.NewMemory(journal.Options{})
	defer j.Close()
	liveBars := bars.NewSetWithIEX(bars.Options{})
	p := New(Options{Publish: discard{}, Journal: j, State: NewState(), Bars: liveBars})
	cut := nPast + 12_000
	for _, b := range batches[:cut] {
		if err := p.Process(cloneBatch(b)); err != nil {
			t.Fatal(err)
		}
	}
	rebuilt := bars.NewSetWithIEX(bars.Options{})
	_, rep, err := Recover(context.Background(), j, RecoverOptions{Dir: t.TempDir(), Bars: rebuilt})
	if err != nil {
		t.Fatal(err)
	}
	if rep.CheckpointSeq != 0 || rep.BarsFrom == 0 || rep.BarsFrom > uint64(synthetic) {
		t.Fatalf("report %+v: want a rebuild from the journal that starts in the past (%d synthetic events)", rep, synthetic)
	}
	outLive, outRebuilt := sameFuture(liveBars, rebuilt, batches[cut:])
	// The live daily bar continues the day the past began: it opens at
	// the open of the past's first minute of that day.
	i := slices.IndexFunc(outLive, func(e market.Event) bool { return e.Kind == market.KindCryptoDailyBar })
	if i < 0 {
		t.Fatal("no crypto daily bar in the last two minutes")
	}
	day := outLive[i]
	j0 := slices.IndexFunc(pastBars, func(e market.Event) bool { return e.Time >= day.Time })
	if j0 < 0 {
		t.Fatal("no past minute bar on the live daily bar's day")
	}
	if day.CryptoBar.Open != pastBars[j0].CryptoBar.Open || day.CryptoBar.TradeCount <= pastBars[j0].CryptoBar.TradeCount {
		t.Fatalf("the live daily bar %+v does not continue the past's day (first minute %+v)", *day.CryptoBar, pastBars[j0])
	}
	if !reflect.DeepEqual(outLive, outRebuilt) {
		for i := range min(len(outLive), len(outRebuilt)) {
			if !reflect.DeepEqual(outLive[i], outRebuilt[i]) {
				t.Fatalf("event %d: live %v %s %+v, rebuilt %v %s %+v", i, outLive[i].Kind, outLive[i].Symbol, outLive[i].CryptoBar, outRebuilt[i].Kind, outRebuilt[i].Symbol, outRebuilt[i].CryptoBar)
			}
		}
		t.Fatalf("the rebuilt bars emit %d events, the live ones %d", len(outRebuilt), len(outLive))
	}
}
