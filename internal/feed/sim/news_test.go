package sim

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// runNews runs a simulator for d of simulated time and returns its news
// events and the others.
func runNews(t *testing.T, o Options, d time.Duration) (news, others []market.Event) {
	t.Helper()
	span(mustNew(t, o), o.Start.Add(d), func(evs []market.Event, _ int64) {
		for _, e := range evs {
			if e.Kind == market.KindNews {
				news = append(news, e)
			} else {
				others = append(others, e)
			}
		}
	})
	return news, others
}

// TestNewsLeavesMarketAlone: turning news on adds news events and changes
// nothing else, and the news is the same however the events are batched.
func TestNewsLeavesMarketAlone(t *testing.T) {
	const d = time.Hour
	o := Options{Seed: 3, Rate: 2, Start: pastEnd, CryptoSymbols: []string{"BTC/USD"}}
	_, without := runNews(t, o, d)
	o.News = 120
	news, with := runNews(t, o, d)
	if len(news) == 0 {
		t.Fatal("no news")
	}
	if !reflect.DeepEqual(with, without) {
		t.Error("the market's events change with news on")
	}
	o.BatchSize = 3
	again, _ := runNews(t, o, d)
	if !reflect.DeepEqual(again, news) {
		t.Error("the news depends on the batch size")
	}
	o.Seed = 4
	if other, _ := runNews(t, o, d); reflect.DeepEqual(other, news) {
		t.Error("another seed gives the same news")
	}
}

// TestNewsFlow checks a week of news: the rate, the articles' fields, the
// updates (same ID and creation, later update time), and the daily curve.
func TestNewsFlow(t *testing.T) {
	const perHour = 6.0
	days := 7
	// The generator alone: a simulator would spend its time on 10 ms
	// slices of a week. Prices are the profiles'.
	profs, pairs, _, _, err := resolve([]string{"AAPL", "SPY", "KO", "BRK.B"}, []string{"BTC/USD", "USDT/USD"})
	if err != nil {
		t.Fatal(err)
	}
	start := at(2026, time.July, 13, 0, 0).UnixNano()
	g := newNewsGen(9, perHour, start, profs, pairs, func(sym string) float64 { return profileFor(sym).price })
	var news []market.Event
	for tm := g.when(); tm < start+int64(days)*24*int64(time.Hour); tm = g.when() {
		news = g.emit(news, tm)
	}
	valid := map[string]bool{"AAPL": true, "SPY": true, "KO": true, "BRK.B": true, "BTCUSD": true, "USDTUSD": true}
	first := map[int64]*market.News{}
	var lastID, lastTime int64
	updates, contentless, night, day := 0, 0, 0, 0
	for _, e := range news {
		n := e.News
		if e.Symbol != "" || e.Time != n.UpdatedAt || e.Time < lastTime || n.UpdatedAt < n.CreatedAt {
			t.Fatalf("event %+v of article %d: symbol %q, time %d, created %d, updated %d", e, n.ID, e.Symbol, e.Time, n.CreatedAt, n.UpdatedAt)
		}
		lastTime = e.Time
		if n.Headline == "" || n.Summary == "" || n.Author == "" || n.Source != "benzinga" ||
			!strings.HasPrefix(n.URL, "https://news.tape.invalid/benzinga/") || len(n.Symbols) == 0 || !slices.IsSorted(n.Symbols) {
			t.Fatalf("article %+v", n)
		}
		for _, s := range n.Symbols {
			if !valid[s] {
				t.Fatalf("article %d about %q", n.ID, s)
			}
		}
		if n.Content == "" {
			contentless++
		}
		if orig, seen := first[n.ID]; seen {
			updates++
			if n.CreatedAt != orig.CreatedAt || n.UpdatedAt <= orig.UpdatedAt || n.Headline != orig.Headline || n.Summary == orig.Summary {
				t.Errorf("update of %d: created %d -> %d, updated %d -> %d", n.ID, orig.CreatedAt, n.CreatedAt, orig.UpdatedAt, n.UpdatedAt)
			}
			continue
		}
		if n.ID <= lastID || n.CreatedAt != n.UpdatedAt {
			t.Errorf("new article %d after %d, created %d, updated %d", n.ID, lastID, n.CreatedAt, n.UpdatedAt)
		}
		lastID = n.ID
		first[n.ID] = n
		switch h := e.Timestamp().In(newYork).Hour(); {
		case h < 4:
			night++
		case h >= 6 && h < 10:
			day++
		}
	}
	// The mean over a week is perHour; 4 sigma of a Poisson count.
	want := perHour * 24 * float64(days)
	if got := float64(len(first)); math.Abs(got-want) > 4*math.Sqrt(want) {
		t.Errorf("%v new articles in %d days, want about %v", got, days, want)
	}
	if updates == 0 || updates > len(first)/4 {
		t.Errorf("%d updates of %d articles", updates, len(first))
	}
	if contentless == 0 || contentless > len(news)/4 {
		t.Errorf("%d of %d articles without content", contentless, len(news))
	}
	if night*3 > day {
		t.Errorf("%d articles 00:00-04:00, %d 06:00-10:00: no daily curve", night, day)
	}
}

func TestNewsOption(t *testing.T) {
	for _, n := range []float64{-1, math.NaN(), math.Inf(1)} {
		if _, err := New(Options{News: n}); err == nil {
			t.Errorf("News %v accepted", n)
		}
	}
}

func TestSlug(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Apple Q3 EPS $1.52 Beats $1.43 Estimate", "apple-q3-eps-1-52-beats-1-43-estimate"},
		{"S&P 500 -- Slips!", "s-p-500-slips"},
		{strings.Repeat("a", 100), strings.Repeat("a", 80)},
	}
	for _, tt := range tests {
		if got := slug(tt.in); got != tt.want {
			t.Errorf("slug(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
