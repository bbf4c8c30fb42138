package history

import (
	"context"

	"github.com/tapehq/tape/internal/market"
)

// Crypto is the store seen through its crypto namespace: crypto pairs
// ("BTC/USD") with the method set of the store's stock API, so that one
// interface (httpapi.Store) serves the stock and the crypto REST endpoints.
// Its queries are the store's with Query.Class set to market.ClassCrypto;
// its events are KindCryptoTrade, KindCryptoQuote and KindCryptoBar
// (aggregated timeframes too, with fractional volumes summed).
type Crypto struct{ s *Store }

// Crypto returns the store's crypto view.
func (s *Store) Crypto() Crypto { return Crypto{s} }

// Trades returns a page of crypto trades, as Store.Trades.
func (c Crypto) Trades(ctx context.Context, q Query) (Result, error) {
	q.Class = market.ClassCrypto
	return c.s.Trades(ctx, q)
}

// Quotes returns a page of crypto quotes, as Store.Quotes.
func (c Crypto) Quotes(ctx context.Context, q Query) (Result, error) {
	q.Class = market.ClassCrypto
	return c.s.Quotes(ctx, q)
}

// Bars returns a page of crypto bars of the timeframe, as Store.Bars.
func (c Crypto) Bars(ctx context.Context, q Query, tf market.Timeframe) (Result, error) {
	q.Class = market.ClassCrypto
	return c.s.Bars(ctx, q, tf)
}

// LatestTrade returns the pair's trade with the latest time.
func (c Crypto) LatestTrade(symbol string) (market.Event, bool) {
	return c.s.latestTick(crypto, symbol, false)
}

// LatestQuote returns the pair's quote with the latest time.
func (c Crypto) LatestQuote(symbol string) (market.Event, bool) {
	return c.s.latestTick(crypto, symbol, true)
}

// LatestBar returns the pair's latest minute bar (as updated).
func (c Crypto) LatestBar(symbol string) (market.Event, bool) { return c.s.latestBar(crypto, symbol) }

// Snapshot returns the pair's latest trade, quote, minute bar, daily bar
// and previous daily bar; false if the store has nothing for it.
func (c Crypto) Snapshot(symbol string) (Snapshot, bool) { return c.s.snapshot(crypto, symbol) }

// Symbols returns the crypto pairs the store has data for, sorted.
func (c Crypto) Symbols() []string { return c.s.symbols(crypto) }
