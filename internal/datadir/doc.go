// Package datadir holds what every program that opens Tape's data
// directory must do the same way: take the directory's lock, and bring the
// history store up to date with the journal it is derived from.
//
// `tape serve`, `tape import`, `tape backfill` and `tape export --data`
// share it, so a second writer is refused the same way whichever command it
// is, and an offline tool sees exactly the history the server would have
// served.
package datadir
