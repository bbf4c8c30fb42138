package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata"

	"github.com/tapehq/tape/internal/httpapi"
	"github.com/tapehq/tape/internal/market"
)

type newsRow struct {
	ID               int
	Headline, Author string
	Created, Updated int64
	Summary, Content string
	URL, Symbols     string
	Images           int
}

func newsRowOf(n *market.News, content bool) newsRow {
	r := newsRow{ID: int(n.ID), Headline: n.Headline, Author: n.Author, Created: n.CreatedAt, Updated: n.UpdatedAt,
		Summary: n.Summary, URL: n.URL, Symbols: strings.Join(n.Symbols, ",")}
	if r.Updated == 0 {
		r.Updated = n.CreatedAt
	}
	if content {
		r.Content = n.Content
	}
	return r
}

func sdkNewsRow(n marketdata.News) newsRow {
	return newsRow{ID: n.ID, Headline: n.Headline, Author: n.Author, Created: n.CreatedAt.UnixNano(), Updated: n.UpdatedAt.UnixNano(),
		Summary: n.Summary, Content: n.Content, URL: n.URL, Symbols: strings.Join(n.Symbols, ","), Images: len(n.Images)}
}

func TestSDKNews(t *testing.T) {
	store := &fakeNews{articles: newsData()}
	e := newEnv(t, httpapi.Options{News: store})
	// want is the store's answer to the whole query in one page.
	want := func(q httpapi.NewsQuery, limit int, content bool) []newsRow {
		q.Limit = 1 << 30
		res, err := store.News(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		var rows []newsRow
		for _, n := range res.Articles {
			rows = append(rows, newsRowOf(n, content))
		}
		if limit > 0 && len(rows) > limit {
			rows = rows[:limit]
		}
		return rows
	}
	all := httpapi.NewsQuery{Start: -1 << 62, End: testNow.UnixNano(), Desc: true}
	tests := []struct {
		name  string
		req   marketdata.GetNewsRequest
		query httpapi.NewsQuery
		limit int
	}{
		// The SDK asks for 50 by default, newest first, in Alpaca's
		// default pages of 10.
		{"default", marketdata.GetNewsRequest{}, all, 50},
		{"everything in pages of 7", marketdata.GetNewsRequest{NoTotalLimit: true, PageLimit: 7}, all, 0},
		{"total limit", marketdata.GetNewsRequest{TotalLimit: 33, PageLimit: 50, IncludeContent: true}, all, 33},
		{"symbols", marketdata.GetNewsRequest{Symbols: []string{"AAPL", "BTCUSD"}, NoTotalLimit: true, PageLimit: 4},
			httpapi.NewsQuery{Symbols: []string{"AAPL", "BTCUSD"}, Start: all.Start, End: all.End, Desc: true}, 0},
		{"range ascending without contentless", marketdata.GetNewsRequest{Start: dataStart.Add(10 * time.Minute), End: dataStart.Add(70 * time.Minute),
			Sort: marketdata.SortAsc, ExcludeContentless: true, IncludeContent: true, NoTotalLimit: true, PageLimit: 3},
			httpapi.NewsQuery{Start: dataStart.Add(10 * time.Minute).UnixNano(), End: dataStart.Add(70 * time.Minute).UnixNano(), ExcludeContentless: true}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.client.GetNews(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			w := want(tc.query, tc.limit, tc.req.IncludeContent)
			if len(w) == 0 {
				t.Fatal("the case selects no news")
			}
			checkRows(t, "news", mapRows(got, sdkNewsRow), w)
		})
	}
}

// TestNewsShapes pins the JSON of an article. HTML in strings is escaped
// (\u003c), as the shared JSON appenders escape it everywhere; a JSON
// decoder reads the same text Alpaca sends raw.
func TestNewsShapes(t *testing.T) {
	n := &market.News{ID: 24843171, Headline: "Apple Leader in Phone Sales", Summary: "This headline-only article", Author: "Charles Gross",
		CreatedAt: time.Date(2021, 12, 31, 11, 8, 42, 0, time.UTC).UnixNano(), UpdatedAt: time.Date(2021, 12, 31, 11, 8, 43, 0, time.UTC).UnixNano(),
		URL: "https://www.benzinga.com/news/21/12/24843171", Content: "<p>This & that</p>", Symbols: []string{"AAPL"}, Source: "benzinga"}
	e := newEnv(t, httpapi.Options{News: &fakeNews{articles: []*market.News{n, {ID: 1, CreatedAt: n.CreatedAt - 1e9}}}})
	const head = `{"id":24843171,"headline":"Apple Leader in Phone Sales","author":"Charles Gross","created_at":"2021-12-31T11:08:42Z",` +
		`"updated_at":"2021-12-31T11:08:43Z","summary":"This headline-only article","content":`
	const tail = `,"images":[],"symbols":["AAPL"],"source":"benzinga","url":"https://www.benzinga.com/news/21/12/24843171"}`
	const empty = `{"id":1,"headline":"","author":"","created_at":"2021-12-31T11:08:41Z","updated_at":"2021-12-31T11:08:41Z","summary":"",` +
		`"content":"","images":[],"symbols":[],"source":"","url":""}`
	tests := []struct{ target, want string }{
		{"/v1beta1/news?symbols=AAPL", `{"news":[` + head + `""` + tail + `],"next_page_token":null}`},
		{"/v1beta1/news?include_content=true&exclude_contentless=1", `{"news":[` + head + `"\u003cp\u003eThis \u0026 that\u003c/p\u003e"` + tail + `],"next_page_token":null}`},
		{"/v1beta1/news?sort=asc&start=2021-12-31", `{"news":[` + empty + `,` + head + `""` + tail + `],"next_page_token":null}`},
		{"/v1beta1/news?end=2021-12-31T11:08:42Z", `{"news":[` + empty + `],"next_page_token":null}`},
		{"/v1beta1/news?symbols=TSLA", `{"news":[],"next_page_token":null}`},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			r := getJSON(t, e.srv.URL+tc.target, nil)
			if r.status != 200 || string(r.body) != tc.want {
				t.Fatalf("status %d\ngot  %s\nwant %s", r.status, r.body, tc.want)
			}
		})
	}
}

