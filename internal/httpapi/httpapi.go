package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	_ "time/tzdata" // the default Location must load on hosts without a zoneinfo database

	"github.com/tapehq/tape/internal/auth"
	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/market"
)

// Store is what the stock endpoints read. Trades, Quotes and Bars follow
// the contract of history.Query and history.Result; the Latest methods and
// Snapshot report false when they have nothing for the symbol. Symbols
// lists the symbols the store has data for (the screener ranks them, and
// /v2/assets lists them unless Options.StockSymbols says otherwise).
// *history.Store implements it, and so does its IEX view (history.IEX).
type Store interface {
	Trades(ctx context.Context, q history.Query) (history.Result, error)
	Quotes(ctx context.Context, q history.Query) (history.Result, error)
	Bars(ctx context.Context, q history.Query, tf market.Timeframe) (history.Result, error)
	LatestTrade(symbol string) (market.Event, bool)
	LatestQuote(symbol string) (market.Event, bool)
	LatestBar(symbol string) (market.Event, bool)
	Snapshot(symbol string) (history.Snapshot, bool)
	Symbols() []string
}

// Options configures a Handler. Zero fields take the documented defaults;
// an optional store left nil turns its endpoints into 404s that say so.
type Options struct {
	// Store answers the stock endpoints: the record's consolidated view,
	// which every feed but iex reads (sip, otc, boats, delayed_sip,
	// overnight, and no feed: Tape's default is sip, the best feed, as
	// Alpaca's is for a plan that has it). Required.
	Store Store
	// IEX returns the IEX view, which answers the stock endpoints
	// (history, latest, snapshots) when a request asks for feed=iex:
	// IEX's own trades, quotes and bars, as history.Store.IEX serves
	// them. It is called once per request, so that the view can appear
	// while Tape runs (a record learns whether it has one as it is
	// written: see history.Store.HasIEX). Nil, or a nil result (an untyped
	// nil: not a nil pointer in a Store), means the record has no IEX view
	// of its own, and feed=iex reads Store, the one feed recorded. The
	// screener, auctions and assets always read Store.
	IEX func() Store
	// Crypto answers /v1beta3/crypto/{loc}/…. Nil: not served.
	Crypto CryptoStore
	// SimulatedOptions serves /v1beta1/options/… and the trading API's
	// /v2/options/contracts from package options' model of an options
	// market on Store's stocks (its chains, quotes, greeks, trades and
	// bars derive from Store's minute bars, latest trades and daily bars).
	// For a simulated record only: on a record of the real market it would
	// mix made-up options with real stocks. False: not served.
	SimulatedOptions bool
	// News answers /v1beta1/news. Nil: not served.
	News NewsStore
	// Auctions answers /v2/stocks/auctions. Nil: AuctionScan over Store's
	// trades, which reads the minutes after each bell; a store that
	// indexes its auction prints answers long ranges far cheaper.
	Auctions AuctionStore
	// StockScreener and CryptoScreener rank the screener's symbols. Nil:
	// read from Store's (Crypto's) symbols and snapshots, one symbol at a
	// time (see SnapshotScreener); a store that can list its daily bars in
	// one pass should implement ScreenerSource itself.
	StockScreener  ScreenerSource
	CryptoScreener ScreenerSource
	// StockSymbols and CryptoSymbols list the assets of /v2/assets: the
	// stocks and crypto pairs ("BTC/USD") Tape serves, such as the
	// simulator's or --symbols. Called once per request. Nil: the symbols
	// Store (Crypto) has data for.
	StockSymbols  func() []string
	CryptoSymbols func() []string
	// Keys authenticates requests; nil or open keys accept any (or no)
	// credentials.
	Keys *auth.Keys
	// Logger receives internal errors (500s) and, at debug level, refused
	// requests. Nil discards.
	Logger *slog.Logger
	// Now returns the current time: the default end of a query, what
	// "today" is for the default start, the time of /v2/clock and of the
	// screener. Tape passes its feed's clock, which a simulator may run
	// ahead of the wall clock. Default time.Now.
	Now func() time.Time
	// Location is where a day starts: the default start ("the beginning of
	// the current day") and a YYYY-MM-DD start or end are midnight there.
	// Default America/New_York, the market's time zone.
	Location *time.Location
	// Timeout bounds each store query through its context. Default 30 s.
	Timeout time.Duration
	// MaxSymbols bounds the symbols of one request (400 beyond). Default
	// 1000.
	MaxSymbols int
	// ScreenerInterval is how long a screener ranking is reused before it
	// is computed again (Alpaca's are recomputed periodically too, and say
	// when in last_updated). Default 1 s of wall-clock time; negative
	// computes every request.
	ScreenerInterval time.Duration
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = market.NewYork
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxSymbols <= 0 {
		o.MaxSymbols = 1000
	}
	if o.ScreenerInterval == 0 {
		o.ScreenerInterval = time.Second
	}
	if o.StockScreener == nil {
		o.StockScreener = SnapshotScreener{Symbols: o.Store.Symbols, Snapshot: o.Store.Snapshot}
	}
	if o.CryptoScreener == nil && o.Crypto != nil {
		o.CryptoScreener = SnapshotScreener{Symbols: o.Crypto.CryptoSymbols, Snapshot: o.Crypto.CryptoSnapshot, Crypto: true}
	}
	if o.Auctions == nil {
		o.Auctions = AuctionScan{Trades: o.Store}
	}
	if o.StockSymbols == nil {
		o.StockSymbols = o.Store.Symbols
	}
	if o.CryptoSymbols == nil && o.Crypto != nil {
		o.CryptoSymbols = o.Crypto.CryptoSymbols
	}
}

