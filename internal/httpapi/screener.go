package httpapi

import (
	"cmp"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tapehq/tape/internal/history"
)

// ScreenRow is what the screener knows of one symbol: its latest daily bar
// and the close of the one before.
type ScreenRow struct {
	Symbol     string
	Day        int64   // start of the latest daily bar, ns since the Unix epoch
	Close      float64 // its close: the symbol's current price
	Volume     uint64  // its volume (stocks; crypto rows may leave it 0)
	TradeCount uint64  // its trade count
	PrevClose  float64 // the previous daily bar's close; 0 when there is none
}

// ScreenerSource lists what the screener ranks.
type ScreenerSource interface {
	// ScreenRows appends a row for every symbol that has a daily bar to
	// dst and returns the extended slice. It is called at most once per
	// Options.ScreenerInterval, but over every symbol, so a store should
	// answer it in one pass.
	ScreenRows(dst []ScreenRow) []ScreenRow
}

// SnapshotScreener is a ScreenerSource over a store's symbols and
// snapshots, read one symbol at a time. *history.Store's Symbols and
// Snapshot fit it; it is the default when Options names no screener.
type SnapshotScreener struct {
	Symbols  func() []string
	Snapshot func(symbol string) (history.Snapshot, bool)
	// Crypto says the snapshots hold crypto bars (a CryptoBar payload),
	// whose volume is fractional; their rows leave Volume 0.
	Crypto bool
}

// ScreenRows implements ScreenerSource.
func (s SnapshotScreener) ScreenRows(dst []ScreenRow) []ScreenRow {
	for _, sym := range s.Symbols() {
		snap, ok := s.Snapshot(sym)
		if !ok || snap.DailyBar == nil {
			continue
		}
		row := ScreenRow{Symbol: sym, Day: snap.DailyBar.Time}
		if s.Crypto {
			if b := snap.DailyBar.CryptoBar; b != nil {
				row.Close, row.TradeCount = b.Close, b.TradeCount
			}
			if p := snap.PrevDailyBar; p != nil && p.CryptoBar != nil {
				row.PrevClose = p.CryptoBar.Close
			}
		} else {
			b := &snap.DailyBar.Bar
			row.Close, row.Volume, row.TradeCount = b.Close, b.Volume, b.TradeCount
			if p := snap.PrevDailyBar; p != nil {
				row.PrevClose = p.Bar.Close
			}
		}
		dst = append(dst, row)
	}
	return dst
}

// ranking is the screener's view of one market at one time: the rows of
// the latest day, in the orders the endpoints list them.
type ranking struct {
	updated   time.Time   // the feed's time when it was computed
	byVolume  []ScreenRow // volume descending
	byTrades  []ScreenRow // trade count descending
	gainers   []mover     // percent change descending, positive only
	losers    []mover     // percent change ascending, negative only
	computed  time.Time   // wall-clock time of the computation, for reuse
	rowBuffer []ScreenRow
}

// screenerCache holds a market's latest ranking.
type screenerCache struct {
	mu sync.Mutex
	r  *ranking
}

// rank returns the current ranking of src, computing it if the cached one
// is older than the screener interval. The lock is held while computing,
// so that concurrent requests wait for one computation instead of running
// their own.
func (h *Handler) rank(c *screenerCache, src ScreenerSource) *ranking {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.r != nil && h.opts.ScreenerInterval > 0 && time.Since(c.r.computed) < h.opts.ScreenerInterval {
		return c.r
	}
	var buf []ScreenRow
	if c.r != nil {
		buf = c.r.rowBuffer[:0]
	}
	r := computeRanking(src.ScreenRows(buf), h.opts.Now())
	r.computed = time.Now()
	c.r = r
	return r
}

// computeRanking ranks rows. Only the rows of the latest day in them count:
// a symbol that has not traded today would otherwise rank with
// yesterday's volume. Before the day's first trade that makes the
// previous day's ranking the current one, as Alpaca's screener shows the
// previous day's until the market opens. Ties are broken by symbol, so
// the order is deterministic. Each list keeps only as many entries as a
// request may ask for: selecting the top 100 of 8,000 symbols is several
// times cheaper than sorting them all (BenchmarkScreener).
func computeRanking(rows []ScreenRow, now time.Time) *ranking {
	r := &ranking{updated: now, rowBuffer: rows}
	var day int64 = math.MinInt64
	for i := range rows {
		day = max(day, rows[i].Day)
	}
	byVolume := func(a, b ScreenRow) int {
		return cmp.Or(cmp.Compare(b.Volume, a.Volume), cmp.Compare(a.Symbol, b.Symbol))
	}
	byTrades := func(a, b ScreenRow) int {
		return cmp.Or(cmp.Compare(b.TradeCount, a.TradeCount), cmp.Compare(a.Symbol, b.Symbol))
	}
	// Movers rank by their rounded changes, the ones they show, so that
	// two symbols listed at 25% are in symbol order, and a change that
	// rounds to 0.00% is neither a gain nor a loss.
	gains := func(a, b mover) int {
		return cmp.Or(cmp.Compare(b.PercentChange, a.PercentChange), cmp.Compare(a.Symbol, b.Symbol))
	}
	losses := func(a, b mover) int {
		return cmp.Or(cmp.Compare(a.PercentChange, b.PercentChange), cmp.Compare(a.Symbol, b.Symbol))
	}
	for i := range rows {
		row := &rows[i]
		if row.Day != day {
			continue
		}
		r.byVolume = keepTop(r.byVolume, *row, maxMostActives, byVolume)
		r.byTrades = keepTop(r.byTrades, *row, maxMostActives, byTrades)
		if row.PrevClose <= 0 {
			continue
		}
		change := row.Close - row.PrevClose
		m := mover{Symbol: row.Symbol, PercentChange: change / row.PrevClose * 100, Change: change, Price: row.Close}.rounded()
		switch {
		case m.PercentChange > 0:
			r.gainers = keepTop(r.gainers, m, maxMoversTop, gains)
		case m.PercentChange < 0:
			r.losers = keepTop(r.losers, m, maxMoversTop, losses)
		}
	}
	return r
}

