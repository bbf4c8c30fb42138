package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/market"
)

// kind is the data type an endpoint serves.
type kind uint8

const (
	kindTrades kind = iota
	kindQuotes
	kindBars
	kindCryptoTrades
	kindCryptoQuotes
	kindCryptoBars
)

// crypto reports whether k is a crypto kind.
func (k kind) crypto() bool { return k >= kindCryptoTrades }

// base returns the stock kind of the same series: trades, quotes or bars.
func (k kind) base() kind {
	if k.crypto() {
		return k - kindCryptoTrades
	}
	return k
}

// String returns the plural JSON key of the kind ("trades").
func (k kind) String() string {
	switch k.base() {
	case kindTrades:
		return "trades"
	case kindQuotes:
		return "quotes"
	default:
		return "bars"
	}
}

// series names the kind's result stream in a page token's query hash, so
// that a stock token cannot resume a crypto walk.
func (k kind) series() string {
	if k.crypto() {
		return "crypto/" + k.String()
	}
	return k.String()
}

// singular returns the key of the single-symbol latest form ("trade").
func (k kind) singular() string {
	switch k.base() {
	case kindTrades:
		return "trade"
	case kindQuotes:
		return "quote"
	default:
		return "bar"
	}
}

// Parameter limits, as Alpaca documents them.
const (
	defaultLimit = 1000
	maxLimit     = 10000
	// maxSymbolLen allows a root, a share class and a suffix (BRK.B,
	// PBR.A, ABR-PD) with room to spare; option symbols (21) are not
	// stock symbols.
	maxSymbolLen = 16
)

// Feeds Alpaca's stock endpoints accept. The historical endpoints take
// only the first four; delayed_sip and overnight exist only for the latest
// endpoints (and the stream), as the SDK's Feed constants document. Every
// value is validated, so that a client's typo fails here as it would at
// Alpaca, but only iex selects anything: the IEX view (Options.IEX) where
// the record has one. The others, and no feed at all, read the record's
// consolidated view (Options.Store): Tape's default is sip, the best feed,
// as it is at Alpaca for a plan that has it, and Tape records no separate
// OTC, BOATS, delayed or overnight data.
var (
	historicalFeeds = []string{"iex", "sip", "otc", "boats"}
	latestFeeds     = []string{"iex", "sip", "otc", "boats", "delayed_sip", "overnight"}
)

// adjustments are the corporate-action adjustments Alpaca knows; a request
// may combine them with commas ("split,spin-off").
var adjustments = []string{"raw", "split", "dividend", "spin-off", "all"}

// historyRequest is a validated request to a trades, quotes or bars
// endpoint.
type historyRequest struct {
	kind     kind
	single   bool // the /v2/stocks/{symbol}/… form
	query    history.Query
	tf       market.Timeframe // bars only
	currency string           // echoed when the request names one
	// hash identifies the query for page tokens (see token.go).
	hash uint64
}

// parser turns query parameters into store queries. It holds what the
// defaults depend on.
type parser struct {
	now        func() time.Time
	loc        *time.Location
	maxSymbols int
}

