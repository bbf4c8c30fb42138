// Package httpapi serves Alpaca's market data REST API, and the market
// endpoints of its trading API, from Tape's record, so that unmodified
// Alpaca clients (the official Go, JS and Python SDKs, ccxt's alpaca
// exchange) run against Tape by changing only their base URLs: the data
// URL (the Go SDK's marketdata.ClientOpts.BaseURL, APCA_API_DATA_URL) and
// the trading URL (alpaca.ClientOpts.BaseURL, APCA_API_BASE_URL) both
// point at Tape.
//
// # Endpoints
//
// All are GET. Stock data, from Options.Store, or with feed=iex from the
// IEX view (Options.IEX) where the record has one (the multi-symbol forms
// take symbols=A,B,…):
//
//	/v2/stocks/bars              /v2/stocks/{symbol}/bars
//	/v2/stocks/trades            /v2/stocks/{symbol}/trades
//	/v2/stocks/quotes            /v2/stocks/{symbol}/quotes
//	/v2/stocks/bars/latest       /v2/stocks/{symbol}/bars/latest
//	/v2/stocks/trades/latest     /v2/stocks/{symbol}/trades/latest
//	/v2/stocks/quotes/latest     /v2/stocks/{symbol}/quotes/latest
//	/v2/stocks/snapshots         /v2/stocks/{symbol}/snapshot
//	/v2/stocks/auctions          /v2/stocks/{symbol}/auctions
//	/v2/stocks/meta/exchanges    /v2/stocks/meta/conditions/{trade|quote}?tape=A|B|C
//
// Crypto data, from Options.Crypto, for any {loc} of us, us-1, us-2, eu-1
// and bs-1 (Tape keeps one crypto record):
//
//	/v1beta3/crypto/{loc}/bars          /v1beta3/crypto/{loc}/latest/bars
//	/v1beta3/crypto/{loc}/trades        /v1beta3/crypto/{loc}/latest/trades
//	/v1beta3/crypto/{loc}/quotes        /v1beta3/crypto/{loc}/latest/quotes
//	/v1beta3/crypto/{loc}/snapshots     /v1beta3/crypto/{loc}/latest/orderbooks
//
// Crypto perpetual futures, derived from Options.Crypto's spot pairs
// (X-PERP follows X/USD: see below), for {loc} global:
//
//	/v1beta1/crypto-perps/{loc}/latest/trades    /v1beta1/crypto-perps/{loc}/latest/quotes
//	/v1beta1/crypto-perps/{loc}/latest/bars      /v1beta1/crypto-perps/{loc}/latest/pricing
//	/v1beta1/crypto-perps/{loc}/latest/orderbooks
//
// Forex rates, simulated (package forexsim), for currency_pairs=USDJPY,…:
//
//	/v1beta1/forex/latest/rates         /v1beta1/forex/rates
//
// Options, with Options.SimulatedOptions (package options' market on the
// stocks of Store, derived from their record; OCC symbols):
//
//	/v1beta1/options/snapshots/{underlying}   the chain: type, strike_price_gte/lte,
//	                                          expiration_date(_gte/_lte), root_symbol
//	/v1beta1/options/snapshots                /v1beta1/options/trades
//	/v1beta1/options/trades/latest            /v1beta1/options/bars
//	/v1beta1/options/quotes/latest            /v1beta1/options/meta/exchanges
//	/v1beta1/options/meta/conditions/{trade|quote}
//	/v2/options/contracts                     /v2/options/contracts/{symbol_or_id}
//
// News (Options.News), the screener, corporate actions:
//
//	/v1beta1/news
//	/v1beta1/screener/stocks/most-actives?by=volume|trades&top=N
//	/v1beta1/screener/{stocks|crypto}/movers?top=N
//	/v1/corporate-actions
//
// The trading API's market endpoints:
//
//	/v2/clock      /v2/calendar      /v2/assets      /v2/assets/{symbol_or_id}
//	/v2/corporate_actions/announcements      /v2/corporate_actions/announcements/{id}
//
// The official SDKs call only the multi-symbol stock forms, even for one
// symbol; the single-symbol forms are there for hand-written clients.
// Bodies have Alpaca's shapes: {"bars":{"AAPL":[…]},"next_page_token":…}
// and {"bars":[…],"symbol":"AAPL","next_page_token":…}; {"trades":{"AAPL":
// {…}}} and {"symbol":"AAPL","trade":{…}}; a bare {"AAPL":{"latestTrade":
// …}} map for stock snapshots, {"snapshots":{"BTC/USD":{…}}} for crypto.
// Items carry the stream's field names without "T" and "S" and RFC 3339
// UTC timestamps with nanoseconds; a bar's "t" is its start. Crypto items
// have fractional sizes and volumes, and trades a taker side ("tks").
//
// # Parameters
//
// History: symbols, start and end (RFC 3339 or YYYY-MM-DD, both
// inclusive; start defaults to the beginning of today, end to now),
// timeframe (bars, required; market.ParseTimeframe, which takes Alpaca's
// 1Min, 1T, 1Hour, 1H, … in any case, so ccxt's 1min too), limit
// (1–10000, default 1000, the total across symbols), page_token, sort (asc
// or desc), and for stocks feed, adjustment, asof and currency. Unknown
// parameters are ignored, as at Alpaca. A refused value gets 422
// {"code":42210000,"message":"…"}; a request without valid symbols gets
// 400. Results are sorted by symbol, then by time in the requested
// direction, and next_page_token is null exactly when nothing is left. The
// auctions endpoints take the same parameters, with feed sip only, and
// count limit in days, which a page never splits. News takes symbols
// (optional), start (no default), end, sort (default desc), limit (1–50,
// default 10), include_content and exclude_contentless.
//
// A query Go cannot decode (page_token=%zz, a semicolon) is 400 {"code":
// 40010001,"message":"malformed query: …"}, never decoded in part: a
// dropped page_token would hand a pager its first page again. Every path
// Tape does not serve, under whatever prefix the handler is mounted at, is
// a JSON 404.
//
// # Credentials
//
// APCA-API-KEY-ID / APCA-API-SECRET-KEY headers or HTTP Basic key:secret
// (the Broker API style), checked against the same auth.Keys as the
// stream; open keys accept any or none. OAuth bearer tokens are refused:
// Tape issues none. Refusals read as Alpaca's do, per API: the data API
// answers missing or wrong credentials 403 {"message":"forbidden"} (its
// market data FAQ), the trading API 401 {"code":40110000,"message":
// "request is not authorized"}, which ccxt maps to PermissionDenied. Crypto
// data needs no credentials at Alpaca, nor at Tape; wrong ones get the data
// API's 403.
//
// # Where Tape differs from Alpaca, and why
//
//   - feed is validated as Alpaca validates it (iex, sip, otc and boats on
//     the historical endpoints; also delayed_sip and overnight on latest
//     and snapshot endpoints), but it selects only between the record's
//     two views. feed=iex reads the IEX view (IEX's own trades, quotes and
//     bars, Options.IEX) where the record has one, as a simulated record
//     does; a record of one received feed has only that feed, which
//     feed=iex then reads too. Every other feed, and no feed, reads the
//     consolidated view (Options.Store): Tape's default is sip, the best
//     feed, as Alpaca's is for a plan that has it (Alpaca's free plan
//     defaults to iex), and Tape records no separate OTC, BOATS, delayed
//     or overnight data. A page token is bound to the view it walks.
//   - adjustment accepts raw, split, dividend, spin-off and all, alone or
//     comma-combined, and always returns raw bars: Tape keeps no corporate
//     actions, and for the periods a hub holds the difference is nil. For
//     the same reason /v1/corporate-actions answers an empty result (its
//     parameters checked) and the announcements an empty list.
//   - asof accepts a date or "-" and changes nothing: Tape maps no symbols.
//   - currency accepts only USD (echoed as Alpaca echoes a currency); any
//     other is 422, because Tape has no exchange rates.
//   - Symbols are upper-cased. Alpaca's are case-sensitive and "aapl"
//     finds nothing there; Tape finds AAPL and keys the result "AAPL". A
//     crypto symbol must be a pair, BTC/USD; an invalid one gets Alpaca's
//     "Invalid symbol(s): … does not match …", which ccxt maps to
//     BadSymbol.
//   - A YYYY-MM-DD start or end is midnight in Options.Location (New York
//     by default), the zone Tape's daily bars start in; so is crypto's
//     default start.
//   - Page tokens bind to their query and carry its resolved time range
//     (see token.go). A token replayed with other symbols, timeframe,
//     start, end, sort or view (feed=iex against another feed, where there
//     is an IEX view) is 422 "invalid page token"; a walk whose end
//     defaulted to "now" keeps its first page's end.
//   - A single-symbol latest or snapshot request for a symbol without data
//     is 404; the multi forms leave such symbols out (latest, crypto
//     snapshots) or map them to null (stock snapshots), which is what the
//     SDK expects.
//   - An empty single-symbol page is "bars":[] rather than null.
//   - The clock and the screener's last_updated tell the feed's time
//     (Options.Now), which a simulator may run ahead of the wall clock.
//     The calendar spans 1990–2100 (package calendar), not 1970–2029.
//   - The screener ranks the symbols Tape records, by their latest daily
//     bar (movers: its close against the previous daily close; most
//     actives: its volume or trade count), among the symbols whose latest
//     daily bar is of the latest day; it is recomputed at most once per
//     Options.ScreenerInterval.
//   - /v2/assets lists the symbols Tape serves (Options.StockSymbols and
//     CryptoSymbols), all active, with IDs derived from their symbols (see
//     package alpacameta), not Alpaca's.
//   - News has no images, and strings escape HTML as \u003c.
//   - Tape never answers 429. A store query that exceeds Options.Timeout
//     is 504, not 500: the SDK retries a 500 ten times, and a query that
//     took too long once will again. Store errors are 500
//     {"message":"internal server error"}, their details logged only.
//   - Responses of 1 KiB or more are gzip-compressed when the client
//     accepts it (Alpaca's threshold is 256 bytes).
//   - Options are simulated (package options), on a simulated record
//     only: there is no OPRA record behind them. Chains and snapshots page
//     by symbol (limit 1–1000, default 100); history takes the stock
//     history's parameters, and a full page always carries a
//     next_page_token (the next may be empty: knowing that nothing follows
//     would mean simulating the rest of the range). Snapshots look five
//     sessions back for a last trade. feed takes opra or indicative, and
//     both read the one simulated market. updated_since and ppind are
//     ignored; /v2/options/contracts lists the contracts listed today,
//     by default those expiring by the next weekend, as at Alpaca, and
//     finds any contract on a served stock by symbol (an ID only among
//     today's listings).
//   - Crypto perpetual futures are derived from the crypto spot record
//     rather than recorded: X-PERP follows X/USD, its latest trade, quote,
//     bar and order book at spot's prices times a basis of −2.5 to +5
//     basis points fixed per symbol and hour. Pricing's index price is
//     spot's mid (or last trade), its mark price the index times the same
//     basis, its funding rate about 0.01 % per eight-hour period and next
//     funding time the next 00:00, 08:00 or 16:00 UTC; its open interest
//     is made up (see perps.go). Only the latest endpoints exist, the ones
//     the SDKs call; like spot crypto they need no credentials. Symbols
//     must match ^[A-Z0-9]+-PERP$, or get Alpaca's invalid symbol error.
//   - Forex rates are simulated (package forexsim): a pure function of the
//     pair and the instant, so history and latest agree and repeat. Any
//     two of fifteen major currencies make a pair (USDJPY, EURUSD, crosses
//     and inverses); another is 400. Rates change every five seconds from
//     Sunday 17:00 to Friday 17:00 New York time and not at weekends,
//     when latest answers the last rate before the close; holidays are
//     not modelled. Latest is the rate at Options.Now, to the five
//     seconds. History samples each multiple of timeframe since the epoch
//     (5Sec, 1Min, the default, and 1Day at 00:00 UTC, as Alpaca
//     documents them; Tape also takes 10, 15, 20 and 30Sec, [1-59]Min and
//     [1-23]Hour) within [start, end], end cut to Options.Now, and pages
//     as stock history does (limit, sort, page_token bound to its query).
//   - Not served (404): options (on a record of the real market), fixed income, indices and logos.
//     Trades carry no "u" (update) field: the store
//     keeps trades as reported.
//
// Methods other than GET, HEAD included, get 405 with Allow: GET.
package httpapi
