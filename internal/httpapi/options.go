package httpapi

import (
	"cmp"
	"context"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tapehq/tape/internal/calendar"
	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/options"
)

// The options endpoints serve package options' simulated market, derived
// from the stock record (Options.Store's minute bars, latest trades and
// daily bars): see that package for the model. They are on only with
// Options.SimulatedOptions.

// Options parameter limits, as Alpaca documents them.
const (
	defaultChainLimit = 100
	maxChainLimit     = 1000
	// optionSessions is how many regular sessions back a latest trade or
	// a snapshot looks for a contract's last trade.
	optionSessions = 5
)

// optionFeeds are the feeds Alpaca's options endpoints take. Tape's one
// simulated market answers both.
var optionFeeds = []string{"opra", "indicative"}

// optionsReady refuses an options request when Tape serves no options.
func (h *Handler) optionsReady() *apiError {
	if !h.opts.SimulatedOptions {
		return notServed("options data")
	}
	return nil
}

// underlyings maps OCC roots to the stock symbols Tape serves.
func (h *Handler) underlyings() map[string]string {
	syms := h.opts.StockSymbols()
	m := make(map[string]string, len(syms))
	for _, s := range syms {
		m[options.RootOf(s)] = s
	}
	return m
}

// optionJSON types: Alpaca's field names. Timestamps are UTC.
type (
	optionTradeJSON struct {
		T time.Time `json:"t"`
		X string    `json:"x"`
		P float64   `json:"p"`
		S uint32    `json:"s"`
		C string    `json:"c"`
	}
	optionQuoteJSON struct {
		T  time.Time `json:"t"`
		AX string    `json:"ax"`
		AP float64   `json:"ap"`
		AS uint32    `json:"as"`
		BX string    `json:"bx"`
		BP float64   `json:"bp"`
		BS uint32    `json:"bs"`
		C  string    `json:"c"`
	}
	optionBarJSON struct {
		T  time.Time `json:"t"`
		O  float64   `json:"o"`
		H  float64   `json:"h"`
		L  float64   `json:"l"`
		C  float64   `json:"c"`
		V  uint64    `json:"v"`
		N  uint64    `json:"n"`
		VW float64   `json:"vw"`
	}
	greeksJSON struct {
		Delta float64 `json:"delta"`
		Gamma float64 `json:"gamma"`
		Rho   float64 `json:"rho"`
		Theta float64 `json:"theta"`
		Vega  float64 `json:"vega"`
	}
	optionSnapshotJSON struct {
		LatestTrade       *optionTradeJSON `json:"latestTrade"`
		LatestQuote       *optionQuoteJSON `json:"latestQuote"`
		MinuteBar         *optionBarJSON   `json:"minuteBar,omitempty"`
		DailyBar          *optionBarJSON   `json:"dailyBar,omitempty"`
		PrevDailyBar      *optionBarJSON   `json:"prevDailyBar,omitempty"`
		ImpliedVolatility float64          `json:"impliedVolatility,omitempty"`
		Greeks            *greeksJSON      `json:"greeks,omitempty"`
	}
)

func utc(ns int64) time.Time { return time.Unix(0, ns).UTC() }

func tradeJSON(t options.Trade) *optionTradeJSON {
	return &optionTradeJSON{T: utc(t.Time), X: string(t.Exchange), P: t.Price, S: t.Size, C: string(t.Condition)}
}

func quoteJSON(q options.Quote) *optionQuoteJSON {
	return &optionQuoteJSON{T: utc(q.Time), AX: string(q.AskExchange), AP: q.Ask, AS: q.AskSize,
		BX: string(q.BidExchange), BP: q.Bid, BS: q.BidSize, C: string(q.Condition)}
}

// optionBar aggregates trades (in time order) into a bar starting at start.
func optionBar(start int64, trades []options.Trade) *optionBarJSON {
	b := &optionBarJSON{T: utc(start), O: trades[0].Price, H: trades[0].Price, L: trades[0].Price, C: trades[len(trades)-1].Price}
	var notional float64
	for _, t := range trades {
		b.H, b.L = max(b.H, t.Price), min(b.L, t.Price)
		b.V += uint64(t.Size)
		notional += t.Price * float64(t.Size)
	}
	b.N = uint64(len(trades))
	// Clamped: the sum of products can land a rounding error outside.
	b.VW = min(max(notional/float64(b.V), b.L), b.H)
	return b
}

