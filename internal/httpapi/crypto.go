package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"slices"

	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/market"
)

// CryptoStore is what the crypto endpoints read. CryptoTrades,
// CryptoQuotes and CryptoBars follow the contract of history.Query and
// history.Result, as Store's methods do, with crypto events: KindCryptoTrade
// (CryptoTrade payload), KindCryptoQuote (CryptoQuote) and bars of any
// crypto bar kind with a CryptoBar payload. The Latest methods and
// CryptoSnapshot report false when they have nothing for the symbol; a
// snapshot holds crypto events. LatestOrderbook returns the symbol's
// current book in full (an event of KindCryptoOrderbook with every level,
// bids highest first, asks lowest first), as Alpaca's latest orderbook is
// a snapshot, not the stream's deltas. CryptoSymbols lists the pairs the
// store has data for.
//
// The methods are named apart from Store's so that one type (the history
// store) can implement both.
type CryptoStore interface {
	CryptoTrades(ctx context.Context, q history.Query) (history.Result, error)
	CryptoQuotes(ctx context.Context, q history.Query) (history.Result, error)
	CryptoBars(ctx context.Context, q history.Query, tf market.Timeframe) (history.Result, error)
	LatestCryptoTrade(symbol string) (market.Event, bool)
	LatestCryptoQuote(symbol string) (market.Event, bool)
	LatestCryptoBar(symbol string) (market.Event, bool)
	LatestOrderbook(symbol string) (market.Event, bool)
	CryptoSnapshot(symbol string) (history.Snapshot, bool)
	CryptoSymbols() []string
}

// cryptoLocations are the {loc} segments of Alpaca's v1beta3 crypto API:
// us (Alpaca US), us-1 (Kraken US), us-2, eu-1 (Kraken EU) and bs-1. Tape
// keeps one crypto record, so each location serves the same data.
var cryptoLocations = []string{"us", "us-1", "us-2", "eu-1", "bs-1"}

// cryptoReady refuses a crypto request when Tape has no crypto store or the
// location is unknown.
func (h *Handler) cryptoReady(r *http.Request) *apiError {
	if h.opts.Crypto == nil {
		return notServed("crypto data")
	}
	if loc := r.PathValue("loc"); !slices.Contains(cryptoLocations, loc) {
		return &apiError{status: http.StatusNotFound, code: codeNotFound, msg: "unknown crypto location: " + clip(loc)}
	}
	return nil
}

// cryptoHistory serves /v1beta3/crypto/{loc}/trades, quotes and bars: the
// multi-symbol form only, as at Alpaca.
func (h *Handler) cryptoHistory(k kind) endpoint {
	return func(w http.ResponseWriter, r *http.Request, v url.Values) {
		if e := h.cryptoReady(r); e != nil {
			h.fail(w, r, e)
			return
		}
		req, aerr := h.parser.parseHistory(v, k, "", false)
		if aerr != nil {
			h.fail(w, r, aerr)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
		defer cancel()
		var res history.Result
		var err error
		switch k {
		case kindCryptoTrades:
			res, err = h.opts.Crypto.CryptoTrades(ctx, req.query)
		case kindCryptoQuotes:
			res, err = h.opts.Crypto.CryptoQuotes(ctx, req.query)
		default:
			res, err = h.opts.Crypto.CryptoBars(ctx, req.query, req.tf)
		}
		if err != nil {
			h.storeFailed(ctx, w, r, err)
			return
		}
		h.writePage(w, r, &req, res)
	}
}

// cryptoSymbolsOf parses the required symbols of a crypto latest or
// snapshot request.
func (h *Handler) cryptoSymbolsOf(r *http.Request, v url.Values) ([]string, *apiError) {
	if e := h.cryptoReady(r); e != nil {
		return nil, e
	}
	return h.parser.parseCryptoSymbols(v.Get("symbols"))
}

// cryptoLatest serves /v1beta3/crypto/{loc}/latest/trades, quotes and bars,
// leaving out symbols without data.
func (h *Handler) cryptoLatest(k kind) endpoint {
	get := h.latestCrypto(k)
	return func(w http.ResponseWriter, r *http.Request, v url.Values) {
		syms, aerr := h.cryptoSymbolsOf(r, v)
		if aerr != nil {
			h.fail(w, r, aerr)
			return
		}
		h.writeLatest(w, r, k, syms, get)
	}
}

// writeLatest answers {"trades":{…}} (quotes, bars: k) with the item get
// returns for each of syms, leaving out those it has none for.
func (h *Handler) writeLatest(w http.ResponseWriter, r *http.Request, k kind, syms []string, get func(string) (market.Event, bool)) {
	items := make([]latestItem, 0, len(syms))
	for _, sym := range syms {
		if e, ok := get(sym); ok {
			items = append(items, latestItem{symbol: sym, event: e})
		}
	}
	buf := getBuffer()
	defer putBuffer(buf)
	*buf = appendLatest((*buf)[:0], k, items, "")
	h.write(w, r, http.StatusOK, *buf)
}

// latestCrypto returns the store's latest-k method; it is looked up per
// request because Crypto may be nil (then cryptoReady refuses first).
func (h *Handler) latestCrypto(k kind) func(string) (market.Event, bool) {
	return func(sym string) (market.Event, bool) {
		switch k {
		case kindCryptoTrades:
			return h.opts.Crypto.LatestCryptoTrade(sym)
		case kindCryptoQuotes:
			return h.opts.Crypto.LatestCryptoQuote(sym)
		default:
			return h.opts.Crypto.LatestCryptoBar(sym)
		}
	}
}

// cryptoOrderbooks serves /v1beta3/crypto/{loc}/latest/orderbooks:
// {"orderbooks":{"BTC/USD":{"t":…,"b":[…],"a":[…]}}}.
func (h *Handler) cryptoOrderbooks(w http.ResponseWriter, r *http.Request, v url.Values) {
	syms, aerr := h.cryptoSymbolsOf(r, v)
	if aerr != nil {
		h.fail(w, r, aerr)
		return
	}
	h.writeOrderbooks(w, r, syms, h.opts.Crypto.LatestOrderbook)
}

// writeOrderbooks answers {"orderbooks":{…}} with the book get returns
// for each of syms, leaving out those it has none for.
func (h *Handler) writeOrderbooks(w http.ResponseWriter, r *http.Request, syms []string, get func(string) (market.Event, bool)) {
	buf := getBuffer()
	defer putBuffer(buf)
	b := append((*buf)[:0], `{"orderbooks":{`...)
	first := true
	for _, sym := range syms {
		e, ok := get(sym)
		if !ok {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, sym)
		b = append(b, ':')
		b = appendOrderbook(b, &e)
	}
	*buf = append(b, '}', '}')
	h.write(w, r, http.StatusOK, *buf)
}

// cryptoSnapshots serves /v1beta3/crypto/{loc}/snapshots.
func (h *Handler) cryptoSnapshots(w http.ResponseWriter, r *http.Request, v url.Values) {
	syms, aerr := h.cryptoSymbolsOf(r, v)
	if aerr != nil {
		h.fail(w, r, aerr)
		return
	}
	items := make([]snapshotItem, len(syms))
	for i, sym := range syms {
		items[i].symbol = sym
		items[i].snap, items[i].ok = h.opts.Crypto.CryptoSnapshot(sym)
	}
	buf := getBuffer()
	defer putBuffer(buf)
	*buf = appendCryptoSnapshots((*buf)[:0], items)
	h.write(w, r, http.StatusOK, *buf)
}