// Handler serves Alpaca's market data REST API and the market endpoints
// of its trading API (see the package documentation for the paths). It is
// safe for concurrent use.
type Handler struct {
	opts     Options
	parser   parser
	mux      *http.ServeMux
	assets   assetCache
	screener [2]screenerCache // stocks, crypto
}

// New returns a Handler for opts. It panics if opts.Store is nil, a
// programming error.
func New(opts Options) *Handler {
	if opts.Store == nil {
		panic("httpapi: Options.Store is nil")
	}
	opts.setDefaults()
	h := &Handler{
		opts:   opts,
		parser: parser{now: opts.Now, loc: opts.Location, maxSymbols: opts.MaxSymbols},
		mux:    http.NewServeMux(),
	}
	h.routes()
	return h
}

// access is who may call an endpoint, and how a refusal reads.
type access uint8

const (
	// dataAccess: the market data API. Missing or wrong credentials get
	// 403 {"message":"forbidden"} (Alpaca's market data FAQ).
	dataAccess access = iota
	// tradingAccess: the trading API (clock, calendar, assets). Missing or
	// wrong credentials get 401 {"code":40110000,"message":"request is not
	// authorized"}, as the trading API answers them.
	tradingAccess
	// openAccess: crypto market data, which Alpaca serves without
	// credentials (its API reference lists no security for them). Wrong
	// credentials are still refused, with the data API's 403, so that a
	// misconfigured client learns it here rather than against Alpaca.
	openAccess
)

// endpoint is a handler that receives the request's parsed query.
type endpoint func(w http.ResponseWriter, r *http.Request, v url.Values)

// handle registers f for pattern behind the access check and strict query
// parsing.
func (h *Handler) handle(pattern string, a access, f endpoint) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if e := h.authorize(r, a); e != nil {
			h.fail(w, r, e)
			return
		}
		v, e := parseQuery(r.URL.RawQuery)
		if e != nil {
			h.fail(w, r, e)
			return
		}
		f(w, r, v)
	})
}

