package history

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

var ny = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	return loc
}()

// at parses "2006-01-02 15:04:05[.999999999]" in New York.
func at(s string) int64 {
	layout := "2006-01-02 15:04:05.999999999"
	if len(s) == len("2006-01-02 15:04") {
		layout = "2006-01-02 15:04"
	}
	t, err := time.ParseInLocation(layout, s, ny)
	if err != nil {
		panic(err)
	}
	return t.UnixNano()
}

// utc parses "2006-01-02 15:04" in UTC.
func utc(s string) int64 {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t.UnixNano()
}

func testOptions() Options {
	return Options{Location: ny, FlushInterval: time.Hour, noSync: true}
}

func openStore(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustFlush(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
}

// seqr hands out sequence numbers, as the ingest goroutine does.
type seqr struct{ next uint64 }

func (g *seqr) seq(evs []market.Event) []market.Event {
	for i := range evs {
		if g.next == 0 {
			g.next = 1
		}
		evs[i].Seq = g.next
		g.next++
	}
	return evs
}

// trade is a trade printed on Nasdaq; a trade on IEX (see iexTrade) would
// also go to the IEX view.
func trade(sym string, t int64, price float64, id int64) market.Event {
	return market.Event{Kind: market.KindTrade, Symbol: sym, Time: t,
		Trade: market.Trade{ID: id, Price: price, Size: uint32(id%500 + 1), Exchange: 'Q', Tape: 'C', Conditions: market.MakeConditions("@")}}
}

func quote(sym string, t int64, bid float64) market.Event {
	return market.Event{Kind: market.KindQuote, Symbol: sym, Time: t,
		Quote: market.Quote{BidPrice: bid, AskPrice: bid + 0.01, BidSize: 3, AskSize: 4, BidExchange: 'P', AskExchange: 'Q', Tape: 'C', Conditions: market.MakeConditions("R")}}
}

func cryptoTrade(sym string, t int64, price, size float64, id int64, side byte) market.Event {
	return market.Event{Kind: market.KindCryptoTrade, Symbol: sym, Time: t,
		CryptoTrade: market.CryptoTrade{ID: id, Price: price, Size: size, TakerSide: side}}
}

func cryptoQuote(sym string, t int64, bid, bidSize, askSize float64) market.Event {
	return market.Event{Kind: market.KindCryptoQuote, Symbol: sym, Time: t,
		CryptoQuote: market.CryptoQuote{BidPrice: bid, BidSize: bidSize, AskPrice: bid + 0.5, AskSize: askSize}}
}

func cryptoBar(kind market.Kind, sym string, t int64, o, h, l, c, v float64, n uint64, vw float64) market.Event {
	return market.Event{Kind: kind, Symbol: sym, Time: t,
		CryptoBar: &market.CryptoBar{Open: o, High: h, Low: l, Close: c, Volume: v, TradeCount: n, VWAP: vw}}
}

func bar(kind market.Kind, sym string, t int64, o, h, l, c float64, v, n uint64, vw float64) market.Event {
	return market.Event{Kind: kind, Symbol: sym, Time: t,
		Bar: market.Bar{Open: o, High: h, Low: l, Close: c, Volume: v, TradeCount: n, VWAP: vw}}
}

// oracle is the reference model: everything applied, answered by brute
// force.
type oracle struct {
	lastSeq uint64
	ticks   map[market.Kind][]market.Event
	bars    map[[2]string]map[int64]market.Event // {kind, symbol} → time → bar; kind "m" or "d"
	sorted  map[sortedKey][]market.Event         // a symbol's ticks by (time, seq); reset by apply
}

type sortedKey struct {
	kind market.Kind
	sym  string
}

func newOracle() *oracle {
	return &oracle{ticks: map[market.Kind][]market.Event{}, bars: map[[2]string]map[int64]market.Event{}}
}

func (o *oracle) apply(evs []market.Event) {
	o.sorted = nil
	for _, e := range evs {
		if e.Seq <= o.lastSeq {
			continue
		}
		o.lastSeq = e.Seq
		switch e.Kind {
		case market.KindTrade, market.KindQuote, market.KindCryptoTrade, market.KindCryptoQuote:
			o.ticks[e.Kind] = append(o.ticks[e.Kind], e)
		case market.KindBar, market.KindUpdatedBar, market.KindDailyBar:
			k := [2]string{"m", e.Symbol}
			if e.Kind == market.KindDailyBar {
				k[0] = "d"
			}
			if o.bars[k] == nil {
				o.bars[k] = map[int64]market.Event{}
			}
			e.Kind = market.KindBar
			o.bars[k][e.Time] = e
		case market.KindCryptoBar, market.KindCryptoUpdatedBar, market.KindCryptoDailyBar:
			k := [2]string{"cm", e.Symbol}
			if e.Kind == market.KindCryptoDailyBar {
				k[0] = "cd"
			}
			if o.bars[k] == nil {
				o.bars[k] = map[int64]market.Event{}
			}
			b := *e.CryptoBar
			e.Kind, e.CryptoBar = market.KindCryptoBar, &b
			o.bars[k][e.Time] = e
		}
	}
}

// expectTicks is the whole result of q, ignoring Limit and After.
func (o *oracle) expectTicks(kind market.Kind, q Query) []market.Event {
	var out []market.Event
	for _, sym := range sortedUnique(q.Symbols) {
		all := o.sortedTicks(kind, sym)
		i, _ := slices.BinarySearchFunc(all, q.Start, func(e market.Event, t int64) int { return cmpInt(e.Time, t) })
		var g []market.Event
		for _, e := range all[i:] {
			if e.Time > q.End {
				break
			}
			g = append(g, e)
		}
		if q.Desc {
			slices.Reverse(g)
		}
		out = append(out, g...)
	}
	return out
}

// sortedTicks is a symbol's trades or quotes by (time, seq), sorted by
// brute force once per apply.
func (o *oracle) sortedTicks(kind market.Kind, sym string) []market.Event {
	k := sortedKey{kind, sym}
	if g, ok := o.sorted[k]; ok {
		return g
	}
	var g []market.Event
	for _, e := range o.ticks[kind] {
		if e.Symbol == sym {
			g = append(g, e)
		}
	}
	slices.SortFunc(g, func(a, b market.Event) int {
		if a.Time != b.Time {
			return cmpInt(a.Time, b.Time)
		}
		return cmpInt(a.Seq, b.Seq)
	})
	if o.sorted == nil {
		o.sorted = map[sortedKey][]market.Event{}
	}
	o.sorted[k] = g
	return g
}

// expectBars is the whole 1Min ("m") or 1Day ("d") result of q; "cm" and
// "cd" for crypto.
func (o *oracle) expectBars(kind string, q Query) []market.Event {
	var out []market.Event
	for _, sym := range sortedUnique(q.Symbols) {
		var g []market.Event
		for _, e := range o.bars[[2]string{kind, sym}] {
			if e.Time >= q.Start && e.Time <= q.End {
				g = append(g, e)
			}
		}
		slices.SortFunc(g, func(a, b market.Event) int { return cmpInt(a.Time, b.Time) })
		if q.Desc {
			slices.Reverse(g)
		}
		out = append(out, g...)
	}
	return out
}

func sortedUnique(s []string) []string { return slices.Compact(slices.Sorted(slices.Values(s))) }

func cmpInt[T int64 | uint64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

type fetchFunc func(ctx context.Context, q Query) (Result, error)

// walk follows Next from the first page to the last and returns every item.
// It checks the paging contract on the way: a page is full exactly when a
// next page exists, and no page but an empty result's only one is empty.
func walk(t *testing.T, fetch fetchFunc, q Query) []market.Event {
	t.Helper()
	var all []market.Event
	q.After = nil
	for pages := 0; ; pages++ {
		if pages > 1_000_000 {
			t.Fatal("pagination does not end")
		}
		res, err := fetch(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Events) > q.Limit {
			t.Fatalf("page of %d items with limit %d", len(res.Events), q.Limit)
		}
		if res.Next != nil && len(res.Events) != q.Limit {
			t.Fatalf("page %d: %d items < limit %d but Next is set", pages, len(res.Events), q.Limit)
		}
		if len(res.Events) == 0 && pages > 0 {
			t.Fatalf("page %d is empty: the previous page's Next should have been nil", pages)
		}
		all = append(all, res.Events...)
		if res.Next == nil {
			return all
		}
		last := res.Events[len(res.Events)-1]
		if *res.Next != (Cursor{Symbol: last.Symbol, Time: last.Time, Seq: last.Seq}) {
			t.Fatalf("Next %+v is not the last item %v/%d/%d", *res.Next, last.Symbol, last.Time, last.Seq)
		}
		q.After = res.Next
	}
}

func sameEvents(t *testing.T, what string, got, want []market.Event) {
	t.Helper()
	if len(got) == len(want) && (len(got) == 0 || reflect.DeepEqual(got, want)) {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: got %d events, want %d\n", what, len(got), len(want))
	n := 0
	for i := 0; i < max(len(got), len(want)) && n < 8; i++ {
		var g, w string
		if i < len(got) {
			g = evString(got[i])
		}
		if i < len(want) {
			w = evString(want[i])
		}
		if g != w || (i < len(got) && i < len(want) && !reflect.DeepEqual(got[i], want[i])) {
			fmt.Fprintf(&b, "  [%d] got  %s\n      want %s\n", i, g, w)
			n++
		}
	}
	t.Fatal(b.String())
}

func evString(e market.Event) string {
	return fmt.Sprintf("%s %s %s seq=%d %+v %+v %+v", e.Kind, e.Symbol, time.Unix(0, e.Time).UTC().Format("2006-01-02T15:04:05.000000000"), e.Seq, e.Trade, e.Quote, e.Bar)
}

var everything = Query{Start: math.MinInt64, End: math.MaxInt64, Limit: math.MaxInt}

type contextT = context.Context
