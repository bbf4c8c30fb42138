package alpacameta_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/alpacahq/alpaca-trade-api-go/v3/alpaca"
	"github.com/google/uuid"

	"github.com/tapehq/tape/internal/alpacameta"
	"github.com/tapehq/tape/internal/market"
)

func TestAssetIDIsStable(t *testing.T) {
	// Golden values: an ID must never change, or a client that stored one
	// (an order's asset_id, a watchlist) would lose track of the asset.
	tests := []struct{ class, symbol, want string }{
		{alpacameta.ClassUSEquity, "AAPL", "8f675e5a-3048-5fca-8b88-dd02eb7290bd"},
		{alpacameta.ClassCrypto, "BTC/USD", "7dd82684-30f0-5b7e-bd9b-c47fef75c3ac"},
	}
	for _, tc := range tests {
		got := alpacameta.AssetID(tc.class, tc.symbol)
		if got != tc.want {
			t.Errorf("AssetID(%q, %q) = %s, want %s", tc.class, tc.symbol, got, tc.want)
		}
		if u, err := uuid.Parse(got); err != nil || u.Version() != 5 {
			t.Errorf("%s is not a version 5 UUID: %v", got, err)
		}
	}
	if alpacameta.AssetID(alpacameta.ClassUSEquity, "BTC/USD") == alpacameta.AssetID(alpacameta.ClassCrypto, "BTC/USD") {
		t.Error("the class is not part of the ID")
	}
}

