//go:build race

package bars

// raceEnabled: the race detector slows the randomized tests tenfold and
// finds nothing in a builder owned by one goroutine, so they run fewer
// seeds under it.
const raceEnabled = true
