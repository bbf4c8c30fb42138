// Package backfill is Tape's client of Alpaca's market-data REST API: the
// historical trades, quotes and bars that `tape backfill` stores, and the
// latest values the REST polling feed (internal/feed/poll) publishes.
//
// # The client
//
// A Client calls the multi-symbol endpoints, as Alpaca's own SDKs do:
//
//	GET /v2/stocks/{bars,trades,quotes}?symbols=&start=&end=&timeframe=&limit=&page_token=&feed=&sort=asc
//	GET /v2/stocks/{trades,quotes,bars}/latest?symbols=&feed=
//
// with the APCA-API-KEY-ID and APCA-API-SECRET-KEY headers and gzip. Every
// attempt has its own deadline (Options.Timeout, lesson 3 of
// docs/walkthrough.md: a budget per task). 429 and 5xx answers, timeouts
// and dropped connections are retried with exponential backoff and jitter,
// never sooner than a Retry-After (or X-RateLimit-Reset) the server asked
// for; other answers come back as an *APIError carrying Alpaca's
// {"code":..,"message":..}. Options.RequestsPerMinute spaces requests out
// under the plan's limit (200 calls a minute on Alpaca's free plan, 10,000
// on Algo Trader Plus), so a long backfill meets fewer 429s in the first
// place. Time (Now, Sleep, Jitter) is injected, so tests check the waits
// without waiting.
//
// Responses are decoded with encoding/json into market.Event: trades as
// KindTrade, quotes as KindQuote, bars of every timeframe as KindBar (the
// caller knows what timeframe it asked for, and stores a 1Day bar as a
// daily bar).
//
// # Ordered concurrent fetch
//
// Fetch is lesson 2's ordered gather applied to a backfill: N symbols are
// fetched with at most Request.Concurrency requests in flight, each
// symbol's pages in order (following next_page_token), and the results are
// handed on in request order — symbol 1's pages, then symbol 2's — even
// when symbol 2 finishes first. The head symbol streams: its pages are
// handed on as they arrive. The symbols behind it prefetch, each up to
// Request.Buffer pages ahead, then wait; so memory is bounded by
// Concurrency × (Buffer + 1) pages of at most PageLimit rows, plus the page
// the caller is handling, whatever the number of symbols or the length of
// the period (with the defaults, 4 × 3 + 1 pages of 10,000 rows). Symbols start in request
// order, so the head symbol always holds a slot and the window always
// moves.
//
// One symbol's failure (after its retries) is that symbol's error in the
// Summary, and the others carry on, as asyncio.gather(...,
// return_exceptions=True). Errors that would fail every symbol the same way
// — 401 and 403 (keys, plan), 404 (not a data API) — stop the whole fetch,
// as do an error from the caller's function and ctx. Fetch returns only
// once every goroutine it started has returned.
package backfill
