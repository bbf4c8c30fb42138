package server

import (
	"context"

	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/market"
)

// cryptoStore serves the crypto REST API (httpapi.CryptoStore) from the
// history store's crypto namespace and the hub's order books.
type cryptoStore struct {
	c     history.Crypto
	books interface {
		Orderbook(symbol string) (market.Event, bool)
	}
}

func (a cryptoStore) CryptoTrades(ctx context.Context, q history.Query) (history.Result, error) {
	return a.c.Trades(ctx, q)
}

func (a cryptoStore) CryptoQuotes(ctx context.Context, q history.Query) (history.Result, error) {
	return a.c.Quotes(ctx, q)
}

func (a cryptoStore) CryptoBars(ctx context.Context, q history.Query, tf market.Timeframe) (history.Result, error) {
	return a.c.Bars(ctx, q, tf)
}

func (a cryptoStore) LatestCryptoTrade(sym string) (market.Event, bool)  { return a.c.LatestTrade(sym) }
func (a cryptoStore) LatestCryptoQuote(sym string) (market.Event, bool)  { return a.c.LatestQuote(sym) }
func (a cryptoStore) LatestCryptoBar(sym string) (market.Event, bool)    { return a.c.LatestBar(sym) }
func (a cryptoStore) CryptoSnapshot(sym string) (history.Snapshot, bool) { return a.c.Snapshot(sym) }
func (a cryptoStore) CryptoSymbols() []string                            { return a.c.Symbols() }

func (a cryptoStore) LatestOrderbook(sym string) (market.Event, bool) {
	if a.books == nil {
		return market.Event{}, false
	}
	return a.books.Orderbook(sym)
}
