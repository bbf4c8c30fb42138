package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/tickfile"
)

// restPager pages through Tape's Alpaca-compatible history REST API
// (GET /v2/stocks/{trades,quotes,bars}), following next_page_token. It is
// a small hand-written client rather than the Alpaca SDK: export needs one
// endpoint shape and the raw page structure, and the SDK would buffer a
// whole multi-page result in memory. It also works against Alpaca's own
// data API (--url https://data.alpaca.markets --key ... --secret ...).
type restPager struct {
	o      exportOptions
	base   string
	client *http.Client
	token  string
	done   bool
}

func newRESTPager(o exportOptions) (*restPager, error) {
	u, err := url.Parse(strings.TrimRight(o.url, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--url %q: want the address of a running Tape, like http://127.0.0.1:8080", o.url)
	}
	switch u.Scheme {
	case "http", "https":
	case "ws":
		u.Scheme = "http" // the stream URL of the same Tape
	case "wss":
		u.Scheme = "https"
	default:
		return nil, fmt.Errorf("--url %q: want http:// or https://", o.url)
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/v2/iex"), "/v2")
	return &restPager{o: o, base: u.String(), client: &http.Client{Timeout: 2 * time.Minute}}, nil
}

// restItem is a trade, quote or bar in the REST shape (Alpaca's field
// names); one struct for all three, since the keys do not collide in a way
// that matters: "c" is conditions for trades and quotes, close for bars.
type restItem struct {
	T  time.Time       `json:"t"`
	X  string          `json:"x"`
	P  float64         `json:"p"`
	S  uint32          `json:"s"`
	C  json.RawMessage `json:"c"`
	I  int64           `json:"i"`
	Z  string          `json:"z"`
	AX string          `json:"ax"`
	AP float64         `json:"ap"`
	AS uint32          `json:"as"`
	BX string          `json:"bx"`
	BP float64         `json:"bp"`
	BS uint32          `json:"bs"`
	O  float64         `json:"o"`
	H  float64         `json:"h"`
	L  float64         `json:"l"`
	V  uint64          `json:"v"`
	N  uint64          `json:"n"`
	VW float64         `json:"vw"`
}

type restPage struct {
	Trades        map[string][]restItem `json:"trades"`
	Quotes        map[string][]restItem `json:"quotes"`
	Bars          map[string][]restItem `json:"bars"`
	NextPageToken *string               `json:"next_page_token"`
}

type restError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (p *restPager) next(ctx context.Context) ([]market.Event, error) {
	if p.done {
		return nil, nil
	}
	q := url.Values{}
	q.Set("symbols", strings.Join(p.o.symbols, ","))
	q.Set("start", p.o.start.UTC().Format(time.RFC3339Nano))
	q.Set("end", p.o.end.UTC().Format(time.RFC3339Nano))
	q.Set("limit", strconv.Itoa(p.o.pageSize))
	if p.o.kind == tickfile.KindBars {
		q.Set("timeframe", p.o.timeframe.String())
	}
	if p.token != "" {
		q.Set("page_token", p.token)
	}
	u := p.base + "/v2/stocks/" + p.o.kind.String() + "?" + q.Encode()
	body, err := p.get(ctx, u)
	if err != nil {
		return nil, err
	}
	var page restPage
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, fmt.Errorf("%s: unexpected response: %w", p.base, err)
	}
	items := page.Trades
	switch p.o.kind {
	case tickfile.KindQuotes:
		items = page.Quotes
	case tickfile.KindBars:
		items = page.Bars
	}
	// The page is grouped by symbol in ascending order; a JSON object has
	// no order, so restore it.
	syms := make([]string, 0, len(items))
	n := 0
	for s, l := range items {
		syms = append(syms, s)
		n += len(l)
	}
	slices.Sort(syms)
	evs := make([]market.Event, 0, n)
	for _, s := range syms {
		for i := range items[s] {
			e, err := p.event(s, &items[s][i])
			if err != nil {
				return nil, err
			}
			evs = append(evs, e)
		}
	}
	if page.NextPageToken == nil || *page.NextPageToken == "" {
		p.done = true
	} else {
		p.token = *page.NextPageToken
	}
	return evs, nil
}

func (p *restPager) event(sym string, it *restItem) (market.Event, error) {
	e := market.Event{Symbol: sym, Time: it.T.UnixNano()}
	var conds market.Conditions
	if p.o.kind != tickfile.KindBars && len(it.C) > 0 && string(it.C) != "null" {
		var cs []string
		if err := json.Unmarshal(it.C, &cs); err != nil {
			return e, fmt.Errorf("%s: unexpected conditions %s", p.base, it.C)
		}
		conds = market.MakeConditions(cs...)
	}
	switch p.o.kind {
	case tickfile.KindTrades:
		e.Kind = market.KindTrade
		e.Trade = market.Trade{ID: it.I, Price: it.P, Size: it.S, Exchange: char(it.X), Tape: char(it.Z), Conditions: conds}
	case tickfile.KindQuotes:
		e.Kind = market.KindQuote
		e.Quote = market.Quote{BidPrice: it.BP, AskPrice: it.AP, BidSize: it.BS, AskSize: it.AS,
			BidExchange: char(it.BX), AskExchange: char(it.AX), Tape: char(it.Z), Conditions: conds}
	default:
		var c float64
		if err := json.Unmarshal(it.C, &c); err != nil {
			return e, fmt.Errorf("%s: unexpected bar close %s", p.base, it.C)
		}
		e.Kind = market.KindBar
		e.Bar = market.Bar{Open: it.O, High: it.H, Low: it.L, Close: c, Volume: it.V, TradeCount: it.N, VWAP: it.VW}
	}
	return e, nil
}

func char(s string) byte {
	if len(s) == 0 {
		return 0
	}
	return s[0]
}

// get fetches u, retrying what is worth retrying: a Tape still opening its
// store (503), rate limiting (429, when --url is Alpaca) and a dropped
// connection, a few times with backoff.
func (p *restPager) get(ctx context.Context, u string) ([]byte, error) {
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		if p.o.key != "" {
			req.Header.Set("APCA-API-KEY-ID", p.o.key)
			req.Header.Set("APCA-API-SECRET-KEY", p.o.secret)
		}
		req.Header.Set("User-Agent", "tape-export/"+version)
		resp, err := p.client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				return nil, fmt.Errorf("no Tape answers at %s: start tape serve, point --url at it, or export offline with --data DIR", p.base)
			}
			if attempt < 4 {
				if !sleepCtx(ctx, backoff) {
					return nil, ctx.Err()
				}
				backoff *= 2
				continue
			}
			return nil, fmt.Errorf("%s: %w", p.base, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: reading the response: %w", p.base, err)
		}
		if resp.StatusCode == http.StatusOK {
			return body, nil
		}
		var re restError
		json.Unmarshal(body, &re)
		msg := re.Message
		if msg == "" {
			msg = strings.TrimSpace(string(body))
		}
		switch resp.StatusCode {
		case http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusGatewayTimeout:
			if attempt < 6 {
				wait := backoff
				if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
					wait = time.Duration(s) * time.Second
				}
				if !sleepCtx(ctx, wait) {
					return nil, ctx.Err()
				}
				backoff = min(backoff*2, 8*time.Second)
				continue
			}
		case http.StatusUnauthorized, http.StatusForbidden:
			return nil, fmt.Errorf("%s refused the credentials (%d %s): pass the keys tape serve was given with --key and --secret (or TAPE_KEY/TAPE_SECRET)",
				p.base, resp.StatusCode, msg)
		case http.StatusNotFound:
			return nil, fmt.Errorf("%s has no history API (%d %s): is --url a Tape (or Alpaca's data API)?", p.base, resp.StatusCode, msg)
		}
		return nil, fmt.Errorf("%s: %d %s", p.base, resp.StatusCode, msg)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