// minutes reads the regular-session minutes of underlying in [lo, hi],
// in the direction desc, calling fn with each until it returns false.
func (h *Handler) minutes(ctx context.Context, underlying string, lo, hi int64, desc bool, fn func(options.Minute) bool) error {
	q := history.Query{Symbols: []string{underlying}, Start: lo, End: hi, Desc: desc, Limit: maxLimit}
	var sess options.Sessions
	for {
		res, err := h.opts.Store.Bars(ctx, q, market.OneMinute)
		if err != nil {
			return err
		}
		for _, e := range res.Events {
			if !sess.Regular(e.Time) {
				continue
			}
			b := &e.Bar
			if !fn(options.Minute{Start: e.Time, Open: b.Open, High: b.High, Low: b.Low, Close: b.Close, Trades: b.TradeCount}) {
				return nil
			}
		}
		if res.Next == nil {
			return nil
		}
		q.After = res.Next
	}
}

// recent is an underlying's last few regular sessions, newest first, and
// where it trades now.
type recent struct {
	sessions [][]options.Minute // each session's minutes, ascending
	price    float64            // the underlying's price for quotes and greeks
	at       int64              // the time of that price
	ok       bool               // price and at are known
}

// recentOf reads underlying's last optionSessions regular sessions up to
// now. The quote price is the underlying's latest trade while a regular
// session is open, else the last session's close: options do not trade
// outside it.
func (h *Handler) recentOf(ctx context.Context, underlying string, now time.Time) (recent, error) {
	var r recent
	var day calendar.Date
	var cur []options.Minute
	lo := now.AddDate(0, 0, -3*optionSessions-4).UnixNano()
	err := h.minutes(ctx, underlying, lo, now.UnixNano(), true, func(m options.Minute) bool {
		d := calendar.DateOf(time.Unix(0, m.Start))
		if cur != nil && d != day {
			slices.Reverse(cur)
			r.sessions = append(r.sessions, cur)
			cur = nil
			if len(r.sessions) == optionSessions {
				return false
			}
		}
		day = d
		cur = append(cur, m)
		return true
	})
	if err != nil {
		return r, err
	}
	if cur != nil && len(r.sessions) < optionSessions {
		slices.Reverse(cur)
		r.sessions = append(r.sessions, cur)
	}
	var sess options.Sessions
	if e, ok := h.opts.Store.LatestTrade(underlying); ok && sess.Regular(now.UnixNano()) && sess.Regular(e.Time) {
		r.price, r.at, r.ok = e.Trade.Price, e.Time, true
	} else if len(r.sessions) > 0 {
		last := r.sessions[0][len(r.sessions[0])-1]
		r.price, r.ok = last.Close, true
		r.at = min(last.Start+int64(time.Minute), now.UnixNano())
		if td, ok := calendar.TradingDay(calendar.DateOf(time.Unix(0, last.Start))); ok {
			r.at = min(r.at, td.Close.UnixNano())
		}
	}
	return r, nil
}

// snapshotOf computes c's snapshot from its underlying's recent sessions:
// the last trade and its minute's bar, the bars of the last two sessions
// in which c traded, and the quote and greeks at the underlying's price.
// ok is false when there is nothing to say (no trade and no quote).
func snapshotOf(c options.Contract, r *recent) (optionSnapshotJSON, bool) {
	var s optionSnapshotJSON
	var buf []options.Trade
	tape := c.Tape()
	for _, sess := range r.sessions {
		if s.PrevDailyBar != nil {
			break
		}
		buf = buf[:0]
		var lastMinute []options.Trade
		var lastStart int64
		for _, m := range sess {
			n := len(buf)
			buf = tape.TradesIn(m, buf)
			if len(buf) > n {
				lastMinute, lastStart = buf[n:], m.Start
			}
		}
		if len(buf) == 0 {
			continue
		}
		day := calendar.DateOf(time.Unix(0, sess[0].Start)).Time().UnixNano()
		if s.LatestTrade == nil {
			s.LatestTrade = tradeJSON(buf[len(buf)-1])
			s.MinuteBar = optionBar(lastStart, lastMinute)
			s.DailyBar = optionBar(day, buf)
		} else {
			s.PrevDailyBar = optionBar(day, buf)
		}
	}
	if q, v, ok := quoteOf(c, r); ok {
		s.LatestQuote = q
		s.ImpliedVolatility = round6(v.Vol)
		g := v.Greeks
		s.Greeks = &greeksJSON{Delta: round6(g.Delta), Gamma: round6(g.Gamma), Rho: round6(g.Rho), Theta: round6(g.Theta), Vega: round6(g.Vega)}
	}
	return s, s.LatestTrade != nil || s.LatestQuote != nil
}

