//go:build race

package history

// raceEnabled trims tests whose work is single-threaded: the race detector
// learns nothing from repeating it and makes it ten times slower.
const raceEnabled = true
