package server

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// TestJSSDKThroughProxy runs the official Alpaca JS SDK v4 (web/sdk) against
// a Tape proxying stocks, crypto, options and news from a fake Alpaca. It
// needs Node.js and the npm packages in web/, which ./scripts/test.sh
// installs before the Go tests and announces with TAPE_JS_SDK_TESTS=1.
func TestJSSDKThroughProxy(t *testing.T) {
	root, _ := filepath.Abs("../..")
	if os.Getenv("TAPE_JS_SDK_TESTS") != "1" {
		t.Skip("set TAPE_JS_SDK_TESTS=1 after ./scripts/build-web.sh (./scripts/test.sh does both)")
	}
	if _, err := os.Stat(filepath.Join(root, "web/node_modules/@alpacahq/alpaca-trade-api")); err != nil {
		t.Fatalf("the JS SDK is not installed: run ./scripts/build-web.sh (%v)", err)
	}
	up := newFakeAlpaca(t)
	proxy, _ := start(t, Options{Feed: "alpaca", AlpacaStreamURL: up.url, AlpacaFeed: "sip", AlpacaKey: "k", AlpacaSecret: "s",
		AlpacaCrypto: "us", AlpacaOptions: "indicative", AlpacaNews: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "web/sdk/alpaca-js-proxy.test.mjs", "ws://"+proxy.Addr().String())
	cmd.Dir = root
	done := make(chan struct{})
	var out []byte
	var err error
	go func() {
		defer close(done)
		out, err = cmd.CombinedOutput()
	}()
	// The upstream keeps publishing until the script has what it waits for.
	for {
		now := time.Now().UnixNano()
		up.hub.Publish([]market.Event{
			{Kind: market.KindTrade, Symbol: "AAPL", Time: now, Trade: market.Trade{ID: 1, Price: 229.91, Size: 100, Exchange: 'V', Tape: 'C'}},
			{Kind: market.KindCryptoTrade, Symbol: "BTC/USD", Time: now, CryptoTrade: market.CryptoTrade{ID: 1, Price: 91234.5, Size: 0.0123, TakerSide: 'B'}},
			{Kind: market.KindOptionTrade, Symbol: "AAPL240315C00172500", Time: now, Trade: market.Trade{ID: 2, Price: 3.45, Size: 10, Exchange: 'C', Conditions: market.MakeConditions("I")}},
			{Kind: market.KindNews, Time: now, News: &market.News{ID: 3, Headline: "Tape ships", CreatedAt: now, UpdatedAt: now, Symbols: []string{"AAPL"}, Source: "benzinga"}},
		})
		select {
		case <-done:
			if err != nil {
				t.Fatalf("JS SDK: %v\n%s", err, out)
			}
			t.Logf("%s", out)
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}