// parseHistory validates a history request. symbol is the path symbol of
// the single-symbol form, "" for the multi form (which reads "symbols").
// iex says the IEX view serves the request (see Handler.stockStore): its
// page tokens are its own. Parameters are checked in a fixed order so a
// request with several faults always gets the same error. Unknown
// parameters are ignored, as Alpaca ignores them.
func (p *parser) parseHistory(v url.Values, k kind, symbol string, iex bool) (historyRequest, *apiError) {
	req := historyRequest{kind: k, single: symbol != ""}
	var err *apiError
	switch {
	case k.crypto():
		req.query.Symbols, err = p.parseCryptoSymbols(v.Get("symbols"))
	case req.single:
		req.query.Symbols, err = p.parsePathSymbol(symbol)
	default:
		req.query.Symbols, err = p.parseSymbols(v.Get("symbols"))
	}
	if err != nil {
		return req, err
	}
	if k.base() == kindBars {
		s := v.Get("timeframe")
		if s == "" {
			return req, invalidParam("timeframe is required")
		}
		tf, perr := market.ParseTimeframe(s)
		if perr != nil {
			return req, errInvalidTimeframe
		}
		req.tf = tf
	}
	rawStart, rawEnd := v.Get("start"), v.Get("end")
	if req.query.Start, req.query.End, err = p.parseRange(rawStart, rawEnd); err != nil {
		return req, err
	}
	if req.query.Limit, err = parseLimit(v.Get("limit"), defaultLimit, maxLimit); err != nil {
		return req, err
	}
	sort, err := parseSort(v.Get("sort"), "asc")
	if err != nil {
		return req, err
	}
	req.query.Desc = sort == "desc"
	// Crypto requests have no feed (it is the {loc} path segment),
	// adjustment, asof or currency; Alpaca ignores them there, as it
	// ignores any unknown parameter.
	if !k.crypto() {
		if err = checkFeed(v.Get("feed"), historicalFeeds); err != nil {
			return req, err
		}
		if k == kindBars {
			if err = checkAdjustment(v.Get("adjustment")); err != nil {
				return req, err
			}
		}
		if err = checkAsOf(v.Get("asof")); err != nil {
			return req, err
		}
		if req.currency, err = parseCurrency(v.Get("currency")); err != nil {
			return req, err
		}
	}
	req.hash = queryHash(k, iex, req.query.Symbols, req.tf, rawStart, rawEnd, sort)
	if tok := v.Get("page_token"); tok != "" {
		t, ok := decodeToken(tok, req.hash)
		if !ok || t.cursor.Symbol == "" {
			return req, errInvalidToken
		}
		// The token's range replaces the defaults: a default end of "now"
		// (or start of "today") must not move between the pages of one
		// walk, or pages could skip or repeat items.
		req.query.Start, req.query.End = t.start, t.end
		c := t.cursor
		req.query.After = &c
	}
	return req, nil
}

// parseRange parses start and end as the history endpoints take them:
// start defaults to the beginning of the current day, end to now, and end
// must not be before start.
func (p *parser) parseRange(rawStart, rawEnd string) (start, end int64, err *apiError) {
	now := p.now()
	if rawStart == "" {
		// Alpaca: "the beginning of the current day"; Tape's day is the
		// trading day's, in Location.
		y, m, d := now.In(p.loc).Date()
		start = time.Date(y, m, d, 0, 0, 0, 0, p.loc).UnixNano()
	} else if start, err = p.parseTime("start", rawStart); err != nil {
		return 0, 0, err
	}
	if rawEnd == "" {
		end = now.UnixNano()
	} else if end, err = p.parseTime("end", rawEnd); err != nil {
		return 0, 0, err
	}
	if end < start {
		return 0, 0, invalidParam("end should not be before start")
	}
	return start, end, nil
}

// walk is the paging of a computed series (options, forex): its range,
// limit and direction, the query hash its tokens bind to, and where a page
// token resumes it.
type walk struct {
	start, end int64
	limit      int
	desc       bool
	hash       uint64
	after      *history.Cursor // resume strictly after it; nil on the first page
}

// parseWalk parses start, end, limit and sort as the history endpoints
// take them, then page_token for the query whose series, symbols and
// other result-deciding params hash sends: the token's range replaces the
// defaults, so that a walk whose end defaulted to "now" keeps its first
// page's end.
func (p *parser) parseWalk(v url.Values, series string, symbols []string, params ...string) (walk, *apiError) {
	var w walk
	rawStart, rawEnd := v.Get("start"), v.Get("end")
	var err *apiError
	if w.start, w.end, err = p.parseRange(rawStart, rawEnd); err != nil {
		return w, err
	}
	if w.limit, err = parseLimit(v.Get("limit"), defaultLimit, maxLimit); err != nil {
		return w, err
	}
	sort, err := parseSort(v.Get("sort"), "asc")
	if err != nil {
		return w, err
	}
	w.desc = sort == "desc"
	w.hash = hashQuery(series, symbols, append(params, rawStart, rawEnd, sort)...)
	if tok := v.Get("page_token"); tok != "" {
		t, ok := decodeToken(tok, w.hash)
		if !ok || t.cursor.Symbol == "" {
			return w, errInvalidToken
		}
		w.start, w.end = t.start, t.end
		c := t.cursor
		w.after = &c
	}
	return w, nil
}

