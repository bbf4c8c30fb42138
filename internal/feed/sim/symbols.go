package sim

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"
)

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
	weight  float64 // relative share of the message flow (of the regular session's, for allDay)
	spread  float64 // typical midday NBBO spread in basis points of the price
	depth   float64 // typical NBBO size in round lots
	adv     float64 // average daily volume in millions of shares (sizes the crosses)
	tier    int     // LULD tier: 1 = S&P 500, Russell 1000 and large ETPs; 2 = the rest
	flash   float64 // transient price spikes per day (what triggers LULD pauses)
	// allDay: the symbol trades around the clock as in a regular session,
	// whatever the calendar says (see allDayCurve), as FAKEPACA does on
	// Alpaca's test stream, which carries it at weekends too.
	allDay bool
}

// profiles lists every symbol the simulator knows, in DefaultSymbols order.
// QQQ is listed on Nasdaq, so it rides tape C like the other Nasdaq names;
// SPY and IWM are Arca-listed (tape B).
var profiles = []profile{
	{"AAPL", 'C', 'Q', 230, 0.28, 7, 0.45, 4, 50, 1, 0.5, false},
	{"MSFT", 'C', 'Q', 510, 0.24, 5, 0.50, 2, 20, 1, 0.5, false},
	{"NVDA", 'C', 'Q', 180, 0.50, 9, 0.55, 10, 180, 1, 0.5, false},
	{"AMZN", 'C', 'Q', 225, 0.32, 5, 0.45, 4, 40, 1, 0.5, false},
	{"GOOGL", 'C', 'Q', 250, 0.30, 4, 0.50, 4, 30, 1, 0.5, false},
	{"META", 'C', 'Q', 720, 0.38, 5, 1.20, 1.5, 12, 1, 0.5, false},
	{"TSLA", 'C', 'Q', 430, 0.60, 9, 0.60, 2, 90, 1, 0.5, false},
	{"AMD", 'C', 'Q', 230, 0.55, 5, 0.60, 4, 50, 1, 0.5, false},
	{"NFLX", 'C', 'Q', 110, 0.35, 3, 1.00, 4, 40, 1, 0.5, false},
	{"INTC", 'C', 'Q', 35, 0.50, 3, 2.90, 25, 80, 1, 0.5, false},
	{"SPY", 'B', 'P', 600, 0.15, 10, 0.17, 15, 70, 1, 0.5, false},
	{"QQQ", 'C', 'Q', 540, 0.19, 7, 0.20, 8, 45, 1, 0.5, false},
	{"IWM", 'B', 'P', 230, 0.22, 4, 0.44, 6, 30, 1, 0.5, false},
	{"JPM", 'A', 'N', 300, 0.24, 2, 0.80, 2, 9, 1, 0.5, false},
	{"BAC", 'A', 'N', 50, 0.26, 2.5, 2.00, 25, 35, 1, 0.5, false},
	{"XOM", 'A', 'N', 115, 0.24, 2, 1.00, 4, 15, 1, 0.5, false},
	{"KO", 'A', 'N', 70, 0.16, 1.5, 1.50, 6, 14, 1, 0.5, false},
	{"DIS", 'A', 'N', 115, 0.28, 1.5, 1.00, 4, 9, 1, 0.5, false},
	{"BA", 'A', 'N', 215, 0.35, 2, 1.20, 2, 8, 1, 0.5, false},
	{"PLTR", 'C', 'Q', 180, 0.70, 5, 0.80, 5, 70, 1, 0.5, false},
	// Alpaca's test symbol: volatile and spiky, so that LULD pauses show
	// up, and trading around the clock, as on Alpaca's test stream.
	{"FAKEPACA", 'C', 'Q', 100, 0.90, 1, 3.00, 3, 1, 2, 10, true},
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

// AroundTheClock reports whether the simulator trades symbol around the
// clock, whatever the calendar says (FAKEPACA, as on Alpaca's test stream).
func AroundTheClock(symbol string) bool {
	p := lookupProfile(symbol)
	return p != nil && p.allDay
}

// dayWeight is the symbol's share of a standard day's messages, relative
// to the other symbols': its weight, except that a symbol trading around
// the clock keeps up the regular session's average pace all day, where the
// others' curve averages 1.
func (p *profile) dayWeight() float64 {
	if p.allDay {
		return p.weight * allDayCurve.shape[0]
	}
	return p.weight
}

// maxSymbolLen is the longest symbol New accepts: room for a root, a share
// class and a when-issued or preferred suffix (CQS allows 11, vendors more).
const maxSymbolLen = 16

// validSymbol reports whether name looks like a US equity symbol:
// 1-16 upper-case ASCII letters and digits starting with a letter, with
// single '.' or '-' separators between them for share classes and other
// suffixes (BRK.B, BF-B, PBR.A).
func validSymbol(name string) bool {
	if len(name) == 0 || len(name) > maxSymbolLen || name[0] < 'A' || name[0] > 'Z' {
		return false
	}
	sep := false // the previous character was a separator
	for i := 1; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			sep = false
		case (c == '.' || c == '-') && !sep:
			sep = true
		default:
			return false
		}
	}
	return !sep
}

