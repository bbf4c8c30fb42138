package httpapi_test

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/alpacahq/alpaca-trade-api-go/v3/alpaca"
	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata"
	"github.com/shopspring/decimal"

	"github.com/tapehq/tape/internal/calendar"
	"github.com/tapehq/tape/internal/httpapi"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/options"
)

// optionsNow is the options tests' "now": Tuesday 2024-03-12, 11:00 in
// New York, in the regular session.
var optionsNow = time.Date(2024, 3, 12, 15, 0, 0, 0, time.UTC)

// optionsData is a stock record for the options tests: AAPL and SPY
// minute bars through the regular sessions from 2024-03-04 to now (and
// through pre-market, which options ignore), daily bars and the latest
// trade.
func optionsData() *dataset {
	d := &dataset{symbols: []string{"AAPL", "SPY"}, trades: map[string][]market.Event{}, quotes: map[string][]market.Event{},
		bars: map[market.Timeframe]map[string][]market.Event{market.OneMinute: {}, market.OneDay: {}}}
	var seq uint64
	for si, sym := range d.symbols {
		base := []float64{170, 510}[si]
		var lastPrice float64
		for day := calendar.NewDate(2024, 3, 4); day <= calendar.DateOf(optionsNow); day = day.AddDays(1) {
			td, ok := calendar.TradingDay(day)
			if !ok {
				continue
			}
			var daily market.Bar
			n := 0
			for t := td.SessionOpen; t.Before(td.Close) && !t.After(optionsNow.Add(-time.Minute)); t = t.Add(time.Minute) {
				x := base * (1 + 0.01*math.Sin(float64(t.Unix())/7000))
				x = math.Round(x*100) / 100
				b := market.Bar{Open: x, High: x + 0.1, Low: x - 0.08, Close: x + 0.03, Volume: 5000, TradeCount: 60, VWAP: x}
				seq++
				d.bars[market.OneMinute][sym] = append(d.bars[market.OneMinute][sym], market.Event{Seq: seq, Time: t.UnixNano(), Symbol: sym, Kind: market.KindBar, Bar: b})
				if n == 0 {
					daily = b
				}
				daily.High, daily.Low, daily.Close = max(daily.High, b.High), min(daily.Low, b.Low), b.Close
				daily.Volume += b.Volume
				n++
				lastPrice = b.Close
			}
			seq++
			d.bars[market.OneDay][sym] = append(d.bars[market.OneDay][sym], market.Event{Seq: seq, Time: day.Time().UnixNano(), Symbol: sym, Kind: market.KindBar, Bar: daily})
		}
		seq++
		d.trades[sym] = []market.Event{{Seq: seq, Time: optionsNow.Add(-2 * time.Second).UnixNano(), Symbol: sym, Kind: market.KindTrade,
			Trade: market.Trade{ID: 1, Price: lastPrice, Size: 100, Exchange: 'Q', Tape: 'C'}}}
	}
	return d
}

func newOptionsEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, httpapi.Options{Store: &fakeStore{data: optionsData()}, SimulatedOptions: true,
		Now: func() time.Time { return optionsNow }})
}