func TestNewsErrors(t *testing.T) {
	store := &fakeNews{articles: newsData()}
	e := newEnv(t, httpapi.Options{News: store})
	tok := jsonField(t, getJSON(t, e.srv.URL+"/v1beta1/news?limit=2", nil).body, "next_page_token")
	if tok == "" {
		t.Fatal("no token")
	}
	tests := []struct {
		name, target string
		status       int
		msg          string
	}{
		{"limit 51", "/v1beta1/news?limit=51", 422, "invalid limit"},
		{"limit 0", "/v1beta1/news?limit=0", 422, "invalid limit"},
		{"bad bool", "/v1beta1/news?include_content=yes", 422, "invalid include_content"},
		{"bad start", "/v1beta1/news?start=today", 422, "invalid start"},
		{"end before start", "/v1beta1/news?start=2024-03-05&end=2024-03-04", 422, "end should not be before start"},
		{"bad sort", "/v1beta1/news?sort=newest", 422, "invalid sort"},
		{"bad symbol", "/v1beta1/news?symbols=A$", 400, "invalid symbol"},
		{"token of other symbols", "/v1beta1/news?limit=2&symbols=AAPL&page_token=" + tok, 422, "invalid page token"},
		{"token with contentless excluded", "/v1beta1/news?limit=2&exclude_contentless=true&page_token=" + tok, 422, "invalid page token"},
		{"stock token", "/v1beta1/news?page_token=" + stockToken(t, e), 422, "invalid page token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := getJSON(t, e.srv.URL+tc.target, nil)
			if ae := checkErrorShape(t, r); r.status != tc.status || !strings.Contains(ae.Message, tc.msg) {
				t.Fatalf("%d %s, want %d %q", r.status, r.body, tc.status, tc.msg)
			}
		})
	}
	// A news token is not a stock token either.
	if r := getJSON(t, e.srv.URL+"/v2/stocks/trades?symbols=AAPL&start=2024-03-04&limit=1&page_token="+tok, nil); r.status != 422 {
		t.Errorf("news token on trades: %d %s", r.status, r.body)
	}
	// Its own token, with a different limit (as the SDK's last page has),
	// continues the walk.
	if r := getJSON(t, e.srv.URL+"/v1beta1/news?limit=5&page_token="+tok, nil); r.status != 200 {
		t.Errorf("own token: %d %s", r.status, r.body)
	}

	store.err = errors.New("disk on fire")
	r := getJSON(t, e.srv.URL+"/v1beta1/news", nil)
	if ae := checkErrorShape(t, r); r.status != 500 || strings.Contains(ae.Message, "fire") {
		t.Errorf("store failure: %d %s", r.status, r.body)
	}
	none := newEnv(t, httpapi.Options{})
	if r := getJSON(t, none.srv.URL+"/v1beta1/news", nil); r.status != 404 || !strings.Contains(string(r.body), "serves no news") {
		t.Errorf("without a news store: %d %s", r.status, r.body)
	}
}

// TestNewsDefaultRangeIsStable checks that a walk whose end defaulted to
// "now" keeps its first page's end while the feed's clock moves on.
func TestNewsDefaultRangeIsStable(t *testing.T) {
	store := &fakeNews{articles: newsData()}
	now := dataStart.Add(30 * time.Minute)
	e := newEnv(t, httpapi.Options{News: store, Now: func() time.Time { return now }})
	var ids []int64
	target := "/v1beta1/news?limit=4&sort=asc"
	for page := 0; ; page++ {
		r := getJSON(t, e.srv.URL+target, nil)
		var body struct {
			News []struct{ ID int64 }
			Next *string `json:"next_page_token"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		for _, n := range body.News {
			ids = append(ids, n.ID)
		}
		now = now.Add(time.Hour) // news published meanwhile must not join this walk
		if body.Next == nil {
			break
		}
		target = "/v1beta1/news?limit=4&sort=asc&page_token=" + *body.Next
	}
	res, _ := store.News(context.Background(), httpapi.NewsQuery{Start: -1 << 62, End: dataStart.Add(30 * time.Minute).UnixNano(), Limit: 1000})
	var want []int64
	for _, n := range res.Articles {
		want = append(want, n.ID)
	}
	if len(want) < 10 || !slices.Equal(ids, want) {
		t.Fatalf("walk read %v, want %v", ids, want)
	}
}
