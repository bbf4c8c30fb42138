package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/alpaca"
	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata"

	"github.com/tapehq/tape/internal/httpapi"
	"github.com/tapehq/tape/internal/market"
)

// perpBound is how far a perpetual's price may be from spot's: the 5 basis
// points of the derivation (perps.go's perpMaxBasis) plus the rounding to
// seven significant digits.
const perpBound = 0.0005 + 1e-6

// perpNear reports whether a perp price follows a spot price within
// perpBound, and counts the prices that differ from spot's, so a test can
// tell a derivation from a copy.
type perpNear struct {
	t       *testing.T
	differs int
}

func (n *perpNear) check(what string, perp, spot float64) {
	n.t.Helper()
	if spot <= 0 || math.Abs(perp/spot-1) > perpBound {
		n.t.Errorf("%s: perp %v, spot %v: more than %v apart", what, perp, spot, perpBound)
	}
	if perp != spot {
		n.differs++
	}
}

func lastSpotEvent(evs []market.Event) market.Event { return evs[len(evs)-1] }

// TestSDKCryptoPerpLatest reads the latest perpetual trades, quotes and bars
// through the official SDK: each follows its spot pair's latest (X-PERP,
// X/USD), its prices within the basis bound and everything else equal,
// and perps whose spot pair has no data are left out.
func TestSDKCryptoPerpLatest(t *testing.T) {
	e := newCryptoEnv(t, httpapi.Options{})
	d := sharedCryptoData()
	near := &perpNear{t: t}
	syms := []string{"BTC-PERP", "DOGE-PERP", "ETH-PERP", "SOL-PERP"}

	trades, err := e.client.GetLatestCryptoPerpTrades(syms, marketdata.GetLatestCryptoTradeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(trades)); !slices.Equal(got, []string{"BTC-PERP", "DOGE-PERP", "ETH-PERP"}) {
		t.Fatalf("latest trades of %v", got)
	}
	for sym, tr := range trades {
		spot := lastSpotEvent(d.trades[strings.TrimSuffix(sym, "-PERP")+"/USD"])
		want := cryptoTradeRowOf(spot)
		got := sdkCryptoTradeRow(marketdata.CryptoTrade(tr))
		near.check(sym+" trade price", got.P, want.P)
		got.P = want.P
		if got != want {
			t.Errorf("%s trade %+v, want spot's %+v but the price", sym, got, want)
		}
	}

	quotes, err := e.client.GetLatestCryptoPerpQuotes(syms, marketdata.GetLatestCryptoQuoteRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(quotes)); !slices.Equal(got, []string{"BTC-PERP", "ETH-PERP"}) {
		t.Fatalf("latest quotes of %v", got)
	}
	for sym, q := range quotes {
		want := cryptoQuoteRowOf(lastSpotEvent(d.quotes[strings.TrimSuffix(sym, "-PERP")+"/USD"]))
		got := sdkCryptoQuoteRow(marketdata.CryptoQuote(q))
		near.check(sym+" bid", got.BP, want.BP)
		near.check(sym+" ask", got.AP, want.AP)
		if got.BP > got.AP {
			t.Errorf("%s: bid %v above ask %v", sym, got.BP, got.AP)
		}
		got.BP, got.AP = want.BP, want.AP
		if got != want {
			t.Errorf("%s quote %+v, want spot's %+v but the prices", sym, got, want)
		}
	}
	one, err := e.client.GetLatestCryptoPerpQuote("ETH-PERP", marketdata.GetLatestCryptoQuoteRequest{})
	if err != nil || one == nil || *one != quotes["ETH-PERP"] {
		t.Errorf("ETH-PERP quote alone: %+v, %v; in a list: %+v", one, err, quotes["ETH-PERP"])
	}

	bars, err := e.client.GetLatestCryptoPerpBars(syms, marketdata.GetLatestCryptoBarRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(bars)); !slices.Equal(got, []string{"BTC-PERP", "ETH-PERP"}) {
		t.Fatalf("latest bars of %v", got)
	}
	for sym, b := range bars {
		want := cryptoBarRowOf(lastSpotEvent(d.bars[market.OneMinute][strings.TrimSuffix(sym, "-PERP")+"/USD"]))
		got := sdkCryptoBarRow(marketdata.CryptoBar(b))
		for _, f := range []struct {
			name      string
			got, want float64
		}{{"open", got.O, want.O}, {"high", got.H, want.H}, {"low", got.L, want.L}, {"close", got.C, want.C}, {"vwap", got.VW, want.VW}} {
			near.check(sym+" "+f.name, f.got, f.want)
		}
		if got.H < max(got.O, got.C) || got.L > min(got.O, got.C) {
			t.Errorf("%s bar out of order: %+v", sym, got)
		}
		got.O, got.H, got.L, got.C, got.VW = want.O, want.H, want.L, want.C, want.VW
		if got != want {
			t.Errorf("%s bar %+v, want spot's %+v but the prices", sym, got, want)
		}
	}
	if none, err := e.client.GetLatestCryptoPerpBar("DOGE-PERP", marketdata.GetLatestCryptoBarRequest{}); err != nil || none != nil {
		t.Errorf("DOGE/USD has no bars, so DOGE-PERP none: %+v, %v", none, err)
	}
	if near.differs == 0 {
		t.Error("every perp price equals spot's: no basis")
	}

	// The same request, the same answer.
	again, err := e.client.GetLatestCryptoPerpTrades(syms, marketdata.GetLatestCryptoTradeRequest{CryptoFeed: "global"})
	if err != nil || len(again) != len(trades) {
		t.Fatal(again, err)
	}
	for sym := range trades {
		if again[sym] != trades[sym] {
			t.Errorf("%s: %+v, then %+v", sym, trades[sym], again[sym])
		}
	}
}

