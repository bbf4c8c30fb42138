// Package calendar is the US equities trading calendar: which days NYSE
// trades, when each session opens and closes, and the shapes of Alpaca's
// /v2/clock and /v2/calendar built from it.
//
// The calendar is computed by rule, not downloaded, so Tape stays offline:
// the ten NYSE holidays with their observance rules, Good Friday from the
// Easter computus, the unscheduled closures since 1990 (September 2001,
// Hurricane Sandy, days of mourning for presidents), and the 1:00 p.m.
// early closes (the day after Thanksgiving, Christmas Eve, the day before
// Independence Day) with the years each rule applied. rules.go lists the
// sources. It is complete for 1990-2100 (First, Last) and extrapolates the
// same rules outside.
//
// Sessions follow Alpaca, in New York time:
//
//	overnight    20:00-04:00, Sunday night through Thursday night
//	pre-market   04:00-09:30
//	regular      09:30-16:00 (13:00 on early-close days)
//	after-hours  16:00-20:00 (13:00-17:00 on early-close days)
//
// An overnight session belongs to the trading day it leads into, so it does
// not run on the eve of a holiday; see SessionAt.
//
// Dates are Date values (days since 1970-01-01, no zone); instants are
// time.Time, and the times this package returns are in New York. The
// simulator calls SessionAt once per simulated minute or more: it answers
// from a cached span in a few nanoseconds without allocating.
package calendar
