// Package options is Tape's simulated US equity options market: the
// contracts listed on the stocks Tape records, their prices, greeks,
// quotes and trades, all derived from the underlying's record. It lets
// Alpaca's options endpoints (chains, snapshots, latest quotes and trades,
// historical trades and bars, the trading API's contracts) answer offline,
// without an OPRA feed and without keys.
//
// # Derived, not recorded
//
// Nothing here is journaled. Every value is a pure function of a
// contract, a time and the underlying's record at that time, so it needs
// no state, survives restarts unchanged, and agrees with itself: the bars
// of a minute are the aggregate of that minute's trades, and a chain
// snapshot's latest trade is the last trade the trades endpoint lists.
//
//   - Contracts: OCC symbols (root, YYMMDD, C or P, strike × 1000 in
//     eight digits: AAPL261218C00230000). Each trading day lists, per
//     underlying, weekly expirations (Fridays, Thursday when Friday is a
//     holiday) for six weeks, the monthly (third Friday) for nine months,
//     two January LEAPS, and for SPY, QQQ and IWM every trading day of the
//     next two weeks; strikes every 0.5, 1, 2.5, 5 or 10 dollars
//     (by price; wider steps above $3,000, so a chain stays near a hundred
//     strikes) within 20 % of the underlying's previous close. A contract
//     trades from its listing (Contract.Listed) to its expiration's close.
//   - Prices: Black-Scholes with a 4 % rate, no dividends, and a volatility
//     per underlying with a skew (out-of-the-money puts are dearer), so
//     the chain looks like a real one: put-call parity holds, deltas run
//     from 1 to 0 across strikes, theta grows towards expiry.
//   - Quotes: the model price (at the underlying's latest trade) widened to
//     a bid and an ask on the option's tick (a penny under $3 and for the
//     penny-pilot names, else five cents). Options trade in the regular
//     session only: outside it, quotes stand at the last close.
//   - Trades: during each regular-session minute of the underlying, a
//     contract trades a number of times drawn (Poisson, from a hash of the
//     contract and the minute) with a rate that follows the underlying's
//     activity, and falls with distance from the money and with time to
//     expiry. Each trade is priced along the underlying's path through the
//     minute (open, high and low, close) between the bid and the ask.
//
// The model is labelled synthetic everywhere it is served (docs, README):
// it is for building and testing options programs offline, not for
// research on real options prices.
package options
