package httpapi

import "github.com/tapehq/tape/internal/market"

// AppendBarsPage exposes the multi-symbol bars encoder to the external
// tests' benchmarks.
func AppendBarsPage(b []byte, events []market.Event, token string) []byte {
	return appendPage(b, &page{kind: kindBars, events: events, token: token})
}
