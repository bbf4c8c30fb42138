package httpapi_test

import (
	"cmp"
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/tapehq/tape/internal/calendar"
	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/httpapi"
	"github.com/tapehq/tape/internal/market"
)

// fakeCrypto is an in-memory CryptoStore. Its history queries go through
// fakeStore's, whose contract TestFakeStore checks, over a crypto dataset.
type fakeCrypto struct {
	fs    *fakeStore
	books map[string]market.Event
}

func newFakeCrypto() *fakeCrypto {
	d := sharedCryptoData()
	return &fakeCrypto{fs: &fakeStore{data: d.dataset}, books: d.books}
}

func (c *fakeCrypto) CryptoTrades(ctx context.Context, q history.Query) (history.Result, error) {
	return c.fs.Trades(ctx, q)
}
func (c *fakeCrypto) CryptoQuotes(ctx context.Context, q history.Query) (history.Result, error) {
	return c.fs.Quotes(ctx, q)
}
func (c *fakeCrypto) CryptoBars(ctx context.Context, q history.Query, tf market.Timeframe) (history.Result, error) {
	return c.fs.Bars(ctx, q, tf)
}
func (c *fakeCrypto) LatestCryptoTrade(s string) (market.Event, bool) { return c.fs.LatestTrade(s) }
func (c *fakeCrypto) LatestCryptoQuote(s string) (market.Event, bool) { return c.fs.LatestQuote(s) }
func (c *fakeCrypto) LatestCryptoBar(s string) (market.Event, bool)   { return c.fs.LatestBar(s) }
func (c *fakeCrypto) CryptoSnapshot(s string) (history.Snapshot, bool) {
	return c.fs.Snapshot(s)
}
func (c *fakeCrypto) CryptoSymbols() []string { return c.fs.Symbols() }
func (c *fakeCrypto) LatestOrderbook(s string) (market.Event, bool) {
	e, ok := c.books[s]
	return e, ok
}

// cryptoData is the crypto dataset: BTC/USD busy enough to page, ETH/USD
// less so, and DOGE/USD with a trade and nothing else.
type cryptoData struct {
	*dataset
	books map[string]market.Event
}

var (
	cryptoSymbols = []string{"BTC/USD", "DOGE/USD", "ETH/USD"}
	cryptoTicks   = map[string]int{"BTC/USD": 4_000, "ETH/USD": 1_500}
	cryptoMinutes = map[string]int{"BTC/USD": 8_000, "ETH/USD": 3_000}
)

