//go:build race

package sim

// raceEnabled reports whether the tests run under the race detector, which
// slows the generator down about tenfold. The heavy tests then run the same
// assertions over smaller samples, so that `go test -race` (the CI default)
// stays quick without -short.
const raceEnabled = true
