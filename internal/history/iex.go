package history

import (
	"context"

	"github.com/tapehq/tape/internal/market"
)

// IEX is the store seen through its IEX namespace: the IEX view of the
// stocks, which Alpaca's feed=iex serves. It holds IEX's own top of book
// (KindIEXQuote events), the bars of IEX's own trades (KindIEXBar,
// KindIEXUpdatedBar, KindIEXDailyBar) and the stock trades printed on IEX
// (Exchange market.IEXExchange, which the consolidated stocks hold too).
// It has the method set of the store's stock API, so that one interface
// (httpapi.Store) serves either view; its queries are the store's with the
// query bound to the iex namespace (Query.Class must be stocks, the zero
// value).
//
// Its events have the consolidated kinds, KindTrade, KindQuote and
// KindBar (aggregated timeframes too), as the REST API encodes both views
// alike: the view, not the kind, says which feed they are.
//
// A record of one received feed has no IEX quotes or bars, only the IEX
// trades among its trades: see HasIEX.
type IEX struct{ s *Store }

// IEX returns the store's IEX view.
func (s *Store) IEX() IEX { return IEX{s} }

// HasIEX reports whether the store holds any IEX quote or IEX bar, that
// is whether the record has an IEX view of its own (a simulated one) and
// not merely the IEX trades of a single received feed. It is cheap (an
// atomic load): true from the first such event applied, or from Open when
// the files hold one. PruneBefore does not clear it (daily bars, which
// prunes keep, are bars too).
func (s *Store) HasIEX() bool { return s.hasIEX.Load() }

// Trades returns a page of the trades printed on IEX, as Store.Trades.
func (v IEX) Trades(ctx context.Context, q Query) (Result, error) {
	q.iex = true
	return v.s.Trades(ctx, q)
}

// Quotes returns a page of IEX's quotes (as KindQuote events), as
// Store.Quotes.
func (v IEX) Quotes(ctx context.Context, q Query) (Result, error) {
	q.iex = true
	return v.s.Quotes(ctx, q)
}

// Bars returns a page of IEX bars of the timeframe (as KindBar events),
// aggregated from the IEX minute and daily bars as Store.Bars aggregates
// the consolidated ones.
func (v IEX) Bars(ctx context.Context, q Query, tf market.Timeframe) (Result, error) {
	q.iex = true
	return v.s.Bars(ctx, q, tf)
}

// LatestTrade returns the stock's latest trade printed on IEX.
func (v IEX) LatestTrade(symbol string) (market.Event, bool) {
	return v.s.latestTick(iex, symbol, false)
}

// LatestQuote returns the stock's latest IEX quote.
func (v IEX) LatestQuote(symbol string) (market.Event, bool) {
	return v.s.latestTick(iex, symbol, true)
}

// LatestBar returns the stock's latest IEX minute bar (as updated).
func (v IEX) LatestBar(symbol string) (market.Event, bool) { return v.s.latestBar(iex, symbol) }

// Snapshot returns the stock's latest IEX trade, quote, minute bar, daily
// bar and previous daily bar; false if the view has nothing for it.
func (v IEX) Snapshot(symbol string) (Snapshot, bool) { return v.s.snapshot(iex, symbol) }

// Symbols returns the stocks the IEX view has data for, sorted.
func (v IEX) Symbols() []string { return v.s.symbols(iex) }
