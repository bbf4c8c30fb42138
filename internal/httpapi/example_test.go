package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/alpaca"
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

// The trading API's clock answers for the feed's time, here a simulator
// running on a Saturday: the market is closed until Monday. Mount the
// handler at every prefix it serves; the stream endpoints a server mounts
// at longer, more specific patterns (/v2/iex) still win.
func Example_clock() {
	saturday := time.Date(2024, 3, 16, 12, 0, 0, 0, time.UTC)
	h := httpapi.New(httpapi.Options{Store: &fakeStore{data: sharedData()}, Now: func() time.Time { return saturday }})
	mux := http.NewServeMux()
	for _, prefix := range []string{"/v1/", "/v1beta1/", "/v1beta3/", "/v2/"} {
		mux.Handle(prefix, h)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	client := alpaca.NewClient(alpaca.ClientOpts{BaseURL: srv.URL, APIKey: "key", APISecret: "secret"})
	clock, err := client.GetClock()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(clock.IsOpen, clock.NextOpen.Format(time.RFC3339))
	// Output: false 2024-03-18T09:30:00-04:00
}