// TestSDKCryptoPerpPricing checks pricing through the SDK: the index is
// spot's mid (or, without quotes, its last trade), the mark within the
// basis of it, funding on the next 8-hour boundary after the data's time.
func TestSDKCryptoPerpPricing(t *testing.T) {
	e := newCryptoEnv(t, httpapi.Options{})
	d := sharedCryptoData()
	near := &perpNear{t: t}
	check := func(sym string, wantTime int64, wantIndex float64) *marketdata.CryptoPerpPricing {
		t.Helper()
		p, err := e.client.GetLatestCryptoPerpPricing(sym, marketdata.GetLatestCryptoPerpPricingRequest{})
		if err != nil || p == nil {
			t.Fatalf("%s: %+v, %v", sym, p, err)
		}
		if p.Timestamp.UnixNano() != wantTime || p.IndexPrice != wantIndex {
			t.Errorf("%s: index %v at %v, want %v at %v", sym, p.IndexPrice, p.Timestamp, wantIndex, time.Unix(0, wantTime).UTC())
		}
		near.check(sym+" mark", p.MarkPrice, p.IndexPrice)
		ft := p.NextFundingTime.UTC()
		if !ft.After(p.Timestamp) || ft.Sub(p.Timestamp) > 8*time.Hour || ft.Hour()%8 != 0 || ft.Minute() != 0 || ft.Second() != 0 || ft.Nanosecond() != 0 {
			t.Errorf("%s: next funding %v after data of %v, want the next 00:00, 08:00 or 16:00 UTC", sym, ft, p.Timestamp)
		}
		if p.FundingRate == 0 || math.Abs(p.FundingRate) > 0.001 {
			t.Errorf("%s: funding rate %v", sym, p.FundingRate)
		}
		// Open interest: ten to thirty million dollars' worth, ±5 %.
		if notional := p.OpenInterest * p.IndexPrice; notional < 9e6 || notional > 3.2e7 {
			t.Errorf("%s: open interest %v, $%.0f", sym, p.OpenInterest, notional)
		}
		return p
	}
	q := lastSpotEvent(d.quotes["BTC/USD"])
	btc := check("BTC-PERP", q.Time, (q.CryptoQuote.BidPrice+q.CryptoQuote.AskPrice)/2)
	q = lastSpotEvent(d.quotes["ETH/USD"])
	check("ETH-PERP", q.Time, (q.CryptoQuote.BidPrice+q.CryptoQuote.AskPrice)/2)
	doge := lastSpotEvent(d.trades["DOGE/USD"]) // DOGE/USD has a trade and no quotes
	check("DOGE-PERP", doge.Time, doge.CryptoTrade.Price)
	if near.differs == 0 {
		t.Error("every mark price equals its index: no basis")
	}
	if none, err := e.client.GetLatestCryptoPerpPricing("SOL-PERP", marketdata.GetLatestCryptoPerpPricingRequest{}); err != nil || none != nil {
		t.Errorf("SOL/USD has no data, so SOL-PERP none: %+v, %v", none, err)
	}
	if again, err := e.client.GetLatestCryptoPerpPricing("BTC-PERP", marketdata.GetLatestCryptoPerpPricingRequest{}); err != nil || *again != *btc {
		t.Errorf("BTC-PERP pricing %+v, then %+v, %v", *btc, again, err)
	}

	// The SDK's GetLatestCryptoPerpPricingData, called directly, misses
	// the perpetuals flag and asks /v1beta3/crypto/us/latest/pricing (a
	// bug of v3.9.1; Alpaca has no such path either), so the multi-symbol
	// form is read here over plain HTTP.
	r := getJSON(t, e.srv.URL+"/v1beta1/crypto-perps/global/latest/pricing?symbols=SOL-PERP,eth-perp,BTC-PERP", nil)
	var multi struct {
		Pricing map[string]marketdata.CryptoPerpPricing `json:"pricing"`
	}
	if err := json.Unmarshal(r.body, &multi); r.status != 200 || err != nil {
		t.Fatalf("%d %s: %v", r.status, r.body, err)
	}
	if got := slices.Sorted(maps.Keys(multi.Pricing)); !slices.Equal(got, []string{"BTC-PERP", "ETH-PERP"}) {
		t.Fatalf("pricing of %v", got)
	}
	if multi.Pricing["BTC-PERP"] != *btc {
		t.Errorf("BTC-PERP in a list %+v, alone %+v", multi.Pricing["BTC-PERP"], *btc)
	}
}

