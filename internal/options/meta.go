package options

// ExchangeNames maps OPRA participant codes to the exchanges (Alpaca's
// /v1beta1/options/meta/exchanges).
var ExchangeNames = map[string]string{
	"A": "NYSE American Options",
	"B": "BOX Options Exchange",
	"C": "Cboe Options Exchange",
	"D": "MIAX Emerald",
	"E": "Cboe EDGX Options",
	"H": "MIAX Pearl",
	"I": "Nasdaq ISE",
	"J": "Nasdaq MRX",
	"M": "MIAX Options Exchange",
	"N": "NYSE Arca Options",
	"O": "Options Price Reporting Authority",
	"P": "MEMX Options",
	"Q": "Nasdaq Options Market",
	"S": "MIAX Sapphire",
	"T": "Nasdaq BX Options",
	"U": "Nasdaq GEMX",
	"W": "Cboe C2 Options",
	"X": "Nasdaq PHLX",
	"Z": "Cboe BZX Options",
}

// TradeConditionNames describes the trade conditions (OPRA message types)
// the simulation prints, and the common others.
var TradeConditionNames = map[string]string{
	" ": "Regular Sale",
	"I": "Auto Execution: transaction executed electronically",
	"J": "Reopening Trade",
	"K": "Late and Out of Sequence",
	"M": "Late Report",
	"S": "Intermarket Sweep Order Execution",
	"a": "Single Leg Auction Non ISO",
	"b": "Single Leg Auction ISO",
	"c": "Single Leg Cross Non ISO",
	"d": "Single Leg Cross ISO",
	"e": "Single Leg Floor Trade",
	"f": "Multi Leg Auto-Electronic Trade",
	"g": "Multi Leg Auction",
	"h": "Multi Leg Cross",
	"i": "Multi Leg Floor Trade",
}

// QuoteConditionNames describes the quote conditions.
var QuoteConditionNames = map[string]string{
	" ": "Regular Trading",
	"A": "Regular Trading: eligible for automatic execution",
	"F": "Non-Firm Quote",
	"R": "Rotation",
	"T": "Trading Halted",
}
