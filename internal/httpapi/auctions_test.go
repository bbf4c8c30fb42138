package httpapi_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata"

	"github.com/tapehq/tape/internal/calendar"
	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/httpapi"
	"github.com/tapehq/tape/internal/market"
)

// TestAuctionsShape pins one day's JSON: every auction condition a print
// carries makes an entry, a repeated price, exchange and condition is
// listed once at its earliest time, and regular trades are left out.
func TestAuctionsShape(t *testing.T) {
	e := newEnv(t, httpapi.Options{Auctions: &fakeAuctions{prints: auctionData("AAPL")}})
	const day = `{"d":"2024-03-12",` +
		`"o":[{"t":"2024-03-12T13:30:00.068Z","x":"P","p":107,"s":100,"c":"Q"},` +
		`{"t":"2024-03-12T13:30:01.079Z","x":"Q","p":107.12,"s":5000,"c":"O"},` +
		`{"t":"2024-03-12T13:30:01.09Z","x":"Q","p":107.12,"s":5000,"c":"Q"}],` +
		`"c":[{"t":"2024-03-12T20:00:00.12Z","x":"P","p":108,"s":2000,"c":"6"},` +
		`{"t":"2024-03-12T20:00:00.125Z","x":"P","p":108,"s":2000,"c":"M"},` +
		`{"t":"2024-03-12T20:00:00.875Z","x":"Q","p":107.98,"s":90000,"c":"6"},` +
		`{"t":"2024-03-12T20:00:00.876Z","x":"Q","p":107.98,"s":90000,"c":"M"}]}`
	tests := []struct{ target, want string }{
		{"/v2/stocks/auctions?symbols=AAPL,NOPE&start=2024-03-12&end=2024-03-13", `{"auctions":{"AAPL":[` + day + `]},"next_page_token":null}`},
		{"/v2/stocks/aapl/auctions?start=2024-03-12&end=2024-03-13&currency=USD", `{"auctions":[` + day + `],"symbol":"AAPL","currency":"USD","next_page_token":null}`},
		{"/v2/stocks/NOPE/auctions?start=2024-03-12", `{"auctions":[],"symbol":"NOPE","next_page_token":null}`},
		// The default range is today (the 12th), up to now (15:00Z): the
		// opening auction only.
		{"/v2/stocks/auctions?symbols=AAPL&feed=sip", `{"auctions":{"AAPL":[` + day[:strings.Index(day, `"c":[`)] + `"c":[]}]},"next_page_token":null}`},
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

type auctionRow struct {
	Date             string
	Opening, Closing string
}

func sdkAuctionRow(d marketdata.DailyAuctions) auctionRow {
	side := func(as []marketdata.Auction) string {
		var b strings.Builder
		for _, a := range as {
			b.WriteString(a.Timestamp.UTC().Format(time.RFC3339Nano) + a.Exchange + a.Condition + " ")
		}
		return b.String()
	}
	return auctionRow{Date: d.Date.String(), Opening: side(d.Opening), Closing: side(d.Closing)}
}

// TestSDKAuctions walks the auctions with the SDK in pages of every size
// and checks that paging changes nothing: a day is never split, none is
// repeated or skipped, and limit counts days across symbols.
func TestSDKAuctions(t *testing.T) {
	store := &fakeAuctions{prints: auctionData("AAPL", "MSFT", "SPY")}
	e := newEnv(t, httpapi.Options{Auctions: store})
	syms := []string{"SPY", "AAPL", "MSFT"}
	start, end := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 3, 30, 0, 0, 0, 0, time.UTC)
	for _, sort := range []marketdata.Sort{marketdata.SortAsc, marketdata.SortDesc} {
		whole, err := e.client.GetMultiAuctions(syms, marketdata.GetAuctionsRequest{Start: start, End: end, Sort: sort})
		if err != nil {
			t.Fatal(err)
		}
		days := calendar.Days(calendar.NewDate(2024, 3, 1), calendar.NewDate(2024, 3, 29))
		for _, sym := range syms {
			got := whole[sym]
			if len(got) != len(days) {
				t.Fatalf("%s: %d days, want %d", sym, len(got), len(days))
			}
			first, last := got[0].Date, got[len(got)-1].Date
			if (sort == marketdata.SortAsc) != first.Before(last) {
				t.Fatalf("%s %s: days from %v to %v", sym, sort, first, last)
			}
			for _, d := range got {
				if len(d.Opening) != 3 || len(d.Closing) != 4 || d.Opening[1].Size != 5000 || d.Opening[1].Condition != "O" {
					t.Fatalf("%s %v: %+v", sym, d.Date, d)
				}
			}
		}
		for _, page := range []int{1, 2, 7, 19, 20, 21} {
			got, err := e.client.GetMultiAuctions(syms, marketdata.GetAuctionsRequest{Start: start, End: end, PageLimit: page, Sort: sort})
			if err != nil {
				t.Fatal(err)
			}
			for _, sym := range syms {
				checkRows(t, sym, mapRows(got[sym], sdkAuctionRow), mapRows(whole[sym], sdkAuctionRow))
			}
		}
		total, err := e.client.GetMultiAuctions(syms, marketdata.GetAuctionsRequest{Start: start, End: end, TotalLimit: 25, PageLimit: 10, Sort: sort})
		if err != nil {
			t.Fatal(err)
		}
		// Symbols ascending: AAPL's 20 days, then MSFT's first 5.
		if len(total["AAPL"]) != 20 || len(total["MSFT"]) != 5 || len(total["SPY"]) != 0 {
			t.Fatalf("total limit 25: %d %d %d", len(total["AAPL"]), len(total["MSFT"]), len(total["SPY"]))
		}
		checkRows(t, "MSFT", mapRows(total["MSFT"], sdkAuctionRow), mapRows(whole["MSFT"][:5], sdkAuctionRow))
	}
	one, err := e.client.GetAuctions("SPY", marketdata.GetAuctionsRequest{Start: time.Date(2024, 3, 28, 0, 0, 0, 0, time.UTC),
		End: time.Date(2024, 3, 29, 23, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	// The 29th is Good Friday.
	if len(one) != 1 || one[0].Date != (civil.Date{Year: 2024, Month: 3, Day: 28}) {
		t.Fatalf("%+v", one)
	}
}

func TestAuctionsErrors(t *testing.T) {
	e := newEnv(t, httpapi.Options{Auctions: &fakeAuctions{prints: auctionData("AAPL")}})
	tok := jsonField(t, getJSON(t, e.srv.URL+"/v2/stocks/auctions?symbols=AAPL&start=2024-03-01&end=2024-03-29&limit=1", nil).body, "next_page_token")
	if tok == "" {
		t.Fatal("no token")
	}
	tests := []struct {
		name, target string
		status       int
		msg          string
	}{
		{"iex", "/v2/stocks/auctions?symbols=AAPL&feed=iex", 422, "invalid feed"},
		{"limit", "/v2/stocks/auctions?symbols=AAPL&limit=10001", 422, "invalid limit"},
		{"missing symbols", "/v2/stocks/auctions", 400, "missing symbols"},
		{"token of other range", "/v2/stocks/auctions?symbols=AAPL&start=2024-03-02&end=2024-03-29&page_token=" + tok, 422, "invalid page token"},
		{"stock token", "/v2/stocks/auctions?symbols=AAPL&page_token=" + stockToken(t, e), 422, "invalid page token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := getJSON(t, e.srv.URL+tc.target, nil)
			if ae := checkErrorShape(t, r); r.status != tc.status || !strings.Contains(ae.Message, tc.msg) {
				t.Fatalf("%d %s, want %d %q", r.status, r.body, tc.status, tc.msg)
			}
		})
	}
	slow := newEnv(t, httpapi.Options{Store: &fakeStore{data: sharedData(), block: true}, Timeout: 20 * time.Millisecond})
	if r := getJSON(t, slow.srv.URL+"/v2/stocks/auctions?symbols=AAPL&start=1990-01-01&end=2024-03-05", nil); r.status != 504 {
		t.Errorf("a scan past the timeout: %d %s", r.status, r.body)
	}
	failing := newEnv(t, httpapi.Options{Auctions: httpapi.AuctionScan{Trades: &fakeStore{data: sharedData(), err: history.ErrClosed}}})
	if r := getJSON(t, failing.srv.URL+"/v2/stocks/auctions?symbols=AAPL&start=2024-03-04&end=2024-03-05", nil); r.status != 503 {
		t.Errorf("closed store: %d %s", r.status, r.body)
	}
}

// TestAuctionScan checks that scanning a trade history around the bells
// finds what an auction index holds.
func TestAuctionScan(t *testing.T) {
	prints := auctionData("AAPL")
	// A trade history: the prints, and regular trades all day, some of
	// them in the windows, one carrying an auction condition at noon that
	// the scan does not look at.
	trades := map[string][]market.Event{}
	seq := uint64(1 << 20)
	for _, day := range calendar.Days(calendar.NewDate(2024, 3, 1), calendar.NewDate(2024, 3, 29)) {
		for m := -10; m < 400; m += 3 {
			seq++
			trades["AAPL"] = append(trades["AAPL"], market.Event{Seq: seq, Time: day.Open.Add(time.Duration(m) * time.Minute).UnixNano(),
				Symbol: "AAPL", Kind: market.KindTrade, Trade: market.Trade{Price: 1, Size: 1, Exchange: 'V', Conditions: market.MakeConditions("@", "I")}})
		}
	}
	trades["AAPL"] = append(trades["AAPL"], prints["AAPL"]...)
	slices.SortFunc(trades["AAPL"], byTimeSeq)
	store := &fakeStore{data: &dataset{trades: trades}}
	scan := httpapi.AuctionScan{Trades: store}
	start, end := time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC).UnixNano(), time.Date(2024, 3, 9, 0, 0, 0, 0, time.UTC).UnixNano()
	got, err := scan.AuctionPrints(context.Background(), "AAPL", start, end)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := (&fakeAuctions{prints: prints}).AuctionPrints(context.Background(), "AAPL", start, end)
	var wantAuction []market.Event
	for _, e := range want {
		if e.Trade.Conditions.Has('O') || e.Trade.Conditions.Has('Q') || e.Trade.Conditions.Has('M') || e.Trade.Conditions.Has('6') {
			wantAuction = append(wantAuction, e)
		}
	}
	if len(got) != len(wantAuction) || len(got) != 5*8 { // five days of eight prints
		t.Fatalf("%d prints, want %d", len(got), len(wantAuction))
	}
	for i := range got {
		if got[i].Seq != wantAuction[i].Seq {
			t.Fatalf("print %d: seq %d, want %d", i, got[i].Seq, wantAuction[i].Seq)
		}
	}

	// Without an AuctionStore the handler scans its Store's trades, and
	// answers as it answers from the index.
	q := "/v2/stocks/auctions?symbols=AAPL&start=2024-03-04&end=2024-03-09"
	scanned := getJSON(t, newEnv(t, httpapi.Options{Store: store}).srv.URL+q, nil)
	indexed := getJSON(t, newEnv(t, httpapi.Options{Auctions: &fakeAuctions{prints: prints}}).srv.URL+q, nil)
	if scanned.status != 200 || string(scanned.body) != string(indexed.body) || !strings.Contains(string(scanned.body), `"d":"2024-03-08"`) {
		t.Fatalf("scanned %d %.300s\nindexed %.300s", scanned.status, scanned.body, indexed.body)
	}
}
