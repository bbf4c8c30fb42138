package newsstore_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/tapehq/tape/internal/httpapi"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/newsstore"
)

// The pipeline hands the store every released event; the REST API reads
// it. An update replaces its article.
func Example() {
	dir, _ := os.MkdirTemp("", "news")
	defer os.RemoveAll(dir)
	s, err := newsstore.Open(dir, newsstore.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	at := time.Date(2026, 7, 15, 12, 0, 0, 0, time.UTC).UnixNano()
	s.Publish([]market.Event{
		{Seq: 1, Kind: market.KindNews, Time: at, News: &market.News{ID: 1, Headline: "Apple Unveils New AI Platform",
			CreatedAt: at, UpdatedAt: at, Symbols: []string{"AAPL"}, Source: "benzinga"}},
		{Seq: 2, Kind: market.KindTrade, Symbol: "AAPL", Time: at},
		{Seq: 3, Kind: market.KindNews, Time: at + 60e9, News: &market.News{ID: 2, Headline: "Bitcoin Rises 2.1%",
			CreatedAt: at + 60e9, UpdatedAt: at + 60e9, Symbols: []string{"BTCUSD"}, Source: "benzinga"}},
		{Seq: 4, Kind: market.KindNews, Time: at + 120e9, News: &market.News{ID: 1, Headline: "Apple Unveils New AI Platform (updated)",
			CreatedAt: at, UpdatedAt: at + 120e9, Symbols: []string{"AAPL"}, Source: "benzinga"}},
	})
	res, _ := s.News(context.Background(), httpapi.NewsQuery{Start: 0, End: at + 3600e9, Desc: true, Limit: 10})
	for _, n := range res.Articles {
		fmt.Println(n.ID, n.Headline)
	}
	if err := s.Flush(); err != nil {
		panic(err)
	}
	fmt.Println("durable through seq", s.AppliedSeq())
	// Output:
	// 1 Apple Unveils New AI Platform (updated)
	// 2 Bitcoin Rises 2.1%
	// durable through seq 4
}