// keepTop inserts v into top, which is sorted by cmp and holds at most k
// items, and returns it. Most candidates rank below the k-th and cost one
// comparison.
func keepTop[T any](top []T, v T, k int, cmp func(a, b T) int) []T {
	if len(top) == k && cmp(v, top[k-1]) >= 0 {
		return top
	}
	i, _ := slices.BinarySearchFunc(top, v, cmp)
	if len(top) == k {
		top = top[:k-1]
	}
	return slices.Insert(top, i, v)
}

// mover is one entry of a movers list, in Alpaca's shape.
type mover struct {
	Symbol        string  `json:"symbol"`
	PercentChange float64 `json:"percent_change"`
	Change        float64 `json:"change"`
	Price         float64 `json:"price"`
}

// rounded returns m with its change and percent change rounded to cents
// and hundredths of a percent, as Alpaca reports them.
func (m mover) rounded() mover {
	m.Change = math.Round(m.Change*100) / 100
	m.PercentChange = math.Round(m.PercentChange*100) / 100
	return m
}

// mostActive is one entry of a most-actives list, in Alpaca's shape.
type mostActive struct {
	Symbol     string `json:"symbol"`
	Volume     uint64 `json:"volume"`
	TradeCount uint64 `json:"trade_count"`
}

// Limits of the screener's top parameter.
const (
	defaultTop     = 10
	maxMostActives = 100
	maxMoversTop   = 50
)

// parseTop parses top: 1 to max, default 10.
func parseTop(s string, max int) (int, *apiError) {
	if s == "" {
		return defaultTop, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, invalidParam("invalid top: want an integer from 1 to %d", max)
	}
	return n, nil
}

// mostActives serves /v1beta1/screener/stocks/most-actives?by=volume|trades&top=N:
// the day's most active stocks by volume (the default) or trade count,
// from each symbol's latest daily bar.
func (h *Handler) mostActives(w http.ResponseWriter, r *http.Request, v url.Values) {
	by := cmp.Or(v.Get("by"), "volume")
	if by != "volume" && by != "trades" {
		h.fail(w, r, invalidParam("invalid by: want volume or trades"))
		return
	}
	top, aerr := parseTop(v.Get("top"), maxMostActives)
	if aerr != nil {
		h.fail(w, r, aerr)
		return
	}
	rk := h.rank(&h.screener[0], h.opts.StockScreener)
	rows := rk.byVolume
	if by == "trades" {
		rows = rk.byTrades
	}
	out := make([]mostActive, 0, min(top, len(rows)))
	for _, row := range rows[:min(top, len(rows))] {
		out = append(out, mostActive{Symbol: row.Symbol, Volume: row.Volume, TradeCount: row.TradeCount})
	}
	h.writeJSON(w, r, struct {
		MostActives []mostActive `json:"most_actives"`
		LastUpdated string       `json:"last_updated"`
	}{out, rk.updated.UTC().Format(time.RFC3339Nano)})
}

// movers serves /v1beta1/screener/{stocks|crypto}/movers?top=N: the top
// gainers and losers by percent change from the previous daily close to
// the latest one.
func (h *Handler) movers(w http.ResponseWriter, r *http.Request, v url.Values) {
	market := r.PathValue("market")
	var c *screenerCache
	var src ScreenerSource
	switch market {
	case "stocks":
		c, src = &h.screener[0], h.opts.StockScreener
	case "crypto":
		if h.opts.CryptoScreener == nil {
			h.fail(w, r, notServed("crypto data"))
			return
		}
		c, src = &h.screener[1], h.opts.CryptoScreener
	default:
		h.fail(w, r, errNotFound)
		return
	}
	top, aerr := parseTop(v.Get("top"), maxMoversTop)
	if aerr != nil {
		h.fail(w, r, aerr)
		return
	}
	rk := h.rank(c, src)
	gainers := rk.gainers[:min(top, len(rk.gainers))]
	losers := rk.losers[:min(top, len(rk.losers))]
	h.writeJSON(w, r, struct {
		Gainers     []mover `json:"gainers"`
		Losers      []mover `json:"losers"`
		MarketType  string  `json:"market_type"`
		LastUpdated string  `json:"last_updated"`
	}{nonNil(gainers), nonNil(losers), market, rk.updated.UTC().Format(time.RFC3339Nano)})
}

// nonNil returns s, or an empty slice for nil, which encodes as [] rather
// than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
