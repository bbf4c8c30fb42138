// Package httpapi serves Alpaca's historical stock data REST API (v2) from
// Tape's history store, so that unmodified Alpaca SDKs read Tape's data by
// changing only their data URL (the Go SDK's ClientOpts.BaseURL or
// APCA_API_DATA_URL).
//
// # Endpoints
//
// All are GET; the multi-symbol forms take symbols=A,B,…:
//
//	/v2/stocks/bars              /v2/stocks/{symbol}/bars
//	/v2/stocks/trades            /v2/stocks/{symbol}/trades
//	/v2/stocks/quotes            /v2/stocks/{symbol}/quotes
//	/v2/stocks/bars/latest       /v2/stocks/{symbol}/bars/latest
//	/v2/stocks/trades/latest     /v2/stocks/{symbol}/trades/latest
//	/v2/stocks/quotes/latest     /v2/stocks/{symbol}/quotes/latest
//	/v2/stocks/snapshots         /v2/stocks/{symbol}/snapshot
//
// The official SDKs call only the multi-symbol forms, even for one symbol;
// the single-symbol forms are there for hand-written clients. Bodies have
// Alpaca's shapes: {"bars":{"AAPL":[…]},"next_page_token":…} and
// {"bars":[…],"symbol":"AAPL","next_page_token":…};
// {"trades":{"AAPL":{…}}} and {"symbol":"AAPL","trade":{…}}; a bare
// {"AAPL":{"latestTrade":…,…}} map for snapshots. Items carry the stream's
// field names without "T" and "S" and RFC 3339 UTC timestamps with
// nanoseconds; a bar's "t" is its start.
//
// # Parameters
//
// symbols, start and end (RFC 3339 or YYYY-MM-DD, both inclusive; start
// defaults to the beginning of today, end to now), timeframe (bars,
// required; market.ParseTimeframe), limit (1–10000, default 1000, the total
// across symbols), page_token, sort (asc or desc), feed, adjustment, asof
// and currency. Unknown parameters are ignored, as at Alpaca. A refused
// value gets 422 {"code":42210000,"message":"…"}; a request without valid
// symbols gets 400. Results are sorted by symbol, then by time in the
// requested direction, and next_page_token is null exactly when nothing is
// left.
//
// # Where Tape differs from Alpaca, and why
//
//   - feed is validated as Alpaca validates it (iex, sip, otc and boats on
//     the historical endpoints; also delayed_sip and overnight on latest
//     and snapshot endpoints) and then ignored: Tape has one source.
//   - adjustment accepts raw, split, dividend, spin-off and all, alone or
//     comma-combined, and always returns raw bars: Tape keeps no corporate
//     actions, and for the periods a hub holds the difference is nil.
//   - asof accepts a date or "-" and changes nothing: Tape maps no symbols.
//   - currency accepts only USD (echoed as Alpaca echoes a currency); any
//     other is 422, because Tape has no exchange rates.
//   - Symbols are upper-cased. Alpaca's are case-sensitive and "aapl"
//     finds nothing there; Tape finds AAPL and keys the result "AAPL".
//   - A YYYY-MM-DD start or end is midnight in Options.Location (New York
//     by default), the zone Tape's daily bars start in.
//   - Page tokens bind to their query and carry its resolved time range
//     (see token.go). A token replayed with other symbols, timeframe,
//     start, end or sort is 422 "invalid page token"; a walk whose end
//     defaulted to "now" keeps its first page's end.
//   - Authentication: APCA-API-KEY-ID / APCA-API-SECRET-KEY headers or
//     HTTP Basic key:secret (the Broker API style), checked against the
//     same auth.Keys as the stream. OAuth bearer tokens are refused: Tape
//     issues none. Missing or wrong credentials get 403 {"message":
//     "forbidden"}, as Alpaca's market data FAQ documents for its data
//     endpoints. Open keys accept any or no credentials.
//   - A single-symbol latest or snapshot request for a symbol without data
//     is 404; the multi forms leave such symbols out (latest) or map them
//     to null (snapshots), which is what the SDK expects.
//   - An empty single-symbol page is "bars":[] rather than null.
//   - Tape never answers 429. A store query that exceeds Options.Timeout
//     is 504, not 500: the SDK retries a 500 ten times, and a query that
//     took too long once will again. Store errors are 500
//     {"message":"internal server error"}, their details logged only.
//   - Responses of 1 KiB or more are gzip-compressed when the client
//     accepts it (Alpaca's threshold is 256 bytes).
//   - Not served (404): auctions, meta/exchanges, meta/conditions, and the
//     crypto, options and news APIs. Trades carry no "u" (update) field:
//     the store keeps trades as reported.
//
// Methods other than GET, HEAD included, get 405 with Allow: GET.
package httpapi
