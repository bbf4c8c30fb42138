package alpacameta

import (
	"strings"

	"github.com/google/uuid"
)

// Asset is one record of Alpaca's trading API /v2/assets, with its field
// names and types: the official Go SDK decodes it into alpaca.Asset, the JS
// SDK into Assets, ccxt's alpaca exchange parses its markets from it
// (symbol, class, status, and for crypto min_order_size,
// min_trade_increment and price_increment as decimal strings).
type Asset struct {
	ID                           string   `json:"id"`       // UUID; see AssetID
	Class                        string   `json:"class"`    // ClassUSEquity or ClassCrypto
	Exchange                     string   `json:"exchange"` // NASDAQ, NYSE, ARCA, AMEX, BATS, OTC or CRYPTO
	Symbol                       string   `json:"symbol"`   // AAPL, BRK.B, BTC/USD
	Name                         string   `json:"name"`
	Status                       string   `json:"status"` // always "active": Tape lists what it serves
	Tradable                     bool     `json:"tradable"`
	Marginable                   bool     `json:"marginable"`
	MaintenanceMarginRequirement int      `json:"maintenance_margin_requirement"` // percent
	MarginRequirementLong        string   `json:"margin_requirement_long,omitempty"`
	MarginRequirementShort       string   `json:"margin_requirement_short,omitempty"`
	Shortable                    bool     `json:"shortable"`
	EasyToBorrow                 bool     `json:"easy_to_borrow"`
	Fractionable                 bool     `json:"fractionable"`
	Attributes                   []string `json:"attributes"`                    // never null: Alpaca sends []
	MinOrderSize                 string   `json:"min_order_size,omitempty"`      // crypto only
	MinTradeIncrement            string   `json:"min_trade_increment,omitempty"` // crypto only
	PriceIncrement               string   `json:"price_increment,omitempty"`     // crypto only
}

// Asset classes, as Alpaca's asset_class parameter and "class" field
// spell them.
const (
	ClassUSEquity = "us_equity"
	ClassCrypto   = "crypto"
)

// HasAttribute reports whether the asset has attribute a ("has_options").
func (a *Asset) HasAttribute(attr string) bool {
	for _, x := range a.Attributes {
		if x == attr {
			return true
		}
	}
	return false
}

// assetNamespace is the UUID namespace of Tape's asset IDs. It is derived
// from a fixed name, so it never changes, and the IDs with it.
var assetNamespace = uuid.NewSHA1(uuid.NameSpaceDNS, []byte("assets.tape.invalid"))

// AssetID returns the ID of the asset of class (ClassUSEquity or
// ClassCrypto) and symbol: a name-based (version 5) UUID, so the same
// symbol has the same ID on every Tape, across restarts, as an asset keeps
// its ID at Alpaca. It is not Alpaca's ID for the asset, which Tape cannot
// know offline.
func AssetID(class, symbol string) string {
	return uuid.NewSHA1(assetNamespace, []byte(class+":"+symbol)).String()
}

// stockInfo is what Tape knows of a stock beyond its symbol.
type stockInfo struct {
	name     string
	exchange string
	etf      bool
}

// knownStocks are the simulator's symbols and a few other familiar ones,
// with the names and listing exchanges Alpaca reports for them.
var knownStocks = map[string]stockInfo{
	"AAPL":     {"Apple Inc. Common Stock", "NASDAQ", false},
	"AMD":      {"Advanced Micro Devices, Inc. Common Stock", "NASDAQ", false},
	"AMZN":     {"Amazon.com, Inc. Common Stock", "NASDAQ", false},
	"BA":       {"Boeing Company (The) Common Stock", "NYSE", false},
	"BAC":      {"Bank of America Corporation Common Stock", "NYSE", false},
	"BRK.B":    {"Berkshire Hathaway Inc. Class B", "NYSE", false},
	"DIA":      {"SPDR Dow Jones Industrial Average ETF Trust", "ARCA", true},
	"DIS":      {"Walt Disney Company (The) Common Stock", "NYSE", false},
	"FAKEPACA": {"Alpaca test symbol", "NASDAQ", false},
	"GOOG":     {"Alphabet Inc. Class C Capital Stock", "NASDAQ", false},
	"GOOGL":    {"Alphabet Inc. Class A Common Stock", "NASDAQ", false},
	"INTC":     {"Intel Corporation Common Stock", "NASDAQ", false},
	"IWM":      {"iShares Russell 2000 ETF", "ARCA", true},
	"JPM":      {"JP Morgan Chase & Co. Common Stock", "NYSE", false},
	"KO":       {"Coca-Cola Company (The) Common Stock", "NYSE", false},
	"META":     {"Meta Platforms, Inc. Class A Common Stock", "NASDAQ", false},
	"MSFT":     {"Microsoft Corporation Common Stock", "NASDAQ", false},
	"NFLX":     {"Netflix, Inc. Common Stock", "NASDAQ", false},
	"NVDA":     {"NVIDIA Corporation Common Stock", "NASDAQ", false},
	"PLTR":     {"Palantir Technologies Inc. Class A Common Stock", "NASDAQ", false},
	"QQQ":      {"Invesco QQQ Trust, Series 1", "NASDAQ", true},
	"SPY":      {"SPDR S&P 500 ETF Trust", "ARCA", true},
	"TSLA":     {"Tesla, Inc. Common Stock", "NASDAQ", false},
	"XOM":      {"Exxon Mobil Corporation Common Stock", "NYSE", false},
}

