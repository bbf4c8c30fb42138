package httpapi_test

import (
	"cmp"
	"context"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/market"
)

// fakeStore is an in-memory Store over a fixed dataset. It implements the
// history contract literally (symbols ascending, time then seq in the
// query's direction, inclusive range, Limit in total, resume strictly after
// the cursor, Next nil exactly when nothing is left) so the API's tests
// exercise the same paging a real store produces. TestFakeStore checks it
// against a brute-force sort.
type fakeStore struct {
	data *dataset

	// err, when set, is returned by every query.
	err error
	// block makes every query wait for its context to end.
	block bool

	mu      sync.Mutex
	queries []history.Query // every query received, for assertions
}

func (s *fakeStore) Trades(ctx context.Context, q history.Query) (history.Result, error) {
	return s.query(ctx, s.data.trades, q)
}

func (s *fakeStore) Quotes(ctx context.Context, q history.Query) (history.Result, error) {
	return s.query(ctx, s.data.quotes, q)
}

func (s *fakeStore) Bars(ctx context.Context, q history.Query, tf market.Timeframe) (history.Result, error) {
	return s.query(ctx, s.data.bars[tf], q)
}

func (s *fakeStore) LatestTrade(symbol string) (market.Event, bool) {
	return last(s.data.trades[symbol])
}
func (s *fakeStore) LatestQuote(symbol string) (market.Event, bool) {
	return last(s.data.quotes[symbol])
}
func (s *fakeStore) LatestBar(symbol string) (market.Event, bool) {
	return last(s.data.bars[market.OneMinute][symbol])
}

func (s *fakeStore) Snapshot(symbol string) (history.Snapshot, bool) {
	var snap history.Snapshot
	ptr := func(e market.Event, ok bool) *market.Event {
		if !ok {
			return nil
		}
		return &e
	}
	snap.LatestTrade = ptr(s.LatestTrade(symbol))
	snap.LatestQuote = ptr(s.LatestQuote(symbol))
	snap.MinuteBar = ptr(s.LatestBar(symbol))
	days := s.data.bars[market.OneDay][symbol]
	snap.DailyBar = ptr(last(days))
	if len(days) > 1 {
		snap.PrevDailyBar = ptr(last(days[:len(days)-1]))
	}
	ok := snap.LatestTrade != nil || snap.LatestQuote != nil || snap.MinuteBar != nil || snap.DailyBar != nil
	return snap, ok
}