// perpSweep is a crypto store whose pair Sn/USD has its latest trade, quote
// and bar n hours into 2024, all at price 1000+n (bid and ask 1 either
// side), so that one request sees the basis of hundreds of (symbol, hour)s.
type perpSweep struct{ *fakeCrypto }

var perpSweepStart = time.Date(2024, 1, 1, 0, 17, 0, 0, time.UTC)

func (s perpSweep) at(sym string) (n int, t int64, ok bool) {
	num, found := strings.CutPrefix(strings.TrimSuffix(sym, "/USD"), "S")
	if !found {
		return 0, 0, false
	}
	n, err := strconv.Atoi(num)
	return n, perpSweepStart.Add(time.Duration(n) * time.Hour).UnixNano(), err == nil
}

func (s perpSweep) LatestCryptoTrade(sym string) (market.Event, bool) {
	n, t, ok := s.at(sym)
	return market.Event{Time: t, Symbol: sym, Kind: market.KindCryptoTrade, CryptoTrade: market.CryptoTrade{ID: 1, Price: float64(1000 + n), Size: 1}}, ok
}

func (s perpSweep) LatestCryptoQuote(sym string) (market.Event, bool) {
	n, t, ok := s.at(sym)
	p := float64(1000 + n)
	return market.Event{Time: t, Symbol: sym, Kind: market.KindCryptoQuote, CryptoQuote: market.CryptoQuote{BidPrice: p - 1, AskPrice: p + 1, BidSize: 1, AskSize: 1}}, ok
}

func (s perpSweep) LatestCryptoBar(sym string) (market.Event, bool) {
	n, t, ok := s.at(sym)
	p := float64(1000 + n)
	return market.Event{Time: t, Symbol: sym, Kind: market.KindCryptoBar, CryptoBar: &market.CryptoBar{Open: p, High: p, Low: p, Close: p, VWAP: p, Volume: 1}}, ok
}

// TestCryptoPerpBasis checks the basis over 500 symbols and hours: within
// perpBound always, spread across it (a premium mostly, sometimes a
// discount), one basis for everything of a symbol and hour (the perp's
// trade price is its mark price when spot's trade is at spot's mid), and
// funding on the 8-hour grid.
func TestCryptoPerpBasis(t *testing.T) {
	e := newCryptoEnv(t, httpapi.Options{Crypto: perpSweep{newFakeCrypto()}})
	const n = 500
	syms := make([]string, n)
	for i := range syms {
		syms[i] = "S" + strconv.Itoa(i) + "-PERP"
	}
	trades, err := e.client.GetLatestCryptoPerpTrades(syms, marketdata.GetLatestCryptoTradeRequest{})
	if err != nil || len(trades) != n {
		t.Fatalf("%d trades, %v", len(trades), err)
	}
	r := getJSON(t, e.srv.URL+"/v1beta1/crypto-perps/global/latest/pricing?symbols="+strings.Join(syms, ","), nil)
	var pricing struct {
		Pricing map[string]marketdata.CryptoPerpPricing `json:"pricing"`
	}
	if err := json.Unmarshal(r.body, &pricing); err != nil || len(pricing.Pricing) != n {
		t.Fatalf("%d pricing, %v: %.200s", len(pricing.Pricing), err, r.body)
	}
	lo, hi := 1.0, -1.0
	premiums := 0
	fundings := map[float64]bool{}
	for i, sym := range syms {
		spot := float64(1000 + i)
		basis := trades[sym].Price/spot - 1
		if math.Abs(basis) > perpBound {
			t.Fatalf("%s: basis %v", sym, basis)
		}
		lo, hi = min(lo, basis), max(hi, basis)
		if basis > 0 {
			premiums++
		}
		p := pricing.Pricing[sym]
		if p.IndexPrice != spot || p.MarkPrice != trades[sym].Price {
			t.Errorf("%s: index %v, mark %v; want %v and the perp's trade price %v", sym, p.IndexPrice, p.MarkPrice, spot, trades[sym].Price)
		}
		if want := p.Timestamp.Truncate(8 * time.Hour).Add(8 * time.Hour); !p.NextFundingTime.Equal(want) {
			t.Errorf("%s: next funding %v after %v, want %v", sym, p.NextFundingTime, p.Timestamp, want)
		}
		fundings[p.FundingRate] = true
	}
	if hi < 0.8*0.0005 || lo > -0.3*0.0005 || premiums < n/2 || premiums > n*9/10 {
		t.Errorf("basis from %v to %v, a premium %d times in %d: want about −2.5 to +5 basis points, mostly a premium", lo, hi, premiums, n)
	}
	if len(fundings) < n/2 {
		t.Errorf("%d funding rates among %d symbols and periods", len(fundings), n)
	}
}

