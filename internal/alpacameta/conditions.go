package alpacameta

import "github.com/tapehq/tape/internal/market"

// The condition tables. A trade's "c" holds up to four of these codes, one
// per category of the plan's sale condition; a quote's "c" one (or, at
// Alpaca, one per side). Tapes A and B are the CTA plan's (NYSE- and
// regionally-listed securities), tape C the UTP plan's (Nasdaq-listed).

// ctaTrade is the CTS sale condition table. CTS reports "no condition" in a
// category as a space and a regular sale as "@"; Alpaca passes both
// through, so both are listed.
var ctaTrade = map[string]string{
	"@": "Regular Sale",
	" ": "Regular Sale",
	"4": "Derivatively Priced",
	"5": "Market Center Reopening Trade",
	"6": "Market Center Closing Trade",
	"7": "Qualified Contingent Trade",
	"8": "Reserved",
	"9": "Corrected Consolidated Close Price as per Listing Market",
	"B": "Average Price Trade",
	"C": "Cash Trade (Same Day Clearing)",
	"E": "Automatic Execution",
	"F": "Inter-market Sweep Order",
	"H": "Price Variation Trade",
	"I": "Odd Lot Trade",
	"K": "Rule 127 (NYSE only) or Rule 155 (NYSE MKT only)",
	"L": "Sold Last (Late Reporting)",
	"M": "Market Center Official Close",
	"N": "Next Day Trade (Next Day Clearing)",
	"O": "Market Center Opening Trade",
	"P": "Prior Reference Price",
	"Q": "Market Center Official Open",
	"R": "Seller",
	"T": "Extended Hours Trade",
	"U": "Extended Hours Sold (Out Of Sequence)",
	"V": "Contingent Trade",
	"X": "Cross Trade",
	"Z": "Sold (Out Of Sequence)",
}

// utpTrade is the UTDF sale condition table.
var utpTrade = map[string]string{
	"@": "Regular Sale",
	"1": "Stopped Stock (Regular Trade)",
	"4": "Derivatively Priced",
	"5": "Re-Opening Prints",
	"6": "Closing Prints",
	"7": "Qualified Contingent Trade (QCT)",
	"8": "Placeholder For 611 Exempt",
	"9": "Corrected Consolidated Close (per listing market)",
	"A": "Acquisition",
	"B": "Bunched Trade",
	"C": "Cash Sale",
	"D": "Distribution",
	"E": "Placeholder",
	"F": "Intermarket Sweep",
	"G": "Bunched Sold Trade",
	"H": "Price Variation Trade",
	"I": "Odd Lot Trade",
	"K": "Rule 155 Trade (AMEX)",
	"L": "Sold Last",
	"M": "Market Center Official Close",
	"N": "Next Day",
	"O": "Opening Prints",
	"P": "Prior Reference Price",
	"Q": "Market Center Official Open",
	"R": "Seller",
	"S": "Split Trade",
	"T": "Form T",
	"U": "Extended Trading Hours (Sold Out of Sequence)",
	"V": "Contingent Trade",
	"W": "Average Price Trade",
	"X": "Cross/Periodic Auction Trade",
	"Y": "Yellow Flag Regular Trade",
	"Z": "Sold (Out of Sequence)",
}

// ctaQuote is the CQS quote condition table.
var ctaQuote = map[string]string{
	"4": "On Demand Intra Day Auction",
	"A": "Slow on the Ask Side",
	"B": "Slow on the Bid Side",
	"C": "Closing",
	"D": "News Dissemination",
	"E": "Slow on the Bid Side due to LRP or Gap Quote",
	"F": "Slow on the Ask Side due to LRP or Gap Quote",
	"G": "Trading Range Indication",
	"H": "Slow on the Bid and Ask Side",
	"I": "Order Imbalance",
	"J": "Due to Related Security - News Dissemination",
	"K": "Due to Related Security - News Pending",
	"L": "Closed Market Maker (NASD)",
	"M": "Additional Information",
	"N": "Non-Firm Quote",
	"O": "Opening Quote",
	"P": "News Pending",
	"Q": "Additional Information - Due to Related Security",
	"R": "Regular, Two-Sided Open",
	"S": "Due to Related Security",
	"T": "Resume",
	"U": "Slow on the Bid and Ask Side due to LRP or Gap Quote",
	"V": "In View of Common",
	"W": "Slow Quote due to Set Slow List on Both the Bid and Offer Sides",
	"X": "Equipment Changeover",
	"Y": "Sub-Penny Trading",
	"Z": "No Open / No Resume",
}

// utpQuote is the UQDF quote condition table.
var utpQuote = map[string]string{
	"4": "On Demand Intra Day Auction",
	"A": "Manual Ask Automated Bid",
	"B": "Manual Bid Automated Ask",
	"F": "Fast Trading",
	"H": "Manual Bid And Ask",
	"I": "Order Imbalance",
	"L": "Closed Quote",
	"N": "Non-Firm Quote",
	"O": "Opening Quote Automated",
	"R": "Regular Two-Sided Open",
	"U": "Manual Bid And Ask Non-Firm",
	"X": "Order Influx",
	"Y": "One Sided Automated",
	"Z": "No Open No Resume",
}

// TradeConditions returns the code -> description table of trade
// conditions on tape 'A', 'B' (CTA) or 'C' (UTP), as
// /v2/stocks/meta/conditions/trade?tape= returns it; false for another
// tape. The map is shared: callers must not modify it.
func TradeConditions(tape byte) (map[string]string, bool) {
	switch tape {
	case 'A', 'B':
		return ctaTrade, true
	case 'C':
		return utpTrade, true
	}
	return nil, false
}

// QuoteConditions is TradeConditions for quote conditions.
func QuoteConditions(tape byte) (map[string]string, bool) {
	switch tape {
	case 'A', 'B':
		return ctaQuote, true
	case 'C':
		return utpQuote, true
	}
	return nil, false
}

// Auction is the kind of auction a trade condition marks.
type Auction uint8

const (
	// NoAuction: the condition is not an auction condition.
	NoAuction Auction = iota
	// Opening: the opening cross, "O" (opening prints) or "Q" (market
	// center official open).
	Opening
	// Closing: the closing cross, "6" (closing prints) or "M" (market
	// center official close).
	Closing
)

// AuctionOf returns the auction that the trade condition code c marks. The
// codes mean the same on both plans. A reopening print ("5", after a halt)
// is not an auction Alpaca reports, and neither is a cross trade ("X").
func AuctionOf(c byte) Auction {
	switch c {
	case 'O', 'Q':
		return Opening
	case '6', 'M':
		return Closing
	}
	return NoAuction
}

// IsAuctionPrint reports whether a trade with conditions c is an opening or
// closing auction print: whether /v2/stocks/auctions reports it. A store
// that indexes auction prints must select them with this function.
func IsAuctionPrint(c market.Conditions) bool {
	for _, x := range c {
		if x == 0 {
			return false
		}
		if AuctionOf(x) != NoAuction {
			return true
		}
	}
	return false
}
