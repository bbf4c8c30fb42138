package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	_ "time/tzdata" // the default Location must load on hosts without a zoneinfo database

	"github.com/tapehq/tape/internal/auth"
	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/market"
)

// Store is what the API reads. Trades, Quotes and Bars follow the contract
// of history.Query and history.Result; the Latest methods and Snapshot
// report false when they have nothing for the symbol.
type Store interface {
	Trades(ctx context.Context, q history.Query) (history.Result, error)
	Quotes(ctx context.Context, q history.Query) (history.Result, error)
	Bars(ctx context.Context, q history.Query, tf market.Timeframe) (history.Result, error)
	LatestTrade(symbol string) (market.Event, bool)
	LatestQuote(symbol string) (market.Event, bool)
	LatestBar(symbol string) (market.Event, bool)
	Snapshot(symbol string) (history.Snapshot, bool)
}

// Options configures a Handler. Zero fields take the documented defaults.
type Options struct {
	// Store answers the queries. Required.
	Store Store
	// Keys authenticates requests; nil or open keys accept any (or no)
	// credentials.
	Keys *auth.Keys
	// Logger receives internal errors (500s) and, at debug level, refused
	// requests. Nil discards.
	Logger *slog.Logger
	// Now returns the current time, which is the default end of a query
	// and decides what "today" is for the default start. Default
	// time.Now.
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
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		loc, err := time.LoadLocation("America/New_York")
		if err != nil {
			panic("httpapi: " + err.Error()) // unreachable: time/tzdata is embedded
		}
		o.Location = loc
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxSymbols <= 0 {
		o.MaxSymbols = 1000
	}
}

// Handler serves Alpaca's historical stock data API (the /v2/stocks/…
// paths) from a Store. It is safe for concurrent use.
type Handler struct {
	opts   Options
	parser parser
	mux    *http.ServeMux
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
	// Patterns carry no method: ServeHTTP admits only GET, so that HEAD
	// (which a "GET" pattern would also match) and every other method get
	// a JSON 405. The mux prefers /v2/stocks/trades/latest over
	// /v2/stocks/{symbol}/trades/latest because it is more specific.
	for _, k := range []kind{kindTrades, kindQuotes, kindBars} {
		h.mux.HandleFunc("/v2/stocks/"+k.String(), h.history(k))
		h.mux.HandleFunc("/v2/stocks/{symbol}/"+k.String(), h.history(k))
		h.mux.HandleFunc("/v2/stocks/"+k.String()+"/latest", h.latest(k))
		h.mux.HandleFunc("/v2/stocks/{symbol}/"+k.String()+"/latest", h.latest(k))
	}
	h.mux.HandleFunc("/v2/stocks/snapshots", h.snapshots)
	h.mux.HandleFunc("/v2/stocks/{symbol}/snapshot", h.snapshots)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { h.fail(w, r, errNotFound) })
	return h
}

// ServeHTTP checks the method and the credentials, then routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		h.fail(w, r, errMethodNotAllowed)
		return
	}
	if !h.authorized(r) {
		h.fail(w, r, errForbidden)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// authorized reports whether r carries an accepted key pair: Alpaca's
// APCA-API-KEY-ID / APCA-API-SECRET-KEY headers, or HTTP Basic key:secret
// as Alpaca's Broker API sends it. OAuth bearer tokens are not supported:
// Tape has no OAuth apps to issue them. Alpaca's data API answers missing
// and wrong credentials alike with 403 (its market data FAQ), so Tape does
// too.
func (h *Handler) authorized(r *http.Request) bool {
	keys := h.opts.Keys
	if keys.Open() {
		return true
	}
	if key := r.Header.Get("APCA-API-KEY-ID"); key != "" {
		return keys.Check(key, r.Header.Get("APCA-API-SECRET-KEY"))
	}
	if key, secret, ok := r.BasicAuth(); ok {
		return keys.Check(key, secret)
	}
	return false
}

// history serves the trades, quotes or bars of kind k, in the multi-symbol
// form or, with a {symbol} in the path, the single-symbol form.
func (h *Handler) history(k kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, aerr := h.parser.parseHistory(r.URL.Query(), k, r.PathValue("symbol"))
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
			res, err = h.opts.Store.Trades(ctx, req.query)
		case kindQuotes:
			res, err = h.opts.Store.Quotes(ctx, req.query)
		default:
			res, err = h.opts.Store.Bars(ctx, req.query, req.tf)
		}
		if err != nil {
			h.storeFailed(ctx, w, r, err)
			return
		}
		p := page{kind: k, events: res.Events, currency: req.currency}
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
}

// latest serves the latest trade, quote or minute bar per symbol. The
// multi form leaves out symbols without data (the SDK's GetLatestTrade
// turns a missing key into nil, nil); the single form answers them 404.
func (h *Handler) latest(k kind) http.HandlerFunc {
	get := h.opts.Store.LatestTrade
	switch k {
	case kindQuotes:
		get = h.opts.Store.LatestQuote
	case kindBars:
		get = h.opts.Store.LatestBar
	}
	return func(w http.ResponseWriter, r *http.Request) {
		symbol := r.PathValue("symbol")
		req, aerr := h.parser.parseLatest(r.URL.Query(), symbol)
		if aerr != nil {
			h.fail(w, r, aerr)
			return
		}
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
func (h *Handler) snapshots(w http.ResponseWriter, r *http.Request) {
	symbol := r.PathValue("symbol")
	req, aerr := h.parser.parseLatest(r.URL.Query(), symbol)
	if aerr != nil {
		h.fail(w, r, aerr)
		return
	}
	buf := getBuffer()
	defer putBuffer(buf)
	if symbol != "" {
		sym := req.symbols[0]
		s, ok := h.opts.Store.Snapshot(sym)
		if !ok {
			h.fail(w, r, noData("snapshot", sym))
			return
		}
		*buf = appendSnapshot((*buf)[:0], sym, &s)
	} else {
		items := make([]snapshotItem, len(req.symbols))
		for i, sym := range req.symbols {
			items[i].symbol = sym
			items[i].snap, items[i].ok = h.opts.Store.Snapshot(sym)
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
