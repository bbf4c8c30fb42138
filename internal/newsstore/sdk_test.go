package newsstore_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata"

	"github.com/tapehq/tape/internal/feed/sim"
	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/httpapi"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/newsstore"
)

// noStocks is the stock store the handler requires; the news tests read
// none of it.
type noStocks struct{}

func (noStocks) Trades(context.Context, history.Query) (history.Result, error) {
	return history.Result{}, nil
}
func (noStocks) Quotes(context.Context, history.Query) (history.Result, error) {
	return history.Result{}, nil
}
func (noStocks) Bars(context.Context, history.Query, market.Timeframe) (history.Result, error) {
	return history.Result{}, nil
}
func (noStocks) LatestTrade(string) (market.Event, bool)  { return market.Event{}, false }
func (noStocks) LatestQuote(string) (market.Event, bool)  { return market.Event{}, false }
func (noStocks) LatestBar(string) (market.Event, bool)    { return market.Event{}, false }
func (noStocks) Snapshot(string) (history.Snapshot, bool) { return history.Snapshot{}, false }
func (noStocks) Symbols() []string                        { return nil }

// simNews runs the simulator with news for d and returns its news events,
// sequenced as the pipeline would.
func simNews(t *testing.T, start time.Time, d time.Duration) []market.Event {
	t.Helper()
	s, err := sim.New(sim.Options{Seed: 42, Rate: 0.5, Start: start, News: 60, CryptoSymbols: []string{"BTC/USD", "ETH/USD"}})
	if err != nil {
		t.Fatal(err)
	}
	var out []market.Event
	seq := uint64(0)
	for {
		evs, now := s.Next(nil)
		for _, e := range evs {
			seq++
			if e.Kind == market.KindNews {
				e.Seq = seq
				out = append(out, e)
			}
		}
		if now >= start.Add(d).UnixNano() {
			return out
		}
	}
}

type row struct {
	ID               int
	Headline, Author string
	Created, Updated int64
	Summary, Content string
	URL, Symbols     string
}

func rowOf(n *market.News, content bool) row {
	r := row{ID: int(n.ID), Headline: n.Headline, Author: n.Author, Created: n.CreatedAt, Updated: n.UpdatedAt,
		Summary: n.Summary, URL: n.URL, Symbols: strings.Join(n.Symbols, ",")}
	if content {
		r.Content = n.Content
	}
	return r
}

func sdkRow(n marketdata.News) row {
	return row{ID: n.ID, Headline: n.Headline, Author: n.Author, Created: n.CreatedAt.UnixNano(), Updated: n.UpdatedAt.UnixNano(),
		Summary: n.Summary, Content: n.Content, URL: n.URL, Symbols: strings.Join(n.Symbols, ",")}
}

// TestSDKGetNews serves the store through httpapi and reads it with the
// official SDK's GetNews: a day of the simulator's articles (updates
// among them), walked in pages through next_page_token, by symbols, by
// range, in both orders, with and without content, against the store's
// own answer in one page.
func TestSDKGetNews(t *testing.T) {
	start := time.Date(2026, 7, 14, 4, 0, 0, 0, time.UTC)
	evs := simNews(t, start, 24*time.Hour)
	store, err := newsstore.Open(t.TempDir(), newsstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// Half before a flush (read from the file), half after (from memory).
	store.Apply(evs[:len(evs)/2])
	if err := store.Flush(); err != nil {
		t.Fatal(err)
	}
	store.Apply(evs[len(evs)/2:])
	updates := map[int64]int{}
	for _, e := range evs {
		updates[e.News.ID]++
	}
	if len(updates) == len(evs) || store.Len() != len(updates) {
		t.Fatalf("%d events, %d articles, the store holds %d: want some updates", len(evs), len(updates), store.Len())
	}

	now := start.Add(25 * time.Hour)
	h := httpapi.New(httpapi.Options{Store: noStocks{}, News: store, Now: func() time.Time { return now }})
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := marketdata.NewClient(marketdata.ClientOpts{BaseURL: srv.URL, APIKey: "k", APISecret: "s", RetryLimit: 1})

	want := func(q httpapi.NewsQuery, limit int, content bool) []row {
		q.Limit = 1 << 20
		res, err := store.News(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		var rows []row
		for _, n := range res.Articles {
			rows = append(rows, rowOf(n, content))
		}
		if limit > 0 {
			rows = rows[:min(limit, len(rows))]
		}
		return rows
	}
	everything := httpapi.NewsQuery{Start: -1 << 62, End: now.UnixNano(), Desc: true}
	from, to := start.Add(3*time.Hour), start.Add(9*time.Hour)
	tests := []struct {
		name    string
		req     marketdata.GetNewsRequest
		query   httpapi.NewsQuery
		limit   int
		content bool
	}{
		{"default: the latest 50", marketdata.GetNewsRequest{}, everything, 50, false},
		{"all in pages of 7", marketdata.GetNewsRequest{NoTotalLimit: true, PageLimit: 7}, everything, 0, false},
		{"symbols", marketdata.GetNewsRequest{Symbols: []string{"AAPL", "BTCUSD"}, NoTotalLimit: true, PageLimit: 5},
			httpapi.NewsQuery{Symbols: []string{"AAPL", "BTCUSD"}, Start: everything.Start, End: everything.End, Desc: true}, 0, false},
		{"range ascending with content", marketdata.GetNewsRequest{Start: from, End: to, Sort: marketdata.SortAsc, IncludeContent: true,
			NoTotalLimit: true, PageLimit: 4},
			httpapi.NewsQuery{Start: from.UnixNano(), End: to.UnixNano()}, 0, true},
		{"without contentless", marketdata.GetNewsRequest{ExcludeContentless: true, IncludeContent: true, TotalLimit: 30, PageLimit: 9},
			httpapi.NewsQuery{Start: everything.Start, End: everything.End, Desc: true, ExcludeContentless: true}, 30, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := client.GetNews(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			rows := make([]row, len(got))
			for i, n := range got {
				rows[i] = sdkRow(n)
			}
			w := want(tt.query, tt.limit, tt.content)
			if len(w) == 0 || !slices.Equal(rows, w) {
				t.Fatalf("SDK got %d articles, the store has %d:\n%+v\n%+v", len(rows), len(w), rows[:min(2, len(rows))], w[:min(2, len(w))])
			}
		})
	}
}