// StockAsset returns the asset record of the stock symbol: active,
// tradable, marginable, shortable, easy to borrow and fractionable, as
// Alpaca lists a large cap. Known symbols get their name, listing exchange
// and the has_options attribute; any other gets its symbol as its name and
// NASDAQ, the commonest listing, as its exchange.
func StockAsset(symbol string) Asset {
	info, known := knownStocks[symbol]
	if !known {
		info = stockInfo{name: symbol, exchange: "NASDAQ"}
	}
	attrs := []string{"fractional_eh_enabled"}
	if known {
		attrs = append(attrs, "has_options")
	}
	return Asset{
		ID:                           AssetID(ClassUSEquity, symbol),
		Class:                        ClassUSEquity,
		Exchange:                     info.exchange,
		Symbol:                       symbol,
		Name:                         info.name,
		Status:                       "active",
		Tradable:                     true,
		Marginable:                   true,
		MaintenanceMarginRequirement: 30,
		MarginRequirementLong:        "30",
		MarginRequirementShort:       "30",
		Shortable:                    true,
		EasyToBorrow:                 true,
		Fractionable:                 true,
		Attributes:                   attrs,
	}
}

// coinInfo is what Tape knows of a crypto currency: its name, and for a
// base currency the order size limits of its pairs (decimal strings, as
// Alpaca sends them).
type coinInfo struct {
	name         string
	minOrderSize string
	priceIncr    string
}

// coins names the currencies of Alpaca's crypto pairs. The limits are
// representative of Alpaca's (about a dollar's worth as the minimum
// order), not live values, which change with prices.
var coins = map[string]coinInfo{
	"AAVE":  {"Aave", "0.01", "0.01"},
	"AVAX":  {"Avalanche", "0.1", "0.005"},
	"BAT":   {"Basic Attention Token", "10", "0.00001"},
	"BCH":   {"Bitcoin Cash", "0.01", "0.025"},
	"BTC":   {"Bitcoin", "0.0001", "1"},
	"CRV":   {"Curve", "5", "0.0001"},
	"DOGE":  {"Dogecoin", "10", "0.00001"},
	"DOT":   {"Polkadot", "0.5", "0.001"},
	"ETH":   {"Ethereum", "0.001", "0.1"},
	"GRT":   {"The Graph", "10", "0.00001"},
	"LINK":  {"Chainlink", "0.1", "0.001"},
	"LTC":   {"Litecoin", "0.01", "0.01"},
	"MKR":   {"Maker", "0.001", "0.5"},
	"PEPE":  {"Pepe", "100000", "0.000000001"},
	"SHIB":  {"Shiba Inu", "100000", "0.000000001"},
	"SOL":   {"Solana", "0.01", "0.005"},
	"SUSHI": {"SushiSwap", "2", "0.0001"},
	"UNI":   {"Uniswap", "0.2", "0.001"},
	"USD":   {"US Dollar", "", ""},
	"USDC":  {"USD Coin", "1", "0.0001"},
	"USDT":  {"USD Tether", "1", "0.0001"},
	"XRP":   {"XRP", "1", "0.0001"},
	"XTZ":   {"Tezos", "1", "0.0001"},
	"YFI":   {"Yearn.Finance", "0.0001", "5"},
}

// Unknown base currencies get these limits: small enough for any order.
const (
	defaultMinOrderSize = "0.000000001"
	defaultPriceIncr    = "0.000000001"
	minTradeIncrement   = "0.000000001"
)

// CryptoAsset returns the asset record of the crypto pair "BASE/QUOTE"
// (BTC/USD), and false if pair is not of that form. It is tradable,
// fractionable, neither marginable nor shortable, with a 100% maintenance
// margin, as Alpaca lists crypto.
func CryptoAsset(pair string) (Asset, bool) {
	base, quote, ok := strings.Cut(pair, "/")
	if !ok || base == "" || quote == "" || strings.Contains(quote, "/") {
		return Asset{}, false
	}
	b, knownBase := coins[base]
	if !knownBase {
		b = coinInfo{name: base}
	}
	if b.minOrderSize == "" {
		b.minOrderSize = defaultMinOrderSize
	}
	if b.priceIncr == "" {
		b.priceIncr = defaultPriceIncr
	}
	q, knownQuote := coins[quote]
	if !knownQuote {
		q.name = quote
	}
	return Asset{
		ID:                           AssetID(ClassCrypto, pair),
		Class:                        ClassCrypto,
		Exchange:                     "CRYPTO",
		Symbol:                       pair,
		Name:                         b.name + " / " + q.name,
		Status:                       "active",
		Tradable:                     true,
		MaintenanceMarginRequirement: 100,
		Fractionable:                 true,
		Attributes:                   []string{},
		MinOrderSize:                 b.minOrderSize,
		MinTradeIncrement:            minTradeIncrement,
		PriceIncrement:               b.priceIncr,
	}, true
}
