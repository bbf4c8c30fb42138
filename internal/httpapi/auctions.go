package httpapi

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/tapehq/tape/internal/alpacameta"
	"github.com/tapehq/tape/internal/calendar"
	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/market"
)

// AuctionStore is what the auctions endpoints read.
type AuctionStore interface {
	// AuctionPrints returns symbol's auction prints, the trades for which
	// alpacameta.IsAuctionPrint holds, with start <= Time <= end (ns since
	// the Unix epoch, inclusive), in ascending time order.
	//
	// A store answers it cheaply by keeping its auction prints apart as it
	// applies trades: a handful per symbol and day, against millions of
	// trades. AuctionScan answers it from the trades themselves.
	AuctionPrints(ctx context.Context, symbol string, start, end int64) ([]market.Event, error)
}

// TradeQuerier is a trade history: Store's Trades.
type TradeQuerier interface {
	Trades(ctx context.Context, q history.Query) (history.Result, error)
}

// AuctionScan is an AuctionStore that reads a trade history around each
// trading day's open and close: for every trading day in the range, the
// trades of the Window after 09:30 and after the close (16:00, or 13:00 on
// an early close) in New York, keeping the auction prints. That is two
// small queries per symbol and day, fine for the days a client usually
// asks for (the default range is today) but linear in the range; a store
// that indexes its auction prints is the cheap answer. A cross printed
// later than Window after the bell (a delayed opening) is missed.
type AuctionScan struct {
	Trades TradeQuerier
	// Window is how long after the bell an auction print is looked for.
	// Default 5 minutes.
	Window time.Duration
}

// AuctionPrints implements AuctionStore.
func (s AuctionScan) AuctionPrints(ctx context.Context, symbol string, start, end int64) ([]market.Event, error) {
	window := cmp.Or(s.Window, 5*time.Minute)
	var out []market.Event
	from, to := calendar.DateOf(time.Unix(0, start)), calendar.DateOf(time.Unix(0, end))
	for _, day := range calendar.Days(from, to) {
		// A wide range is many small queries; stop as soon as the request
		// is over, whether or not the store checks its context.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, bell := range []time.Time{day.Open, day.Close} {
			q := history.Query{Symbols: []string{symbol}, Start: max(start, bell.UnixNano()),
				End: min(end, bell.Add(window).UnixNano()), Limit: maxLimit}
			if q.End < q.Start {
				continue
			}
			for {
				res, err := s.Trades.Trades(ctx, q)
				if err != nil {
					return nil, err
				}
				for _, e := range res.Events {
					if alpacameta.IsAuctionPrint(e.Trade.Conditions) {
						out = append(out, e)
					}
				}
				if res.Next == nil {
					break
				}
				q.After = res.Next
			}
		}
	}
	return out, nil
}

// auctionFeeds are the feeds the auctions endpoints accept: auctions are
// a SIP product at Alpaca, and the Go SDK always sends feed=sip.
var auctionFeeds = []string{"sip"}

// auctionPrint is one entry of a day's opening or closing auctions.
type auctionPrint struct {
	time     int64
	price    float64
	size     uint32
	exchange byte
	cond     byte
}

// dailyAuctions is one symbol's auctions on one day.
type dailyAuctions struct {
	symbol  string
	date    calendar.Date
	opening []auctionPrint
	closing []auctionPrint
}

// groupAuctions groups prints, ascending by time, into days (New York
// dates, ascending). A print yields an entry per auction condition it
// carries, and every price, exchange and condition is listed once a day,
// at its earliest time, as Alpaca lists them.
func groupAuctions(symbol string, prints []market.Event) []dailyAuctions {
	if !slices.IsSortedFunc(prints, byTime) {
		prints = slices.Clone(prints)
		slices.SortStableFunc(prints, byTime)
	}
	var days []dailyAuctions
	for i := range prints {
		e := &prints[i]
		date := calendar.DateOf(time.Unix(0, e.Time))
		for _, c := range e.Trade.Conditions {
			if c == 0 {
				break
			}
			kind := alpacameta.AuctionOf(c)
			if kind == alpacameta.NoAuction {
				continue
			}
			if len(days) == 0 || days[len(days)-1].date != date {
				days = append(days, dailyAuctions{symbol: symbol, date: date})
			}
			d := &days[len(days)-1]
			side := &d.opening
			if kind == alpacameta.Closing {
				side = &d.closing
			}
			p := auctionPrint{time: e.Time, price: e.Trade.Price, size: e.Trade.Size, exchange: e.Trade.Exchange, cond: c}
			if !slices.ContainsFunc(*side, p.same) {
				*side = append(*side, p)
			}
		}
	}
	return days
}

func byTime(a, b market.Event) int { return cmp.Compare(a.Time, b.Time) }

// same reports whether q repeats p's price, exchange and condition.
func (p auctionPrint) same(q auctionPrint) bool {
	return p.price == q.price && p.exchange == q.exchange && p.cond == q.cond
}

// auctionRequest is a validated auctions request.
type auctionRequest struct {
	symbols    []string
	single     bool
	start, end int64
	desc       bool
	limit      int // days, in total across symbols
	currency   string
	after      *history.Cursor // resume after this symbol and date (Time holds the calendar.Date)
	hash       uint64
}

