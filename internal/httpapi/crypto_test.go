package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata"

	"github.com/tapehq/tape/internal/auth"
	"github.com/tapehq/tape/internal/httpapi"
	"github.com/tapehq/tape/internal/market"
)

type cryptoTradeRow struct {
	T    int64
	P, S float64
	I    int64
	TKS  string
}

func cryptoTradeRowOf(e market.Event) cryptoTradeRow {
	t := e.CryptoTrade
	side := string(t.TakerSide)
	if t.TakerSide == 0 {
		side = "-"
	}
	return cryptoTradeRow{T: e.Time, P: t.Price, S: t.Size, I: t.ID, TKS: side}
}

func sdkCryptoTradeRow(t marketdata.CryptoTrade) cryptoTradeRow {
	return cryptoTradeRow{T: t.Timestamp.UnixNano(), P: t.Price, S: t.Size, I: t.ID, TKS: t.TakerSide}
}

type cryptoQuoteRow struct {
	T              int64
	BP, BS, AP, AS float64
}

func cryptoQuoteRowOf(e market.Event) cryptoQuoteRow {
	q := e.CryptoQuote
	return cryptoQuoteRow{T: e.Time, BP: q.BidPrice, BS: q.BidSize, AP: q.AskPrice, AS: q.AskSize}
}

func sdkCryptoQuoteRow(q marketdata.CryptoQuote) cryptoQuoteRow {
	return cryptoQuoteRow{T: q.Timestamp.UnixNano(), BP: q.BidPrice, BS: q.BidSize, AP: q.AskPrice, AS: q.AskSize}
}

type cryptoBarRow struct {
	T                 int64
	O, H, L, C, V, VW float64
	N                 uint64
}

func cryptoBarRowOf(e market.Event) cryptoBarRow {
	b := e.CryptoBar
	return cryptoBarRow{T: e.Time, O: b.Open, H: b.High, L: b.Low, C: b.Close, V: b.Volume, VW: b.VWAP, N: b.TradeCount}
}

func sdkCryptoBarRow(b marketdata.CryptoBar) cryptoBarRow {
	return cryptoBarRow{T: b.Timestamp.UnixNano(), O: b.Open, H: b.High, L: b.Low, C: b.Close, V: b.Volume, VW: b.VWAP, N: b.TradeCount}
}

func newCryptoEnv(t *testing.T, opts httpapi.Options) *env {
	t.Helper()
	if opts.Crypto == nil {
		opts.Crypto = newFakeCrypto()
	}
	return newEnv(t, opts)
}

func TestSDKCryptoHistory(t *testing.T) {
	e := newCryptoEnv(t, httpapi.Options{})
	d := sharedCryptoData()
	both := []string{"BTC/USD", "ETH/USD"}
	tests := []struct {
		name       string
		symbols    []string
		start, end time.Time
		total      int
		page       int
		sort       marketdata.Sort
		feed       string
	}{
		{"all in pages of 10000", both, dataStart, dataStart.Add(240 * time.Hour), 0, 0, "", ""},
		{"total limit across symbols", both, dataStart, dataStart.Add(240 * time.Hour), 4_500, 700, "", "us-1"},
		{"desc", both, dataStart.Add(time.Hour), dataStart.Add(3 * time.Hour), 0, 333, marketdata.SortDesc, "eu-1"},
		{"one symbol, default range", []string{"BTC/USD"}, time.Time{}, time.Time{}, 0, 2_000, "", ""},
		{"no data", []string{"SOL/USD"}, dataStart, dataStart.Add(time.Hour), 0, 0, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start, end := rangeOf(tc.start, tc.end)
			desc := tc.sort == marketdata.SortDesc
			t.Run("bars", func(t *testing.T) {
				got, err := e.client.GetCryptoMultiBars(tc.symbols, marketdata.GetCryptoBarsRequest{TimeFrame: marketdata.OneMin,
					Start: tc.start, End: tc.end, TotalLimit: tc.total, PageLimit: tc.page, Sort: tc.sort, CryptoFeed: tc.feed})
				if err != nil {
					t.Fatal(err)
				}
				checkGroups(t, got, sdkCryptoBarRow, groupRows(expect(d.bars[market.OneMinute], tc.symbols, start, end, desc, tc.total), cryptoBarRowOf))
			})
			t.Run("trades", func(t *testing.T) {
				got, err := e.client.GetCryptoMultiTrades(tc.symbols, marketdata.GetCryptoTradesRequest{
					Start: tc.start, End: tc.end, TotalLimit: tc.total, PageLimit: tc.page, Sort: tc.sort, CryptoFeed: tc.feed})
				if err != nil {
					t.Fatal(err)
				}
				checkGroups(t, got, sdkCryptoTradeRow, groupRows(expect(d.trades, tc.symbols, start, end, desc, tc.total), cryptoTradeRowOf))
			})
			t.Run("quotes", func(t *testing.T) {
				got, err := e.client.GetCryptoMultiQuotes(tc.symbols, marketdata.GetCryptoQuotesRequest{
					Start: tc.start, End: tc.end, TotalLimit: tc.total, PageLimit: tc.page, Sort: tc.sort, CryptoFeed: tc.feed})
				if err != nil {
					t.Fatal(err)
				}
				checkGroups(t, got, sdkCryptoQuoteRow, groupRows(expect(d.quotes, tc.symbols, start, end, desc, tc.total), cryptoQuoteRowOf))
			})
		})
	}
}

