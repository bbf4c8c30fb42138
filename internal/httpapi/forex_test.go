package httpapi_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/httpapi"
)

// These tests speak plain HTTP: the Go SDK has no forex calls (the JS SDK
// has), so they decode the documented shapes themselves, strictly.

// forexRate is Alpaca's forex_rate: every field required, no others.
type forexRate struct {
	BP *float64   `json:"bp"`
	MP *float64   `json:"mp"`
	AP *float64   `json:"ap"`
	T  *time.Time `json:"t"`
}

type forexLatest struct {
	Rates map[string]forexRate `json:"rates"`
}

type forexPage struct {
	Rates         map[string][]forexRate `json:"rates"`
	NextPageToken *string                `json:"next_page_token"`
}

// decodeForexStrict decodes body into v, refusing unknown fields and checking
// that every rate has all four fields.
func decodeForexStrict(t *testing.T, body []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%v: %.300s", err, body)
	}
	check := func(pair string, r forexRate) {
		if r.BP == nil || r.MP == nil || r.AP == nil || r.T == nil {
			t.Fatalf("%s: rate without a field: %.300s", pair, body)
		}
	}
	switch v := v.(type) {
	case *forexLatest:
		for p, r := range v.Rates {
			check(p, r)
		}
	case *forexPage:
		for p, rs := range v.Rates {
			for _, r := range rs {
				check(p, r)
			}
		}
	}
	// Both fields are required at the top level too.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		t.Fatal(err)
	}
	if _, ok := top["rates"]; !ok {
		t.Fatalf("no rates: %.300s", body)
	}
	if _, ok := v.(*forexPage); ok {
		if _, ok := top["next_page_token"]; !ok {
			t.Fatalf("no next_page_token: %.300s", body)
		}
	}
}

func getForexLatest(t *testing.T, e *env, pairs string) (forexLatest, []byte) {
	t.Helper()
	r := getJSON(t, e.srv.URL+"/v1beta1/forex/latest/rates?currency_pairs="+pairs, nil)
	if r.status != 200 {
		t.Fatalf("latest %s: %d %s", pairs, r.status, r.body)
	}
	var l forexLatest
	decodeForexStrict(t, r.body, &l)
	return l, r.body
}

func getForexPage(t *testing.T, e *env, query string) (forexPage, []byte) {
	t.Helper()
	r := getJSON(t, e.srv.URL+"/v1beta1/forex/rates?"+query, nil)
	if r.status != 200 {
		t.Fatalf("rates %s: %d %s", query, r.status, r.body)
	}
	var p forexPage
	decodeForexStrict(t, r.body, &p)
	return p, r.body
}

// checkForexRate checks a rate's internal order and plausibility against a
// level it should be near (within 25 %).
func checkForexRate(t *testing.T, pair string, r forexRate, level float64) {
	t.Helper()
	bp, mp, ap := *r.BP, *r.MP, *r.AP
	if !(bp < ap && bp <= mp && mp <= ap) {
		t.Errorf("%s at %v: bid %v, mid %v, ask %v", pair, r.T, bp, mp, ap)
	}
	if mp < level*0.75 || mp > level*1.25 {
		t.Errorf("%s at %v: %v is far from %v", pair, r.T, mp, level)
	}
	if spread := (ap - bp) / mp; spread > 0.003 {
		t.Errorf("%s at %v: spread of %.4f %%", pair, r.T, spread*100)
	}
	if r.T.Location() != time.UTC {
		t.Errorf("%s: time %v not in UTC", pair, r.T)
	}
}

var forexLevels = map[string]float64{"USDJPY": 150, "EURUSD": 1.085, "GBPUSD": 1.27, "USDMXN": 17, "EURJPY": 163, "USDCHF": 0.88}

