package sim_test

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/feed/sim"
	"github.com/tapehq/tape/internal/market"
)

// Next generates without pacing: here the start-up snapshot of one symbol.
func ExampleSim_Next() {
	s, err := sim.New(sim.Options{
		Symbols: []string{"AAPL"},
		Seed:    1,
		Start:   time.Date(2025, 7, 16, 15, 0, 0, 0, time.UTC), // 11:00 in New York
	})
	if err != nil {
		panic(err)
	}
	events, now := s.Next(nil)
	for _, e := range events[:2] {
		switch e.Kind {
		case market.KindStatus:
			fmt.Println(e.Symbol, e.Kind, e.Status.StatusCode, e.Status.StatusMsg)
		case market.KindLULD:
			fmt.Println(e.Symbol, e.Kind, e.LULD.LimitDown, e.LULD.LimitUp)
		}
	}
	fmt.Println(events[2].Kind, time.Unix(0, now).UTC().Format(time.StampMilli))
	// Output:
	// AAPL status T Trading Resumption
	// AAPL luld 218.5 241.5
	// quote Jul 16 15:00:00.010
}

// Run is a feed.Feed: it owns the pacing and the caller owns the channel.
func ExampleSim_Run() {
	s, err := sim.New(sim.Options{Seed: 1, Speed: math.Inf(1)})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan feed.Batch)
	done := make(chan error)
	go func() { done <- s.Run(ctx, out) }()

	statuses := 0
	for _, e := range (<-out).Events {
		if e.Kind == market.KindStatus {
			statuses++
		}
	}
	cancel()
	fmt.Println("statuses in the first batch:", statuses, "then:", <-done)
	// Output: statuses in the first batch: 21 then: context canceled
}