func TestSDKCryptoLatest(t *testing.T) {
	e := newCryptoEnv(t, httpapi.Options{})
	d := sharedCryptoData()
	syms := []string{"BTC/USD", "DOGE/USD", "NOPE/USD"}
	trades, err := e.client.GetLatestCryptoTrades(syms, marketdata.GetLatestCryptoTradeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(trades) != 2 {
		t.Fatalf("latest trades of %d symbols, want BTC/USD and DOGE/USD: %v", len(trades), trades)
	}
	for _, sym := range []string{"BTC/USD", "DOGE/USD"} {
		want := d.trades[sym][len(d.trades[sym])-1]
		if got := sdkCryptoTradeRow(trades[sym]); got != cryptoTradeRowOf(want) {
			t.Errorf("%s: got %+v, want %+v", sym, got, cryptoTradeRowOf(want))
		}
	}
	quote, err := e.client.GetLatestCryptoQuote("ETH/USD", marketdata.GetLatestCryptoQuoteRequest{})
	if err != nil || quote == nil {
		t.Fatal(quote, err)
	}
	if q := d.quotes["ETH/USD"]; sdkCryptoQuoteRow(*quote) != cryptoQuoteRowOf(q[len(q)-1]) {
		t.Errorf("ETH/USD quote %+v", *quote)
	}
	bar, err := e.client.GetLatestCryptoBar("BTC/USD", marketdata.GetLatestCryptoBarRequest{CryptoFeed: "us-1"})
	if err != nil || bar == nil {
		t.Fatal(bar, err)
	}
	if b := d.bars[market.OneMinute]["BTC/USD"]; sdkCryptoBarRow(*bar) != cryptoBarRowOf(b[len(b)-1]) {
		t.Errorf("BTC/USD bar %+v", *bar)
	}
	if none, err := e.client.GetLatestCryptoBar("DOGE/USD", marketdata.GetLatestCryptoBarRequest{}); err != nil || none != nil {
		t.Errorf("DOGE/USD has no bars: %+v, %v", none, err)
	}

	snaps, err := e.client.GetCryptoSnapshots(syms, marketdata.GetCryptoSnapshotRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := snaps["NOPE/USD"]; ok || len(snaps) != 2 {
		t.Fatalf("snapshots for %d symbols: %v", len(snaps), snaps)
	}
	btc := snaps["BTC/USD"]
	days := d.bars[market.OneDay]["BTC/USD"]
	if btc.LatestTrade == nil || btc.LatestQuote == nil || btc.MinuteBar == nil || btc.DailyBar == nil || btc.PrevDailyBar == nil {
		t.Fatalf("BTC/USD snapshot incomplete: %+v", btc)
	}
	if sdkCryptoBarRow(*btc.DailyBar) != cryptoBarRowOf(days[len(days)-1]) || sdkCryptoBarRow(*btc.PrevDailyBar) != cryptoBarRowOf(days[len(days)-2]) {
		t.Errorf("BTC/USD daily bars %+v %+v", *btc.DailyBar, *btc.PrevDailyBar)
	}
	if doge := snaps["DOGE/USD"]; doge.LatestTrade == nil || doge.LatestTrade.Size != 1500.5 || doge.LatestQuote != nil || doge.DailyBar != nil {
		t.Errorf("DOGE/USD snapshot %+v", doge)
	}
}

// TestCryptoShapes pins the crypto JSON, including the order book, which
// the Go SDK v3.9.1 has no call for.
func TestCryptoShapes(t *testing.T) {
	e := newCryptoEnv(t, httpapi.Options{})
	const doge = `{"t":"2024-03-04T09:30:00Z","p":0.1234,"s":1500.5,"tks":"B","i":9}`
	tests := []struct{ target, want string }{
		{"/v1beta3/crypto/us/latest/trades?symbols=DOGE/USD,SOL/USD", `{"trades":{"DOGE/USD":` + doge + `}}`},
		{"/v1beta3/crypto/us/trades?symbols=doge/usd&start=2024-03-04", `{"trades":{"DOGE/USD":[` + doge + `]},"next_page_token":null}`},
		{"/v1beta3/crypto/us/latest/orderbooks?symbols=BTC/USD,ETH/USD", `{"orderbooks":{"BTC/USD":{"t":"2024-03-04T09:30:00.137774336Z",` +
			`"b":[{"p":20846,"s":0.1902},{"p":20845.5,"s":2}],"a":[{"p":20902,"s":0.0097},{"p":21444,"s":1.25}]}}}`},
		{"/v1beta3/crypto/us/snapshots?symbols=DOGE/USD", `{"snapshots":{"DOGE/USD":{"latestTrade":` + doge +
			`,"latestQuote":null,"minuteBar":null,"dailyBar":null,"prevDailyBar":null}}}`},
		{"/v1beta3/crypto/us/snapshots?symbols=SOL/USD", `{"snapshots":{}}`},
		{"/v1beta3/crypto/us/bars?symbols=SOL/USD&timeframe=1Min&start=2024-03-04", `{"bars":{},"next_page_token":null}`},
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

// TestCryptoTimeframes checks the timeframe spellings clients send: the
// SDKs' 1Min and 1Hour, Alpaca's short 1T and 1H, and ccxt's lower-case
// 1min, 1H, 1D, 1W and 1M (month). ccxt's 3D is not a timeframe Alpaca
// knows, so it is refused.
func TestCryptoTimeframes(t *testing.T) {
	e := newCryptoEnv(t, httpapi.Options{})
	for tf, want := range map[string]int{"1Min": 200, "1T": 200, "1min": 200, "5min": 200, "1H": 200, "12H": 200, "1Hour": 200,
		"1D": 200, "1Day": 200, "1W": 200, "1M": 200, "3M": 200, "3D": 422, "60min": 422, "1m": 200, "": 422} {
		r := getJSON(t, e.srv.URL+"/v1beta3/crypto/us/bars?symbols=BTC/USD&start=2024-03-04&timeframe="+tf, nil)
		if r.status != want {
			t.Errorf("timeframe %q: status %d, want %d: %s", tf, r.status, want, r.body)
		}
	}
}

func TestCryptoErrors(t *testing.T) {
	e := newCryptoEnv(t, httpapi.Options{})
	tests := []refusal{
		{"no slash", "/v1beta3/crypto/us/trades?symbols=BTCUSD", 400, "Invalid symbol(s): BTCUSD does not match"},
		{"bad pair", "/v1beta3/crypto/us/latest/quotes?symbols=BTC/USD,BTC/US$", 400, "Invalid symbol(s)"},
		{"two slashes", "/v1beta3/crypto/us/snapshots?symbols=A/B/C", 400, "Invalid symbol(s)"},
		{"missing symbols", "/v1beta3/crypto/us/latest/orderbooks", 400, "missing symbols"},
		{"unknown location", "/v1beta3/crypto/mars/trades?symbols=BTC/USD", 404, "unknown crypto location"},
		{"perp location", "/v1beta3/crypto/global/latest/trades?symbols=BTC/USD", 404, "unknown crypto location"},
		{"bad limit", "/v1beta3/crypto/us/trades?symbols=BTC/USD&limit=0", 422, "invalid limit"},
		{"bad sort", "/v1beta3/crypto/us/quotes?symbols=BTC/USD&sort=up", 422, "invalid sort"},
		{"stock token", "/v1beta3/crypto/us/trades?symbols=BTC/USD&page_token=" + stockToken(t, e), 422, "invalid page token"},
		{"unknown endpoint", "/v1beta3/crypto/us/latest/pricing?symbols=BTC/USD", 404, "not found"},
	}
	checkRefusals(t, e.srv.URL, tests)
	// Alpaca's invalid symbol error has no code: with one, ccxt would raise
	// BadRequest (it matches codes first) instead of BadSymbol.
	r := getJSON(t, e.srv.URL+"/v1beta3/crypto/us/trades?symbols=BTCUSD", nil)
	if want := `{"message":"Invalid symbol(s): BTCUSD does not match ^[A-Z0-9]+/[A-Z0-9]+$"}`; string(r.body) != want {
		t.Errorf("invalid symbol: %s, want %s", r.body, want)
	}
	// Parameters of the stock endpoints mean nothing here and are ignored,
	// as Alpaca ignores unknown parameters.
	if r := getJSON(t, e.srv.URL+"/v1beta3/crypto/us/trades?symbols=BTC/USD&feed=nasdaq&currency=EUR&adjustment=x", nil); r.status != 200 {
		t.Errorf("stock parameters refused: %d %s", r.status, r.body)
	}
}

// stockToken returns a page token of a stock walk.
func stockToken(t *testing.T, e *env) string {
	t.Helper()
	return jsonField(t, getJSON(t, e.srv.URL+"/v2/stocks/trades?symbols=AAPL&start=2024-03-04&limit=1", nil).body, "next_page_token")
}

// TestCryptoAccess checks that crypto data needs no credentials, as at
// Alpaca, while wrong ones are refused, and that a Tape without crypto
// says so.
func TestCryptoAccess(t *testing.T) {
	e := newCryptoEnv(t, httpapi.Options{Keys: auth.NewKeys(map[string]string{"key": "secret"})})
	// Perpetuals, derived from spot, are open as spot is.
	targets := []string{"/v1beta3/crypto/us/latest/trades?symbols=BTC/USD", "/v1beta1/crypto-perps/global/latest/pricing?symbols=BTC-PERP"}
	cases := []struct {
		name   string
		header http.Header
		status int
	}{
		{"none", nil, 200},
		{"empty headers, as the SDK sends without keys", http.Header{"Apca-Api-Key-Id": {""}, "Apca-Api-Secret-Key": {""}}, 200},
		{"right", http.Header{"Apca-Api-Key-Id": {"key"}, "Apca-Api-Secret-Key": {"secret"}}, 200},
		{"wrong", http.Header{"Apca-Api-Key-Id": {"key"}, "Apca-Api-Secret-Key": {"nope"}}, 403},
		{"bearer", http.Header{"Authorization": {"Bearer token"}}, 403},
	}
	for _, target := range targets {
		for _, tc := range cases {
			t.Run(tc.name+" "+target, func(t *testing.T) {
				if r := getJSON(t, e.srv.URL+target, tc.header); r.status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
				}
			})
		}
	}
	// The SDK without keys reads crypto.
	c := marketdata.NewClient(marketdata.ClientOpts{BaseURL: e.srv.URL, RetryLimit: 1, RetryDelay: time.Millisecond})
	if _, err := c.GetLatestCryptoTrade("BTC/USD", marketdata.GetLatestCryptoTradeRequest{}); err != nil {
		t.Fatal(err)
	}

	none := newEnv(t, httpapi.Options{})
	r := getJSON(t, none.srv.URL+targets[0], nil)
	if ae := checkErrorShape(t, r); r.status != 404 || !strings.Contains(ae.Message, "serves no crypto data") {
		t.Fatalf("without a crypto store: %d %s", r.status, r.body)
	}
}