func TestForexLatest(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	l, body := getForexLatest(t, e, "USDJPY,eurusd,GBPUSD,USDJPY,USDMXN,EURJPY,USDCHF")
	if got := slices.Sorted(maps.Keys(l.Rates)); !slices.Equal(got, []string{"EURJPY", "EURUSD", "GBPUSD", "USDCHF", "USDJPY", "USDMXN"}) {
		t.Fatalf("pairs %v", got)
	}
	for pair, r := range l.Rates {
		checkForexRate(t, pair, r, forexLevels[pair])
		if !r.T.Equal(testNow) { // testNow is on a whole minute, a Tuesday
			t.Errorf("%s at %v, want now, %v", pair, r.T, testNow)
		}
	}
	// Sorted by pair, as every multi-symbol answer.
	if i, j := bytes.Index(body, []byte(`"EURJPY"`)), bytes.Index(body, []byte(`"USDMXN"`)); i < 0 || j < i {
		t.Errorf("not sorted by pair: %s", body)
	}
	// A cross is its legs' product, within the spreads.
	eurjpy, eurusd, usdjpy := *l.Rates["EURJPY"].MP, *l.Rates["EURUSD"].MP, *l.Rates["USDJPY"].MP
	if d := eurjpy/(eurusd*usdjpy) - 1; d > 3e-4 || d < -3e-4 {
		t.Errorf("EURJPY %v, EURUSD×USDJPY %v", eurjpy, eurusd*usdjpy)
	}
}

func TestForexRatesShape(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	p, _ := getForexPage(t, e, "currency_pairs=USDJPY,EURUSD&timeframe=1Min&start=2024-03-12T13:00:00Z&end=2024-03-12T14:00:00Z")
	if p.NextPageToken != nil {
		t.Errorf("next_page_token %q, want null", *p.NextPageToken)
	}
	for _, pair := range []string{"USDJPY", "EURUSD"} {
		rs := p.Rates[pair]
		if len(rs) != 61 { // both ends included
			t.Fatalf("%s: %d rates, want 61", pair, len(rs))
		}
		for i, r := range rs {
			checkForexRate(t, pair, r, forexLevels[pair])
			if want := time.Date(2024, 3, 12, 13, i, 0, 0, time.UTC); !r.T.Equal(want) {
				t.Fatalf("%s rate %d at %v, want %v", pair, i, r.T, want)
			}
		}
		// A walk, not a constant.
		moves := 0
		for i := 1; i < len(rs); i++ {
			if *rs[i].MP != *rs[i-1].MP {
				moves++
			}
		}
		if moves < 30 {
			t.Errorf("%s: the mid moved in %d of 60 minutes", pair, moves)
		}
	}
	// A pair without rates in the range is left out; the map stays a map.
	r := getJSON(t, e.srv.URL+"/v1beta1/forex/rates?currency_pairs=USDJPY&start=2024-03-09&end=2024-03-10", nil)
	if string(r.body) != `{"rates":{},"next_page_token":null}` {
		t.Errorf("a weekend: %s", r.body)
	}
}

// TestForexDeterministic: the same query gives the same bytes, from the
// same handler and from a new one.
func TestForexDeterministic(t *testing.T) {
	e1, e2 := newEnv(t, httpapi.Options{}), newEnv(t, httpapi.Options{})
	for _, target := range []string{
		"/v1beta1/forex/latest/rates?currency_pairs=USDJPY,EURUSD,AUDNZD",
		"/v1beta1/forex/rates?currency_pairs=USDJPY,EURUSD&timeframe=5Sec&start=2024-03-12T14:00:00Z&limit=500",
		"/v1beta1/forex/rates?currency_pairs=GBPUSD&timeframe=1Day&start=2023-01-01&end=2024-01-01&sort=desc",
	} {
		a, b, c := getJSON(t, e1.srv.URL+target, nil), getJSON(t, e1.srv.URL+target, nil), getJSON(t, e2.srv.URL+target, nil)
		if a.status != 200 || !bytes.Equal(a.body, b.body) || !bytes.Equal(a.body, c.body) {
			t.Errorf("%s: %d, answers differ:\n%.200s\n%.200s\n%.200s", target, a.status, a.body, b.body, c.body)
		}
	}
}

