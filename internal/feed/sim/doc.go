// Package sim is Tape's deterministic market simulator: a feed.Feed that
// produces a plausible US equities stream (NBBO quotes, trades, corrections,
// cancels, trading statuses, LULD bands and order imbalances, and IEX's own
// quotes for the iex feed's view) for the default symbols or any others, and optionally crypto pairs trading around
// the clock (trades, quotes and order books), with no network and no keys. It is what
// `tape serve` runs offline, what CI tests against, and what benchmarks use
// as a load generator, so it has to be realistic enough for a quant to look
// at and cheap enough to produce over a million messages per second.
//
// # Determinism
//
// Everything is drawn from PCG generators seeded from Options.Seed (one
// for the market, one for IEX's book, one for the news; the profiles of
// symbols without a built-in one are a function of their names), and time
// comes only from the simulated clock,
// which starts at Options.Start. The same Seed, Start, Symbols,
// CryptoSymbols, Resume and Sessions therefore give the same events, whatever the BatchSize, the Speed or the
// way Next is called. Only Run looks at the wall clock, and only to decide
// when to hand a batch over. Floating-point
// results may differ between CPU architectures, so a recorded sequence is
// reproducible on the same platform and Go release.
//
// # Symbols
//
// DefaultSymbols (familiar large caps and ETFs plus Alpaca's test symbol
// FAKEPACA) have built-in profiles: start price, volatility, listing
// venue and tape, activity, spread, depth, daily volume and LULD tier.
// Any other valid US equity symbol (1-16 upper-case letters and digits,
// starting with a letter, with single '.' or '-' separators, as in BRK.B)
// gets a profile derived from its name alone: its FNV-1a hash seeds a PCG
// of its own, independent of Options.Seed, so a symbol looks the same in
// every run and whatever it is simulated with. The start price is
// log-uniform in $5-$500, the annualised volatility uniform in 0.25-0.80;
// names with a share-class suffix and most of the short ones list on NYSE
// (tape A), the others mostly on Nasdaq (tape C); ETFs are not told apart
// from stocks. Activity (1-3 against the built-ins' 1-10), spread and
// depth are those of less liquid names, and about half of them, those with
// the lower dollar volume, are LULD tier 2. Profiles are drawn apart from
// the simulation's random stream, so a set of built-in symbols gives the
// events it always gave, and a set with derived ones is as deterministic.
//
// # Arrivals
//
// Messages arrive as an inhomogeneous Poisson process: exponential gaps,
// at an intensity that follows an intraday curve over the New York wall
// clock (embedded tzdata, so DST is right on any host). The regular session
// (09:30-16:00) has the familiar U: the first half hour runs at about three
// times the lunchtime pace and the run into the close at about twice it.
// Pre-market, after-hours and the night keep a trickle, so that a developer
// working at night still sees a moving market. The curve is normalised so
// its mean over a day is 1, which makes Options.Rate the long-run average.
//
// By default every calendar day is a trading day, since the simulator
// exists for work at any hour. Options.Sessions is the seam for an exchange
// calendar: the simulator asks it for each New York day's regular session
// when its clock enters the day (in nyClock.load, the one place the time
// of day is resolved), and derives that day's curve, phases, auctions and
// LULD window from the answer; a closed day keeps the night's trickle.
//
// FAKEPACA ignores the calendar, as on Alpaca's test stream, which carries
// it around the clock, weekends and holidays included: every minute of
// every day is a regular-session minute for it (profile.allDay). It trades
// at the standard session's average activity, volatility and spread, flat
// since a market that never opens or closes has no U, always with regular
// conditions, its LULD band always in force, and never crosses: no opening
// or closing auction. Its arrivals are a Poisson process of their own at
// that constant intensity, so over a standard day it takes three times its
// weight's share of Rate (the session runs at three times the day's mean),
// which the sharing of Rate between the symbols allows for.
//
// Each stock arrival picks a symbol by weight (SPY, NVDA and TSLA
// are the busiest, KO, FAKEPACA and the derived symbols the quietest in
// the session) and becomes one event, so the count of messages follows
// Rate exactly in expectation. IEX's own quotes come on top (see The IEX
// view): Rate counts the consolidated messages.
//
// # Prices
//
// Each symbol has a latent price: a driftless geometric random walk whose
// variance grows with elapsed simulated time, so the price path looks the
// same at any Rate. It is scaled by the intraday volatility curve and
// calibrated so that close-to-close returns show the symbol's annualised
// volatility (FAKEPACA, at the session's volatility around the clock,
// moves about 1.6 times as much a day). Three permanent jumps a day
// fatten the tails of returns.
// Rare transient flash spikes, which decay over a few minutes, are what
// push a price through its LULD band. Published prices sit on the $0.01
// tick, computed as integer cents.
//
// Quotes are about three quarters of the messages. The NBBO is placed
// around the latent price, with a spread proportional to price that widens
// at the open and in extended hours, sizes in round lots and real venue
// codes, with the listing venue favoured. Like the real NBBO it is sticky:
// most updates change the size or venue of one side.
//
// # The IEX view
//
// Alpaca's free feed is IEX's: IEX's own trades, its own top of book and
// bars of its own trades, not the consolidated tape. The simulator gives
// both views. The trades need nothing new: about 6% of them print on IEX
// (exchange V), as they do on the real tape, and the iex feed's trades
// and bars are built from those downstream. IEX's quotes
// (market.KindIEXQuote, exchange V on both sides) come from a top of book
// kept for each stock next to its NBBO. IEX is one of the venues the NBBO
// is made of, so its book is never better than the NBBO at the same
// instant, and never crossed: after every NBBO update a side the NBBO
// moved through is repriced, a side whose NBBO price moved follows it a
// third of the time (IEX lags the market a little), and a side the NBBO
// says IEX posts (exchange V) is the NBBO's, size included. A repriced
// side joins the NBBO 45% of the time, else it rests a tick or a few
// behind it (0.6 spreads on average); sizes are round lots, about a third
// of the NBBO's typical depth; when the NBBO's prices stand still, an
// eighth of its updates change one of IEX's sizes. IEX's quote goes out
// right after the NBBO quote, at its time and in its batch (so BatchSize
// is at least 2 with stocks), and only when IEX's book changed: in the
// session about 30% as many IEX quotes as NBBO quotes at the default
// Rate, 20% at very high Rates, where most NBBO updates change sizes
// only, up to 75% at very low ones, where nearly every update moves the
// price. So IEX quotes wherever the NBBO does: the night's trickle,
// FAKEPACA's session around the clock. The start-up snapshot has IEX's
// first quote after each stock's NBBO quote; Resume carries no IEX book,
// which a restarted simulator builds afresh from its first quote. IEX's
// book draws from a random stream of its own, so the consolidated events
// are exactly those of the simulator before it had an IEX view, and Rate
// counts those: IEX's quotes come on top.
//
// Trades print at the bid, at the ask or inside the last published quote,
// never outside it. Their sizes mix odd lots ("I"), round lots, mixed lots
// and rare blocks (see Volume). The sale conditions are the real ones: "@" regular, "F"
// intermarket sweep, "T" extended hours, "4" derivatively priced on the
// TRF (venue D), "O", "6" and "5" for the opening, closing and reopening
// crosses on the listing venue. About 0.2% of trades are reported 1-9 s
// late with "Z" ("U" when their own time is in extended hours), which is
// what exercises updated bars downstream. A late report is priced within
// the NBBO that prevailed at its own time, as the trade it reports was:
// each symbol keeps its recent quotes as checkpoints (at most one per
// 200 ms, 64 of them), and the report is timed within the span of one. Corrections and cancels refer to one of the symbol's 16
// most recent trades, with its real ID, price and size.
//
// # Volume
//
// Rate counts messages; sizes are shares, so the daily volume of a symbol
// is its number of trades (Rate x 86,400 x 23.5% x its share of the
// weights, FAKEPACA's counted three times) times its mean trade size. The
// sizes follow the consolidated tape: odd lots are about a third of the
// prints at $35, over half at $230 and three quarters at $700; round-lot
// prints are mostly one lot, more for cheap names; mixed lots are 4% and
// $0.5M-$10M blocks 0.02%. The mean print is then about 170 shares at $35,
// 70 at $230 and 40 at $700.
// At the default Rate over DefaultSymbols each built-in symbol trades 0.9
// to 4 times its real consolidated volume (AAPL about 110M shares a day,
// against some 50M on the SIP, of which IEX, Alpaca's free feed, has 2-3%);
// Rate 600 matches their real volume in total. Volume is proportional to Rate
// and to the symbol's share of the weights: AAPL alone at the default Rate
// trades 13 times as many shares as among the defaults. The auction prints
// are sized from the real daily volume instead (1% of it at the open, 8%
// at the close), so they look right at any Rate.
//
// # Trade IDs and restarts
//
// Trade IDs are unique per symbol (stock or crypto pair) forever. Within a run they are strictly
// increasing per symbol in generation order: every trade, auction print
// and correction takes the next one (a correction's new trade gets a fresh
// ID, it never reuses the one it replaces), and a late report keeps the ID
// of when it was generated, so IDs rise while its timestamp goes back.
// Across runs, Options.Resume carries the largest ID the record holds per
// symbol, and a restarted simulator continues above it.
//
// Resume also carries the last trade and NBBO, so a restart continues the
// market rather than starting each symbol from its profile: the latent
// price starts at the recorded quote's midpoint and the first quote
// continues the recorded one. The time between the record's end and Start
// does not move the price, so the first new trades are as close to the
// last recorded ones as consecutive trades are. The LULD reference
// restarts from that price too; nothing else carries over (a halt in
// force at the end of the record is not resumed, and the start-up snapshot
// says every symbol is trading).
//
// # Statuses and LULD
//
// At the start every symbol gets a trading status and a LULD band. The
// band is 5% around the reference price for tier 1 and 10% for tier 2
// (FAKEPACA and the less traded derived symbols) above $3, 20% for both
// tiers from $3 down (prices are floored at $1, so the plan's sub-$0.75
// rule is not modelled), doubled from 09:30 to 09:45 (FAKEPACA's, in force
// around the clock, never is). It is published again when the width
// changes or the five-minute reference moves by 1%, and only during the
// regular session, as the plan requires. A price outside the band halts
// the symbol for five minutes: a halt status, order imbalances instead of
// quotes and trades, then a resumption, a reopening print and a new band.
// Codes follow the symbol's plan: CTA ("2" halt, "3" resume, reason "M")
// for tapes A and B, UTP ("H", "T", reason "LUDP") for tape C. The default
// symbols see about one pause a simulated day, nearly all of them in
// FAKEPACA.
//
// # Crypto
//
// Options.CryptoSymbols adds crypto pairs, named as Alpaca names them
// ("BTC/USD", "ETH/BTC"). Built-in coins have rough late-2026 profiles
// (BTC about $100,000, ETH $4,000, SOL $200, DOGE $0.25, stablecoins $1),
// others one derived from the coin's name; a pair quoted in BTC is the
// ratio of two dollar prices, with the volatility of two correlated coins.
// Prices carry about six significant digits and sizes are fractional
// (0.053924 BTC), both exact decimals, integers in the generator.
//
// Crypto never closes: no sessions, auctions, halts or LULD bands, and no
// late reports or corrections. Its activity follows its own curve over the
// UTC hour of the week: busiest when Europe and America overlap (15:00
// UTC, three times the Asian night) and 40% quieter at the weekend. The
// latent price moves as a stock's does (diffusion at the hour's
// volatility, three Laplace jumps a day, annualised over 365 days); a
// stablecoin against the dollar is pulled back to its peg instead.
//
// Each pair keeps a 20-level order book per side around the latent price.
// The first "o" message of a pair, in the start-up snapshot, is the whole
// book with Reset set; after it only changed levels are sent, size 0
// deleting one, and the book always has exactly 20 levels a side (a level
// leaving the top 20 is deleted, the far end refills). Every arrival is
// one of: a trade (a taker buying at the best ask, "B", or selling at the
// best bid, "S", leaning the way the price moved; it takes part or all of
// the level) followed by its book update and the new quote; a move of the
// top of the book towards the latent price (update and quote); or a change
// below the top (update). So the quote always equals the book's best
// levels, and an arrival's events always share a batch. Messages are
// about 12% trades, 29% quotes and 59% book updates.
//
// Rate is shared by weight: stocks and crypto each get their symbols'
// share of the total weight as their long-run average, each spread over
// its own curve. DefaultCryptoSymbols next to the default stocks take about
// a fifth of the messages.
//
// # News
//
// Options.News adds a small flow of Benzinga-like articles (KindNews
// events, Symbol empty: the hub routes them by News.Symbols): earnings
// beats and misses, analyst ratings and price targets, buybacks,
// dividends, partnerships and products, movers, unusual options activity,
// market wraps and crypto moves, from templates that quote the symbols'
// current prices, by a handful of authors, at URLs under
// news.tape.invalid (a reserved name that never resolves) and with a line
// saying the story is simulated. Crypto articles are tagged as Alpaca
// tags them (BTCUSD). Arrivals are a Poisson process at News an hour on
// average over a week, busiest before the open and after the close, a
// quarter of the pace at the weekend. A tenth of the articles are updated
// once, minutes to hours later: the same ID and CreatedAt, a later
// UpdatedAt (the event's time) and a note in the summary. IDs count
// milliseconds since 2015 (at least one more than the last), so a
// restarted simulator, which starts after its record, never reuses one.
// The generator has its own random stream: the market's events are the
// same with news or without.
//
// # The past
//
// A fresh record has no previous day. Past (NewPast, PastOptions) is the
// history a simulator with the same symbols, Seed, Rate and Sessions
// continues: a year of daily bars and the last MinuteDays trading days of
// minute bars for every stock (pre-market, regular session and
// after-hours, never on a closed day) and every crypto pair (every minute
// of every day), flagged market.FlagSynthetic and handed out in the order
// they would have gone out live. The stocks' past ends with the last
// trading day before End's New York date, the pairs' with the last whole
// minute before End; the bars of End's own day are the live bar builder's.
// FAKEPACA's past follows the calendar like the other stocks' (its
// regular sessions have the live volume; its nights and weekends only the
// calendar's trickle or nothing): the past does not model trading around
// the clock.
//
// It is generated backwards from the present, so that it joins the live
// record without a seam: each symbol's last close is its profile's start
// price, where a fresh simulator starts (Resume says so too). First a
// skeleton, per day from the last back: a stock's log price at 04:00, at
// the open, at the close and at the end of after-hours, each mark the next
// one less the return drawn for the segment between them (diffusion at
// the intraday volatility curve's variance plus the same Laplace jumps as
// live, the overnight gap widened a little by each closed day); a pair's
// price at each UTC midnight (a stablecoin: around its peg). Every day
// draws from a PCG stream of its own, seeded from the Seed, the symbol and
// the day, so the skeleton, built backwards, and the bars, built forwards
// a day at a time, draw the same numbers; memory holds the skeleton and
// one day of bars per symbol, a few megabytes for the default symbols.
//
// A minute day's latent path is a Brownian bridge between its marks, with
// the day's jumps in their minutes. Each minute's trades are a Poisson
// count at the simulator's rate for the symbol and minute (the intraday
// curve, times a lognormal day and minute activity, higher on days of
// large moves), split into odd lots and the rest. A stock minute with no
// trade that may set a bar's prices has no bar; its odd lots are dropped
// with it, so that the daily volume is exactly the sum of the minute bars'
// (Tape's bar builder would count them in the daily volume). A bar's
// prices are up to eight trades sampled on the path with a bid-ask bounce
// (busier minutes add the bridge's extremes), on the tick; its volume the
// sum of the simulator's trade sizes; the opening and closing crosses
// print at the open and close marks in the first and last regular minutes.
// A crypto minute without trades still has a bar, priced from the path at
// its ends, with volume 0, as Alpaca's. Daily bars of minute days are the
// aggregate of their minute bars under Tape's bar builder's rules: open,
// high, low and close over the regular session's minutes (every minute
// for crypto), volume, count and VWAP over all. Other days take the
// skeleton's open and close, a Brownian bridge's extremes and the
// expected volume of the day.
//
// The past has the IEX view too (market.KindIEXBar and KindIEXDailyBar,
// flagged synthetic, each sent right after its consolidated twin), since
// the iex feed's history is IEX's bars, not the SIP's. Each continuous
// print of a minute is IEX's with the live simulator's probability (about
// 5.7%; the crosses are the listing venue's), so liquid names have an IEX
// bar in nearly every minute of the session and thin minutes none (nor
// one whose IEX prints are all odd lots, as above). An IEX minute bar lies
// within its twin: its prices are some of the minute's sampled prices
// (with more IEX prints than samples, a range reaching further towards
// the minute's), its trade count and volume (drawn from the symbol's
// sizes) at most the minute's. IEX's daily bars of minute days aggregate
// its minute bars by the consolidated rules; other days draw IEX's share
// of the day's prints, the range of so many prints within the day's, an
// open and a close near the day's. IEX's volume is about 6% of the
// consolidated (less at low Rates, where thin minutes drop), as live,
// against some 2-3% on the real tape. The IEX view draws from streams of
// its own (one per symbol and day), so the consolidated past is exactly
// what it was without it.
//
// Close-to-close returns show the profiles' annualised volatility (over
// 252 trading days for stocks, 365 for crypto), daily volumes those of the
// live simulator at the same Rate. PastOptions.News adds the news flow
// (see News) over the minute bars' span, quoting the skeleton's prices,
// without the updates that would fall after End.
//
// # Cost
//
// Next allocates nothing per event beyond the rare pointer payloads; the
// trading statuses are shared, immutable values. A crypto book update is
// one allocation (with up to four levels; a snapshot two). Per-symbol state is a
// flat struct, the time-of-day lookup is cached per span of constant UTC
// offset, and venue choice is a 256-entry table indexed by a random byte.
package sim
