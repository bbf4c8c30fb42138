package history_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/httpapi"
	"github.com/tapehq/tape/internal/market"
)

func Example() {
	dir, _ := os.MkdirTemp("", "history")
	defer os.RemoveAll(dir)
	s, err := history.Open(dir, history.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }() // the flusher

	// The ingest goroutine applies sequenced events.
	t0 := time.Date(2024, 6, 3, 13, 30, 0, 0, time.UTC).UnixNano()
	s.Apply([]market.Event{
		{Seq: 1, Kind: market.KindTrade, Symbol: "AAPL", Time: t0, Trade: market.Trade{ID: 1, Price: 194.5, Size: 100}},
		{Seq: 2, Kind: market.KindTrade, Symbol: "AAPL", Time: t0 + 1e9, Trade: market.Trade{ID: 2, Price: 194.6, Size: 50}},
		{Seq: 3, Kind: market.KindBar, Symbol: "AAPL", Time: t0, Bar: market.Bar{Open: 194.5, High: 194.6, Low: 194.5, Close: 194.6, Volume: 150, TradeCount: 2, VWAP: 194.53}},
	})

	// Queries see applied events at once, flushed or not.
	res, _ := s.Trades(context.Background(), history.Query{Symbols: []string{"AAPL"}, Start: t0, End: t0 + 60e9, Limit: 1})
	fmt.Println(len(res.Events), res.Events[0].Trade.Price, res.Next != nil)
	res, _ = s.Trades(context.Background(), history.Query{Symbols: []string{"AAPL"}, Start: t0, End: t0 + 60e9, Limit: 1, After: res.Next})
	fmt.Println(len(res.Events), res.Events[0].Trade.Price, res.Next != nil)
	bars, _ := s.Bars(context.Background(), history.Query{Symbols: []string{"AAPL"}, Start: t0 - 1800e9, End: t0 + 3600e9, Limit: 10}, market.Timeframe{N: 1, Unit: market.Hour})
	fmt.Println(time.Unix(0, bars.Events[0].Time).UTC().Format("15:04"), bars.Events[0].Bar.Volume)

	cancel()
	<-done // final flush
	fmt.Println("durable up to seq", s.AppliedSeq())
	s.Close()
	// Output:
	// 1 194.5 true
	// 1 194.6 false
	// 13:00 150
	// durable up to seq 3
}

// The REST layer reads stocks and crypto through one interface: the store
// for stocks, its Crypto view for pairs.
var (
	_ httpapi.Store = (*history.Store)(nil)
	_ httpapi.Store = history.Crypto{}
)

func ExampleStore_Crypto() {
	dir, _ := os.MkdirTemp("", "history")
	defer os.RemoveAll(dir)
	s, err := history.Open(dir, history.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2024, 6, 3, 13, 30, 0, 0, time.UTC).UnixNano()
	s.Apply([]market.Event{
		{Seq: 1, Kind: market.KindCryptoTrade, Symbol: "BTC/USD", Time: t0, CryptoTrade: market.CryptoTrade{ID: 1, Price: 69000, Size: 0.0025, TakerSide: 'B'}},
		{Seq: 2, Kind: market.KindCryptoBar, Symbol: "BTC/USD", Time: t0, CryptoBar: &market.CryptoBar{Open: 69000, High: 69000, Low: 69000, Close: 69000, Volume: 0.0025, TradeCount: 1, VWAP: 69000}},
	})
	c := s.Crypto()
	res, _ := c.Trades(context.Background(), history.Query{Symbols: []string{"BTC/USD"}, Start: t0, End: t0, Limit: 10})
	fmt.Println(res.Events[0].Kind, res.Events[0].CryptoTrade.Size, string(res.Events[0].CryptoTrade.TakerSide))
	bars, _ := c.Bars(context.Background(), history.Query{Symbols: []string{"BTC/USD"}, Start: t0, End: t0, Limit: 10}, market.OneMinute)
	fmt.Println(bars.Events[0].Kind, bars.Events[0].CryptoBar.Volume)
	fmt.Println(c.Symbols(), s.Symbols())
	// Output:
	// cryptoTrade 0.0025 B
	// cryptoBar 0.0025
	// [BTC/USD] []
}
