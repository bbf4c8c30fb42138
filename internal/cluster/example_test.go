package cluster_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tapehq/tape/internal/cluster"
	"github.com/tapehq/tape/internal/cluster/embedded"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
)

// An origin's journal published into JetStream (an embedded server here)
// and read back by an edge: the events keep the origin's sequence numbers.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir, _ := os.MkdirTemp("", "tape-example")
	defer os.RemoveAll(dir)
	srv, err := embedded.Start(ctx, embedded.Options{StoreDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()

	// The origin: what its pipeline journaled.
	origin := journal.NewMemory(journal.Options{})
	for i, e := range []market.Event{
		{Kind: market.KindTrade, Symbol: "AAPL", Time: 1, Trade: market.Trade{Price: 190.5, Size: 100}},
		{Kind: market.KindQuote, Symbol: "BRK.B", Time: 2, Quote: market.Quote{BidPrice: 410, AskPrice: 410.2}},
		{Kind: market.KindCryptoTrade, Symbol: "BTC/USD", Time: 3, CryptoTrade: market.CryptoTrade{Price: 60000, Size: 0.5}},
	} {
		_ = origin.Append(uint64(41+i), e.Time, market.AppendBinary(nil, &e))
	}
	origin.Commit()
	pub, _ := cluster.NewPublisher(nc, cluster.PublisherOptions{Journal: origin})
	pctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- pub.Run(pctx) }()

	// An edge, new: it starts at the first record the stream holds.
	edge := cluster.NewEdgeFeed(nc, cluster.EdgeOptions{})
	ectx, stopEdge := context.WithCancel(ctx)
	out := make(chan feed.Batch)
	edone := make(chan error, 1)
	go func() { edone <- edge.Run(ectx, out) }()
	for n := 0; n < 3; {
		b := <-out
		for _, e := range b.Events {
			fmt.Println(e.Seq, e.Kind, e.Symbol, cluster.Subject(cluster.DefaultPrefix, &e))
			n++
		}
	}
	stopEdge()
	<-edone
	stop()
	<-done
	// Output:
	// 41 trade AAPL tape.stocks.trade.AAPL
	// 42 quote BRK.B tape.stocks.quote.BRK%2EB
	// 43 cryptoTrade BTC/USD tape.crypto.trade.BTC%2FUSD
}