// TestCryptoPerpOrderbooks reads the perpetuals' books, which the JS SDK
// calls (the Go SDK has no call for them): spot's book, level by level,
// its prices within the basis, and nothing for a pair without a book.
func TestCryptoPerpOrderbooks(t *testing.T) {
	e := newCryptoEnv(t, httpapi.Options{})
	d := sharedCryptoData()
	r := getJSON(t, e.srv.URL+"/v1beta1/crypto-perps/global/latest/orderbooks?symbols=BTC-PERP,ETH-PERP", nil)
	type level struct {
		Price float64 `json:"p"`
		Size  float64 `json:"s"`
	}
	var body struct {
		Orderbooks map[string]struct {
			Timestamp time.Time `json:"t"`
			Bids      []level   `json:"b"`
			Asks      []level   `json:"a"`
		} `json:"orderbooks"`
	}
	if err := json.Unmarshal(r.body, &body); r.status != 200 || err != nil {
		t.Fatalf("%d %s: %v", r.status, r.body, err)
	}
	if got := slices.Sorted(maps.Keys(body.Orderbooks)); !slices.Equal(got, []string{"BTC-PERP"}) {
		t.Fatalf("books of %v", got)
	}
	got, spot := body.Orderbooks["BTC-PERP"], d.books["BTC/USD"]
	if got.Timestamp.UnixNano() != spot.Time || len(got.Bids) != len(spot.Orderbook.Bids) || len(got.Asks) != len(spot.Orderbook.Asks) {
		t.Fatalf("BTC-PERP book %+v, spot's %+v", got, *spot.Orderbook)
	}
	near := &perpNear{t: t}
	for i, l := range got.Bids {
		near.check("bid", l.Price, spot.Orderbook.Bids[i].Price)
		if l.Size != spot.Orderbook.Bids[i].Size || (i > 0 && l.Price > got.Bids[i-1].Price) {
			t.Errorf("bid %d: %+v", i, l)
		}
	}
	for i, l := range got.Asks {
		near.check("ask", l.Price, spot.Orderbook.Asks[i].Price)
		if l.Size != spot.Orderbook.Asks[i].Size || (i > 0 && l.Price < got.Asks[i-1].Price) {
			t.Errorf("ask %d: %+v", i, l)
		}
	}
	if near.differs == 0 {
		t.Error("the perp's book is spot's: no basis")
	}
	// The store's book is not changed.
	if spot.Orderbook.Bids[0].Price != 20846 {
		t.Errorf("spot's book changed: %+v", *spot.Orderbook)
	}
}

