// Package alpacameta is the static reference data of Alpaca's APIs that
// Tape serves without a network: the stock exchange codes of
// /v2/stocks/meta/exchanges, the trade and quote condition tables of
// /v2/stocks/meta/conditions, which trade conditions mark an opening or
// closing auction print (/v2/stocks/auctions), and the asset records of
// /v2/assets.
//
// The tables are data, not behaviour: they live here, below the history
// store and the REST API, so that the store can index auction prints with
// exactly the classification the API reports them by (IsAuctionPrint).
//
// # Sources
//
// Exchange codes and names are Alpaca's documented table (Market Data API,
// "Exchanges"). The condition tables are the consolidated tape plans'
// definitions, which Alpaca's tables reproduce: CTA (tapes A and B: the CTS
// sale conditions and CQS quote conditions) and UTP (tape C: the UTDF sale
// conditions and UQDF quote conditions). The auction conditions follow
// Alpaca's auction samples: opening auctions carry "O" (opening prints) and
// "Q" (market center official open), closing auctions "6" (closing prints)
// and "M" (market center official close), on both plans.
//
// Assets are Tape's: a symbol Tape serves gets a record shaped like
// Alpaca's, with an ID derived from the symbol (stable across restarts and
// hosts) and, for the well-known symbols the simulator trades, the real
// name and listing exchange. See StockAsset and CryptoAsset.
package alpacameta
