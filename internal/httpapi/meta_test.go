package httpapi_test

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"cloud.google.com/go/civil"
	"github.com/alpacahq/alpaca-trade-api-go/v3/alpaca"
	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata"

	"github.com/tapehq/tape/internal/alpacameta"
	"github.com/tapehq/tape/internal/httpapi"
)

func TestMeta(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	decode := func(target string) map[string]string {
		t.Helper()
		r := getJSON(t, e.srv.URL+target, nil)
		var m map[string]string
		if r.status != 200 || json.Unmarshal(r.body, &m) != nil {
			t.Fatalf("%s: %d %s", target, r.status, r.body)
		}
		return m
	}
	if m := decode("/v2/stocks/meta/exchanges"); !maps.Equal(m, alpacameta.StockExchanges()) {
		t.Errorf("exchanges: %v", m)
	}
	for _, tc := range []struct {
		target string
		want   func(byte) (map[string]string, bool)
		tape   byte
	}{
		{"/v2/stocks/meta/conditions/trade?tape=A", alpacameta.TradeConditions, 'A'},
		{"/v2/stocks/meta/conditions/trade?tape=C", alpacameta.TradeConditions, 'C'},
		{"/v2/stocks/meta/conditions/quote?tape=B", alpacameta.QuoteConditions, 'B'},
		{"/v2/stocks/meta/conditions/quote?tape=C", alpacameta.QuoteConditions, 'C'},
	} {
		want, _ := tc.want(tc.tape)
		if m := decode(tc.target); !maps.Equal(m, want) || len(m) == 0 {
			t.Errorf("%s: %v", tc.target, m)
		}
	}
	// The CTA and UTP tables differ, and a trade's conditions read
	// against its own tape's table.
	if a, c := decode("/v2/stocks/meta/conditions/trade?tape=A"), decode("/v2/stocks/meta/conditions/trade?tape=C"); a["O"] == c["O"] {
		t.Errorf("tapes A and C describe O alike: %q", a["O"])
	}
	for _, tc := range []struct {
		target string
		status int
		msg    string
	}{
		{"/v2/stocks/meta/conditions/trade", 422, "missing tape"},
		{"/v2/stocks/meta/conditions/trade?tape=D", 422, "invalid tape"},
		{"/v2/stocks/meta/conditions/trade?tape=AB", 422, "invalid tape"},
		{"/v2/stocks/meta/conditions/bar?tape=A", 400, "invalid ticktype"},
	} {
		r := getJSON(t, e.srv.URL+tc.target, nil)
		if ae := checkErrorShape(t, r); r.status != tc.status || !strings.Contains(ae.Message, tc.msg) {
			t.Errorf("%s: %d %s", tc.target, r.status, r.body)
		}
	}
}

func TestSDKCorporateActions(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	got, err := e.client.GetCorporateActions(marketdata.GetCorporateActionsRequest{Symbols: []string{"AAPL", "TSLA"},
		Types: []string{"cash_dividend", "forward_split"}, Start: civil.Date{Year: 2024, Month: 1, Day: 1}, End: civil.Date{Year: 2024, Month: 6, Day: 30},
		PageLimit: 10, Sort: marketdata.SortDesc})
	if err != nil {
		t.Fatal(err)
	}
	if got.CashDividends != nil || got.ForwardSplits != nil || got.ReverseSplits != nil {
		t.Fatalf("%+v", got)
	}
	r := getJSON(t, e.srv.URL+"/v1/corporate-actions?symbols=AAPL", nil)
	if r.status != 200 || string(r.body) != `{"corporate_actions":{},"next_page_token":null}` {
		t.Fatalf("%d %s", r.status, r.body)
	}
	for _, tc := range []struct {
		query string
		msg   string
	}{
		{"types=dividend", "invalid types"},
		{"start=2024-13-01", "invalid start"},
		{"start=2024-01-01T00:00:00Z", "invalid start"},
		{"start=2024-03-01&end=2024-02-01", "end should not be before start"},
		{"limit=1001", "invalid limit"},
		{"sort=newest", "invalid sort"},
		{"region=eu", "invalid region"},
		{"ids=1dbc7685-9517-4a77-a236-8527d49cefdc&symbols=AAPL", "ids cannot be combined"},
		{"page_token=MjAyNA", "invalid page token"},
	} {
		r := getJSON(t, e.srv.URL+"/v1/corporate-actions?"+tc.query, nil)
		if ae := checkErrorShape(t, r); r.status != 422 || !strings.Contains(ae.Message, tc.msg) {
			t.Errorf("%s: %d %s", tc.query, r.status, r.body)
		}
	}
	_, err = e.client.GetCorporateActions(marketdata.GetCorporateActionsRequest{Types: []string{"dividends"}})
	var apiErr *alpaca.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 422 {
		t.Fatalf("bad type through the SDK: %v", err)
	}
}

// TestNotFoundIsJSON checks that every unknown path under the prefixes
// Tape serves answers Alpaca's error shape, never Go's plain "404 page
// not found", so a client can decode it.
func TestNotFoundIsJSON(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	for _, path := range []string{
		"/v1/corporate-actions/announcements", "/v1beta1/options/bars", "/v1beta1/logos/AAPL", "/v1beta1/news/123",
		"/v1beta2/crypto/bars", "/v1beta3/crypto", "/v1beta3/crypto/us/bars/latest", "/v2", "/v2/", "/v2/account",
		"/v2/orders", "/v2/stocks", "/v2/stocks/AAPL", "/v2/stocks/meta", "/v2/clock/", "/v3/stocks/bars", "/",
	} {
		t.Run(path, func(t *testing.T) {
			r := getJSON(t, e.srv.URL+path, nil)
			if r.status != 404 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Fatalf("%d %s %s", r.status, r.header.Get("Content-Type"), r.body)
			}
			checkErrorShape(t, r)
		})
	}
}

// TestMalformedQuery checks that a query the server cannot decode is
// refused, not decoded in part: Go's url.Values would drop page_token=%zz
// and hand a pager its first page again.
func TestMalformedQuery(t *testing.T) {
	e := newCryptoEnv(t, httpapi.Options{News: &fakeNews{articles: newsData()}})
	for _, target := range []string{
		validBars + "&page_token=%zz",
		validBars + "&limit=%zz",
		validBars + "&limit=5;page_token=x",
		"/v2/stocks/trades/latest?symbols=AAPL%",
		"/v1beta3/crypto/us/trades?symbols=BTC/USD&page_token=%G0",
		"/v1beta1/news?page_token=%zz",
		"/v2/calendar?start=%zz",
		"/v2/assets?asset_class=%",
		"/v1beta1/screener/stocks/movers?top=%1",
	} {
		t.Run(target, func(t *testing.T) {
			r := getJSON(t, e.srv.URL+target, nil)
			if ae := checkErrorShape(t, r); r.status != 400 || !strings.Contains(ae.Message, "malformed query") {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
}
