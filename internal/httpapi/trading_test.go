package httpapi_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/alpaca"

	"github.com/tapehq/tape/internal/alpacameta"
	"github.com/tapehq/tape/internal/auth"
	"github.com/tapehq/tape/internal/calendar"
	"github.com/tapehq/tape/internal/httpapi"
)

// tradingClient returns the official SDK's trading client for the server,
// as a program that points APCA_API_BASE_URL at Tape uses it.
func (e *env) tradingClient(key, secret string) *alpaca.Client {
	return alpaca.NewClient(alpaca.ClientOpts{BaseURL: e.srv.URL, APIKey: key, APISecret: secret, RetryLimit: 1, RetryDelay: time.Millisecond})
}

func TestSDKClock(t *testing.T) {
	ny := calendar.NewYork()
	tests := []struct {
		name           string
		now            time.Time
		open           bool
		nextOpen, next time.Time
	}{
		{"Tuesday 11:00, open", testNow, true, time.Date(2024, 3, 13, 9, 30, 0, 0, ny), time.Date(2024, 3, 12, 16, 0, 0, 0, ny)},
		{"Friday after the close", time.Date(2024, 3, 15, 17, 0, 0, 5, ny), false, time.Date(2024, 3, 18, 9, 30, 0, 0, ny), time.Date(2024, 3, 18, 16, 0, 0, 0, ny)},
		{"Good Friday", time.Date(2024, 3, 29, 12, 0, 0, 0, ny), false, time.Date(2024, 4, 1, 9, 30, 0, 0, ny), time.Date(2024, 4, 1, 16, 0, 0, 0, ny)},
		{"a simulator in 2031", time.Date(2031, 7, 3, 12, 0, 0, 0, ny), true, time.Date(2031, 7, 7, 9, 30, 0, 0, ny), time.Date(2031, 7, 3, 13, 0, 0, 0, ny)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, httpapi.Options{Now: func() time.Time { return tc.now }})
			c, err := e.tradingClient("k", "s").GetClock()
			if err != nil {
				t.Fatal(err)
			}
			if !c.Timestamp.Equal(tc.now) || c.IsOpen != tc.open || !c.NextOpen.Equal(tc.nextOpen) || !c.NextClose.Equal(tc.next) {
				t.Fatalf("got %+v", c)
			}
			if _, off := c.Timestamp.Zone(); off != -4*3600 && off != -5*3600 {
				t.Errorf("timestamp not in New York time: %v", c.Timestamp)
			}
		})
	}
}

