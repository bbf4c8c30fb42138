package backfill

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// Kind is what a request fetches.
type Kind uint8

// The kinds of data the client fetches.
const (
	KindInvalid Kind = iota
	Bars
	Trades
	Quotes
)

// ParseKind parses "bars", "trades" or "quotes" (singular forms too).
func ParseKind(s string) (Kind, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "bars", "bar":
		return Bars, nil
	case "trades", "trade":
		return Trades, nil
	case "quotes", "quote":
		return Quotes, nil
	}
	return KindInvalid, fmt.Errorf("unknown kind %q: want bars, trades or quotes", s)
}

// String is the kind's name in the API's paths and JSON keys.
func (k Kind) String() string {
	switch k {
	case Bars:
		return "bars"
	case Trades:
		return "trades"
	case Quotes:
		return "quotes"
	}
	return "invalid"
}

// Query is one page request to GET /v2/stocks/{bars,trades,quotes}.
type Query struct {
	Kind    Kind
	Symbols []string
	// Start and End bound the period, both inclusive; a zero End lets the
	// API pick (now, or 15 minutes ago without real-time entitlement).
	Start, End time.Time
	// Timeframe of bars, in Alpaca's syntax (1Min, 5Min, 1Hour, 1Day);
	// default 1Min.
	Timeframe string
	// Feed is iex, sip, otc or boats; "" lets the API choose the best the
	// plan allows.
	Feed string
	// Adjustment of bars (raw, split, dividend, spin-off, all); default raw,
	// what the stream sends.
	Adjustment string
	// Limit is the page size, counted across symbols; default (and most)
	// MaxPageLimit.
	Limit int
	// PageToken continues after a previous page (its NextPageToken).
	PageToken string
}

// Page is one page of results.
type Page struct {
	// Events are grouped by symbol in ascending order, then in the API's
	// time order.
	Events []market.Event
	// NextPageToken continues the query; "" on the last page.
	NextPageToken string
	// Retries is how many times the request was retried.
	Retries int
}

// Page fetches one page of q.
func (c *Client) Page(ctx context.Context, q Query) (Page, error) {
	if len(q.Symbols) == 0 {
		return Page{}, errors.New("backfill: no symbols")
	}
	v := url.Values{}
	v.Set("symbols", strings.Join(q.Symbols, ","))
	if !q.Start.IsZero() {
		v.Set("start", q.Start.UTC().Format(time.RFC3339Nano))
	}
	if !q.End.IsZero() {
		v.Set("end", q.End.UTC().Format(time.RFC3339Nano))
	}
	limit := q.Limit
	if limit <= 0 || limit > MaxPageLimit {
		limit = MaxPageLimit
	}
	v.Set("limit", strconv.Itoa(limit))
	v.Set("sort", "asc")
	if q.Feed != "" {
		v.Set("feed", q.Feed)
	}
	if q.PageToken != "" {
		v.Set("page_token", q.PageToken)
	}
	if q.Kind == Bars {
		tf := q.Timeframe
		if tf == "" {
			tf = "1Min"
		}
		adj := q.Adjustment
		if adj == "" {
			adj = "raw"
		}
		v.Set("timeframe", tf)
		v.Set("adjustment", adj)
	}
	var body multiPage
	retries, err := c.get(ctx, "/v2/stocks/"+q.Kind.String(), v, &body)
	if err != nil {
		return Page{Retries: retries}, err
	}
	p := Page{Retries: retries}
	if body.NextPageToken != nil {
		p.NextPageToken = *body.NextPageToken
	}
	switch q.Kind {
	case Trades:
		p.Events = appendSorted(p.Events, body.Trades, jsTrade.event)
	case Quotes:
		p.Events = appendSorted(p.Events, body.Quotes, jsQuote.event)
	case Bars:
		p.Events = appendSorted(p.Events, body.Bars, jsBar.event)
	default:
		return p, fmt.Errorf("backfill: kind %v", q.Kind)
	}
	return p, nil
}

// Latest fetches the latest trade, quote or minute bar of each symbol
// (GET /v2/stocks/{trades,quotes,bars}/latest), one event per symbol that
// has one, in symbol order. feed "" lets the API choose.
func (c *Client) Latest(ctx context.Context, kind Kind, symbols []string, feed string) ([]market.Event, error) {
	if len(symbols) == 0 {
		return nil, nil
	}
	v := url.Values{}
	v.Set("symbols", strings.Join(symbols, ","))
	if feed != "" {
		v.Set("feed", feed)
	}
	var body latestPage
	if _, err := c.get(ctx, "/v2/stocks/"+kind.String()+"/latest", v, &body); err != nil {
		return nil, err
	}
	var out []market.Event
	switch kind {
	case Trades:
		out = appendOne(out, body.Trades, jsTrade.event)
	case Quotes:
		out = appendOne(out, body.Quotes, jsQuote.event)
	case Bars:
		out = appendOne(out, body.Bars, jsBar.event)
	default:
		return nil, fmt.Errorf("backfill: kind %v", kind)
	}
	return out, nil
}