// TestSDKOptionChain: the Go SDK's GetOptionChain gets today's listed
// AAPL contracts, filtered as asked, with quotes and greeks that look like
// an options market's, and the same set paged or whole.
func TestSDKOptionChain(t *testing.T) {
	e := newOptionsEnv(t)
	chain, err := e.client.GetOptionChain("AAPL", marketdata.GetOptionChainRequest{PageLimit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	// AAPL closed near 170 yesterday: strikes 136–204 by 1 (under 100) or
	// 2.5; weeklies, monthlies and LEAPS.
	if len(chain) < 500 {
		t.Fatalf("chain of %d contracts", len(chain))
	}
	paged, err := e.client.GetOptionChain("AAPL", marketdata.GetOptionChainRequest{PageLimit: 37})
	if err != nil {
		t.Fatal(err)
	}
	if len(paged) != len(chain) {
		t.Fatalf("paged by 37: %d contracts, whole: %d", len(paged), len(chain))
	}
	type point struct {
		strike float64
		delta  float64
	}
	calls := map[civil.Date][]point{}
	today := calendar.DateOf(optionsNow)
	for sym, s := range chain {
		c, err := options.Parse(sym)
		if err != nil || c.Root != "AAPL" || c.Expiry < today {
			t.Fatalf("contract %s: %v", sym, err)
		}
		if s.LatestQuote == nil || s.Greeks == nil || s.ImpliedVolatility <= 0 {
			t.Fatalf("%s: no quote or greeks: %+v", sym, s)
		}
		q := s.LatestQuote
		if q.BidPrice < 0 || q.AskPrice <= q.BidPrice || !q.Timestamp.Equal(optionsNow.Add(-2*time.Second)) {
			t.Fatalf("%s: quote %+v", sym, q)
		}
		if c.Put != (s.Greeks.Delta < 0) {
			t.Fatalf("%s: delta %v", sym, s.Greeks.Delta)
		}
		if !c.Put {
			y, m, d := c.Expiry.Civil()
			exp := civil.Date{Year: y, Month: m, Day: d}
			calls[exp] = append(calls[exp], point{c.Strike(), s.Greeks.Delta})
		}
	}
	// Across strikes, a call's delta falls from near 1 to near 0.
	for exp, pts := range calls {
		slices.SortFunc(pts, func(a, b point) int { return int(math.Copysign(1, a.strike-b.strike)) })
		for i := 1; i < len(pts); i++ {
			if pts[i].delta > pts[i-1].delta+1e-9 {
				t.Fatalf("%v: delta rises from %v to %v at strike %v", exp, pts[i-1].delta, pts[i].delta, pts[i].strike)
			}
		}
	}
	// Near the money, this week's contracts trade.
	atm, err := e.client.GetOptionChain("AAPL", marketdata.GetOptionChainRequest{Type: "put",
		StrikePriceGte: 165, StrikePriceLte: 175, ExpirationDateLte: civil.Date{Year: 2024, Month: 3, Day: 22}})
	if err != nil {
		t.Fatal(err)
	}
	traded := 0
	for sym, s := range atm {
		c, _ := options.Parse(sym)
		if !c.Put || c.Strike() < 165 || c.Strike() > 175 || c.Expiry > calendar.NewDate(2024, 3, 22) {
			t.Fatalf("%s escapes the filter", sym)
		}
		if s.LatestTrade != nil {
			traded++
		}
	}
	if len(atm) == 0 || traded < len(atm)/2 {
		t.Fatalf("%d of %d near-the-money puts traded", traded, len(atm))
	}
	// An underlying Tape does not have: an empty chain, not an error.
	if none, err := e.client.GetOptionChain("ZZZZ", marketdata.GetOptionChainRequest{}); err != nil || len(none) != 0 {
		t.Fatalf("ZZZZ chain: %d, %v", len(none), err)
	}
}

// TestSDKOptionTradesBarsAgree: an at-the-money contract's trades, walked
// in pages by the SDK, are the record its bars (every timeframe) and its
// latest trade and snapshot are made of.
func TestSDKOptionTradesBarsAgree(t *testing.T) {
	e := newOptionsEnv(t)
	sym := "AAPL240315C00170000"
	start, end := time.Date(2024, 3, 8, 0, 0, 0, 0, time.UTC), optionsNow
	trades, err := e.client.GetOptionTrades(sym, marketdata.GetOptionTradesRequest{Start: start, End: end, PageLimit: 250})
	if err != nil {
		t.Fatal(err)
	}
	if len(trades) < 500 {
		t.Fatalf("%d trades", len(trades))
	}
	var sess options.Sessions
	for i, tr := range trades {
		if !sess.Regular(tr.Timestamp.UnixNano()) {
			t.Fatalf("trade outside the regular session: %+v", tr)
		}
		if i > 0 && !tr.Timestamp.After(trades[i-1].Timestamp) {
			t.Fatalf("trade %d not after the one before", i)
		}
		if tr.Price <= 0 || tr.Size == 0 || tr.Exchange == "" || tr.Condition == "" {
			t.Fatalf("trade %+v", tr)
		}
	}
	desc, err := e.client.GetOptionTrades(sym, marketdata.GetOptionTradesRequest{Start: start, End: end, PageLimit: 333, Sort: marketdata.SortDesc})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(desc)
	if !slices.Equal(desc, trades) {
		t.Fatalf("descending walk: %d trades, ascending: %d", len(desc), len(trades))
	}
	for _, tf := range []marketdata.TimeFrame{marketdata.OneMin, marketdata.NewTimeFrame(15, marketdata.Min), marketdata.OneHour, marketdata.OneDay} {
		bars, err := e.client.GetOptionBars(sym, marketdata.GetOptionBarsRequest{TimeFrame: tf, Start: start, End: end, PageLimit: 50})
		if err != nil {
			t.Fatal(err)
		}
		var vol, n uint64
		for i, b := range bars {
			vol += b.Volume
			n += b.TradeCount
			if b.Low > b.Open || b.Low > b.Close || b.High < b.Open || b.High < b.Close || b.VWAP < b.Low || b.VWAP > b.High {
				t.Fatalf("%v bar %+v", tf, b)
			}
			if i > 0 && !b.Timestamp.After(bars[i-1].Timestamp) {
				t.Fatalf("%v bars out of order", tf)
			}
		}
		var want uint64
		for _, tr := range trades {
			want += uint64(tr.Size)
		}
		if vol != want || n != uint64(len(trades)) {
			t.Fatalf("%v bars: volume %d in %d trades, trades: %d in %d", tf, vol, n, want, len(trades))
		}
		if tf == marketdata.OneDay {
			if len(bars) != 3 || bars[0].Open != trades[0].Price || bars[2].Close != trades[len(trades)-1].Price {
				t.Fatalf("daily bars %+v", bars)
			}
		}
	}
	latest, err := e.client.GetLatestOptionTrade(sym, marketdata.GetLatestOptionTradeRequest{})
	if err != nil || latest == nil || *latest != trades[len(trades)-1] {
		t.Fatalf("latest trade %+v (%v), want %+v", latest, err, trades[len(trades)-1])
	}
	snap, err := e.client.GetOptionSnapshot(sym, marketdata.GetOptionSnapshotRequest{})
	if err != nil || snap == nil || snap.LatestTrade == nil || *snap.LatestTrade != *latest || snap.LatestQuote == nil {
		t.Fatalf("snapshot %+v, %v", snap, err)
	}
	q, err := e.client.GetLatestOptionQuote(sym, marketdata.GetLatestOptionQuoteRequest{})
	if err != nil || q == nil || *q != *snap.LatestQuote {
		t.Fatalf("latest quote %+v, snapshot's %+v (%v)", q, snap.LatestQuote, err)
	}
	// Expired contracts have a history but no quote; contracts on an
	// unknown underlying have nothing.
	old := "AAPL240308C00170000"
	got, err := e.client.GetLatestOptionQuotes([]string{old, "ZZZZ240315C00010000", sym}, marketdata.GetLatestOptionQuoteRequest{})
	if err != nil || len(got) != 1 {
		t.Fatalf("latest quotes %v, %v", got, err)
	}
	if tr, err := e.client.GetOptionTrades(old, marketdata.GetOptionTradesRequest{Start: start, End: end}); err != nil || len(tr) == 0 ||
		tr[len(tr)-1].Timestamp.After(time.Date(2024, 3, 8, 21, 0, 0, 0, time.UTC)) {
		t.Fatalf("expired contract's trades: %d, %v", len(tr), err)
	}
}

// TestSDKOptionContracts: the trading client lists today's contracts, by
// default those expiring by the next weekend, and finds one by symbol or
// ID.
func TestSDKOptionContracts(t *testing.T) {
	e := newOptionsEnv(t)
	tc := e.tradingClient("k", "s")
	week, err := tc.GetOptionContracts(alpaca.GetOptionContractsRequest{UnderlyingSymbols: "AAPL,SPY", PageLimit: 100})
	if err != nil {
		t.Fatal(err)
	}
	weekend := civil.Date{Year: 2024, Month: 3, Day: 23}
	roots := map[string]bool{}
	for _, c := range week {
		if c.ExpirationDate.After(weekend) || c.ExpirationDate.Before(civil.Date{Year: 2024, Month: 3, Day: 12}) {
			t.Fatalf("%s expires %v, beyond the default range", c.Symbol, c.ExpirationDate)
		}
		roots[c.UnderlyingSymbol] = true
		if c.Multiplier.String() != "100" || c.Style != "american" || c.Status != "active" || c.OpenInterest == nil || c.ClosePrice == nil {
			t.Fatalf("contract %+v", c)
		}
	}
	if !roots["AAPL"] || !roots["SPY"] {
		t.Fatalf("underlyings %v", roots)
	}
	// Paged by 100 across both underlyings, every contract once, in order.
	n := 0
	for _, und := range []string{"AAPL", "SPY"} {
		one, err := tc.GetOptionContracts(alpaca.GetOptionContractsRequest{UnderlyingSymbols: und, PageLimit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		n += len(one)
	}
	for i := 1; i < len(week); i++ {
		if week[i].Symbol <= week[i-1].Symbol {
			t.Fatalf("contracts out of order or repeated: %s after %s", week[i].Symbol, week[i-1].Symbol)
		}
	}
	if len(week) != n || len(week) <= 100 {
		t.Fatalf("paged: %d contracts, one underlying at a time: %d", len(week), n)
	}
	all, err := tc.GetOptionContracts(alpaca.GetOptionContractsRequest{UnderlyingSymbols: "AAPL", Type: alpaca.OptionTypePut,
		StrikePriceGTE: decimal.NewFromInt(170), ExpirationDateLTE: civil.Date{Year: 2030, Month: 1, Day: 1}, TotalLimit: 0, PageLimit: 250})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 100 {
		t.Fatalf("%d puts", len(all))
	}
	for _, c := range all {
		if c.Type != alpaca.OptionTypePut || c.StrikePrice.LessThan(decimal.NewFromInt(170)) {
			t.Fatalf("%s escapes the filter", c.Symbol)
		}
	}
	one, err := tc.GetOptionContract(all[3].Symbol)
	if err != nil || one.ID != all[3].ID {
		t.Fatalf("by symbol: %+v, %v", one, err)
	}
	byID, err := tc.GetOptionContract(all[3].ID)
	if err != nil || byID.Symbol != all[3].Symbol {
		t.Fatalf("by ID: %+v, %v", byID, err)
	}
}

// TestOptionErrors: refusals in Alpaca's JSON shape; no options without
// SimulatedOptions.
func TestOptionErrors(t *testing.T) {
	off := newEnv(t, httpapi.Options{})
	on := newOptionsEnv(t)
	sym := "AAPL240315C00170000"
	for _, tc := range []struct {
		e      *env
		path   string
		status int
		msg    string
	}{
		{off, "/v1beta1/options/snapshots/AAPL", 404, "serves no options"},
		{off, "/v2/options/contracts", 404, "serves no options"},
		{on, "/v1beta1/options/trades?symbols=AAPL", 400, "not an option contract"},
		{on, "/v1beta1/options/trades", 400, "missing symbols"},
		{on, "/v1beta1/options/trades?symbols=" + manyContracts(101), 400, "too many symbols: at most 100"},
		{on, "/v1beta1/options/bars?symbols=" + sym, 422, "timeframe is required"},
		{on, "/v1beta1/options/bars?symbols=" + sym + "&timeframe=7Day", 422, "invalid timeframe"},
		{on, "/v1beta1/options/trades?symbols=" + sym + "&page_token=abc", 422, "invalid page token"},
		{on, "/v1beta1/options/trades?symbols=" + sym + "&sort=up", 422, "invalid sort"},
		{on, "/v1beta1/options/snapshots/AAPL?type=straddle", 422, "invalid type"},
		{on, "/v1beta1/options/snapshots/AAPL?feed=sip", 422, "feed"},
		{on, "/v1beta1/options/snapshots/AAPL?expiration_date=tomorrow", 422, "expiration_date"},
		{on, "/v1beta1/options/snapshots/AAPL?limit=1001", 422, "limit"},
		{on, "/v1beta1/options/meta/conditions/bar", 400, "ticktype"},
		{on, "/v2/options/contracts/AAPL991231C00001000X", 404, "not found"},
		{on, "/v2/options/contracts?status=open", 422, "status"},
	} {
		resp, err := http.Get(tc.e.srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var m struct{ Message string }
		if resp.StatusCode != tc.status || json.Unmarshal(body, &m) != nil || !strings.Contains(m.Message, tc.msg) {
			t.Errorf("%s: %d %s, want %d with %q", tc.path, resp.StatusCode, body, tc.status, tc.msg)
		}
	}
	// The meta tables name every code the simulation prints.
	var ex map[string]string
	decodeGet(t, on.srv.URL+"/v1beta1/options/meta/exchanges", &ex)
	for _, c := range options.Exchanges {
		if ex[string(c)] == "" {
			t.Errorf("exchange %c has no name", c)
		}
	}
	var conds map[string]string
	decodeGet(t, on.srv.URL+"/v1beta1/options/meta/conditions/trade", &conds)
	for _, c := range []byte{options.CondAuto, options.CondAuction, options.CondISO} {
		if conds[string(c)] == "" {
			t.Errorf("trade condition %c has no name", c)
		}
	}
}

// manyContracts lists n distinct AAPL contracts, comma-separated.
func manyContracts(n int) string {
	syms := make([]string, n)
	for i := range syms {
		syms[i] = options.Contract{Root: "AAPL", Expiry: calendar.NewDate(2024, 3, 15), StrikeMilli: int64(100_000 + 1000*i)}.Symbol()
	}
	return strings.Join(syms, ",")
}

func decodeGet(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkOptionEndpoints times the options endpoints through the
// handler (no network): a page of 100 chain snapshots (each simulates its
// contract over five sessions), a page of 1,000 trades and a week of
// daily bars of one contract.
func BenchmarkOptionEndpoints(b *testing.B) {
	h := httpapi.New(httpapi.Options{Store: &fakeStore{data: optionsData()}, SimulatedOptions: true,
		Now: func() time.Time { return optionsNow }})
	for _, bc := range []struct{ name, path string }{
		{"chain_100", "/v1beta1/options/snapshots/AAPL?limit=100&strike_price_gte=160"},
		{"trades_1000", "/v1beta1/options/trades?symbols=AAPL240315C00170000&start=2024-03-04&limit=1000"},
		{"bars_1Day", "/v1beta1/options/bars?symbols=AAPL240315C00170000&start=2024-03-04&timeframe=1Day"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, bc.path, nil)
			var size int
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
				size = w.Body.Len()
			}
			b.SetBytes(int64(size))
		})
	}
}