func TestSDKCalendar(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	c := e.tradingClient("k", "s")
	days, err := c.GetCalendar(alpaca.GetCalendarRequest{Start: time.Date(2024, 11, 25, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 12, 3, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	want := []alpaca.CalendarDay{
		{Date: "2024-11-25", Open: "09:30", Close: "16:00"}, {Date: "2024-11-26", Open: "09:30", Close: "16:00"},
		{Date: "2024-11-27", Open: "09:30", Close: "16:00"}, {Date: "2024-11-29", Open: "09:30", Close: "13:00"}, // Thanksgiving, then an early close
		{Date: "2024-12-02", Open: "09:30", Close: "16:00"}, {Date: "2024-12-03", Open: "09:30", Close: "16:00"},
	}
	if !slices.Equal(days, want) {
		t.Fatalf("got %+v", days)
	}
	all, err := c.GetCalendar(alpaca.GetCalendarRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 27_000 || all[0].Date != "1990-01-02" || all[len(all)-1].Date != "2100-12-31" {
		t.Fatalf("full calendar: %d days from %v to %v", len(all), all[0], all[len(all)-1])
	}
}

// TestCalendarQuery checks the parameters the SDK does not send.
func TestCalendarQuery(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	var days []calendar.CalendarDay
	get := func(q string) int {
		r := getJSON(t, e.srv.URL+"/v2/calendar"+q, nil)
		days = nil
		if r.status == 200 {
			if err := json.Unmarshal(r.body, &days); err != nil {
				t.Fatal(err)
			}
		}
		return r.status
	}
	// Settling 05-24..05-29: the 22nd (T+2), the 23rd and the 24th (T+2
	// over the Memorial Day weekend) and the 28th (T+1 from then).
	if s := get("?start=2024-05-24&end=2024-05-29&date_type=settlement"); s != 200 || len(days) != 4 || days[0].Date != "2024-05-22" || days[3].Date != "2024-05-28" {
		t.Fatalf("settlement: %d %+v", s, days)
	}
	if s := get("?start=2024-07-03T09:00:00-04:00&end=2024-07-03"); s != 200 || len(days) != 1 || days[0].Close != "13:00" || days[0].SessionClose != "1700" {
		t.Fatalf("timestamp start: %d %+v", s, days)
	}
	if s := get("?start=2024-07-05&end=2024-07-04"); s != 200 || days == nil || len(days) != 0 {
		t.Fatalf("reversed range: %d %+v", s, days)
	}
	if s := get("?start=1900-01-01&end=1990-01-03"); s != 200 || len(days) != 2 {
		t.Fatalf("clamped start: %d %d days", s, len(days))
	}
	for _, q := range []string{"?start=yesterday", "?end=2024-13-01", "?date_type=CALENDAR"} {
		if s := get(q); s != 422 {
			t.Errorf("%s: status %d", q, s)
		}
	}
}

func TestSDKAssets(t *testing.T) {
	stocks := []string{"AAPL", "SPY", "ZVZZT", "BRK.B"}
	e := newCryptoEnv(t, httpapi.Options{StockSymbols: func() []string { return stocks }})
	c := e.tradingClient("k", "s")

	got, err := c.GetAssets(alpaca.GetAssetsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// Default class us_equity, sorted by exchange, then symbol.
	if syms := assetSymbols(got); !slices.Equal(syms, []string{"SPY", "AAPL", "ZVZZT", "BRK.B"}) {
		t.Fatalf("assets %v", syms)
	}
	crypto, err := c.GetAssets(alpaca.GetAssetsRequest{AssetClass: "crypto", Status: "active"})
	if err != nil {
		t.Fatal(err)
	}
	// Crypto defaults to the pairs the crypto store has data for.
	if syms := assetSymbols(crypto); !slices.Equal(syms, []string{"BTC/USD", "DOGE/USD", "ETH/USD"}) {
		t.Fatalf("crypto assets %v", syms)
	}
	for _, tc := range []struct {
		req  alpaca.GetAssetsRequest
		want []string
	}{
		{alpaca.GetAssetsRequest{Status: "inactive"}, nil},
		{alpaca.GetAssetsRequest{Exchange: "NASDAQ"}, []string{"AAPL", "ZVZZT"}},
		{alpaca.GetAssetsRequest{AssetClass: "us_option"}, nil},
	} {
		got, err := c.GetAssets(tc.req)
		if err != nil {
			t.Fatal(err)
		}
		if syms := assetSymbols(got); !slices.Equal(syms, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.req, syms, tc.want)
		}
	}

	aapl, err := c.GetAsset("AAPL")
	if err != nil {
		t.Fatal(err)
	}
	if aapl.ID != alpacameta.AssetID(alpacameta.ClassUSEquity, "AAPL") || aapl.Exchange != "NASDAQ" || aapl.Class != alpaca.USEquity || !aapl.Tradable {
		t.Fatalf("AAPL: %+v", aapl)
	}
	for _, key := range []string{aapl.ID, "aapl"} {
		if a, err := c.GetAsset(key); err != nil || a.Symbol != "AAPL" {
			t.Errorf("GetAsset(%q) = %+v, %v", key, a, err)
		}
	}
	// The SDK puts BTC/USD in the path as is: two segments.
	for _, key := range []string{"BTC/USD", "BTC%2FUSD", "BTCUSD"} {
		if a, err := c.GetAsset(key); err != nil || a.Symbol != "BTC/USD" || a.Class != alpaca.Crypto {
			t.Errorf("GetAsset(%q) = %+v, %v", key, a, err)
		}
	}
	_, err = c.GetAsset("NOPE")
	var apiErr *alpaca.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != 40410000 {
		t.Fatalf("unknown asset: %v", err)
	}
}

func assetSymbols(as []alpaca.Asset) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Symbol)
	}
	return out
}

// TestAssetsQuery checks the filters the Go SDK does not send.
func TestAssetsQuery(t *testing.T) {
	e := newCryptoEnv(t, httpapi.Options{StockSymbols: func() []string { return []string{"AAPL", "ZVZZT"} }})
	var got []alpacameta.Asset
	r := getJSON(t, e.srv.URL+"/v2/assets?attributes=has_options,ptp_no_exception", nil)
	if err := json.Unmarshal(r.body, &got); err != nil || len(got) != 1 || got[0].Symbol != "AAPL" {
		t.Fatalf("attributes: %d %s", r.status, r.body)
	}
	for _, q := range []string{"?status=delisted", "?asset_class=bonds"} {
		if r := getJSON(t, e.srv.URL+"/v2/assets"+q, nil); r.status != 422 {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
	// What ccxt reads to load its markets.
	r = getJSON(t, e.srv.URL+"/v2/assets?asset_class=crypto&status=active", nil)
	var raw []map[string]any
	if err := json.Unmarshal(r.body, &raw); err != nil || len(raw) != 3 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	for _, a := range raw {
		for _, f := range []string{"min_order_size", "min_trade_increment", "price_increment"} {
			if _, ok := a[f].(string); !ok {
				t.Errorf("%v: %s is %#v, want a decimal string", a["symbol"], f, a[f])
			}
		}
	}
}

func TestSDKAnnouncements(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	c := e.tradingClient("k", "s")
	got, err := c.GetAnnouncements(alpaca.GetAnnouncementsRequest{CATypes: []string{"Dividend"}, Since: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		Until: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), Symbol: "AAPL"})
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("%+v, %v", got, err)
	}
	_, err = c.GetAnnouncement("a1b2")
	var apiErr *alpaca.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("announcement: %v", err)
	}
	if r := getJSON(t, e.srv.URL+"/v2/corporate_actions/announcements?since=last+week", nil); r.status != 422 {
		t.Errorf("bad since: %d", r.status)
	}
}