// routes registers every endpoint. Patterns carry no method: ServeHTTP
// admits only GET, so that HEAD (which a "GET" pattern would also match)
// and every other method get a JSON 405. The mux prefers a literal segment
// to a wildcard (/v2/stocks/trades/latest over
// /v2/stocks/{symbol}/trades/latest).
func (h *Handler) routes() {
	for _, k := range []kind{kindTrades, kindQuotes, kindBars} {
		h.handle("/v2/stocks/"+k.String(), dataAccess, h.history(k))
		h.handle("/v2/stocks/{symbol}/"+k.String(), dataAccess, h.history(k))
		h.handle("/v2/stocks/"+k.String()+"/latest", dataAccess, h.latest(k))
		h.handle("/v2/stocks/{symbol}/"+k.String()+"/latest", dataAccess, h.latest(k))
	}
	h.handle("/v2/stocks/snapshots", dataAccess, h.snapshots)
	h.handle("/v2/stocks/{symbol}/snapshot", dataAccess, h.snapshots)
	h.handle("/v2/stocks/auctions", dataAccess, h.auctions)
	h.handle("/v2/stocks/{symbol}/auctions", dataAccess, h.auctions)
	h.handle("/v2/stocks/meta/exchanges", dataAccess, h.exchanges)
	h.handle("/v2/stocks/meta/conditions/{ticktype}", dataAccess, h.conditions)

	for _, k := range []kind{kindCryptoTrades, kindCryptoQuotes, kindCryptoBars} {
		h.handle("/v1beta3/crypto/{loc}/"+k.String(), openAccess, h.cryptoHistory(k))
		h.handle("/v1beta3/crypto/{loc}/latest/"+k.String(), openAccess, h.cryptoLatest(k))
	}
	h.handle("/v1beta3/crypto/{loc}/latest/orderbooks", openAccess, h.cryptoOrderbooks)
	h.handle("/v1beta3/crypto/{loc}/snapshots", openAccess, h.cryptoSnapshots)
	for _, k := range []kind{kindCryptoTrades, kindCryptoQuotes, kindCryptoBars} {
		h.handle("/v1beta1/crypto-perps/{loc}/latest/"+k.String(), openAccess, h.perpLatest(k))
	}
	h.handle("/v1beta1/crypto-perps/{loc}/latest/pricing", openAccess, h.perpPricingEndpoint)
	h.handle("/v1beta1/crypto-perps/{loc}/latest/orderbooks", openAccess, h.perpOrderbooks)
	h.handle("/v1beta1/forex/latest/rates", dataAccess, h.forexLatest)
	h.handle("/v1beta1/forex/rates", dataAccess, h.forexRates)

	h.handle("/v1beta1/options/trades", dataAccess, h.optionHistory(false))
	h.handle("/v1beta1/options/bars", dataAccess, h.optionHistory(true))
	h.handle("/v1beta1/options/trades/latest", dataAccess, h.optionLatest(kindTrades))
	h.handle("/v1beta1/options/quotes/latest", dataAccess, h.optionLatest(kindQuotes))
	h.handle("/v1beta1/options/snapshots", dataAccess, h.optionSnapshots)
	h.handle("/v1beta1/options/snapshots/{underlying}", dataAccess, h.optionChain)
	h.handle("/v1beta1/options/meta/exchanges", dataAccess, h.optionExchanges)
	h.handle("/v1beta1/options/meta/conditions/{ticktype}", dataAccess, h.optionConditions)

	h.handle("/v1beta1/news", dataAccess, h.news)
	h.handle("/v1beta1/screener/stocks/most-actives", dataAccess, h.mostActives)
	h.handle("/v1beta1/screener/{market}/movers", dataAccess, h.movers)
	h.handle("/v1/corporate-actions", dataAccess, h.corporateActions)

	h.handle("/v2/clock", tradingAccess, h.clock)
	h.handle("/v2/calendar", tradingAccess, h.calendar)
	h.handle("/v3/clock", tradingAccess, h.clockV3)
	h.handle("/v3/calendar/{market}", tradingAccess, h.calendarV3)
	h.handle("/v2/assets", tradingAccess, h.assetList)
	h.handle("/v2/assets/{id...}", tradingAccess, h.asset)
	h.handle("/v2/options/contracts", tradingAccess, h.optionContracts)
	h.handle("/v2/options/contracts/{id}", tradingAccess, h.optionContract)
	h.handle("/v2/corporate_actions/announcements", tradingAccess, h.announcements)
	h.handle("/v2/corporate_actions/announcements/{id}", tradingAccess, h.announcement)

	// Everything else, under any prefix the handler is mounted at, is a
	// JSON 404, not Go's plain-text one: a client must be able to decode
	// every answer. No credentials are needed to learn that a path does
	// not exist.
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { h.fail(w, r, errNotFound) })
}