// TestAssetsDecodeWithSDK encodes assets as the API does and decodes them
// with the official SDK's alpaca.Asset.
func TestAssetsDecodeWithSDK(t *testing.T) {
	btc, ok := alpacameta.CryptoAsset("BTC/USD")
	if !ok {
		t.Fatal("BTC/USD refused")
	}
	tests := []struct {
		name string
		in   alpacameta.Asset
		want alpaca.Asset
	}{
		{"known stock", alpacameta.StockAsset("SPY"), alpaca.Asset{Class: alpaca.USEquity, Exchange: "ARCA", Symbol: "SPY",
			Name: "SPDR S&P 500 ETF Trust", Status: alpaca.AssetActive, Tradable: true, Marginable: true, MaintenanceMarginRequirement: 30,
			Shortable: true, EasyToBorrow: true, Fractionable: true, Attributes: []string{"fractional_eh_enabled", "has_options"}}},
		{"unknown stock", alpacameta.StockAsset("ZVZZT"), alpaca.Asset{Class: alpaca.USEquity, Exchange: "NASDAQ", Symbol: "ZVZZT",
			Name: "ZVZZT", Status: alpaca.AssetActive, Tradable: true, Marginable: true, MaintenanceMarginRequirement: 30,
			Shortable: true, EasyToBorrow: true, Fractionable: true, Attributes: []string{"fractional_eh_enabled"}}},
		{"crypto", btc, alpaca.Asset{Class: alpaca.Crypto, Exchange: "CRYPTO", Symbol: "BTC/USD", Name: "Bitcoin / US Dollar",
			Status: alpaca.AssetActive, Tradable: true, MaintenanceMarginRequirement: 100, Fractionable: true, Attributes: []string{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			var got alpaca.Asset
			if err := got.UnmarshalJSON(b); err != nil {
				t.Fatalf("%v: %s", err, b)
			}
			tc.want.ID = tc.in.ID
			if got.ID == "" || !equalAsset(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v\njson %s", got, tc.want, b)
			}
		})
	}
}

func equalAsset(a, b alpaca.Asset) bool {
	if !slices.Equal(a.Attributes, b.Attributes) || (a.Attributes == nil) != (b.Attributes == nil) {
		return false
	}
	a.Attributes, b.Attributes = nil, nil
	return reflect.DeepEqual(a, b)
}

// TestCryptoAssetForCCXT checks the fields ccxt's alpaca exchange parses a
// market from: "BASE/QUOTE" symbol, active status and the three limits as
// positive decimal strings.
func TestCryptoAssetForCCXT(t *testing.T) {
	for _, pair := range []string{"BTC/USD", "ETH/USDT", "SHIB/USD", "NEWCOIN/USDC"} {
		a, ok := alpacameta.CryptoAsset(pair)
		if !ok {
			t.Fatalf("%s refused", pair)
		}
		b, _ := json.Marshal(a)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"min_order_size", "min_trade_increment", "price_increment"} {
			s, ok := m[f].(string)
			var v float64
			if !ok || json.Unmarshal([]byte(s), &v) != nil || v <= 0 {
				t.Errorf("%s: %s = %#v, want a positive decimal string", pair, f, m[f])
			}
		}
		if m["status"] != "active" || m["class"] != "crypto" || m["symbol"] != pair {
			t.Errorf("%s: %s", pair, b)
		}
	}
	for _, bad := range []string{"BTCUSD", "/USD", "BTC/", "A/B/C", ""} {
		if _, ok := alpacameta.CryptoAsset(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestConditionTables(t *testing.T) {
	tests := []struct {
		name  string
		get   func(byte) (map[string]string, bool)
		tape  byte
		codes map[string]string // a sample the table must hold
	}{
		{"trade A", alpacameta.TradeConditions, 'A', map[string]string{"@": "Regular Sale", "I": "Odd Lot Trade", "Q": "Market Center Official Open"}},
		{"trade B", alpacameta.TradeConditions, 'B', map[string]string{"F": "Inter-market Sweep Order", "6": "Market Center Closing Trade"}},
		{"trade C", alpacameta.TradeConditions, 'C', map[string]string{"@": "Regular Sale", "O": "Opening Prints", "M": "Market Center Official Close", "T": "Form T"}},
		{"quote A", alpacameta.QuoteConditions, 'A', map[string]string{"R": "Regular, Two-Sided Open", "O": "Opening Quote"}},
		{"quote C", alpacameta.QuoteConditions, 'C', map[string]string{"R": "Regular Two-Sided Open", "F": "Fast Trading"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := tc.get(tc.tape)
			if !ok {
				t.Fatal("tape refused")
			}
			for code, want := range tc.codes {
				if m[code] != want {
					t.Errorf("%q = %q, want %q", code, m[code], want)
				}
			}
			for code, desc := range m {
				if len(code) != 1 || desc == "" {
					t.Errorf("entry %q: %q", code, desc)
				}
			}
		})
	}
	for _, tape := range []byte{'D', 'O', 0, 'a'} {
		if _, ok := alpacameta.TradeConditions(tape); ok {
			t.Errorf("trade tape %q accepted", tape)
		}
		if _, ok := alpacameta.QuoteConditions(tape); ok {
			t.Errorf("quote tape %q accepted", tape)
		}
	}
}

func TestAuctionConditions(t *testing.T) {
	tests := []struct {
		conds []string
		want  bool
	}{
		{[]string{"@", "O"}, true},
		{[]string{" ", "Q"}, true},
		{[]string{"M"}, true},
		{[]string{"@", "6", "X"}, true},
		{[]string{"@", "F", "I"}, false},
		{[]string{"5"}, false}, // a reopening after a halt is no auction Alpaca reports
		{[]string{"X"}, false},
		{nil, false},
	}
	for _, tc := range tests {
		if got := alpacameta.IsAuctionPrint(market.MakeConditions(tc.conds...)); got != tc.want {
			t.Errorf("IsAuctionPrint(%q) = %v", tc.conds, got)
		}
	}
	for c, want := range map[byte]alpacameta.Auction{'O': alpacameta.Opening, 'Q': alpacameta.Opening,
		'M': alpacameta.Closing, '6': alpacameta.Closing, '@': alpacameta.NoAuction} {
		if got := alpacameta.AuctionOf(c); got != want {
			t.Errorf("AuctionOf(%q) = %d, want %d", c, got, want)
		}
	}
	// Every auction code is described on both plans.
	for _, tape := range []byte{'A', 'C'} {
		m, _ := alpacameta.TradeConditions(tape)
		for _, c := range "OQM6" {
			if m[string(c)] == "" {
				t.Errorf("tape %c does not describe auction condition %c", tape, c)
			}
		}
	}
}

func TestStockExchanges(t *testing.T) {
	m := alpacameta.StockExchanges()
	for code, want := range map[string]string{"V": "IEX", "Q": "NASDAQ OMX", "N": "New York Stock Exchange", "P": "NYSE Arca"} {
		if m[code] != want {
			t.Errorf("%s = %q, want %q", code, m[code], want)
		}
	}
	if name, ok := alpacameta.ExchangeName('Z'); !ok || name != "Cboe BZX" {
		t.Errorf("ExchangeName('Z') = %q, %v", name, ok)
	}
	if _, ok := alpacameta.ExchangeName('?'); ok {
		t.Error("unknown code named")
	}
}
