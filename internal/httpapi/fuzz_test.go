package httpapi_test

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/httpapi"
)

// fuzzPaths are the endpoints FuzzQueryParams sends its queries to.
var fuzzPaths = []string{
	"/v2/stocks/bars", "/v2/stocks/AAPL/bars", "/v2/stocks/trades", "/v2/stocks/BRK.B/trades",
	"/v2/stocks/quotes", "/v2/stocks/MSFT/quotes", "/v2/stocks/trades/latest", "/v2/stocks/AAPL/quotes/latest",
	"/v2/stocks/bars/latest", "/v2/stocks/snapshots", "/v2/stocks/SPY/snapshot",
	"/v1beta3/crypto/us/bars", "/v1beta3/crypto/us/trades", "/v1beta3/crypto/us-1/quotes", "/v1beta3/crypto/us/latest/trades",
	"/v1beta3/crypto/us/latest/orderbooks", "/v1beta3/crypto/us/snapshots", "/v1beta1/news", "/v2/stocks/auctions",
	"/v2/stocks/AAPL/auctions", "/v1beta1/screener/stocks/most-actives", "/v1beta1/screener/crypto/movers",
	"/v1/corporate-actions", "/v2/stocks/meta/conditions/trade", "/v2/calendar", "/v2/assets", "/v2/corporate_actions/announcements",
	"/v1beta1/options/snapshots/AAPL", "/v1beta1/options/trades", "/v1beta1/options/bars", "/v1beta1/options/quotes/latest",
	"/v2/options/contracts", "/v1beta1/forex/rates", "/v1beta1/forex/latest/rates", "/v1beta1/crypto-perps/global/latest/trades",
	"/v1beta1/crypto-perps/global/latest/pricing",
}