// ServeHTTP checks the method, then routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		h.fail(w, r, errMethodNotAllowed)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// authorize returns nil if r may call an endpoint of access a, else the
// refusal. Credentials are Alpaca's APCA-API-KEY-ID / APCA-API-SECRET-KEY
// headers, or HTTP Basic key:secret as Alpaca's Broker API sends them.
// OAuth bearer tokens are not supported: Tape has no OAuth apps to issue
// them.
func (h *Handler) authorize(r *http.Request, a access) *apiError {
	keys := h.opts.Keys
	if keys.Open() {
		return nil
	}
	key, secret, given := credentials(r)
	switch {
	case given && keys.Check(key, secret):
		return nil
	case !given && a == openAccess:
		return nil
	case a == tradingAccess:
		return errUnauthorized
	}
	return errForbidden
}

// credentials returns the key pair r carries, and whether it carries one.
func credentials(r *http.Request) (key, secret string, ok bool) {
	if key := r.Header.Get("APCA-API-KEY-ID"); key != "" {
		return key, r.Header.Get("APCA-API-SECRET-KEY"), true
	}
	if key, secret, ok := r.BasicAuth(); ok {
		return key, secret, true
	}
	return "", "", r.Header.Get("Authorization") != ""
}

// stockStore returns the store that answers a stock request for feed (as
// the request gives it; an invalid one is refused later, by the parser)
// and whether that is the IEX view: for feed=iex the IEX view if there is
// one, else, and for every other feed, Options.Store.
func (h *Handler) stockStore(feed string) (Store, bool) {
	if feed == "iex" && h.opts.IEX != nil {
		if s := h.opts.IEX(); s != nil {
			return s, true
		}
	}
	return h.opts.Store, false
}

