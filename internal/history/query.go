package history

import "github.com/tapehq/tape/internal/market"

// Cursor is a position in a query's result stream: the last item returned.
// Symbol, Time and Seq order items: symbols ascending, then time in the
// query's direction, then sequence number (trades can share a timestamp).
type Cursor struct {
	Symbol string
	Time   int64
	Seq    uint64
}

// Query selects items of some symbols in a time range.
type Query struct {
	// Class is the symbols' asset class: market.ClassStocks (the zero
	// value) or market.ClassCrypto. Stocks and crypto pairs are separate
	// namespaces: a query sees the symbols of its class only. Other classes
	// are refused (ErrBadQuery).
	Class   market.Class
	Symbols []string // sorted, unique
	Start   int64    // inclusive, ns since epoch
	End     int64    // inclusive, ns since epoch
	Desc    bool     // newest first (per symbol; symbols stay ascending)
	Limit   int      // most items to return, in total across symbols; > 0
	After   *Cursor  // resume strictly after this item; nil starts at the beginning

	// iex makes a stock query read the IEX view's namespace rather than
	// the consolidated one. Only the IEX view (Store.IEX) sets it, so a
	// Query built by a caller always reads the consolidated stocks;
	// combined with any class but stocks it is refused (ErrBadQuery).
	iex bool
}

// Result is one page of a query.
type Result struct {
	// Events hold the items: market.Event with Kind KindTrade, KindQuote or
	// KindBar (bars of any timeframe; Time is the bar start), or for crypto
	// KindCryptoTrade, KindCryptoQuote or KindCryptoBar (with CryptoBar
	// set), grouped by symbol in ascending order, each group in the query's
	// time direction.
	Events []market.Event
	// Next is where the next page starts; nil when there is nothing more.
	Next *Cursor
}

// Snapshot is the latest state of a symbol, as Alpaca's snapshot endpoints
// (stocks and crypto) return it. Nil fields are unknown.
type Snapshot struct {
	LatestTrade  *market.Event
	LatestQuote  *market.Event
	MinuteBar    *market.Event // the latest minute bar
	DailyBar     *market.Event // the current (latest) daily bar
	PrevDailyBar *market.Event // the daily bar of the day before DailyBar's
}
