package sim

// profile is the static description of one simulated symbol. The numbers are
// rough late-2025 figures; what matters is their relative order, which a
// developer recognises (SPY busiest and tightest, META wide in cents, KO calm,
// PLTR wild), not their precision.
type profile struct {
	name    string
	tape    byte    // 'A' NYSE-listed, 'B' Arca and other venues, 'C' Nasdaq-listed
	listing byte    // primary listing exchange: prints the opening and closing crosses
	price   float64 // start price, USD
	vol     float64 // annualised volatility of the regular session
	weight  float64 // relative share of the message flow
	spread  float64 // typical midday NBBO spread in basis points of the price
	depth   float64 // typical NBBO size in round lots
	adv     float64 // average daily volume in millions of shares (sizes the crosses)
	tier    int     // LULD tier: 1 = S&P 500, Russell 1000 and large ETPs; 2 = the rest
	flash   float64 // transient price spikes per day (what triggers LULD pauses)
}

// profiles lists every symbol the simulator knows, in DefaultSymbols order.
// QQQ is listed on Nasdaq, so it rides tape C like the other Nasdaq names;
// SPY and IWM are Arca-listed (tape B).
var profiles = []profile{
	{"AAPL", 'C', 'Q', 230, 0.28, 7, 0.45, 4, 50, 1, 0.5},
	{"MSFT", 'C', 'Q', 510, 0.24, 5, 0.50, 2, 20, 1, 0.5},
	{"NVDA", 'C', 'Q', 180, 0.50, 9, 0.55, 10, 180, 1, 0.5},
	{"AMZN", 'C', 'Q', 225, 0.32, 5, 0.45, 4, 40, 1, 0.5},
	{"GOOGL", 'C', 'Q', 250, 0.30, 4, 0.50, 4, 30, 1, 0.5},
	{"META", 'C', 'Q', 720, 0.38, 5, 1.20, 1.5, 12, 1, 0.5},
	{"TSLA", 'C', 'Q', 430, 0.60, 9, 0.60, 2, 90, 1, 0.5},
	{"AMD", 'C', 'Q', 230, 0.55, 5, 0.60, 4, 50, 1, 0.5},
	{"NFLX", 'C', 'Q', 110, 0.35, 3, 1.00, 4, 40, 1, 0.5},
	{"INTC", 'C', 'Q', 35, 0.50, 3, 2.90, 25, 80, 1, 0.5},
	{"SPY", 'B', 'P', 600, 0.15, 10, 0.17, 15, 70, 1, 0.5},
	{"QQQ", 'C', 'Q', 540, 0.19, 7, 0.20, 8, 45, 1, 0.5},
	{"IWM", 'B', 'P', 230, 0.22, 4, 0.44, 6, 30, 1, 0.5},
	{"JPM", 'A', 'N', 300, 0.24, 2, 0.80, 2, 9, 1, 0.5},
	{"BAC", 'A', 'N', 50, 0.26, 2.5, 2.00, 25, 35, 1, 0.5},
	{"XOM", 'A', 'N', 115, 0.24, 2, 1.00, 4, 15, 1, 0.5},
	{"KO", 'A', 'N', 70, 0.16, 1.5, 1.50, 6, 14, 1, 0.5},
	{"DIS", 'A', 'N', 115, 0.28, 1.5, 1.00, 4, 9, 1, 0.5},
	{"BA", 'A', 'N', 215, 0.35, 2, 1.20, 2, 8, 1, 0.5},
	{"PLTR", 'C', 'Q', 180, 0.70, 5, 0.80, 5, 70, 1, 0.5},
	// Alpaca's test symbol: volatile and spiky, so that LULD pauses show up.
	{"FAKEPACA", 'C', 'Q', 100, 0.90, 1, 3.00, 3, 1, 2, 10},
}

// DefaultSymbols are the symbols simulated when Options.Symbols is nil:
// familiar US large caps and ETFs plus Alpaca's test symbol FAKEPACA.
var DefaultSymbols = func() []string {
	out := make([]string, len(profiles))
	for i, p := range profiles {
		out[i] = p.name
	}
	return out
}()

func lookupProfile(name string) *profile {
	for i := range profiles {
		if profiles[i].name == name {
			return &profiles[i]
		}
	}
	return nil
}

// Exchange participation. Quotes come from the lit venues only; trades also
// print on FINRA's TRF ('D'), where off-exchange volume (wholesalers, dark
// pools) is reported: roughly a third of US equity prints. The listing venue
// gets a boost on both, as it does in the real NBBO.
var (
	quoteVenues = []venue{{'Q', 18}, {'P', 12}, {'K', 12}, {'Z', 12}, {'N', 10},
		{'V', 8}, {'U', 8}, {'Y', 7}, {'J', 6}, {'H', 7}}
	tradeVenues = []venue{{'D', 35}, {'Q', 14}, {'P', 8}, {'K', 8}, {'Z', 7},
		{'N', 6}, {'V', 6}, {'U', 6}, {'H', 4}, {'Y', 3}, {'J', 3}}
)

type venue struct {
	code   byte
	weight float64
}

// venueTable spreads the weighted venues over 256 slots so that one random
// byte picks a venue: cheaper than a search, and the 1/256 granularity is far
// finer than the weights are accurate.
func venueTable(vs []venue, listing byte, boost float64) *[256]byte {
	var t [256]byte
	total := 0.0
	for _, v := range vs {
		total += v.weight
		if v.code == listing {
			total += boost
		}
	}
	acc, j := 0.0, 0
	for _, v := range vs {
		acc += v.weight
		if v.code == listing {
			acc += boost
		}
		for end := int(acc / total * 256); j < end; j++ {
			t[j] = v.code
		}
	}
	for ; j < 256; j++ {
		t[j] = vs[len(vs)-1].code
	}
	return &t
}