// TestForexLatestIsHistory: the latest rate is the last point of the
// history up to now, at the finest timeframe, and at a minute's when now
// is on one.
func TestForexLatestIsHistory(t *testing.T) {
	for _, tc := range []struct {
		name      string
		now       time.Time
		timeframe string
		wantT     time.Time
	}{
		{"mid-tick", testNow.Add(37*time.Second + 123), "5Sec", testNow.Add(35 * time.Second)},
		{"on a minute", testNow, "1Min", testNow},
		{"on a tick", testNow.Add(5 * time.Second), "5S", testNow.Add(5 * time.Second)},
		// Saturday noon in New York: the last rate before Friday's 17:00
		// close (EST: 22:00Z).
		{"weekend", time.Date(2024, 3, 9, 17, 0, 0, 0, time.UTC), "5Sec", time.Date(2024, 3, 8, 21, 59, 55, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, httpapi.Options{Now: func() time.Time { return tc.now }})
			l, _ := getForexLatest(t, e, "USDJPY,EURUSD")
			start := tc.wantT.Add(-30 * time.Minute).Format(time.RFC3339)
			p, _ := getForexPage(t, e, "currency_pairs=USDJPY,EURUSD&limit=10000&sort=desc&timeframe="+tc.timeframe+"&start="+start)
			for _, pair := range []string{"USDJPY", "EURUSD"} {
				latest := l.Rates[pair]
				if !latest.T.Equal(tc.wantT) {
					t.Errorf("%s latest at %v, want %v", pair, latest.T, tc.wantT)
				}
				hist := p.Rates[pair]
				if len(hist) == 0 {
					t.Fatalf("%s: no history", pair)
				}
				if h := hist[0]; !h.T.Equal(*latest.T) || *h.BP != *latest.BP || *h.MP != *latest.MP || *h.AP != *latest.AP {
					t.Errorf("%s: history ends %v %v/%v/%v, latest %v %v/%v/%v", pair, h.T, *h.BP, *h.MP, *h.AP,
						latest.T, *latest.BP, *latest.MP, *latest.AP)
				}
			}
		})
	}
	// No rate from after now, even when end asks for one.
	e := newEnv(t, httpapi.Options{})
	p, _ := getForexPage(t, e, "currency_pairs=EURUSD&timeframe=1Min&start=2024-03-12T14:55:00Z&end=2024-03-13T00:00:00Z")
	if rs := p.Rates["EURUSD"]; len(rs) != 6 || !rs[5].T.Equal(testNow) {
		t.Errorf("rates past now: %d, ending %v", len(rs), rs[len(rs)-1].T)
	}
}

// TestForexWeekend: no rates from Friday 17:00 to Sunday 17:00 New York
// time, across the change to daylight saving time (March 10, 2024, so
// the week closes at 22:00Z and reopens at 21:00Z).
func TestForexWeekend(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	close, reopen := time.Date(2024, 3, 8, 22, 0, 0, 0, time.UTC), time.Date(2024, 3, 10, 21, 0, 0, 0, time.UTC)
	const wide, narrow = "&start=2024-03-07T23:00:00Z&end=2024-03-11T01:00:00Z", "&start=2024-03-08T20:00:00Z&end=2024-03-10T23:00:00Z"
	for _, tc := range []struct {
		timeframe, rng         string
		lastBefore, firstAfter time.Time
	}{
		{"1Min", wide, close.Add(-time.Minute), reopen},
		{"5Sec", narrow, close.Add(-5 * time.Second), reopen},
		{"1Hour", wide, close.Add(-time.Hour), reopen},
		// Multiples of 7 minutes since the epoch: 21:58 and 21:06.
		{"7Min", wide, close.Add(-2 * time.Minute), reopen.Add(6 * time.Minute)},
		{"1Day", wide, time.Date(2024, 3, 8, 0, 0, 0, 0, time.UTC), time.Date(2024, 3, 11, 0, 0, 0, 0, time.UTC)},
	} {
		for _, sort := range []string{"asc", "desc"} {
			p, _ := getForexPage(t, e, "currency_pairs=USDCAD&limit=10000&timeframe="+tc.timeframe+"&sort="+sort+tc.rng)
			rs := p.Rates["USDCAD"]
			if sort == "desc" {
				slices.Reverse(rs)
			}
			var before, after []forexRate
			for i, r := range rs {
				if i > 0 && !r.T.After(*rs[i-1].T) {
					t.Fatalf("%s %s: rate %d at %v after %v", tc.timeframe, sort, i, r.T, rs[i-1].T)
				}
				switch {
				case r.T.Before(close):
					before = append(before, r)
				case r.T.Before(reopen):
					t.Fatalf("%s %s: a rate in the weekend, at %v", tc.timeframe, sort, r.T)
				default:
					after = append(after, r)
				}
			}
			if len(before) == 0 || len(after) == 0 || !before[len(before)-1].T.Equal(tc.lastBefore) || !after[0].T.Equal(tc.firstAfter) {
				t.Errorf("%s %s: %d rates before the weekend, %d after; want the last at %v and the first at %v", tc.timeframe, sort,
					len(before), len(after), tc.lastBefore, tc.firstAfter)
				continue
			}
		}
	}
}

