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

// Crypto pairs start with a snapshot of their book and its quote, then
// trade around the clock: a trade comes with the book update it causes and
// the new quote.
func ExampleSim_Next_crypto() {
	s, err := sim.New(sim.Options{
		Symbols:       []string{}, // crypto only
		CryptoSymbols: []string{"BTC/USD"},
		Seed:          1,
		Start:         time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC), // a Saturday night
	})
	if err != nil {
		panic(err)
	}
	events, _ := s.Next(nil)
	o, q := events[0].Orderbook, events[1].CryptoQuote
	fmt.Printf("%s book: %d bids from %v, %d asks from %v, reset %v\n",
		events[0].Symbol, len(o.Bids), o.Bids[0].Price, len(o.Asks), o.Asks[0].Price, o.Reset)
	fmt.Printf("quote %v x %v / %v x %v\n", q.BidPrice, q.BidSize, q.AskPrice, q.AskSize)
	for len(events) < 100 {
		events, _ = s.Next(events)
	}
	for i, e := range events {
		if e.Kind != market.KindCryptoTrade {
			continue
		}
		t, o, q := e.CryptoTrade, events[i+1].Orderbook, events[i+2].CryptoQuote
		fmt.Printf("trade %d: %v at %v, taker %c\n", t.ID, t.Size, t.Price, t.TakerSide)
		fmt.Printf("update: bids %v, asks %v\n", o.Bids, o.Asks)
		fmt.Printf("quote %v x %v / %v x %v\n", q.BidPrice, q.BidSize, q.AskPrice, q.AskSize)
		break
	}
	// Output:
	// BTC/USD book: 20 bids from 99934.38, 20 asks from 100065.62, reset true
	// quote 99934.38 x 0.68146 / 100065.62 x 1.41565
	// trade 1: 0.01412 at 99981.91, taker S
	// update: bids [{99981.91 0.788165}], asks []
	// quote 99981.91 x 0.788165 / 100016.87 x 1.576038
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

// A fresh record's past: daily bars for the week before the start and one
// day of minute bars, ending where the simulator starts.
func ExampleNewPast() {
	start := time.Date(2026, 7, 15, 14, 0, 0, 0, time.UTC) // a Wednesday
	past, err := sim.NewPast(sim.PastOptions{Seed: 1, Symbols: []string{"KO"}, End: start, Days: 7, MinuteDays: 1})
	if err != nil {
		panic(err)
	}
	daily, minute := 0, 0
	var buf []market.Event
	for !past.Done() {
		buf, _ = past.Next(buf[:0])
		for _, e := range buf {
			switch e.Kind {
			case market.KindDailyBar:
				daily++
			case market.KindBar:
				minute++
			}
		}
	}
	fmt.Println("daily bars:", daily, "minute bars:", minute > 500)
	// The simulator (sim.Options{Start: start, Resume: past.Resume()})
	// continues from the past's last close: KO's start price.
	fmt.Println("last close:", past.Resume()["KO"].LastPrice)
	// Output:
	// daily bars: 5 minute bars: true
	// last close: 70
}