// Symbols lists the symbols with any data, sorted.
func (s *fakeStore) Symbols() []string {
	seen := map[string]bool{}
	for sym := range s.data.trades {
		seen[sym] = true
	}
	for sym := range s.data.quotes {
		seen[sym] = true
	}
	for _, bySym := range s.data.bars {
		for sym := range bySym {
			seen[sym] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

func last(evs []market.Event) (market.Event, bool) {
	if len(evs) == 0 {
		return market.Event{}, false
	}
	return evs[len(evs)-1], true
}

func (s *fakeStore) query(ctx context.Context, bySymbol map[string][]market.Event, q history.Query) (history.Result, error) {
	s.mu.Lock()
	s.queries = append(s.queries, q)
	s.mu.Unlock()
	if s.block {
		<-ctx.Done()
		return history.Result{}, ctx.Err()
	}
	if s.err != nil {
		return history.Result{}, s.err
	}
	var out []market.Event
	for _, sym := range q.Symbols {
		evs := bySymbol[sym] // ascending by (Time, Seq)
		n := len(evs)
		for i := range n {
			e := &evs[i]
			if q.Desc {
				e = &evs[n-1-i]
			}
			if e.Time < q.Start || e.Time > q.End || (q.After != nil && !after(e, q.After, q.Desc)) {
				continue
			}
			if len(out) == q.Limit {
				// One more item exists, so there is a next page.
				l := &out[len(out)-1]
				return history.Result{Events: out, Next: &history.Cursor{Symbol: l.Symbol, Time: l.Time, Seq: l.Seq}}, nil
			}
			out = append(out, *e)
		}
	}
	return history.Result{Events: out}, nil
}

// after reports whether e comes strictly after c in the query order.
func after(e *market.Event, c *history.Cursor, desc bool) bool {
	if e.Symbol != c.Symbol {
		return e.Symbol > c.Symbol
	}
	k := cmp.Or(cmp.Compare(e.Time, c.Time), cmp.Compare(e.Seq, c.Seq))
	if desc {
		return k < 0
	}
	return k > 0
}

func (s *fakeStore) lastQuery() history.Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[len(s.queries)-1]
}

// dataset is generated market data, each symbol's slice ascending by
// (Time, Seq).
type dataset struct {
	symbols []string
	trades  map[string][]market.Event
	quotes  map[string][]market.Event
	bars    map[market.Timeframe]map[string][]market.Event
}

// Dataset shape. AAPL has 25,000 one-minute bars so that paging at the
// 10,000 maximum takes three pages.
var (
	dataStart = time.Date(2024, 3, 4, 9, 30, 0, 0, time.UTC) // a Monday
	ny        = mustLoad("America/New_York")

	testSymbols   = []string{"AAPL", "BRK.B", "MSFT", "SPY"}
	tinySymbol    = "ZVZZT"
	minuteBarsOf  = map[string]int{"AAPL": 25_000, "BRK.B": 300, "MSFT": 6_000, "SPY": 6_000}
	ticksOf       = map[string]int{"AAPL": 3_000, "BRK.B": 50, "MSFT": 2_000, "SPY": 1_500}
	testTimeframe = []string{"1Min", "5Min", "15Min", "30Min", "1Hour", "4Hour", "1Day", "1Week", "1Month"}
)

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// newDataset generates the test data deterministically.
func newDataset() *dataset {
	r := rand.New(rand.NewPCG(1, 2))
	d := &dataset{
		symbols: testSymbols,
		trades:  map[string][]market.Event{},
		quotes:  map[string][]market.Event{},
		bars:    map[market.Timeframe]map[string][]market.Event{},
	}
	var seq uint64
	nextSeq := func() uint64 { seq++; return seq }
	price := func() float64 {
		if r.IntN(4) == 0 { // sub-penny and odd prices exercise the float path
			return float64(r.IntN(10_000_000)) / 10_000
		}
		return float64(r.IntN(100_000)) / 100
	}
	conds := func() market.Conditions {
		codes := []string{"@", "F", "T", "I", " ", "R", "4", "B"}
		var c market.Conditions
		for i := range r.IntN(4) {
			c[i] = codes[r.IntN(len(codes))][0]
		}
		return c
	}
	exch := []byte("VQNPZKDJ")
	for _, sym := range testSymbols {
		// Ticks: irregular gaps with nanosecond precision, and runs of equal
		// timestamps so that paging must break ties by Seq.
		t := dataStart.UnixNano()
		for i := range ticksOf[sym] {
			if r.IntN(5) != 0 {
				t += int64(r.IntN(3_000_000_000)) + 1
			}
			d.trades[sym] = append(d.trades[sym], market.Event{Seq: nextSeq(), Time: t, Symbol: sym, Kind: market.KindTrade,
				Trade: market.Trade{ID: int64(i + 1), Price: price(), Size: uint32(r.IntN(1000) + 1),
					Exchange: exch[r.IntN(len(exch))], Tape: "ABC"[r.IntN(3)], Conditions: conds()}})
			q := market.Quote{BidPrice: price(), AskPrice: price(), BidSize: uint32(r.IntN(50)), AskSize: uint32(r.IntN(50)),
				BidExchange: exch[r.IntN(len(exch))], AskExchange: exch[r.IntN(len(exch))], Tape: "ABC"[r.IntN(3)], Conditions: conds()}
			d.quotes[sym] = append(d.quotes[sym], market.Event{Seq: nextSeq(), Time: t + int64(r.IntN(1000)), Symbol: sym, Kind: market.KindQuote, Quote: q})
		}
		slices.SortFunc(d.quotes[sym], byTimeSeq)
	}
	for _, name := range testTimeframe {
		tf, err := market.ParseTimeframe(name)
		if err != nil {
			panic(err)
		}
		d.bars[tf] = map[string][]market.Event{}
		for _, sym := range testSymbols {
			n := minuteBarsOf[sym]
			if tf != market.OneMinute {
				n = max(n/(5*tf.N), 40)
			}
			t := barStart(tf, dataStart)
			for range n {
				o, c := price(), price()
				d.bars[tf][sym] = append(d.bars[tf][sym], market.Event{Seq: nextSeq(), Time: t.UnixNano(), Symbol: sym, Kind: market.KindBar,
					Bar: market.Bar{Open: o, High: max(o, c) + 0.5, Low: max(min(o, c)-0.5, 0), Close: c, VWAP: (o + c) / 2,
						Volume: uint64(r.IntN(5_000_000)), TradeCount: uint64(r.IntN(10_000))}})
				t = nextBar(tf, t)
				if r.IntN(10) == 0 { // a gap: bars exist only for intervals with trades
					t = nextBar(tf, t)
				}
			}
		}
	}
	// ZVZZT (Nasdaq's test symbol) has one trade and one daily bar and
	// nothing else, for the null fields of a snapshot.
	d.trades[tinySymbol] = []market.Event{{Seq: nextSeq(), Time: dataStart.UnixNano(), Symbol: tinySymbol, Kind: market.KindTrade,
		Trade: market.Trade{ID: 7, Price: 10.01, Size: 100, Exchange: 'Q', Tape: 'C', Conditions: market.MakeConditions("@")}}}
	d.bars[market.OneDay][tinySymbol] = []market.Event{{Seq: nextSeq(), Time: barStart(market.OneDay, dataStart).UnixNano(),
		Symbol: tinySymbol, Kind: market.KindBar, Bar: market.Bar{Open: 10, High: 10.5, Low: 9.5, Close: 10.01, VWAP: 10.2, Volume: 1234, TradeCount: 12}}}
	return d
}

func byTimeSeq(a, b market.Event) int {
	return cmp.Or(cmp.Compare(a.Time, b.Time), cmp.Compare(a.Seq, b.Seq))
}

// barStart aligns t as Alpaca aligns bars: minutes and hours in UTC, days,
// weeks and months at midnight New York time.
func barStart(tf market.Timeframe, t time.Time) time.Time {
	switch tf.Unit {
	case market.Minute:
		return t.Truncate(time.Duration(tf.N) * time.Minute)
	case market.Hour:
		return t.Truncate(time.Duration(tf.N) * time.Hour)
	default:
		y, m, d := t.In(ny).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, ny)
	}
}

func nextBar(tf market.Timeframe, t time.Time) time.Time {
	switch tf.Unit {
	case market.Minute:
		return t.Add(time.Duration(tf.N) * time.Minute)
	case market.Hour:
		return t.Add(time.Duration(tf.N) * time.Hour)
	case market.Day:
		return t.AddDate(0, 0, 1)
	case market.Week:
		return t.AddDate(0, 0, 7)
	default:
		return t.AddDate(0, tf.N, 0)
	}
}

// expect is the brute-force answer to a query without paging: every item
// of the symbols in range, sorted by symbol, then (time, seq) in the
// query's direction, cut to limit (0 means all).
func expect(bySymbol map[string][]market.Event, symbols []string, start, end int64, desc bool, limit int) []market.Event {
	var all []market.Event
	for _, evs := range bySymbol {
		for _, e := range evs {
			if slices.Contains(symbols, e.Symbol) && e.Time >= start && e.Time <= end {
				all = append(all, e)
			}
		}
	}
	slices.SortFunc(all, func(a, b market.Event) int {
		if c := cmp.Compare(a.Symbol, b.Symbol); c != 0 {
			return c
		}
		if desc {
			return byTimeSeq(b, a)
		}
		return byTimeSeq(a, b)
	})
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	return all
}

// TestFakeStore walks random queries page by page with random page sizes
// and compares the concatenation with the brute-force answer.
func TestFakeStore(t *testing.T) {
	d := sharedData()
	s := &fakeStore{data: d}
	r := rand.New(rand.NewPCG(3, 4))
	lo, hi := dataStart.UnixNano(), dataStart.Add(2*time.Hour).UnixNano()
	for i := range 300 {
		syms := slices.Clone(testSymbols[:1+r.IntN(len(testSymbols))])
		r.Shuffle(len(syms), func(i, j int) { syms[i], syms[j] = syms[j], syms[i] })
		syms = syms[:1+r.IntN(len(syms))]
		slices.Sort(syms)
		start := lo + r.Int64N(hi-lo)
		end := start + r.Int64N(hi-start)
		if i%10 == 0 { // a range that starts and ends exactly on items
			e := d.trades[syms[0]]
			start, end = e[r.IntN(len(e)/2)].Time, e[len(e)/2+r.IntN(len(e)/2)].Time
		}
		desc := r.IntN(2) == 0
		want := expect(d.trades, syms, start, end, desc, 0)
		q := history.Query{Symbols: syms, Start: start, End: end, Desc: desc, Limit: 1 + r.IntN(200)}
		var got []market.Event
		for pages := 0; ; pages++ {
			if pages > len(want)+1 {
				t.Fatalf("query %d: paging does not end", i)
			}
			res, err := s.Trades(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Events) > q.Limit {
				t.Fatalf("query %d: %d events for limit %d", i, len(res.Events), q.Limit)
			}
			got = append(got, res.Events...)
			if res.Next == nil {
				break
			}
			if len(res.Events) != q.Limit {
				t.Fatalf("query %d: short page %d of %d with a next cursor", i, len(res.Events), q.Limit)
			}
			q.After = res.Next
		}
		if !slices.EqualFunc(got, want, func(a, b market.Event) bool { return a.Seq == b.Seq }) {
			t.Fatalf("query %d (%v desc=%v): got %d events, want %d", i, syms, desc, len(got), len(want))
		}
	}
}

// TestDataset checks the properties the API tests rely on.
func TestDataset(t *testing.T) {
	d := sharedData()
	if n := len(d.bars[market.OneMinute]["AAPL"]); n != 25_000 {
		t.Fatalf("AAPL has %d minute bars", n)
	}
	ties := 0
	for _, evs := range d.trades {
		for i := 1; i < len(evs); i++ {
			if evs[i].Time == evs[i-1].Time {
				ties++
			}
		}
	}
	if ties < 100 {
		t.Fatalf("only %d trades share a timestamp with the previous one", ties)
	}
}

var sharedData = sync.OnceValue(newDataset)