// walkForex pages through a query and returns every rate as "PAIR time"
// with its values, and the number of pages.
func walkForex(t *testing.T, e *env, query string, limit int) ([]string, int) {
	t.Helper()
	var got []string
	token := ""
	for pages := 1; ; pages++ {
		q := query + "&limit=" + strconv.Itoa(limit)
		if token != "" {
			q += "&page_token=" + url.QueryEscape(token)
		}
		p, _ := getForexPage(t, e, q)
		n := 0
		for _, pair := range slices.Sorted(maps.Keys(p.Rates)) {
			for _, r := range p.Rates[pair] {
				got = append(got, pair+" "+r.T.Format(time.RFC3339Nano)+" "+strconv.FormatFloat(*r.BP, 'g', -1, 64)+"/"+strconv.FormatFloat(*r.MP, 'g', -1, 64)+"/"+strconv.FormatFloat(*r.AP, 'g', -1, 64))
				n++
			}
		}
		if n > limit {
			t.Fatalf("page %d: %d rates for limit %d", pages, n, limit)
		}
		if p.NextPageToken == nil {
			return got, pages
		}
		if n != limit {
			t.Fatalf("page %d: a short page (%d of %d) with a next page", pages, n, limit)
		}
		if pages > 10_000 {
			t.Fatal("paging does not end")
		}
		token = *p.NextPageToken
	}
}

