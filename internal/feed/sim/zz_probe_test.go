package sim

import (
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

func TestZZProbe(t *testing.T) {
	for _, rate := range []float64{0.001, 3, 12} {
		t0 := time.Now()
		s := mustNew(t, Options{Seed: 1, Rate: rate, Start: summerDay})
		n := 0
		span(s, summerDay.Add(24*time.Hour), func(ev []market.Event, _ int64) { n += len(ev) })
		t1 := time.Since(t0)
		t0 = time.Now()
		s = mustNew(t, Options{Seed: 1, Rate: rate, Start: summerDay})
		c := newChecker(t)
		span(s, summerDay.Add(24*time.Hour), c.batch)
		t.Logf("rate %v: %d events, gen %v, with checker %v", rate, n, t1, time.Since(t0))
	}
}
