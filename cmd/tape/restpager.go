package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/tapehq/tape/internal/backfill"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/server"
)

// restPager pages through a Tape's Alpaca-compatible history REST API
// (GET /v2/stocks/{trades,quotes,bars}), following next_page_token, with
// the same REST client `tape backfill` uses against Alpaca (retries of 503
// while a Tape opens its store, 429 and dropped connections). It works
// against Alpaca's own data API too (--url https://data.alpaca.markets).
// Page by page, so an export never holds a whole result in memory.
type restPager struct {
	o      exportOptions
	base   string
	client *backfill.Client
	kind   backfill.Kind
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
	for _, f := range server.StockFeeds { // a stream URL of the same Tape: ws://host/v2/iex
		if p, ok := strings.CutSuffix(u.Path, "/v2/"+f); ok {
			u.Path = p
			break
		}
	}
	u.Path = strings.TrimSuffix(u.Path, "/v2")
	kind, err := backfill.ParseKind(o.kind.String())
	if err != nil {
		return nil, err
	}
	c, err := backfill.New(backfill.Options{BaseURL: u.String(), Key: o.key, Secret: o.secret,
		Timeout: 2 * time.Minute, MinBackoff: 250 * time.Millisecond, MaxBackoff: 8 * time.Second,
		UserAgent: "tape-export/" + versionString()})
	if err != nil {
		return nil, err
	}
	return &restPager{o: o, base: u.String(), client: c, kind: kind}, nil
}

// next returns the next page's events (grouped by symbol, ascending), or
// nil once the result is exhausted.
func (p *restPager) next(ctx context.Context) ([]market.Event, error) {
	if p.done {
		return nil, nil
	}
	page, err := p.client.Page(ctx, backfill.Query{Kind: p.kind, Symbols: p.o.symbols, Start: p.o.start, End: p.o.end,
		Timeframe: p.o.timeframe.String(), Feed: p.o.feed, Limit: p.o.pageSize, PageToken: p.token})
	if err != nil {
		return nil, p.explain(err)
	}
	p.token = page.NextPageToken
	p.done = p.token == ""
	return page.Events, nil
}

// explain turns the failures a user can fix into what to do next.
func (p *restPager) explain(err error) error {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("no Tape answers at %s: start tape serve, point --url at it, or export offline with --data DIR", p.base)
	}
	var ae *backfill.APIError
	if errors.As(err, &ae) {
		switch ae.Status {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%s refused the credentials (%v): pass the keys tape serve was given with --key and --secret (or TAPE_KEY/TAPE_SECRET)",
				p.base, ae)
		case http.StatusNotFound:
			return fmt.Errorf("%s has no history API (%v): is --url a Tape (or Alpaca's data API)?", p.base, ae)
		}
	}
	return fmt.Errorf("%s: %w", p.base, err)
}