// quoteOf returns c's quote, and its value (volatility, greeks), at the
// underlying's price in r; false when that is unknown or c has expired.
func quoteOf(c options.Contract, r *recent) (*optionQuoteJSON, options.Value, bool) {
	if !r.ok || r.at >= c.Expires().UnixNano() {
		return nil, options.Value{}, false
	}
	v := c.Value(r.price, r.at)
	return quoteJSON(c.QuoteOf(v, r.at)), v, true
}

// lastTrade returns c's last trade in r's sessions, looking from the
// newest minute back.
func lastTrade(c options.Contract, r *recent) (*optionTradeJSON, bool) {
	tape := c.Tape()
	var buf []options.Trade
	for _, sess := range r.sessions {
		for i := len(sess) - 1; i >= 0; i-- {
			if buf = tape.TradesIn(sess[i], buf[:0]); len(buf) > 0 {
				return tradeJSON(buf[len(buf)-1]), true
			}
		}
	}
	return nil, false
}

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// maxOptionSymbols bounds the contracts of one request, as Alpaca's
// options endpoints do: each is simulated over its range.
const maxOptionSymbols = 100

// parseOptionSymbols parses a symbols parameter of option contracts,
// sorted and unique; at most maxOptionSymbols.
func (p *parser) parseOptionSymbols(s string) ([]string, *apiError) {
	q := *p
	q.maxSymbols = min(q.maxSymbols, maxOptionSymbols)
	return q.symbolList(s, func(s string) (string, bool) {
		c, err := options.Parse(s)
		if err != nil {
			return "", false
		}
		return c.Symbol(), true
	}, func(part string) *apiError {
		return badRequest("invalid symbol: %q is not an option contract (OCC symbol, e.g. AAPL261218C00230000)", clip(part))
	})
}

// contractOf parses an option symbol and finds its underlying; ok is false
// for a root Tape does not serve.
func contractOf(sym string, roots map[string]string) (c options.Contract, underlying string, ok bool) {
	c, err := options.Parse(sym)
	if err != nil {
		return c, "", false
	}
	underlying, ok = roots[c.Root]
	return c, underlying, ok
}

// recents computes recentOf once per underlying of a request.
type recents struct {
	h     *Handler
	ctx   context.Context
	now   time.Time
	cache map[string]*recent
}

func (rs *recents) of(underlying string) (*recent, error) {
	if r, ok := rs.cache[underlying]; ok {
		return r, nil
	}
	r, err := rs.h.recentOf(rs.ctx, underlying, rs.now)
	if err != nil {
		return nil, err
	}
	if rs.cache == nil {
		rs.cache = map[string]*recent{}
	}
	rs.cache[underlying] = &r
	return &r, nil
}

