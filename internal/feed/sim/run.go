package sim

import (
	"context"
	"math"
	"time"

	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/market"
)

// Pacing tolerances. Sleeping for less than a millisecond costs more than it
// buys, and a simulator that fell far behind the wall clock (a slow receiver
// applying back-pressure, or a Rate the machine cannot generate in real
// time) should resume at its pace rather than burst to catch up.
const (
	minSleep  = time.Millisecond
	maxBehind = time.Second
)

// Run implements feed.Feed. It generates events with Next and sends them on
// out, paced so that simulated time advances Speed times as fast as the wall
// clock (not at all with an infinite Speed). A batch covers at most 10 ms of
// simulated time and BatchSize events; when there are no events an empty
// batch is sent every feed.HeartbeatInterval of simulated time so that the
// receiver's clock keeps moving. Every batch has its own Events slice.
//
// Run blocks until ctx is done and then returns ctx.Err(). It never closes
// out and starts no goroutines.
func (s *Sim) Run(ctx context.Context, out chan<- feed.Batch) error {
	var (
		buf       = make([]market.Event, 0, s.batch)
		now       int64
		lastSent  = s.clock
		simStart  = s.clock
		wallStart = time.Now()
		paced     = !math.IsInf(s.speed, 1)
		timer     *time.Timer
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		buf, now = s.Next(buf[:0])
		if len(buf) == 0 && now-lastSent < feed.HeartbeatInterval {
			continue // nothing to say yet; the next batch is paced
		}
		if paced {
			ahead := time.Duration(float64(now-simStart)/s.speed) - time.Since(wallStart)
			switch {
			case ahead >= minSleep:
				if timer == nil {
					timer = time.NewTimer(ahead)
				} else {
					timer.Reset(ahead)
				}
				select {
				case <-timer.C:
				case <-ctx.Done():
					return ctx.Err()
				}
			case ahead < -maxBehind:
				simStart, wallStart = now, time.Now()
			}
		}
		b := feed.Batch{Now: now}
		if len(buf) > 0 {
			// The receiver owns what it gets; buf is reused for generation.
			b.Events = make([]market.Event, len(buf))
			copy(b.Events, buf)
		}
		select {
		case out <- b:
			lastSent = now
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

var _ feed.Feed = (*Sim)(nil)