var sharedCryptoData = sync.OnceValue(func() *cryptoData {
	r := rand.New(rand.NewPCG(5, 6))
	d := &dataset{
		symbols: cryptoSymbols,
		trades:  map[string][]market.Event{},
		quotes:  map[string][]market.Event{},
		bars:    map[market.Timeframe]map[string][]market.Event{market.OneMinute: {}, market.OneDay: {}},
	}
	var seq uint64
	next := func() uint64 { seq++; return seq }
	size := func() float64 { return float64(r.IntN(1_000_000)+1) / 1e6 } // fractional, six decimals
	for sym, n := range cryptoTicks {
		t := dataStart.UnixNano()
		for i := range n {
			if r.IntN(4) != 0 {
				t += int64(r.IntN(2_000_000_000)) + 1
			}
			p := 60_000 + float64(r.IntN(1_000_000))/100
			d.trades[sym] = append(d.trades[sym], market.Event{Seq: next(), Time: t, Symbol: sym, Kind: market.KindCryptoTrade,
				CryptoTrade: market.CryptoTrade{ID: int64(i + 1), Price: p, Size: size(), TakerSide: "BS-\x00"[r.IntN(4)]}})
			d.quotes[sym] = append(d.quotes[sym], market.Event{Seq: next(), Time: t + int64(r.IntN(1000)), Symbol: sym, Kind: market.KindCryptoQuote,
				CryptoQuote: market.CryptoQuote{BidPrice: p - 1, BidSize: size(), AskPrice: p + 1.5, AskSize: size()}})
		}
		slices.SortFunc(d.quotes[sym], byTimeSeq)
	}
	for sym, n := range cryptoMinutes {
		t := dataStart
		for range n {
			o, c := 60_000+float64(r.IntN(100_000))/100, 60_000+float64(r.IntN(100_000))/100
			d.bars[market.OneMinute][sym] = append(d.bars[market.OneMinute][sym], market.Event{Seq: next(), Time: t.UnixNano(), Symbol: sym,
				Kind: market.KindCryptoBar, CryptoBar: &market.CryptoBar{Open: o, High: max(o, c) + 1, Low: min(o, c) - 1, Close: c,
					Volume: size() * 10, VWAP: (o + c) / 2, TradeCount: uint64(r.IntN(100))}})
			t = t.Add(time.Minute)
		}
		day := barStart(market.OneDay, dataStart)
		for range 12 {
			c := 60_000 + float64(r.IntN(100_000))/100
			d.bars[market.OneDay][sym] = append(d.bars[market.OneDay][sym], market.Event{Seq: next(), Time: day.UnixNano(), Symbol: sym,
				Kind: market.KindCryptoDailyBar, CryptoBar: &market.CryptoBar{Open: c - 10, High: c + 50, Low: c - 50, Close: c,
					Volume: 123.456789, VWAP: c, TradeCount: 1000}})
			day = day.AddDate(0, 0, 1)
		}
	}
	d.trades["DOGE/USD"] = []market.Event{{Seq: next(), Time: dataStart.UnixNano(), Symbol: "DOGE/USD", Kind: market.KindCryptoTrade,
		CryptoTrade: market.CryptoTrade{ID: 9, Price: 0.1234, Size: 1500.5, TakerSide: 'B'}}}
	books := map[string]market.Event{
		"BTC/USD": {Time: dataStart.UnixNano() + 137_774_336, Symbol: "BTC/USD", Kind: market.KindCryptoOrderbook, Orderbook: &market.Orderbook{
			Bids:  []market.BookLevel{{Price: 20846, Size: 0.1902}, {Price: 20845.5, Size: 2}},
			Asks:  []market.BookLevel{{Price: 20902, Size: 0.0097}, {Price: 21444, Size: 1.25}},
			Reset: true}},
	}
	return &cryptoData{dataset: d, books: books}
})

// fakeNews is an in-memory NewsStore that answers by brute force: filter,
// sort, cut.
type fakeNews struct {
	articles []*market.News
	err      error
}

func (f *fakeNews) News(ctx context.Context, q httpapi.NewsQuery) (httpapi.NewsResult, error) {
	if f.err != nil {
		return httpapi.NewsResult{}, f.err
	}
	key := func(n *market.News) httpapi.NewsCursor {
		return httpapi.NewsCursor{Time: cmp.Or(n.UpdatedAt, n.CreatedAt), ID: n.ID}
	}
	order := func(a, b httpapi.NewsCursor) int {
		c := cmp.Or(cmp.Compare(a.Time, b.Time), cmp.Compare(a.ID, b.ID))
		if q.Desc {
			return -c
		}
		return c
	}
	var sel []*market.News
	for _, n := range f.articles {
		k := key(n)
		if k.Time < q.Start || k.Time > q.End || (q.ExcludeContentless && n.Content == "") {
			continue
		}
		if len(q.Symbols) > 0 && !slices.ContainsFunc(n.Symbols, func(s string) bool { return slices.Contains(q.Symbols, s) }) {
			continue
		}
		if q.After != nil && order(k, *q.After) <= 0 {
			continue
		}
		sel = append(sel, n)
	}
	slices.SortFunc(sel, func(a, b *market.News) int { return order(key(a), key(b)) })
	if len(sel) > q.Limit {
		l := key(sel[q.Limit-1])
		return httpapi.NewsResult{Articles: sel[:q.Limit], Next: &l}, nil
	}
	return httpapi.NewsResult{Articles: sel}, nil
}