// parseSort parses sort: asc or desc, def when absent.
func parseSort(s, def string) (string, *apiError) {
	switch s {
	case "":
		return def, nil
	case "asc", "desc":
		return s, nil
	}
	return "", invalidParam("invalid sort: want asc or desc")
}

// latestRequest is a validated request to a latest or snapshot endpoint.
type latestRequest struct {
	symbols  []string
	currency string
}

// parseLatest validates a latest or snapshot request; symbol as for
// parseHistory.
func (p *parser) parseLatest(v url.Values, symbol string) (latestRequest, *apiError) {
	var req latestRequest
	var err *apiError
	if symbol != "" {
		req.symbols, err = p.parsePathSymbol(symbol)
	} else {
		req.symbols, err = p.parseSymbols(v.Get("symbols"))
	}
	if err != nil {
		return req, err
	}
	if err = checkFeed(v.Get("feed"), latestFeeds); err != nil {
		return req, err
	}
	req.currency, err = parseCurrency(v.Get("currency"))
	return req, err
}

// parseSymbols parses the comma-separated symbols parameter into a sorted
// list of unique upper-case symbols. Empty entries ("A,,B", a trailing
// comma) are skipped.
func (p *parser) parseSymbols(s string) ([]string, *apiError) {
	return p.symbolList(s, canonicalSymbol, func(part string) *apiError {
		return badRequest("invalid symbol: %q", clip(part))
	})
}

// parseCryptoSymbols parses the symbols of a crypto request: BASE/QUOTE
// pairs, upper-cased, sorted and unique. An invalid one is refused as
// Alpaca refuses it, a 400 with its message and no code, which ccxt maps
// to its BadSymbol error (with a code it would match the code first and
// raise BadRequest).
func (p *parser) parseCryptoSymbols(s string) ([]string, *apiError) {
	return p.symbolList(s, canonicalPair, func(part string) *apiError {
		return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf("Invalid symbol(s): %s does not match ^[A-Z0-9]+/[A-Z0-9]+$", clip(part))}
	})
}

// symbolList splits a comma-separated symbols parameter, canonicalises
// each entry with canon and returns them sorted and unique. Empty entries
// ("A,,B", a trailing comma) are skipped; an invalid one is refused with
// invalid's error.
func (p *parser) symbolList(s string, canon func(string) (string, bool), invalid func(string) *apiError) ([]string, *apiError) {
	if s == "" {
		return nil, badRequest("missing symbols")
	}
	// Count before splitting so a huge parameter cannot make a huge slice.
	if n := strings.Count(s, ",") + 1; n > 2*p.maxSymbols+16 {
		return nil, badRequest("too many symbols: at most %d", p.maxSymbols)
	}
	syms := make([]string, 0, strings.Count(s, ",")+1)
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		sym, ok := canon(part)
		if !ok {
			return nil, invalid(part)
		}
		syms = append(syms, sym)
	}
	if len(syms) == 0 {
		return nil, badRequest("missing symbols")
	}
	slices.Sort(syms)
	syms = slices.Compact(syms)
	if len(syms) > p.maxSymbols {
		return nil, badRequest("too many symbols: at most %d", p.maxSymbols)
	}
	return syms, nil
}

// parsePathSymbol validates the {symbol} of a single-symbol path.
func (p *parser) parsePathSymbol(s string) ([]string, *apiError) {
	sym, ok := canonicalSymbol(s)
	if !ok {
		return nil, badRequest("invalid symbol: %q", clip(s))
	}
	return []string{sym}, nil
}