// history serves the trades, quotes or bars of kind k, in the multi-symbol
// form or, with a {symbol} in the path, the single-symbol form.
func (h *Handler) history(k kind) endpoint {
	return func(w http.ResponseWriter, r *http.Request, v url.Values) {
		store, iex := h.stockStore(v.Get("feed"))
		req, aerr := h.parser.parseHistory(v, k, r.PathValue("symbol"), iex)
		if aerr != nil {
			h.fail(w, r, aerr)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
		defer cancel()
		var res history.Result
		var err error
		switch k {
		case kindTrades:
			res, err = store.Trades(ctx, req.query)
		case kindQuotes:
			res, err = store.Quotes(ctx, req.query)
		default:
			res, err = store.Bars(ctx, req.query, req.tf)
		}
		if err != nil {
			h.storeFailed(ctx, w, r, err)
			return
		}
		h.writePage(w, r, &req, res)
	}
}

// writePage answers a history request with the store's result.
func (h *Handler) writePage(w http.ResponseWriter, r *http.Request, req *historyRequest, res history.Result) {
	p := page{kind: req.kind, events: res.Events, currency: req.currency}
	if req.single {
		p.single = req.query.Symbols[0]
	}
	if res.Next != nil {
		p.token = encodeToken(&pageToken{start: req.query.Start, end: req.query.End, cursor: *res.Next}, req.hash)
	}
	buf := getBuffer()
	defer putBuffer(buf)
	*buf = appendPage((*buf)[:0], &p)
	h.write(w, r, http.StatusOK, *buf)
}

// latest serves the latest trade, quote or minute bar per symbol. The
// multi form leaves out symbols without data (the SDK's GetLatestTrade
// turns a missing key into nil, nil); the single form answers them 404.
func (h *Handler) latest(k kind) endpoint {
	latestOf := Store.LatestTrade
	switch k {
	case kindQuotes:
		latestOf = Store.LatestQuote
	case kindBars:
		latestOf = Store.LatestBar
	}
	return func(w http.ResponseWriter, r *http.Request, v url.Values) {
		symbol := r.PathValue("symbol")
		req, aerr := h.parser.parseLatest(v, symbol)
		if aerr != nil {
			h.fail(w, r, aerr)
			return
		}
		store, _ := h.stockStore(v.Get("feed"))
		get := func(sym string) (market.Event, bool) { return latestOf(store, sym) }
		buf := getBuffer()
		defer putBuffer(buf)
		if symbol != "" {
			sym := req.symbols[0]
			e, ok := get(sym)
			if !ok {
				h.fail(w, r, noData(k.singular(), sym))
				return
			}
			*buf = appendLatestSingle((*buf)[:0], k, sym, &e, req.currency)
		} else {
			items := make([]latestItem, 0, len(req.symbols))
			for _, sym := range req.symbols {
				if e, ok := get(sym); ok {
					items = append(items, latestItem{symbol: sym, event: e})
				}
			}
			*buf = appendLatest((*buf)[:0], k, items, req.currency)
		}
		h.write(w, r, http.StatusOK, *buf)
	}
}

// snapshots serves /v2/stocks/snapshots and /v2/stocks/{symbol}/snapshot.
func (h *Handler) snapshots(w http.ResponseWriter, r *http.Request, v url.Values) {
	symbol := r.PathValue("symbol")
	req, aerr := h.parser.parseLatest(v, symbol)
	if aerr != nil {
		h.fail(w, r, aerr)
		return
	}
	store, _ := h.stockStore(v.Get("feed"))
	buf := getBuffer()
	defer putBuffer(buf)
	if symbol != "" {
		sym := req.symbols[0]
		s, ok := store.Snapshot(sym)
		if !ok {
			h.fail(w, r, noData("snapshot", sym))
			return
		}
		*buf = appendSnapshot((*buf)[:0], sym, &s)
	} else {
		items := make([]snapshotItem, len(req.symbols))
		for i, sym := range req.symbols {
			items[i].symbol = sym
			items[i].snap, items[i].ok = store.Snapshot(sym)
		}
		*buf = appendSnapshots((*buf)[:0], items)
	}
	h.write(w, r, http.StatusOK, *buf)
}

// storeFailed answers a store error. A query that ran out of time gets 504,
// which the SDK does not retry (it retries 500 up to ten times, and a query
// that took 30 s will take 30 s again). If the client went away there is
// no one to answer. Everything else is a 500 whose details go to the log
// only.
func (h *Handler) storeFailed(ctx context.Context, w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case r.Context().Err() != nil:
		h.opts.Logger.Debug("history request abandoned by client", "path", r.URL.Path, "err", err)
	case errors.Is(err, history.ErrBadQuery):
		// A query the store cannot serve is the caller's to fix, and must
		// not be a 500: the SDK would retry it ten times.
		h.fail(w, r, &apiError{status: http.StatusUnprocessableEntity, code: 42210000, msg: err.Error()})
	case errors.Is(err, history.ErrClosed):
		h.fail(w, r, &apiError{status: http.StatusServiceUnavailable, msg: "shutting down"})
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		h.opts.Logger.Warn("history query timed out", "path", r.URL.Path, "query", r.URL.RawQuery, "timeout", h.opts.Timeout)
		h.fail(w, r, errTimeout)
	default:
		h.opts.Logger.Error("history query failed", "path", r.URL.Path, "query", r.URL.RawQuery, "err", err)
		h.fail(w, r, errInternal)
	}
}

// fail writes e as the response.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, e *apiError) {
	if e.status < 500 {
		h.opts.Logger.Debug("request refused", "method", r.Method, "path", r.URL.Path, "status", e.status, "message", e.msg)
	}
	h.write(w, r, e.status, appendError(make([]byte, 0, 64+len(e.msg)), e))
}