// parseAuctions validates an auctions request: the history endpoints'
// parameters, with limit counting days.
func (p *parser) parseAuctions(v url.Values, symbol string) (auctionRequest, *apiError) {
	req := auctionRequest{single: symbol != ""}
	var err *apiError
	if req.single {
		req.symbols, err = p.parsePathSymbol(symbol)
	} else {
		req.symbols, err = p.parseSymbols(v.Get("symbols"))
	}
	if err != nil {
		return req, err
	}
	rawStart, rawEnd := v.Get("start"), v.Get("end")
	if req.start, req.end, err = p.parseRange(rawStart, rawEnd); err != nil {
		return req, err
	}
	if req.limit, err = parseLimit(v.Get("limit"), defaultLimit, maxLimit); err != nil {
		return req, err
	}
	sort, err := parseSort(v.Get("sort"), "asc")
	if err != nil {
		return req, err
	}
	req.desc = sort == "desc"
	if err = checkFeed(v.Get("feed"), auctionFeeds); err != nil {
		return req, err
	}
	if err = checkAsOf(v.Get("asof")); err != nil {
		return req, err
	}
	if req.currency, err = parseCurrency(v.Get("currency")); err != nil {
		return req, err
	}
	req.hash = hashQuery("auctions", req.symbols, rawStart, rawEnd, sort)
	if tok := v.Get("page_token"); tok != "" {
		t, ok := decodeToken(tok, req.hash)
		if !ok || t.cursor.Symbol == "" {
			return req, errInvalidToken
		}
		req.start, req.end = t.start, t.end
		req.after = &t.cursor
	}
	return req, nil
}

// auctions serves /v2/stocks/auctions and /v2/stocks/{symbol}/auctions:
// per symbol and day, the opening ("o") and closing ("c") auction prints.
// Results are sorted by symbol, then by day in the requested direction;
// limit counts days, as the SDK counts them, and a day is never split
// across pages.
func (h *Handler) auctions(w http.ResponseWriter, r *http.Request, v url.Values) {
	req, aerr := h.parser.parseAuctions(v, r.PathValue("symbol"))
	if aerr != nil {
		h.fail(w, r, aerr)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
	defer cancel()
	days, next, err := h.collectAuctions(ctx, &req)
	if err != nil {
		h.storeFailed(ctx, w, r, err)
		return
	}
	var token string
	if next != nil {
		token = encodeToken(&pageToken{start: req.start, end: req.end, cursor: *next}, req.hash)
	}
	buf := getBuffer()
	defer putBuffer(buf)
	*buf = appendAuctionsPage((*buf)[:0], &req, days, token)
	h.write(w, r, http.StatusOK, *buf)
}

// collectAuctions reads a page of req: up to req.limit days, and the
// cursor of the last one if more follow.
func (h *Handler) collectAuctions(ctx context.Context, req *auctionRequest) ([]dailyAuctions, *history.Cursor, error) {
	var out []dailyAuctions
	for _, sym := range req.symbols {
		start, end := req.start, req.end
		if a := req.after; a != nil {
			if sym < a.Symbol {
				continue
			}
			if sym == a.Symbol {
				// Resume strictly after the cursor's day.
				d := calendar.Date(a.Time)
				if req.desc {
					end = min(end, d.Time().UnixNano()-1)
				} else {
					start = max(start, d.AddDays(1).Time().UnixNano())
				}
				if end < start {
					continue
				}
			}
		}
		prints, err := h.opts.Auctions.AuctionPrints(ctx, sym, start, end)
		if err != nil {
			return nil, nil, err
		}
		days := groupAuctions(sym, prints)
		if req.desc {
			slices.Reverse(days)
		}
		for _, d := range days {
			if len(out) == req.limit {
				last := out[len(out)-1]
				return out, &history.Cursor{Symbol: last.symbol, Time: int64(last.date)}, nil
			}
			out = append(out, d)
		}
	}
	return out, nil, nil
}

// appendAuctionsPage appends an auctions response:
// {"auctions":{"AAPL":[{"d":…,"o":[…],"c":[…]}]},"next_page_token":…}, or
// for the single-symbol form {"auctions":[…],"symbol":"AAPL",…}.
func appendAuctionsPage(b []byte, req *auctionRequest, days []dailyAuctions, token string) []byte {
	b = append(b, `{"auctions":`...)
	if req.single {
		b = append(b, '[')
		for i := range days {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendDailyAuctions(b, &days[i])
		}
		b = append(b, `],"symbol":`...)
		b = appendString(b, req.symbols[0])
	} else {
		b = append(b, '{')
		for i := range days {
			switch {
			case i == 0:
				b = appendString(b, days[i].symbol)
				b = append(b, ':', '[')
			case days[i].symbol != days[i-1].symbol:
				b = append(b, ']', ',')
				b = appendString(b, days[i].symbol)
				b = append(b, ':', '[')
			default:
				b = append(b, ',')
			}
			b = appendDailyAuctions(b, &days[i])
		}
		if len(days) > 0 {
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	if req.currency != "" {
		b = append(b, `,"currency":`...)
		b = appendString(b, req.currency)
	}
	b = append(b, `,"next_page_token":`...)
	if token == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, token)
	}
	return append(b, '}')
}

func appendDailyAuctions(b []byte, d *dailyAuctions) []byte {
	b = append(b, `{"d":"`...)
	b = d.date.AppendFormat(b)
	b = append(b, `","o":`...)
	b = appendAuctionPrints(b, d.opening)
	b = append(b, `,"c":`...)
	b = appendAuctionPrints(b, d.closing)
	return append(b, '}')
}

func appendAuctionPrints(b []byte, ps []auctionPrint) []byte {
	b = append(b, '[')
	for i := range ps {
		p := &ps[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"t":`...)
		b = appendTime(b, p.time)
		b = append(b, `,"x":`...)
		b = appendChar(b, p.exchange)
		b = append(b, `,"p":`...)
		b = appendFloat(b, p.price)
		b = append(b, `,"s":`...)
		b = appendUint(b, uint64(p.size))
		b = append(b, `,"c":`...)
		b = appendChar(b, p.cond)
		b = append(b, '}')
	}
	return append(b, ']')
}