// newsData is 120 articles, a minute apart from dataStart, about a few of
// the test symbols each; every third has no content, and some share a
// time so that paging must break ties by ID.
func newsData() []*market.News {
	r := rand.New(rand.NewPCG(7, 8))
	syms := []string{"AAPL", "MSFT", "SPY", "BTCUSD"}
	var out []*market.News
	t := dataStart
	for i := range 120 {
		if i%7 != 0 {
			t = t.Add(time.Minute)
		}
		n := &market.News{ID: int64(1000 + i), Headline: "Headline " + string(rune('A'+i%26)), Summary: "Summary",
			Author: "Benzinga Newsdesk", CreatedAt: t.Add(-time.Minute).UnixNano(), UpdatedAt: t.UnixNano(),
			URL: "https://example.com/" + string(rune('a'+i%26)), Source: "benzinga"}
		if i%3 != 0 {
			n.Content = "<p>Body & \"quotes\"</p>"
		}
		for _, s := range syms {
			if r.IntN(3) == 0 {
				n.Symbols = append(n.Symbols, s)
			}
		}
		if i%11 == 0 {
			n.UpdatedAt = 0 // never updated: its time is CreatedAt
		}
		out = append(out, n)
	}
	return out
}

// fakeAuctions is an AuctionStore over fixed prints.
type fakeAuctions struct {
	prints map[string][]market.Event // ascending by time
	calls  int
	mu     sync.Mutex
}

func (f *fakeAuctions) AuctionPrints(ctx context.Context, symbol string, start, end int64) ([]market.Event, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	var out []market.Event
	for _, e := range f.prints[symbol] {
		if e.Time >= start && e.Time <= end {
			out = append(out, e)
		}
	}
	return out, nil
}

// auctionData makes a listing exchange's and Nasdaq's opening and closing
// prints for every trading day from 2024-03-01 to 2024-03-29, as Alpaca's
// samples show them: the official open "Q" on the listing exchange, the
// opening print "O" and its official open "Q" on Nasdaq, the closing print
// "6" and official close "M" on both, a repeat of a print a moment later
// (listed once), and a regular trade, which is no auction.
func auctionData(symbols ...string) map[string][]market.Event {
	out := map[string][]market.Event{}
	for si, sym := range symbols {
		var seq uint64
		trade := func(t time.Time, x byte, p float64, s uint32, conds ...string) market.Event {
			seq++
			return market.Event{Seq: seq, Time: t.UnixNano(), Symbol: sym, Kind: market.KindTrade,
				Trade: market.Trade{ID: int64(seq), Price: p, Size: s, Exchange: x, Tape: 'C', Conditions: market.MakeConditions(conds...)}}
		}
		for i, day := range calendar.Days(calendar.NewDate(2024, 3, 1), calendar.NewDate(2024, 3, 29)) {
			p := 100 + float64(si*50+i)
			open, close := day.Open, day.Close
			out[sym] = append(out[sym],
				trade(open.Add(68*time.Millisecond), 'P', p, 100, " ", "Q"),
				trade(open.Add(1079*time.Millisecond), 'Q', p+0.12, 5000, "@", "O", "X"),
				trade(open.Add(1090*time.Millisecond), 'Q', p+0.12, 5000, "Q"),
				trade(open.Add(1200*time.Millisecond), 'Q', p+0.12, 5000, "Q"), // repeat: listed once
				trade(open.Add(1500*time.Millisecond), 'V', p+0.2, 100, "@", "F"),
				trade(close.Add(120*time.Millisecond), 'P', p+1, 2000, "6"),
				trade(close.Add(125*time.Millisecond), 'P', p+1, 2000, "M"),
				trade(close.Add(875*time.Millisecond), 'Q', p+0.98, 90000, "@", "6", "X"),
				trade(close.Add(876*time.Millisecond), 'Q', p+0.98, 90000, "M"),
			)
		}
	}
	return out
}