// FuzzQueryParams sends arbitrary query strings to every endpoint. Seeds
// are the queries the Go SDK sends (url.Values.Encode of setBaseQuery,
// setQueryBarRequest and setQueryLimit), those of its crypto, news,
// auctions, corporate actions and trading calls, ccxt's, and hand-written
// edge cases. The
// invariants: no panic, no 5xx, every refusal a 4xx in Alpaca's error
// shape, every success valid JSON, and a next_page_token that the same
// query accepts.
func FuzzQueryParams(f *testing.F) {
	for _, q := range []string{
		"adjustment=raw&end=2024-03-05T00%3A00%3A00Z&limit=4000&start=2024-03-04T09%3A30%3A00Z&symbols=AAPL%2CMSFT%2CSPY&timeframe=1Min",
		"adjustment=raw&limit=10000&symbols=AAPL&timeframe=1Day",
		"adjustment=split%2Cspin-off&feed=sip&start=2024-03-04T09%3A30%3A00.123456789Z&symbols=AAPL&timeframe=15Min&sort=desc",
		"adjustment=raw&asof=2024-03-04&currency=USD&feed=iex&symbols=BRK.B&timeframe=4Hour",
		"end=2024-03-04T10%3A00%3A00-05%3A00&limit=7&start=2024-03-04T04%3A30%3A00%2B05%3A00&symbols=AAPL",
		"feed=delayed_sip&symbols=AAPL%2CNOPE",
		"feed=overnight&currency=JPY&symbols=AAPL",
		"symbols=AAPL&timeframe=1Min&page_token=AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABBQVBMAAAAAAAAAAA",
		"symbols=aapl,,msft,&timeframe=1h&start=2024-03-04&end=2024-03-04&limit=1",
		"symbols=%zz&timeframe=%00&limit=%2B1&sort=DESC",
		"symbols=A;B&start=2024-02-30&end=0000-01-01T00:00:00Z",
		"",
		// ccxt's alpaca exchange (urlencoded; since as an ISO date in ms).
		"symbols=BTC%2FUSD&timeframe=1min&limit=100&start=2024-03-04T09%3A30%3A00.000Z",
		"symbols=BTC%2FUSD%2CETH%2FUSD",
		// The SDKs' crypto, news, auctions and trading API queries.
		"end=2024-03-06T00%3A00%3A00Z&limit=3000&sort=desc&start=2024-03-04T09%3A30%3A00Z&symbols=BTC%2FUSD%2CETH%2FUSD&timeframe=1Min",
		"exclude_contentless=true&include_content=true&limit=7&sort=asc&start=2024-03-04T09%3A40%3A00Z&symbols=AAPL%2CBTCUSD",
		"end=2024-03-30T00%3A00%3A00Z&feed=sip&limit=3&start=2024-03-01T00%3A00%3A00Z&symbols=AAPL",
		"by=trades&top=5", "top=50", "tape=C", "start=2024-11-25&end=2024-12-03&date_type=SETTLEMENT",
		"asset_class=crypto&status=active", "attributes=has_options&exchange=NASDAQ",
		"ca_types=Dividend&since=2024-01-01&until=2024-03-01",
		"limit=10&symbols=AAPL%2CTSLA&types=cash_dividend%2Cforward_split&start=2024-01-01&end=2024-06-30&sort=desc",
		// The SDKs' options queries.
		"feed=opra&limit=7&strike_price_gte=150&type=put&expiration_date_lte=2024-03-22",
		"end=2024-03-12T15%3A00%3A00Z&limit=50&start=2024-03-11T00%3A00%3A00Z&symbols=AAPL240315C00170000%2CAAPL240315P00170000&timeframe=1Hour",
		"limit=3&show_deliverables=true&underlying_symbols=AAPL%2CSPY&strike_price_gte=100&ppind=true",
		// The JS SDK's forex and the Go SDK's perpetuals queries.
		"currency_pairs=USDJPY%2CEURUSD&end=2024-03-12T15%3A00%3A00Z&limit=50&sort=asc&start=2024-03-11T00%3A00%3A00Z&timeframe=5Min",
		"currency_pairs=EURJPY", "symbols=BTC-PERP%2CETH-PERP",
	} {
		for i := range fuzzPaths {
			f.Add(uint8(i), q)
		}
	}
	h := httpapi.New(httpapi.Options{Store: &fakeStore{data: sharedData()}, Crypto: newFakeCrypto(), News: &fakeNews{articles: newsData()},
		Auctions: &fakeAuctions{prints: auctionData("AAPL", "MSFT")}, Now: func() time.Time { return testNow }, SimulatedOptions: true})
	serve := func(t *testing.T, path, rawQuery string) (int, []byte) {
		req := httptest.NewRequest("GET", "http://tape"+path, nil)
		req.URL.RawQuery = rawQuery
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.Bytes()
	}
	f.Fuzz(func(t *testing.T, which uint8, rawQuery string) {
		path := fuzzPaths[int(which)%len(fuzzPaths)]
		status, body := serve(t, path, rawQuery)
		switch {
		case status == 200:
			if !json.Valid(body) {
				t.Fatalf("200 with invalid JSON: %.200s", body)
			}
			var p struct {
				Next *string `json:"next_page_token"`
			}
			if json.Unmarshal(body, &p) != nil || p.Next == nil || strings.HasSuffix(path, "snapshots") {
				return
			}
			v, _ := url.ParseQuery(rawQuery) // keeps what r.URL.Query keeps
			v.Set("page_token", *p.Next)
			if status, body := serve(t, path, v.Encode()); status != 200 {
				t.Fatalf("our own token refused: %d %s", status, body)
			}
		case status >= 400 && status < 500:
			var e struct {
				Code    *int   `json:"code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Message == "" {
				t.Fatalf("%d with body %q", status, body)
			}
			if status == 422 && (e.Code == nil || *e.Code != 42210000) {
				t.Fatalf("422 without code 42210000: %s", body)
			}
		default:
			t.Fatalf("status %d for %s?%s: %s", status, path, rawQuery, body)
		}
	})
}
