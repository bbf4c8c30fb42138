package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata"

	"github.com/tapehq/tape/internal/httpapi"
)

// Serve the API and read it with the official Alpaca SDK, unmodified but
// for its BaseURL. The store here is the tests' in-memory fake; Tape's
// server passes its history store.
func Example() {
	mux := http.NewServeMux()
	mux.Handle("/v2/stocks/", httpapi.New(httpapi.Options{Store: &fakeStore{data: sharedData()}}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	client := marketdata.NewClient(marketdata.ClientOpts{BaseURL: srv.URL, APIKey: "key", APISecret: "secret"})
	trade, err := client.GetLatestTrade("ZVZZT", marketdata.GetLatestTradeRequest{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(trade.Timestamp, trade.Price, trade.Size, trade.Exchange, trade.Conditions)
	// Output: 2024-03-04 09:30:00 +0000 UTC 10.01 100 Q [@]
}