// TestTradingAccess checks that the trading endpoints refuse credentials
// as the trading API does (401, code 40110000, which ccxt maps to
// PermissionDenied), not as the data API does (403).
func TestTradingAccess(t *testing.T) {
	e := newEnv(t, httpapi.Options{Keys: auth.NewKeys(map[string]string{"key": "secret"})})
	for _, path := range []string{"/v2/clock", "/v2/calendar?start=2024-01-02&end=2024-01-03", "/v2/assets", "/v2/assets/AAPL"} {
		for _, tc := range []struct {
			name   string
			header http.Header
			status int
		}{
			{"none", nil, 401},
			{"wrong", http.Header{"Apca-Api-Key-Id": {"key"}, "Apca-Api-Secret-Key": {"nope"}}, 401},
			{"right", http.Header{"Apca-Api-Key-Id": {"key"}, "Apca-Api-Secret-Key": {"secret"}}, 0},
		} {
			r := getJSON(t, e.srv.URL+path, tc.header)
			switch {
			case tc.status == 0 && r.status >= 400 && r.status != 404:
				t.Errorf("%s %s: %d %s", path, tc.name, r.status, r.body)
			case tc.status != 0 && (r.status != tc.status || string(r.body) != `{"code":40110000,"message":"request is not authorized"}`):
				t.Errorf("%s %s: %d %s", path, tc.name, r.status, r.body)
			}
		}
	}
	_, err := e.tradingClient("key", "nope").GetClock()
	var apiErr *alpaca.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Code != 40110000 {
		t.Fatalf("SDK with a wrong secret: %v", err)
	}
	if r := getJSON(t, e.srv.URL+"/v2/stocks/meta/exchanges", nil); r.status != 403 || !strings.Contains(string(r.body), "forbidden") {
		t.Errorf("data endpoint: %d %s", r.status, r.body)
	}
}

// TestCalendarRanges checks the calendar's answers, cut from one encoded
// table, against calendar.Calendar for random ranges and both date types.
func TestCalendarRanges(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	all := calendar.Calendar(calendar.First, calendar.Last, calendar.ByTradeDate)
	r := rand.New(rand.NewPCG(9, 10))
	for i := range 60 {
		from := calendar.First - 400 + calendar.Date(r.IntN(int(calendar.Last-calendar.First)+800))
		to := from + calendar.Date(r.IntN(40)-3)
		if i%10 == 0 {
			to = from + calendar.Date(r.IntN(20_000))
		}
		by, name := calendar.ByTradeDate, "TRADING"
		if i%2 == 1 {
			by, name = calendar.BySettlementDate, "SETTLEMENT"
		}
		want := []calendar.CalendarDay{}
		for _, d := range all {
			key := d.Date
			if by == calendar.BySettlementDate {
				key = d.SettlementDate
			}
			if key >= from.String() && key <= to.String() {
				want = append(want, d)
			}
		}
		if by == calendar.ByTradeDate && from >= calendar.First && to <= calendar.Last {
			// Inside the table the package computes the same.
			if pkg := calendar.Calendar(from, to, by); !slices.Equal(pkg, want) {
				t.Fatalf("the brute force disagrees with calendar.Calendar on %v..%v", from, to)
			}
		}
		res := getJSON(t, e.srv.URL+"/v2/calendar?start="+from.String()+"&end="+to.String()+"&date_type="+name, nil)
		var got []calendar.CalendarDay
		if err := json.Unmarshal(res.body, &got); err != nil || res.status != 200 {
			t.Fatalf("%d %v", res.status, err)
		}
		if !slices.Equal(got, want) || got == nil {
			t.Fatalf("%s %v..%v: %d entries, want %d", name, from, to, len(got), len(want))
		}
	}
}