// optionLatest serves /v1beta1/options/trades/latest and quotes/latest:
// the latest trade (in the last few sessions) or the current quote of
// each contract; contracts without one are left out.
func (h *Handler) optionLatest(k kind) endpoint {
	return func(w http.ResponseWriter, r *http.Request, v url.Values) {
		if e := h.optionsReady(); e != nil {
			h.fail(w, r, e)
			return
		}
		syms, aerr := h.parser.parseOptionSymbols(v.Get("symbols"))
		if aerr == nil {
			aerr = checkFeed(v.Get("feed"), optionFeeds)
		}
		if aerr != nil {
			h.fail(w, r, aerr)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
		defer cancel()
		now := h.opts.Now()
		rs := recents{h: h, ctx: ctx, now: now}
		roots := h.underlyings()
		trades := map[string]*optionTradeJSON{}
		quotes := map[string]*optionQuoteJSON{}
		for _, sym := range syms {
			c, und, ok := contractOf(sym, roots)
			if !ok {
				continue
			}
			rc, err := rs.of(und)
			if err != nil {
				h.storeFailed(ctx, w, r, err)
				return
			}
			if k == kindTrades {
				if t, ok := lastTrade(c, rc); ok {
					trades[sym] = t
				}
			} else if q, _, ok := quoteOf(c, rc); ok {
				quotes[sym] = q
			}
		}
		if k == kindTrades {
			h.writeJSON(w, r, map[string]any{"trades": trades})
		} else {
			h.writeJSON(w, r, map[string]any{"quotes": quotes})
		}
	}
}

// optionSnapshots serves /v1beta1/options/snapshots?symbols=…, paged by
// symbol (limit 1–1000, default 100).
func (h *Handler) optionSnapshots(w http.ResponseWriter, r *http.Request, v url.Values) {
	if e := h.optionsReady(); e != nil {
		h.fail(w, r, e)
		return
	}
	syms, aerr := h.parser.parseOptionSymbols(v.Get("symbols"))
	if aerr != nil {
		h.fail(w, r, aerr)
		return
	}
	roots := h.underlyings()
	contracts := make([]options.Contract, 0, len(syms))
	unds := make([]string, 0, len(syms))
	for _, sym := range syms {
		if c, und, ok := contractOf(sym, roots); ok {
			contracts = append(contracts, c)
			unds = append(unds, und)
		}
	}
	h.writeSnapshotPage(w, r, v, "options/snapshots", syms, contracts, func(i int) string { return unds[i] })
}

// optionChain serves /v1beta1/options/snapshots/{underlying}: the
// snapshots of the contracts listed today on the underlying, filtered as
// Alpaca filters them, paged by symbol.
func (h *Handler) optionChain(w http.ResponseWriter, r *http.Request, v url.Values) {
	if e := h.optionsReady(); e != nil {
		h.fail(w, r, e)
		return
	}
	und, ok := canonicalSymbol(r.PathValue("underlying"))
	if !ok {
		h.fail(w, r, badRequest("invalid underlying symbol: %q", clip(r.PathValue("underlying"))))
		return
	}
	f, aerr := parseContractFilter(v, "", "")
	if aerr != nil {
		h.fail(w, r, aerr)
		return
	}
	if !slices.Contains(h.opts.StockSymbols(), und) {
		h.writeJSON(w, r, map[string]any{"snapshots": map[string]any{}, "next_page_token": nil})
		return
	}
	listed, _ := h.listed(und, calendar.DateOf(h.opts.Now()))
	contracts := listed[:0:0]
	for _, c := range listed {
		if f.match(c) {
			contracts = append(contracts, c)
		}
	}
	h.writeSnapshotPage(w, r, v, "options/chain/"+und, []string{und}, contracts, func(int) string { return und })
}

// writeSnapshotPage answers a page of snapshots of contracts (sorted by
// symbol), each of whose underlying und(i) gives.
func (h *Handler) writeSnapshotPage(w http.ResponseWriter, r *http.Request, v url.Values, series string, key []string, contracts []options.Contract, und func(int) string) {
	limit, aerr := parseLimit(v.Get("limit"), defaultChainLimit, maxChainLimit)
	if aerr == nil {
		aerr = checkFeed(v.Get("feed"), optionFeeds)
	}
	if aerr != nil {
		h.fail(w, r, aerr)
		return
	}
	params := []string{v.Get("type"), v.Get("strike_price_gte"), v.Get("strike_price_lte"), v.Get("expiration_date"),
		v.Get("expiration_date_gte"), v.Get("expiration_date_lte"), v.Get("root_symbol")}
	hash := hashQuery(series, key, params...)
	from := 0
	if tok := v.Get("page_token"); tok != "" {
		t, ok := decodeToken(tok, hash)
		if !ok || t.cursor.Symbol == "" {
			h.fail(w, r, errInvalidToken)
			return
		}
		from, _ = slices.BinarySearchFunc(contracts, t.cursor.Symbol, func(c options.Contract, s string) int {
			return strings.Compare(c.Symbol(), s)
		})
		if from < len(contracts) && contracts[from].Symbol() == t.cursor.Symbol {
			from++
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
	defer cancel()
	now := h.opts.Now()
	rs := recents{h: h, ctx: ctx, now: now}
	out := map[string]optionSnapshotJSON{}
	var next any
	for i := from; i < len(contracts); i++ {
		if len(out) == limit {
			next = encodeToken(&pageToken{cursor: history.Cursor{Symbol: contracts[i-1].Symbol()}}, hash)
			break
		}
		rc, err := rs.of(und(i))
		if err != nil {
			h.storeFailed(ctx, w, r, err)
			return
		}
		if s, ok := snapshotOf(contracts[i], rc); ok {
			out[contracts[i].Symbol()] = s
		}
	}
	h.writeJSON(w, r, map[string]any{"snapshots": out, "next_page_token": next})
}

// listed returns the contracts listed on day d on underlying, and the
// price they are listed around: its previous close (refPrice).
func (h *Handler) listed(underlying string, d calendar.Date) ([]options.Contract, float64) {
	ref := h.refPrice(underlying, d)
	if ref == 0 {
		return nil, 0
	}
	return options.Chain(options.RootOf(underlying), d, ref), ref
}

// refPrice returns the price a day's chain of underlying is listed
// around: the close of its last daily bar before day d, else its last
// trade; 0 when the record has neither.
func (h *Handler) refPrice(underlying string, d calendar.Date) float64 {
	snap, ok := h.opts.Store.Snapshot(underlying)
	if !ok {
		return 0
	}
	switch {
	case snap.DailyBar != nil && calendar.DateOf(time.Unix(0, snap.DailyBar.Time)) < d:
		return snap.DailyBar.Bar.Close
	case snap.PrevDailyBar != nil:
		return snap.PrevDailyBar.Bar.Close
	case snap.LatestTrade != nil:
		return snap.LatestTrade.Trade.Price
	}
	return 0
}

// contractFilter is the contract filters of the chain and of
// /v2/options/contracts.
type contractFilter struct {
	typ            string
	kLo, kHi       float64
	expOn          calendar.Date
	expLo, expHi   calendar.Date
	root           string
	hasKLo, hasKHi bool
}

// parseContractFilter parses type, strike_price_gte/lte,
// expiration_date(_gte/_lte) and root_symbol. defLo and defHi default the
// expiration range (YYYY-MM-DD; "" for none).
func parseContractFilter(v url.Values, defLo, defHi string) (contractFilter, *apiError) {
	var f contractFilter
	switch f.typ = v.Get("type"); f.typ {
	case "", "call", "put":
	default:
		return f, invalidParam("invalid type: want call or put")
	}
	for _, p := range []struct {
		name string
		x    *float64
		has  *bool
	}{{"strike_price_gte", &f.kLo, &f.hasKLo}, {"strike_price_lte", &f.kHi, &f.hasKHi}} {
		if s := v.Get(p.name); s != "" {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil || x < 0 || x != x {
				return f, invalidParam("invalid %s: want a price", p.name)
			}
			*p.x, *p.has = x, true
		}
	}
	f.expHi = calendar.Last
	for _, p := range []struct {
		name, def string
		d         *calendar.Date
	}{{"expiration_date", "", &f.expOn}, {"expiration_date_gte", defLo, &f.expLo}, {"expiration_date_lte", defHi, &f.expHi}} {
		s := cmp.Or(v.Get(p.name), p.def)
		if s == "" {
			continue
		}
		d, err := calendar.ParseDate(s)
		if err != nil {
			return f, invalidParam("invalid %s: want YYYY-MM-DD, got %q", p.name, clip(s))
		}
		*p.d = d
	}
	f.root = strings.ToUpper(v.Get("root_symbol"))
	return f, nil
}

func (f *contractFilter) match(c options.Contract) bool {
	k := c.Strike()
	return (f.typ == "" || f.typ == c.Type()) &&
		(!f.hasKLo || k >= f.kLo) && (!f.hasKHi || k <= f.kHi) &&
		(f.expOn == 0 || c.Expiry == f.expOn) && c.Expiry >= f.expLo && c.Expiry <= f.expHi &&
		(f.root == "" || f.root == c.Root)
}

// optionRequest is a validated request for option trades or bars.
type optionRequest struct {
	syms []string
	tf   market.Timeframe
	walk
}

func (h *Handler) parseOptionHistory(v url.Values, bars bool) (optionRequest, *apiError) {
	var req optionRequest
	var aerr *apiError
	if req.syms, aerr = h.parser.parseOptionSymbols(v.Get("symbols")); aerr != nil {
		return req, aerr
	}
	series := "options/trades"
	if bars {
		series = "options/bars"
		s := v.Get("timeframe")
		if s == "" {
			return req, invalidParam("timeframe is required")
		}
		tf, err := market.ParseTimeframe(s)
		if err != nil {
			return req, errInvalidTimeframe
		}
		req.tf = tf
	}
	req.walk, aerr = h.parser.parseWalk(v, series, req.syms, req.tf.String())
	return req, aerr
}

// optionHistory serves /v1beta1/options/trades and /v1beta1/options/bars:
// each contract's simulated trades (or their bars) over the underlying's
// regular-session minutes in [start, end], grouped by symbol in ascending
// order, limit in total. A full page always carries a next_page_token
// (the next page may be empty): knowing that nothing follows would mean
// simulating the rest of the range.
func (h *Handler) optionHistory(bars bool) endpoint {
	return func(w http.ResponseWriter, r *http.Request, v url.Values) {
		if e := h.optionsReady(); e != nil {
			h.fail(w, r, e)
			return
		}
		req, aerr := h.parseOptionHistory(v, bars)
		if aerr != nil {
			h.fail(w, r, aerr)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
		defer cancel()
		roots := h.underlyings()
		key := "trades"
		if bars {
			key = "bars"
		}
		out := map[string][]any{}
		n := 0
		var next *history.Cursor
		for _, sym := range req.syms {
			if req.after != nil && sym < req.after.Symbol {
				continue
			}
			c, und, ok := contractOf(sym, roots)
			if !ok {
				continue
			}
			var after *history.Cursor
			if req.after != nil && req.after.Symbol == sym {
				after = req.after
			}
			var items []any
			var err error
			if bars {
				items, next, err = h.optionBars(ctx, c, und, &req, after, req.limit-n)
			} else {
				items, next, err = h.optionTrades(ctx, c, und, &req, after, req.limit-n)
			}
			if err != nil {
				h.storeFailed(ctx, w, r, err)
				return
			}
			if len(items) > 0 {
				out[sym] = items
				n += len(items)
			}
			if next != nil {
				next.Symbol = sym
				break
			}
		}
		var tok any
		if next != nil {
			tok = encodeToken(&pageToken{start: req.start, end: req.end, cursor: *next}, req.hash)
		}
		h.writeJSON(w, r, map[string]any{key: out, "next_page_token": tok})
	}
}

// contractRange clips [start, end] to when c trades: from its listing to
// its expiration.
func contractRange(c options.Contract, start, end int64) (int64, int64) {
	return max(start, c.Listed().Time().UnixNano()), min(end, c.Expires().UnixNano()-1)
}

// optionTrades returns up to limit trades of c in the request's range,
// after the cursor; next is set when the page filled.
func (h *Handler) optionTrades(ctx context.Context, c options.Contract, und string, req *optionRequest, after *history.Cursor, limit int) ([]any, *history.Cursor, error) {
	lo, hi := contractRange(c, req.start, req.end)
	if after != nil {
		if req.desc {
			hi = min(hi, after.Time)
		} else {
			lo = max(lo, after.Time)
		}
	}
	if lo > hi {
		return nil, nil, nil
	}
	var items []any
	var next *history.Cursor
	var buf []options.Trade
	// A minute's trades may start before lo (the minute began earlier).
	mlo := lo - lo%int64(time.Minute) - int64(time.Minute)
	tape := c.Tape()
	err := h.minutes(ctx, und, mlo, hi, req.desc, func(m options.Minute) bool {
		buf = tape.TradesIn(m, buf[:0])
		for j := range buf {
			i := j
			if req.desc {
				i = len(buf) - 1 - j
			}
			t := buf[i]
			seq := uint64(i + 1)
			if t.Time < lo || t.Time > hi {
				continue
			}
			if after != nil && t.Time == after.Time && (req.desc && seq >= after.Seq || !req.desc && seq <= after.Seq) {
				continue
			}
			if len(items) == limit {
				return false
			}
			items = append(items, tradeJSON(t))
			if len(items) == limit {
				next = &history.Cursor{Time: t.Time, Seq: seq}
			}
		}
		return true
	})
	return items, next, err
}

// optionBars returns up to limit bars of c at the request's timeframe,
// the buckets starting in the request's range, after the cursor.
func (h *Handler) optionBars(ctx context.Context, c options.Contract, und string, req *optionRequest, after *history.Cursor, limit int) ([]any, *history.Cursor, error) {
	loc := h.opts.Location
	lo, hi := req.start, req.end
	if after != nil {
		if req.desc {
			hi = min(hi, after.Time-1)
		} else {
			lo = max(lo, after.Time+1)
		}
	}
	if lo > hi {
		return nil, nil, nil
	}
	// Buckets starting in [lo, hi], read whole.
	first := bucketStart(req.tf, lo, loc)
	if first < lo {
		first = bucketNext(req.tf, first, loc)
	}
	last := bucketNext(req.tf, bucketStart(req.tf, hi, loc), loc) - 1
	if first > last {
		return nil, nil, nil
	}
	// Bucket starts stay where the timeframe puts them; the walk need not
	// read minutes before the contract was listed.
	from, last := contractRange(c, first, last)
	var items []any
	var next *history.Cursor
	var cur []options.Trade
	curStart := int64(-1)
	flush := func() {
		if len(cur) > 0 {
			slices.SortFunc(cur, func(a, b options.Trade) int { return cmp.Compare(a.Time, b.Time) })
			items = append(items, optionBar(curStart, cur))
			cur = cur[:0]
			if len(items) == limit {
				next = &history.Cursor{Time: curStart}
			}
		}
	}
	tape := c.Tape()
	err := h.minutes(ctx, und, from, last, req.desc, func(m options.Minute) bool {
		b := bucketStart(req.tf, m.Start, loc)
		if b != curStart {
			flush()
			if next != nil {
				return false
			}
			curStart = b
		}
		cur = tape.TradesIn(m, cur)
		return true
	})
	if err != nil {
		return nil, nil, err
	}
	if next == nil {
		flush()
	}
	return items, next, nil
}

// bucketStart returns the start of the bar of timeframe tf holding ns:
// minutes and hours on UTC boundaries, days, weeks (Monday) and months in
// loc, as the stock bars are.
func bucketStart(tf market.Timeframe, ns int64, loc *time.Location) int64 {
	switch tf.Unit {
	case market.Minute, market.Hour:
		w := int64(tf.N) * int64(time.Minute)
		if tf.Unit == market.Hour {
			w *= 60
		}
		return ns - ((ns%w)+w)%w
	}
	y, m, d := time.Unix(0, ns).In(loc).Date()
	switch tf.Unit {
	case market.Week:
		t := time.Date(y, m, d, 0, 0, 0, 0, loc)
		back := (int(t.Weekday()) + 6) % 7
		return time.Date(y, m, d-back, 0, 0, 0, 0, loc).UnixNano()
	case market.Month:
		m0 := (int(m)-1)/tf.N*tf.N + 1
		return time.Date(y, time.Month(m0), 1, 0, 0, 0, 0, loc).UnixNano()
	}
	return time.Date(y, m, d, 0, 0, 0, 0, loc).UnixNano()
}

// bucketNext returns the start of the bar after the one starting at b.
func bucketNext(tf market.Timeframe, b int64, loc *time.Location) int64 {
	switch tf.Unit {
	case market.Minute:
		return b + int64(tf.N)*int64(time.Minute)
	case market.Hour:
		return b + int64(tf.N)*int64(time.Hour)
	}
	y, m, d := time.Unix(0, b).In(loc).Date()
	switch tf.Unit {
	case market.Week:
		return time.Date(y, m, d+7, 0, 0, 0, 0, loc).UnixNano()
	case market.Month:
		return time.Date(y, m+time.Month(tf.N), 1, 0, 0, 0, 0, loc).UnixNano()
	}
	return time.Date(y, m, d+1, 0, 0, 0, 0, loc).UnixNano()
}
