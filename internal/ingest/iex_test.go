package ingest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/bars"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
)

// journaled reads every event of j back, with its record time.
func journaled(t *testing.T, j *journal.Memory) (evs []market.Event, times []int64) {
	t.Helper()
	r, err := j.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	evs, times = make([]market.Event, 0, j.Last()), make([]int64, 0, j.Last())
	var in market.Interner
	for {
		rec, ok, err := r.TryNext()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return evs, times
		}
		e := market.Event{Seq: rec.Seq}
		if err := market.DecodeBinary(rec.Payload, &e, &in); err != nil {
			t.Fatalf("record %d: %v", rec.Seq, err)
		}
		evs, times = append(evs, e), append(times, rec.TS)
	}
}

// bare drops, in place, what the pipeline adds to an event (sequence number, flags),
// for comparing it with a builder's output.
func bare(evs []market.Event) []market.Event {
	for i := range evs {
		evs[i].Seq, evs[i].Flags = 0, 0
	}
	return evs
}

// TestIEXBarsJournaled: a pipeline deriving bars with a Set with IEX
// journals, for a simulated stream of trades on every exchange, the IEX
// bars a Builder given only the IEX trades (and the corrections and
// cancels of them) emits, with the iex kinds, stamped with the batch clock
// that emitted them; everything else it journals is what a pipeline
// without IEX journals.
func TestIEXBarsJournaled(t *testing.T) {
	batches := simBatches(t, 5, time.Date(2026, 11, 24, 14, 58, 30, 0, time.UTC), 12_000) // two minute closes
	jIEX, jPlain := journal.NewMemory(journal.Options{}), journal.NewMemory(journal.Options{})
	defer jIEX.Close()
	defer jPlain.Close()
	pIEX := New(Options{Publish: discard{}, Journal: jIEX, Bars: bars.NewSetWithIEX(bars.Options{})})
	pPlain := New(Options{Publish: discard{}, Journal: jPlain, Bars: bars.NewSet(bars.Options{})})
	ref := bars.New(bars.Options{})
	var want []market.Event
	wantTS := map[int]int64{} // index in want: the batch clock that emitted it
	iexTrades := 0
	for _, b := range batches {
		for i := range b.Events {
			if e := &b.Events[i]; e.OnIEX() {
				ref.Apply(e)
				iexTrades++
			}
		}
		n := len(want)
		want = ref.Advance(b.Now, want)
		for i := n; i < len(want); i++ {
			want[i].Kind = want[i].Kind.IEX()
			wantTS[i] = b.Now
		}
		if err := pIEX.Process(cloneBatch(b)); err != nil {
			t.Fatal(err)
		}
		if err := pPlain.Process(cloneBatch(b)); err != nil {
			t.Fatal(err)
		}
	}
	evs, times := journaled(t, jIEX)
	var got, other []market.Event
	var gotTS []int64
	for i, e := range evs {
		if e.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i+1, e.Seq)
		}
		if e.Kind.IsIEX() && e.Kind != market.KindIEXQuote { // the simulator sends IEX quotes
			got, gotTS = append(got, e), append(gotTS, times[i])
		} else {
			other = append(other, e)
		}
	}
	if iexTrades == 0 || len(want) == 0 {
		t.Fatalf("%d IEX trades, %d IEX bars: the stream does not exercise IEX", iexTrades, len(want))
	}
	if g := bare(got); !reflect.DeepEqual(g, want) {
		t.Fatalf("journaled %d IEX bars, want %d (or other ones)", len(g), len(want))
	}
	for i, ts := range gotTS {
		// The record clock is the batch clock unless an event pulled it ahead.
		if ts < wantTS[i] || ts > wantTS[i]+LateTolerance {
			t.Fatalf("IEX bar %d journaled at %d, emitted by the batch clock %d", i, ts, wantTS[i])
		}
	}
	plain, _ := journaled(t, jPlain)
	if !reflect.DeepEqual(bare(other), bare(plain)) {
		t.Fatalf("with IEX the pipeline journals %d other events, without %d (or other ones)", len(other), len(plain))
	}
	byKind := pIEX.Stats().ByKind
	var counted uint64
	for _, k := range []market.Kind{market.KindIEXBar, market.KindIEXUpdatedBar, market.KindIEXDailyBar} {
		counted += byKind[k]
	}
	if byKind[market.KindIEXBar] == 0 || counted != uint64(len(want)) {
		t.Fatalf("Stats.ByKind counts %d IEX bars (%d minute bars), want %d", counted, byKind[market.KindIEXBar], len(want))
	}
}

// TestRecoverOldCheckpointWithIEX: a checkpoint written by a pipeline
// without IEX bars (as before they existed) is used by a Set with IEX: the
// stock bars come back as they were, and IEX bars are built from the IEX
// trades after the checkpoint on.
func TestRecoverOldCheckpointWithIEX(t *testing.T) {
	outLive, outRebuilt := recoverFromCheckpoint(t, bars.NewSet(bars.Options{}), bars.NewSetWithIEX(bars.Options{}))
	var sip []market.Event
	for _, e := range outRebuilt {
		if !e.Kind.IsIEX() {
			sip = append(sip, e)
		}
	}
	if !reflect.DeepEqual(sip, outLive) {
		t.Fatalf("the recovered Set emits %d consolidated events, the live one %d (or different ones)", len(sip), len(outLive))
	}
	if countIEX(outRebuilt) == 0 {
		t.Fatal("no IEX bars after recovering from a checkpoint without them")
	}
}