// profileFor returns the profile of a valid symbol: the built-in one if the
// simulator ships it, else one derived from the name.
func profileFor(name string) profile {
	if p := lookupProfile(name); p != nil {
		return *p
	}
	return deriveProfile(name)
}

// Ranges of the derived profiles. Start prices are log-uniform, so a
// symbol is as likely to start near $10 as near $200; activity stays at the
// quiet end of the built-in weights (1 to 10), since a name the simulator
// does not know is usually less liquid than SPY; spreads and depths are
// those of mid caps; dollar volume decides the LULD tier.
const (
	derivedMinPrice, derivedMaxPrice   = 5.0, 500.0       // USD
	derivedMinVol, derivedMaxVol       = 0.25, 0.80       // annualised
	derivedMinWeight, derivedMaxWeight = 1.0, 3.0         // relative message share
	derivedMinSpread, derivedMaxSpread = 1.0, 6.0         // basis points
	derivedMinDepth, derivedMaxDepth   = 20e3, 80e3       // NBBO size in USD
	derivedMinADV, derivedMaxADV       = 30e6, 1.5e9      // daily volume in USD
	derivedTier1ADV                    = 200e6            // tier 1 (Russell 1000-like) from here
	derivedStream                      = 0x5359_4d42_4f4c // PCG stream of the profile generator
)

// deriveProfile makes up a plausible profile for a symbol the simulator does
// not ship. It is a function of the name alone, not of Options.Seed, so a
// symbol looks the same (start price, volatility, listing, tier) in every
// run and whatever symbols it is simulated with. The name's FNV-1a hash
// seeds a PCG whose raw outputs are turned into uniforms here, so the
// derivation does not depend on math/rand's helpers either. The numbers are
// rounded (to the cent, the hundredth or the tenth), which keeps them
// readable and, short of a tie, immune to a platform's last bit of math.Pow.
//
// The order of the draws below is part of the contract: changing it
// changes every derived symbol.
func deriveProfile(name string) profile {
	h := fnv.New64a()
	h.Write([]byte(name))
	pcg := rand.NewPCG(h.Sum64(), derivedStream)
	uniform := func() float64 { return float64(pcg.Uint64()>>11) / (1 << 53) } // [0, 1)
	logUniform := func(lo, hi float64) float64 { return lo * math.Pow(hi/lo, uniform()) }
	round := func(x, per float64) float64 { return math.Round(x*per) / per } // to 1/per

	p := profile{name: name, tape: 'C', listing: 'Q'}
	p.price = round(logUniform(derivedMinPrice, derivedMaxPrice), 100)
	p.vol = round(derivedMinVol+(derivedMaxVol-derivedMinVol)*uniform(), 100)
	// Listing: NYSE writes share classes with a suffix (BRK.B) and has
	// most of the short symbols; five-letter roots are Nasdaq's; four
	// letters are mostly Nasdaq. The draw is made whatever the name, so
	// the draws after it do not depend on its shape.
	u := uniform()
	switch {
	case strings.ContainsAny(name, ".-"):
		u = 0
	case len(name) > 4:
		u = 1
	case len(name) == 4:
		u += 0.4 // 20% NYSE
	}
	if u < 0.6 { // 60% NYSE for three letters or fewer
		p.tape, p.listing = 'A', 'N'
	}
	p.weight = round(derivedMinWeight+(derivedMaxWeight-derivedMinWeight)*uniform(), 10)
	p.spread = round(logUniform(derivedMinSpread, derivedMaxSpread), 100)
	p.depth = max(1, round(logUniform(derivedMinDepth, derivedMaxDepth)/(p.price*100), 10))
	dollarADV := logUniform(derivedMinADV, derivedMaxADV)
	p.adv = max(0.01, round(dollarADV/p.price/1e6, 100)) // millions of shares
	p.tier, p.flash = 1, 0.5
	if dollarADV < derivedTier1ADV {
		p.tier, p.flash = 2, 1 // smaller names are spikier
	}
	return p
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
