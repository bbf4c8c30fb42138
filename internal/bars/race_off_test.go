//go:build !race

package bars

const raceEnabled = false
