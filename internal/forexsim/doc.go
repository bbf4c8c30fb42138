// Package forexsim simulates foreign exchange rates for Alpaca's forex
// endpoints (/v1beta1/forex/rates and /v1beta1/forex/latest/rates), which
// Tape serves although it records no forex: a program that asks for USDJPY
// gets a plausible, repeatable answer offline instead of a 404.
//
// # The rate is a pure function of the pair and the instant
//
// There is no state, no seed and no store: Pair.At(t) is computed from the
// pair and t alone, so history and latest agree, a query repeated tomorrow
// or on another host (of the same build) answers the same bytes, and any
// instant, a year back or the simulator's "now" run ahead of the wall
// clock, costs the same fraction of a microsecond. The model's constants
// (forexsim.go) are therefore part of the output: changing a level, a
// volatility or a hash changes every rate Tape serves.
//
// Each currency's value in US dollars is a log-space sum of value-noise
// components: at each scale (five seconds, a minute, ten minutes, an hour,
// eight hours, five days, thirty days, half a year) hashed node values in
// [-1, 1], joined by smoothstep interpolation. A component's amplitude
// grows with the square root of its scale, as a random walk's spread does,
// so the rate moves like a walk at every horizon (a pip or so a minute for
// EURUSD, about half a percent a day) while staying within some ten
// percent of its anchor level for ever: it cannot drift to zero or to
// infinity, which a true walk evaluated at arbitrary instants would. A
// shared "dollar" component, which each currency loads on with its own
// weight, makes the dollar pairs move together, so crosses (EURGBP) are
// quieter than their legs, as they are in the market.
//
// A pair is any two of the simulated currencies (Currencies): the majors
// (EURUSD, USDJPY, …), their inverses and the crosses (EURJPY is EURUSD
// times USDJPY, less the spreads). Bid and ask sit the sum of the two
// currencies' typical half-spreads either side of the mid, with a little
// jitter, wider around the 17:00 New York rollover and in the first hour
// after the Sunday open; they are rounded outward to the pair's quoting
// precision (5 decimals, 3 for the yen pairs, 4 for USDMXN-sized rates),
// and the mid is their average.
//
// # Market hours
//
// Forex trades around the clock from Sunday 17:00 to Friday 17:00 New
// York time (Week). A rate changes every Tick (five seconds, Alpaca's
// finest forex timeframe) while the market is open and not at all over
// the weekend: At during the weekend answers the last rate before the
// close, and Times, the sampling grid of the history endpoint, has no
// instants there. Daylight saving changes on a Sunday at 02:00, inside the
// weekend, so each trading week has a single UTC offset. Holidays are not
// modelled: Christmas and New Year's Day trade as any weekday.
package forexsim