// multiPage is a multi-symbol historical page: {"bars":{"AAPL":[...]},
// "next_page_token":"..."|null}; trades and quotes have the same shape.
type multiPage struct {
	Trades        map[string][]jsTrade `json:"trades"`
	Quotes        map[string][]jsQuote `json:"quotes"`
	Bars          map[string][]jsBar   `json:"bars"`
	NextPageToken *string              `json:"next_page_token"`
}

// latestPage is a multi-symbol latest answer: {"trades":{"AAPL":{...}}}.
type latestPage struct {
	Trades map[string]jsTrade `json:"trades"`
	Quotes map[string]jsQuote `json:"quotes"`
	Bars   map[string]jsBar   `json:"bars"`
}

// The REST items use the stream's field names without T and S. Times are
// RFC 3339 with nanoseconds, which time.Time decodes.
type jsTrade struct {
	T time.Time `json:"t"`
	X string    `json:"x"`
	P float64   `json:"p"`
	S uint32    `json:"s"`
	C []string  `json:"c"`
	I int64     `json:"i"`
	Z string    `json:"z"`
}

type jsQuote struct {
	T  time.Time `json:"t"`
	AX string    `json:"ax"`
	AP float64   `json:"ap"`
	AS uint32    `json:"as"`
	BX string    `json:"bx"`
	BP float64   `json:"bp"`
	BS uint32    `json:"bs"`
	C  []string  `json:"c"`
	Z  string    `json:"z"`
}

type jsBar struct {
	T  time.Time `json:"t"`
	O  float64   `json:"o"`
	H  float64   `json:"h"`
	L  float64   `json:"l"`
	C  float64   `json:"c"`
	V  uint64    `json:"v"`
	N  uint64    `json:"n"`
	VW float64   `json:"vw"`
}

func (j jsTrade) event(sym string) market.Event {
	return market.Event{Kind: market.KindTrade, Symbol: sym, Time: j.T.UnixNano(), Trade: market.Trade{
		ID: j.I, Price: j.P, Size: j.S, Exchange: char(j.X), Tape: char(j.Z), Conditions: conds(j.C)}}
}

func (j jsQuote) event(sym string) market.Event {
	return market.Event{Kind: market.KindQuote, Symbol: sym, Time: j.T.UnixNano(), Quote: market.Quote{
		BidPrice: j.BP, AskPrice: j.AP, BidSize: j.BS, AskSize: j.AS, BidExchange: char(j.BX), AskExchange: char(j.AX),
		Tape: char(j.Z), Conditions: conds(j.C)}}
}

func (j jsBar) event(sym string) market.Event {
	return market.Event{Kind: market.KindBar, Symbol: sym, Time: j.T.UnixNano(), Bar: market.Bar{
		Open: j.O, High: j.H, Low: j.L, Close: j.C, Volume: j.V, TradeCount: j.N, VWAP: j.VW}}
}

// appendSorted appends every item of m as events, symbols in ascending
// order (a JSON object has none; the API sorts by symbol), each symbol's
// items as they came.
func appendSorted[T any](out []market.Event, m map[string][]T, ev func(T, string) market.Event) []market.Event {
	syms := make([]string, 0, len(m))
	n := 0
	for s, l := range m {
		syms = append(syms, s)
		n += len(l)
	}
	slices.Sort(syms)
	out = slices.Grow(out, n)
	for _, s := range syms {
		for _, it := range m[s] {
			out = append(out, ev(it, s))
		}
	}
	return out
}

func appendOne[T any](out []market.Event, m map[string]T, ev func(T, string) market.Event) []market.Event {
	syms := make([]string, 0, len(m))
	for s := range m {
		syms = append(syms, s)
	}
	slices.Sort(syms)
	for _, s := range syms {
		out = append(out, ev(m[s], s))
	}
	return out
}

func char(s string) byte {
	if len(s) == 0 {
		return 0
	}
	return s[0]
}

// conds keeps the one-character ASCII codes, at most four, as the stream
// decoder does; anything else cannot be a CTA or UTP condition.
func conds(cs []string) market.Conditions {
	var c market.Conditions
	n := 0
	for _, s := range cs {
		if len(s) != 1 || s[0] == 0 || s[0] >= 0x80 || n == len(c) {
			continue
		}
		c[n] = s[0]
		n++
	}
	return c
}
