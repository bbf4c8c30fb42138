package backfill

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// Request is a backfill: one kind of data for some symbols over a period.
type Request struct {
	Kind Kind
	// Symbols are fetched one request (series of pages) each, and handed
	// on in this order.
	Symbols []string
	// Start, End, Timeframe, Feed and Adjustment are as in Query.
	Start, End time.Time
	Timeframe  string
	Feed       string
	Adjustment string
	// PageLimit is the page size; default (and most) MaxPageLimit.
	PageLimit int
	// Concurrency is how many symbols are fetched at once; default 4.
	Concurrency int
	// Buffer is how many pages a symbol behind the head may fetch ahead of
	// being handed on; default 2. Memory is bounded by
	// Concurrency × (Buffer + 1) pages, plus the one fn is handling.
	Buffer int
	// OnSymbol, if set, is called on Fetch's goroutine once a symbol is
	// done — its last page handed on, or its error known — in request
	// order. A failed symbol's pages handed on before the failure are
	// still in the ones the callback got: OnSymbol tells the caller to
	// discard them if it wants all or nothing per symbol.
	OnSymbol func(SymbolResult)
}

// SymbolResult is what became of one symbol.
type SymbolResult struct {
	Symbol  string
	Rows    int64 // rows fetched
	Pages   int   // pages fetched
	Retries int   // requests retried
	Err     error // nil if every page was fetched
}

// Summary is the outcome of a Fetch, symbol by symbol in request order.
type Summary struct {
	Symbols []SymbolResult
	Rows    int64
	Pages   int
	Retries int
	Failed  int // symbols with an error
}

// Fetch fetches req and calls fn with each page, in request order: every
// page of Symbols[0] in time order, then every page of Symbols[1], and so
// on, whichever symbol's requests complete first. fn runs on Fetch's
// goroutine; the page is fn's to keep.
//
// A symbol that fails (after its retries) has its error in the summary and
// the others carry on. Fetch returns a non-nil error, with the summary so
// far, only if it stopped early: ctx ended, fn returned an error, or the
// API answered in a way that fails every symbol (IsFatal: 401, 403, 404).
// It returns once every goroutine it started has returned.
func (c *Client) Fetch(ctx context.Context, req Request, fn func(symbol string, page []market.Event) error) (Summary, error) {
	conc := req.Concurrency
	if conc <= 0 {
		conc = 4
	}
	buffer := req.Buffer
	if buffer <= 0 {
		buffer = 2
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)

	type symbolState struct {
		pages chan []market.Event // closed by the worker once res is final
		res   SymbolResult
	}
	states := make([]*symbolState, len(req.Symbols))
	for i, sym := range req.Symbols {
		states[i] = &symbolState{pages: make(chan []market.Event, buffer), res: SymbolResult{Symbol: sym}}
	}

	// The launcher starts one worker per symbol, in request order, each
	// once it holds one of conc slots: the head symbol always has a slot,
	// so the workers behind it, which block when their buffer is full,
	// cannot starve it.
	var wg sync.WaitGroup
	slots := make(chan struct{}, conc)
	wg.Go(func() {
		for i, st := range states {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				for _, st := range states[i:] {
					st.res.Err = context.Cause(ctx)
					close(st.pages)
				}
				return
			}
			wg.Go(func() {
				defer func() { <-slots }()
				defer close(st.pages)
				c.fetchSymbol(ctx, req, &st.res, st.pages, stop)
			})
		}
	})

	var sum Summary
	var fnErr error
	for _, st := range states {
		for page := range st.pages {
			// After a stop, pages already buffered are not handed on.
			if fnErr != nil || ctx.Err() != nil {
				continue
			}
			if err := fn(st.res.Symbol, page); err != nil {
				fnErr = err
				stop(err)
			}
		}
		// The channel is closed: the worker is done with res.
		r := st.res
		sum.Symbols = append(sum.Symbols, r)
		sum.Rows += r.Rows
		sum.Pages += r.Pages
		sum.Retries += r.Retries
		if r.Err != nil {
			sum.Failed++
		}
		if req.OnSymbol != nil && fnErr == nil {
			req.OnSymbol(r)
		}
	}
	wg.Wait()
	if fnErr != nil {
		return sum, fnErr
	}
	return sum, context.Cause(ctx)
}

// fetchSymbol fetches one symbol's pages into pages, recording the outcome
// in res; a fatal error stops the whole Fetch.
func (c *Client) fetchSymbol(ctx context.Context, req Request, res *SymbolResult, pages chan<- []market.Event, stop context.CancelCauseFunc) {
	q := Query{Kind: req.Kind, Symbols: []string{res.Symbol}, Start: req.Start, End: req.End, Timeframe: req.Timeframe,
		Feed: req.Feed, Adjustment: req.Adjustment, Limit: req.PageLimit}
	for {
		p, err := c.Page(ctx, q)
		res.Retries += p.Retries
		if err != nil {
			if ctx.Err() != nil {
				err = context.Cause(ctx)
			} else if IsFatal(err) {
				stop(err)
			}
			res.Err = err
			return
		}
		res.Pages++
		res.Rows += int64(len(p.Events))
		if len(p.Events) > 0 {
			select {
			case pages <- p.Events:
			case <-ctx.Done():
				res.Err = context.Cause(ctx)
				return
			}
		}
		if p.NextPageToken == "" {
			return
		}
		if p.NextPageToken == q.PageToken {
			res.Err = errors.New("the API returned the same next_page_token twice")
			return
		}
		if res.Pages >= maxPages {
			res.Err = fmt.Errorf("over %d pages: narrow the period", maxPages)
			return
		}
		q.PageToken = p.NextPageToken
	}
}

// maxPages stops a server that never stops paging: a billion rows.
const maxPages = 100_000