// TestCryptoPerpShapes pins the JSON keys of each perpetuals answer to the
// Go SDK's entities (CryptoPerpTrade, …, CryptoPerpPricing) and the JS
// SDK's order book, exactly: no key missing, none extra.
func TestCryptoPerpShapes(t *testing.T) {
	e := newCryptoEnv(t, httpapi.Options{})
	for _, tc := range []struct {
		path, key string
		fields    []string
	}{
		{"trades", "trades", []string{"i", "p", "s", "t", "tks"}},
		{"quotes", "quotes", []string{"ap", "as", "bp", "bs", "t"}},
		{"bars", "bars", []string{"c", "h", "l", "n", "o", "t", "v", "vw"}},
		{"pricing", "pricing", []string{"fr", "ft", "ip", "mp", "oi", "t"}},
		{"orderbooks", "orderbooks", []string{"a", "b", "t"}},
	} {
		r := getJSON(t, e.srv.URL+"/v1beta1/crypto-perps/global/latest/"+tc.path+"?symbols=BTC-PERP", nil)
		var body map[string]map[string]map[string]json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(r.body))
		if err := dec.Decode(&body); r.status != 200 || err != nil {
			t.Fatalf("%s: %d %s: %v", tc.path, r.status, r.body, err)
		}
		if len(body) != 1 || body[tc.key] == nil || len(body[tc.key]) != 1 {
			t.Fatalf("%s: %s", tc.path, r.body)
		}
		if got := slices.Sorted(maps.Keys(body[tc.key]["BTC-PERP"])); !slices.Equal(got, tc.fields) {
			t.Errorf("%s: fields %v, want %v", tc.path, got, tc.fields)
		}
	}
	// Without data the map is empty, not null.
	r := getJSON(t, e.srv.URL+"/v1beta1/crypto-perps/global/latest/pricing?symbols=SOL-PERP", nil)
	if string(r.body) != `{"pricing":{}}` {
		t.Errorf("no data: %s", r.body)
	}
	r = getJSON(t, e.srv.URL+"/v1beta1/crypto-perps/global/latest/quotes?symbols=DOGE-PERP", nil)
	if string(r.body) != `{"quotes":{}}` {
		t.Errorf("no quotes: %s", r.body)
	}
}

func TestCryptoPerpErrors(t *testing.T) {
	e := newCryptoEnv(t, httpapi.Options{})
	tests := []refusal{
		{"spot pair", "/v1beta1/crypto-perps/global/latest/trades?symbols=BTC/USD", 400, "Invalid symbol(s): BTC/USD does not match ^[A-Z0-9]+-PERP$"},
		{"no dash", "/v1beta1/crypto-perps/global/latest/quotes?symbols=BTCPERP", 400, "Invalid symbol(s): BTCPERP"},
		{"no base", "/v1beta1/crypto-perps/global/latest/bars?symbols=-PERP", 400, "Invalid symbol(s)"},
		{"one bad of two", "/v1beta1/crypto-perps/global/latest/pricing?symbols=BTC-PERP,ETH", 400, "Invalid symbol(s): ETH does"},
		{"other suffix", "/v1beta1/crypto-perps/global/latest/trades?symbols=BTC-FUT", 400, "Invalid symbol(s)"},
		{"missing symbols", "/v1beta1/crypto-perps/global/latest/trades", 400, "missing symbols"},
		{"spot location", "/v1beta1/crypto-perps/us/latest/trades?symbols=BTC-PERP", 404, "unknown crypto perpetuals location: us"},
		{"unknown location", "/v1beta1/crypto-perps/mars/latest/pricing?symbols=BTC-PERP", 404, "unknown crypto perpetuals location"},
		{"history", "/v1beta1/crypto-perps/global/bars?symbols=BTC-PERP&timeframe=1Min", 404, "not found"},
	}
	checkRefusals(t, e.srv.URL, tests)
	// As for spot pairs, the invalid symbol error has no code (ccxt's
	// BadSymbol).
	r := getJSON(t, e.srv.URL+"/v1beta1/crypto-perps/global/latest/trades?symbols=BTC/USD", nil)
	if want := `{"message":"Invalid symbol(s): BTC/USD does not match ^[A-Z0-9]+-PERP$"}`; string(r.body) != want {
		t.Errorf("invalid symbol: %s, want %s", r.body, want)
	}

	// The SDK sees them as API errors.
	_, err := e.client.GetLatestCryptoPerpTrade("BTC/USD", marketdata.GetLatestCryptoTradeRequest{})
	var ae *alpaca.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(ae.Message, "-PERP") {
		t.Errorf("SDK, spot symbol: %v", err)
	}
	_, err = e.client.GetLatestCryptoPerpPricing("BTC-PERP", marketdata.GetLatestCryptoPerpPricingRequest{CryptoFeed: "us"})
	if !errors.As(err, &ae) || ae.StatusCode != 404 {
		t.Errorf("SDK, location us: %v", err)
	}

	// Without a crypto record there is nothing to derive perpetuals from.
	none := newEnv(t, httpapi.Options{})
	r = getJSON(t, none.srv.URL+"/v1beta1/crypto-perps/global/latest/trades?symbols=BTC-PERP", nil)
	if ae := checkErrorShape(t, r); r.status != 404 || !strings.Contains(ae.Message, "serves no crypto perpetual futures") {
		t.Errorf("without a crypto store: %d %s", r.status, r.body)
	}
}