// canonicalSymbol upper-cases s and reports whether it looks like a US
// equity symbol: up to maxSymbolLen ASCII letters and digits starting with
// one, with single '.', '-' or '/' separators between them (BRK.B, BF-B,
// BRK/B). Upper-casing is a Tape convenience: Alpaca's symbols are
// case-sensitive, and "aapl" there simply matches nothing.
func canonicalSymbol(s string) (string, bool) {
	if len(s) == 0 || len(s) > maxSymbolLen {
		return "", false
	}
	sep := true // no separator first
	lower := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			sep = false
		case c >= 'a' && c <= 'z':
			sep, lower = false, true
		case (c == '.' || c == '-' || c == '/') && !sep:
			sep = true
		default:
			return "", false
		}
	}
	if sep {
		return "", false
	}
	if lower {
		s = strings.ToUpper(s)
	}
	return s, true
}

// canonicalPair upper-cases s and reports whether it is a crypto pair as
// Alpaca's v1beta3 API names them: BASE/QUOTE, letters and digits, at most
// maxSymbolLen long (BTC/USD, ETH/USDT, 1INCH/USD).
func canonicalPair(s string) (string, bool) {
	if len(s) > maxSymbolLen {
		return "", false
	}
	base, quote, ok := strings.Cut(s, "/")
	if !ok || !alnum(base) || !alnum(quote) {
		return "", false
	}
	return strings.ToUpper(s), true
}

// alnum reports whether s is a non-empty run of ASCII letters and digits.
func alnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		default:
			return false
		}
	}
	return true
}

// clip shortens client input quoted in an error message.
func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// Bounds of a time that fits int64 nanoseconds.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// parseTime parses start or end: RFC 3339 (any offset, any fraction) or
// YYYY-MM-DD. A date means midnight at its start in the parser's
// Location, so end=2024-01-05 stops at the first instant of that day, as
// it does at Alpaca (a bare date never means "through the end of").
func (p *parser) parseTime(name, s string) (int64, *apiError) {
	var t time.Time
	var err error
	if len(s) == len("2006-01-02") {
		t, err = time.ParseInLocation(time.DateOnly, s, p.loc)
	} else {
		// A '+' that a hand-written URL did not escape arrives as a space;
		// a space is never valid here, so put the offset sign back.
		t, err = time.Parse(time.RFC3339Nano, strings.ReplaceAll(s, " ", "+"))
	}
	if err != nil || t.Before(minTime) || t.After(maxTime) {
		return 0, invalidParam("invalid %s: want RFC 3339 or YYYY-MM-DD, got %q", name, clip(s))
	}
	return t.UnixNano(), nil
}

// parseLimit parses limit: 1 to max, def when absent. On multi-symbol
// requests it bounds the total across symbols.
func parseLimit(s string, def, max int) (int, *apiError) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, invalidParam("invalid limit: want an integer from 1 to %d", max)
	}
	return n, nil
}

// parseBool parses a boolean parameter (true, false, 1, 0, …); false when
// absent.
func parseBool(name, s string) (bool, *apiError) {
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, invalidParam("invalid %s: want true or false", name)
	}
	return b, nil
}

func checkFeed(s string, allowed []string) *apiError {
	if s == "" || slices.Contains(allowed, s) {
		return nil
	}
	return invalidParam("invalid feed: %q", clip(s))
}

// checkAdjustment accepts one or more comma-separated adjustments. Tape
// keeps no corporate actions, so every adjustment returns raw bars.
func checkAdjustment(s string) *apiError {
	if s == "" {
		return nil
	}
	for a := range strings.SplitSeq(s, ",") {
		if !slices.Contains(adjustments, strings.TrimSpace(a)) {
			return invalidParam("invalid adjustment: %q", clip(s))
		}
	}
	return nil
}

// checkAsOf accepts a date or "-" (no symbol mapping). Tape maps no
// symbols, so the value changes nothing.
func checkAsOf(s string) *apiError {
	if s == "" || s == "-" {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return invalidParam("invalid asof: want YYYY-MM-DD or -")
	}
	return nil
}

// parseCurrency accepts USD, the only currency Tape has prices in, and
// returns the value to echo ("" when the request named none).
func parseCurrency(s string) (string, *apiError) {
	if s == "" {
		return "", nil
	}
	if !strings.EqualFold(s, "USD") {
		return "", invalidParam("unsupported currency: %q (Tape prices are in USD)", clip(s))
	}
	return "USD", nil
}