// barCalls records what Recover feeds a bar builder.
type barCalls struct {
	applied  []market.Kind
	advanced []int64
}

func (b *barCalls) Apply(e *market.Event) { b.applied = append(b.applied, e.Kind) }

func (b *barCalls) Advance(now int64, out []market.Event) []market.Event {
	b.advanced = append(b.advanced, now)
	return out
}

// TestRecoverReplaysIEXBarClocks: derived IEX bars in the journal replay
// the Advance that emitted them, as consolidated ones do, once per record
// time; IEX trades go to the builder, IEX quotes do not.
func TestRecoverReplaysIEXBarClocks(t *testing.T) {
	j := journal.NewMemory(journal.Options{})
	defer j.Close()
	t0 := time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC).UnixNano()
	recs := []struct {
		ts int64
		e  market.Event
	}{
		{t0 + 1e9, market.Event{Kind: market.KindTrade, Symbol: "AAPL", Time: t0 + 1e9, Trade: market.Trade{ID: 1, Price: 1, Size: 1, Exchange: 'V'}}},
		{t0 + 2e9, market.Event{Kind: market.KindIEXQuote, Symbol: "AAPL", Time: t0 + 2e9, Quote: market.Quote{BidPrice: 1, AskPrice: 2}}},
		{t0 + 60e9, market.Event{Kind: market.KindIEXBar, Symbol: "AAPL", Time: t0}},
		{t0 + 60e9, market.Event{Kind: market.KindIEXDailyBar, Symbol: "AAPL", Time: t0}},
		{t0 + 90e9, market.Event{Kind: market.KindIEXUpdatedBar, Symbol: "AAPL", Time: t0}},
		{t0 + 120e9, market.Event{Kind: market.KindBar, Symbol: "MSFT", Time: t0 + 60e9}},
		{t0 + 120e9, market.Event{Kind: market.KindIEXBar, Symbol: "MSFT", Time: t0 + 60e9}},
	}
	for i, r := range recs {
		e := r.e
		e.Seq = uint64(i + 1)
		if err := j.Append(e.Seq, r.ts, market.AppendBinary(nil, &e)); err != nil {
			t.Fatal(err)
		}
	}
	j.Commit()
	calls := &barCalls{}
	st, rep, err := Recover(context.Background(), j, RecoverOptions{Dir: t.TempDir(), Bars: calls})
	if err != nil {
		t.Fatal(err)
	}
	if rep.BarsFrom != 1 || st.Seq != uint64(len(recs)) {
		t.Fatalf("report %+v, state seq %d", rep, st.Seq)
	}
	if want := []market.Kind{market.KindTrade}; !reflect.DeepEqual(calls.applied, want) {
		t.Errorf("applied %v, want %v", calls.applied, want)
	}
	if want := []int64{t0 + 60e9, t0 + 90e9, t0 + 120e9}; !reflect.DeepEqual(calls.advanced, want) {
		t.Errorf("advanced to %v, want %v", calls.advanced, want)
	}
}

// TestStateIEXKinds: an IEX quote is a tick (late when behind the record
// clock), IEX minute bars are sent once their minute closes, and an IEX
// quote never replaces the symbol's NBBO, which the simulator resumes
// from.
func TestStateIEXKinds(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC).UnixNano()
	s := NewState()
	nbbo := market.Event{Seq: 1, Kind: market.KindQuote, Symbol: "AAPL", Time: t0,
		Quote: market.Quote{BidPrice: 100, AskPrice: 100.02, BidSize: 3, AskSize: 4}}
	s.stamp(&nbbo, t0)
	s.observe(&nbbo)
	iex := market.Event{Seq: 2, Kind: market.KindIEXQuote, Symbol: "AAPL", Time: t0 + 1e9,
		Quote: market.Quote{BidPrice: 99.9, AskPrice: 100.1, BidSize: 1, AskSize: 1, BidExchange: 'V', AskExchange: 'V'}}
	s.stamp(&iex, t0+1e9)
	s.observe(&iex)
	y := s.Symbol("AAPL")
	if y.BidPrice != 100 || y.AskPrice != 100.02 || y.BidSize != 3 || y.AskSize != 4 || y.QuoteTime != t0 {
		t.Errorf("an IEX quote changed the NBBO: %+v", *y)
	}
	if y.LastEventNs != t0+1e9 || s.Seq != 2 {
		t.Errorf("the IEX quote was not observed: %+v, seq %d", *y, s.Seq)
	}

	s.Clock = t0 + 10e9
	late := market.Event{Kind: market.KindIEXQuote, Symbol: "AAPL", Time: t0}
	s.stamp(&late, t0+10e9)
	if !late.Flags.Has(market.FlagLate) {
		t.Errorf("an IEX quote behind the clock is not flagged late")
	}
	for _, k := range []market.Kind{market.KindIEXBar, market.KindIEXUpdatedBar, market.KindIEXDailyBar} {
		e := market.Event{Kind: k, Symbol: "AAPL", Time: t0}
		s.stamp(&e, t0+10e9)
		if e.Flags.Has(market.FlagLate) {
			t.Errorf("%v flagged late", k)
		}
		want := t0 + int64(time.Minute)
		if k == market.KindIEXDailyBar {
			want = t0
		}
		if got := sendTime(&e); got != want {
			t.Errorf("sendTime(%v) = %d, want %d", k, got, want)
		}
		if got, cons := sendTime(&e), sendTime(&market.Event{Kind: k.Consolidated(), Time: t0}); got != cons {
			t.Errorf("sendTime(%v) = %d, its consolidated twin's %d", k, got, cons)
		}
	}
}
