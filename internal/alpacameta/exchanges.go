package alpacameta

// stockExchanges is Alpaca's table of stock exchange codes, as
// /v2/stocks/meta/exchanges returns it: the "x", "bx" and "ax" fields of
// trades and quotes hold these codes.
var stockExchanges = map[string]string{
	"A": "NYSE American (AMEX)",
	"B": "NASDAQ OMX BX",
	"C": "National Stock Exchange",
	"D": "FINRA ADF",
	"E": "Market Independent",
	"H": "MIAX",
	"I": "International Securities Exchange",
	"J": "Cboe EDGA",
	"K": "Cboe EDGX",
	"L": "Long Term Stock Exchange",
	"M": "Chicago Stock Exchange",
	"N": "New York Stock Exchange",
	"P": "NYSE Arca",
	"Q": "NASDAQ OMX",
	"S": "NASDAQ Small Cap",
	"T": "NASDAQ Int",
	"U": "Members Exchange",
	"V": "IEX",
	"W": "CBOE",
	"X": "NASDAQ OMX PSX",
	"Y": "Cboe BYX",
	"Z": "Cboe BZX",
}

// StockExchanges returns the code -> name table of
// /v2/stocks/meta/exchanges. The map is shared: callers must not modify it.
func StockExchanges() map[string]string { return stockExchanges }

// ExchangeName returns the name of the exchange code x ('Q'), and false for
// an unknown code.
func ExchangeName(x byte) (string, bool) {
	name, ok := stockExchanges[string(x)]
	return name, ok
}