// TestForexPaging walks queries page by page, over a weekend, and checks
// that the pages together hold every rate of the query exactly once, in
// the order of one page of 10,000.
func TestForexPaging(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	const pairs = "currency_pairs=USDJPY,EURUSD,GBPJPY&timeframe=1Min&start=2024-03-08T20:00:00Z&end=2024-03-10T23:00:00Z"
	for _, sort := range []string{"asc", "desc"} {
		query := pairs + "&sort=" + sort
		want, pages := walkForex(t, e, query, 10_000)
		// Per pair, Friday 20:00–21:59 and Sunday 21:00–23:00.
		if pages != 1 || len(want) != 3*(120+121) {
			t.Fatalf("%s: %d rates in %d pages, want %d in one", sort, len(want), pages, 3*(120+121))
		}
		if seen := slices.Compact(slices.Sorted(slices.Values(want))); len(seen) != len(want) {
			t.Fatalf("%s: duplicate rates", sort)
		}
		for _, limit := range []int{1, 7, 120, 121, 241, 500, 722, 723} {
			got, pages := walkForex(t, e, query, limit)
			if !slices.Equal(got, want) {
				t.Fatalf("%s, limit %d: %d rates in %d pages differ from the single page's %d", sort, limit, len(got), pages, len(want))
			}
			if wantPages := (len(want) + limit - 1) / limit; pages != wantPages {
				t.Errorf("%s, limit %d: %d pages, want %d", sort, limit, pages, wantPages)
			}
		}
	}

	// A token binds to its query.
	first, _ := getForexPage(t, e, pairs+"&limit=5")
	tok := url.QueryEscape(*first.NextPageToken)
	for name, query := range map[string]string{
		"other pairs":     strings.Replace(pairs, "GBPJPY", "GBPUSD", 1),
		"other timeframe": strings.Replace(pairs, "1Min", "5Min", 1),
		"other sort":      pairs + "&sort=desc",
		"other end":       strings.Replace(pairs, "23:00:00Z", "22:00:00Z", 1),
	} {
		r := getJSON(t, e.srv.URL+"/v1beta1/forex/rates?"+query+"&page_token="+tok, nil)
		if ae := checkErrorShape(t, r); r.status != 422 || ae.Message != "invalid page token" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	// The same timeframe spelled otherwise is the same query.
	if r := getJSON(t, e.srv.URL+"/v1beta1/forex/rates?"+strings.Replace(pairs, "1Min", "1T", 1)+"&page_token="+tok, nil); r.status != 200 {
		t.Errorf("1T for 1Min: %d %s", r.status, r.body)
	}
	// Stock and forex tokens do not mix.
	stock := stockToken(t, e)
	if r := getJSON(t, e.srv.URL+"/v1beta1/forex/rates?"+pairs+"&page_token="+stock, nil); r.status != 422 {
		t.Errorf("stock token: %d %s", r.status, r.body)
	}
	if r := getJSON(t, e.srv.URL+"/v2/stocks/trades?symbols=AAPL&start=2024-03-04&limit=1&page_token="+tok, nil); r.status != 422 {
		t.Errorf("forex token on stocks: %d %s", r.status, r.body)
	}
}

// TestForexPagingMovingClock: a walk whose end defaulted to now keeps its
// first page's end while the feed's clock moves on.
func TestForexPagingMovingClock(t *testing.T) {
	var offset atomic.Int64
	e := newEnv(t, httpapi.Options{Now: func() time.Time { return testNow.Add(time.Duration(offset.Load())) }})
	const query = "/v1beta1/forex/rates?currency_pairs=EURUSD,USDJPY&timeframe=1Min&limit=100"
	var got []time.Time
	next := ""
	for page := 0; ; page++ {
		target := query
		if next != "" {
			target += "&page_token=" + url.QueryEscape(next)
		}
		p, _ := getForexPage(t, e, target[len("/v1beta1/forex/rates?"):])
		for _, pair := range slices.Sorted(maps.Keys(p.Rates)) {
			for _, r := range p.Rates[pair] {
				got = append(got, *r.T)
			}
		}
		offset.Store(int64(time.Hour)) // the clock jumps after the first page
		if p.NextPageToken == nil {
			break
		}
		next = *p.NextPageToken
	}
	// Today began at 04:00Z (midnight in New York); the first page's now
	// was 15:00Z: 661 minutes per pair.
	if len(got) != 2*661 || !got[len(got)-1].Equal(testNow) {
		t.Errorf("%d rates ending %v, want %d ending %v", len(got), got[len(got)-1], 2*661, testNow)
	}
}

// TestForexParams drives accepted parameter forms, table-driven: each
// gives 200 and rates at the expected instants.
func TestForexParams(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	tests := []struct {
		name, query string
		pairs       []string
		n           int           // rates per pair
		step        time.Duration // between consecutive rates, signed
		first       time.Time
	}{
		{"default timeframe is 1Min", "currency_pairs=EURUSD&start=2024-03-12T14:00:00Z", []string{"EURUSD"}, 61, time.Minute, time.Date(2024, 3, 12, 14, 0, 0, 0, time.UTC)},
		{"5Min", "currency_pairs=EURUSD&timeframe=5Min&start=2024-03-12T14:00:00Z", []string{"EURUSD"}, 13, 5 * time.Minute, time.Date(2024, 3, 12, 14, 0, 0, 0, time.UTC)},
		{"1T", "currency_pairs=EURUSD&timeframe=1T&start=2024-03-12T14:30:00Z", []string{"EURUSD"}, 31, time.Minute, time.Date(2024, 3, 12, 14, 30, 0, 0, time.UTC)},
		{"5Sec", "currency_pairs=EURUSD&timeframe=5Sec&start=2024-03-12T14:59:00Z", []string{"EURUSD"}, 13, 5 * time.Second, time.Date(2024, 3, 12, 14, 59, 0, 0, time.UTC)},
		{"5S, start off the grid", "currency_pairs=EURUSD&timeframe=5S&start=2024-03-12T14:59:01Z", []string{"EURUSD"}, 12, 5 * time.Second, time.Date(2024, 3, 12, 14, 59, 5, 0, time.UTC)},
		{"1Hour", "currency_pairs=EURUSD&timeframe=1Hour&start=2024-03-11", []string{"EURUSD"}, 36, time.Hour, time.Date(2024, 3, 11, 4, 0, 0, 0, time.UTC)},
		{"1H desc", "currency_pairs=EURUSD&timeframe=1H&start=2024-03-12&sort=desc", []string{"EURUSD"}, 12, -time.Hour, testNow},
		{"1Day", "currency_pairs=EURUSD&timeframe=1Day&start=2024-03-04T00:00:00Z&end=2024-03-08T12:00:00Z", []string{"EURUSD"}, 5, 24 * time.Hour, time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)},
		// A date is midnight in New York (05:00Z), after Monday's 00:00Z.
		{"1D from a date", "currency_pairs=EURUSD&timeframe=1D&start=2024-03-04&end=2024-03-08T12:00:00Z", []string{"EURUSD"}, 4, 24 * time.Hour, time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)},
		{"default range is today", "currency_pairs=USDJPY&timeframe=1Hour", []string{"USDJPY"}, 12, time.Hour, time.Date(2024, 3, 12, 4, 0, 0, 0, time.UTC)},
		{"lower case, spaces, duplicates, empty entries", "currency_pairs=usdjpy,%20EurUsd,,USDJPY,&timeframe=1Hour", []string{"EURUSD", "USDJPY"}, 12, time.Hour, time.Date(2024, 3, 12, 4, 0, 0, 0, time.UTC)},
		{"crosses and inverses", "currency_pairs=JPYUSD,EURGBP,ZARMXN&timeframe=1Hour", []string{"EURGBP", "JPYUSD", "ZARMXN"}, 12, time.Hour, time.Date(2024, 3, 12, 4, 0, 0, 0, time.UTC)},
		{"limit across pairs", "currency_pairs=USDJPY,EURUSD&timeframe=1Hour&limit=12", []string{"EURUSD"}, 12, time.Hour, time.Date(2024, 3, 12, 4, 0, 0, 0, time.UTC)},
		{"stock parameters are ignored", "currency_pairs=EURUSD&timeframe=1Hour&feed=xyz&symbols=AAPL&currency=EUR", []string{"EURUSD"}, 12, time.Hour, time.Date(2024, 3, 12, 4, 0, 0, 0, time.UTC)},
		{"offset times", "currency_pairs=EURUSD&timeframe=1Hour&start=2024-03-12T05:30:00%2B01:00&end=2024-03-12T10:00:00-04:00", []string{"EURUSD"}, 10, time.Hour, time.Date(2024, 3, 12, 5, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := getForexPage(t, e, tc.query)
			if got := slices.Sorted(maps.Keys(p.Rates)); !slices.Equal(got, tc.pairs) {
				t.Fatalf("pairs %v, want %v", got, tc.pairs)
			}
			for _, pair := range tc.pairs {
				rs := p.Rates[pair]
				if len(rs) != tc.n {
					t.Fatalf("%s: %d rates, want %d", pair, len(rs), tc.n)
				}
				for i, r := range rs {
					if want := tc.first.Add(time.Duration(i) * tc.step); !r.T.Equal(want) {
						t.Fatalf("%s: rate %d at %v, want %v", pair, i, r.T, want)
					}
				}
			}
		})
	}
}

func TestForexErrors(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	tooMany := strings.Repeat("EURUSD,USDJPY,", 1100) // the same two, but too many to read
	tests := []refusal{
		{"latest, no pairs", "/v1beta1/forex/latest/rates", 400, "missing currency_pairs"},
		{"no pairs", "/v1beta1/forex/rates?timeframe=1Min", 400, "missing currency_pairs"},
		{"only commas", "/v1beta1/forex/rates?currency_pairs=,,", 400, "missing currency_pairs"},
		{"slash", "/v1beta1/forex/latest/rates?currency_pairs=USD/JPY", 400, `invalid currency pair: "USD/JPY"`},
		{"five letters", "/v1beta1/forex/rates?currency_pairs=USDJP", 400, "invalid currency pair"},
		{"digits", "/v1beta1/forex/rates?currency_pairs=USD1PY", 400, "invalid currency pair"},
		{"one bad of two", "/v1beta1/forex/latest/rates?currency_pairs=EURUSD,USDJPYX", 400, `invalid currency pair: "USDJPYX"`},
		{"unknown currency", "/v1beta1/forex/latest/rates?currency_pairs=USDXYZ", 400, "unsupported currency pair: USDXYZ (Tape simulates pairs of AUD, CAD"},
		{"gold", "/v1beta1/forex/rates?currency_pairs=XAUUSD", 400, "unsupported currency pair: XAUUSD"},
		{"same currency twice", "/v1beta1/forex/rates?currency_pairs=USDUSD", 400, "unsupported currency pair"},
		{"too many pairs", "/v1beta1/forex/rates?currency_pairs=" + tooMany, 400, "too many"},
		{"week", "/v1beta1/forex/rates?currency_pairs=EURUSD&timeframe=1Week", 422, "invalid timeframe"},
		{"month", "/v1beta1/forex/rates?currency_pairs=EURUSD&timeframe=1M", 422, "invalid timeframe"},
		{"7 seconds", "/v1beta1/forex/rates?currency_pairs=EURUSD&timeframe=7Sec", 422, "invalid timeframe"},
		{"nonsense timeframe", "/v1beta1/forex/rates?currency_pairs=EURUSD&timeframe=fast", 422, "invalid timeframe"},
		{"limit 0", "/v1beta1/forex/rates?currency_pairs=EURUSD&limit=0", 422, "invalid limit"},
		{"limit 10001", "/v1beta1/forex/rates?currency_pairs=EURUSD&limit=10001", 422, "invalid limit"},
		{"limit x", "/v1beta1/forex/rates?currency_pairs=EURUSD&limit=x", 422, "invalid limit"},
		{"sort", "/v1beta1/forex/rates?currency_pairs=EURUSD&sort=up", 422, "invalid sort"},
		{"start", "/v1beta1/forex/rates?currency_pairs=EURUSD&start=yesterday", 422, "invalid start"},
		{"end", "/v1beta1/forex/rates?currency_pairs=EURUSD&end=2024-13-01", 422, "invalid end"},
		{"end before start", "/v1beta1/forex/rates?currency_pairs=EURUSD&start=2024-03-05&end=2024-03-04", 422, "end should not be before start"},
		{"garbage token", "/v1beta1/forex/rates?currency_pairs=EURUSD&page_token=abc", 422, "invalid page token"},
		{"malformed query", "/v1beta1/forex/rates?currency_pairs=EURUSD&page_token=%zz", 400, "malformed query"},
		{"history of latest", "/v1beta1/forex/latest/bars?currency_pairs=EURUSD", 404, "not found"},
	}
	checkRefusals(t, e.srv.URL, tests)
}

// BenchmarkForexRates serves a full page: 10,000 one-minute rates of two
// pairs, computed, encoded and gzip-compressed.
func BenchmarkForexRates(b *testing.B) {
	h := httpapi.New(httpapi.Options{Store: &fakeStore{data: sharedData()}, Now: func() time.Time { return testNow }})
	req := httptest.NewRequest(http.MethodGet, "/v1beta1/forex/rates?currency_pairs=EURUSD,USDJPY&timeframe=1Min&start=2024-03-04&limit=10000", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}
