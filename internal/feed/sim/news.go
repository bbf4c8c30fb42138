package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// News model constants.
const (
	newsStream      = 0x6e65_7773 // PCG stream of the news generator ("news")
	newsUpdateRate  = 0.1         // share of articles updated later
	newsUpdateMean  = 20 * 60e9   // mean delay of an update, ns
	newsUpdateMax   = int64(3 * 3600e9)
	newsContentless = 0.1 // share of headline-only articles (no content)
	newsMaxPending  = 64  // updates waiting at most; beyond, an article is not updated
	// newsIDEpoch is where article IDs start counting milliseconds
	// (2015-01-01 UTC), so IDs grow with time and a restarted simulator,
	// which starts after the record's end, gives new articles new IDs.
	newsIDEpoch = 1_420_070_400_000
	// newsHost is the articles' site: under .invalid, a name reserved never
	// to resolve, so nobody mistakes a simulated article for a real one.
	newsHost = "https://news.tape.invalid/benzinga/"
)

// newsCurve is the relative rate of articles by New York hour of a
// weekday: a trickle at night, a peak before the open and after the close
// (earnings, analyst notes), steady through the session. Weekends run at a
// quarter of it. newsNorm makes the mean over a week 1.
var newsCurve = [24]float64{0.2, 0.2, 0.2, 0.2, 0.3, 0.5, 1.2, 1.8, 1.8, 1.6, 1.1, 1, 1, 1, 1, 1.1, 1.8, 1.6, 0.8, 0.5, 0.4, 0.3, 0.2, 0.2}

const newsWeekend = 0.25

var newsNorm = func() float64 {
	sum := 0.0
	for _, x := range newsCurve {
		sum += x
	}
	return 24 * 7 / (sum * (5 + 2*newsWeekend))
}()

// newsGen makes up a small, deterministic flow of Benzinga-like articles
// about the simulated symbols: earnings, analyst actions, corporate and
// product news, movers, options activity, crypto and market wraps. It has
// a random stream of its own, so turning news on leaves the market's
// events as they were. Templates quote the symbols' current prices, read
// through price.
type newsGen struct {
	rng     *rand.Rand
	rate    float64 // articles per ns at a curve value of 1
	stocks  []string
	weights []float64 // cumulative, for picking a stock
	pairs   []string
	price   func(sym string) float64 // the symbol's current price; 0 unknown
	lastID  int64
	next    int64 // time of the next new article
	pending []*market.News
}

func newNewsGen(seed int64, perHour float64, now int64, stocks []profile, pairs []pairProfile, price func(string) float64) *newsGen {
	g := &newsGen{
		rng:   rand.New(rand.NewPCG(uint64(seed), newsStream)),
		rate:  perHour / 3600e9 * newsNorm,
		price: price,
	}
	total := 0.0
	for i := range stocks {
		total += stocks[i].weight
		g.stocks = append(g.stocks, stocks[i].name)
		g.weights = append(g.weights, total)
	}
	for i := range pairs {
		g.pairs = append(g.pairs, pairs[i].name)
	}
	g.next = g.arrival(now)
	return g
}

// curveAt is the relative article rate at t.
func newsCurveAt(t int64) float64 {
	ny := time.Unix(0, t).In(newYork)
	x := newsCurve[ny.Hour()]
	if wd := ny.Weekday(); wd == time.Saturday || wd == time.Sunday {
		x *= newsWeekend
	}
	return x
}

// arrival draws the time of the next new article after t, spending a unit
// exponential along the hourly curve.
func (g *newsGen) arrival(t int64) int64 {
	need := g.rng.ExpFloat64()
	for {
		end := (t/hourNs + 1) * hourNs // New York hours are UTC hours shifted by whole hours
		r := g.rate * newsCurveAt(t)
		if avail := float64(end-t) * r; need >= avail {
			need -= avail
			t = end
			continue
		}
		return t + int64(need/r+0.5)
	}
}

// when is the time of the next article or update.
func (g *newsGen) when() int64 {
	t := g.next
	for _, n := range g.pending {
		t = min(t, n.UpdatedAt)
	}
	return t
}

// emit appends the article or update due at now.
func (g *newsGen) emit(dst []market.Event, now int64) []market.Event {
	for i, n := range g.pending {
		if n.UpdatedAt == now {
			g.pending = append(g.pending[:i], g.pending[i+1:]...)
			return append(dst, market.Event{Time: now, Kind: market.KindNews, News: n})
		}
	}
	n := g.article(now)
	g.next = g.arrival(now)
	if g.rng.Float64() < newsUpdateRate && len(g.pending) < newsMaxPending {
		g.pending = append(g.pending, g.update(n))
	}
	return append(dst, market.Event{Time: now, Kind: market.KindNews, News: n})
}

// update returns a later version of n: same ID and creation time, a later
// UpdatedAt, a summary and content that say what changed.
func (g *newsGen) update(n *market.News) *market.News {
	u := *n
	d := min(max(int64(g.rng.ExpFloat64()*newsUpdateMean), int64(60e9)), newsUpdateMax)
	u.UpdatedAt = n.CreatedAt + d
	note := pick(g.rng, updateNotes)
	u.Summary = n.Summary + " " + note
	if n.Content != "" {
		u.Content = n.Content + "<p><em>" + note + "</em></p>"
	}
	return &u
}

var updateNotes = []string{
	"This story has been updated with additional details.",
	"Updated with comments from the company's conference call.",
	"Updated to reflect the stock's move in extended trading.",
	"Updated with analyst reaction.",
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// etfs are the default symbols that are funds: no earnings, no officers.
var etfs = map[string]bool{"SPY": true, "QQQ": true, "IWM": true}

// pickCompany chooses a stock that is not a fund, if a few tries find one.
func (g *newsGen) pickCompany() string {
	sym := g.pickStock()
	for i := 0; i < 4 && etfs[sym]; i++ {
		sym = g.pickStock()
	}
	return sym
}

// pickStock chooses a stock by its weight in the message flow.
func (g *newsGen) pickStock() string {
	u := g.rng.Float64() * g.weights[len(g.weights)-1]
	for i, w := range g.weights {
		if u < w {
			return g.stocks[i]
		}
	}
	return g.stocks[len(g.stocks)-1]
}

// article makes up a new article created at now.
func (g *newsGen) article(now int64) *market.News {
	r := g.rng
	id := max(g.lastID+1, now/1e6-newsIDEpoch)
	g.lastID = id
	n := &market.News{ID: id, CreatedAt: now, UpdatedAt: now, Source: "benzinga"}
	kind := r.IntN(100)
	switch {
	case len(g.stocks) == 0 || kind >= 92 && len(g.pairs) > 0:
		g.cryptoStory(n)
	case kind < 22:
		g.earnings(n, now)
	case kind < 50:
		g.analyst(n)
	case kind < 68:
		g.corporate(n)
	case kind < 80:
		g.mover(n)
	case kind < 88:
		g.options(n)
	default:
		g.wrap(n)
	}
	if n.Author == "" {
		n.Author = pick(r, newsAuthors)
	}
	if r.Float64() >= newsContentless {
		n.Content = "<p>" + htmlEscape(n.Summary) + "</p><p>" + htmlEscape(pick(r, boilerplate)) + "</p>"
	}
	y, m, _ := time.Unix(0, now).UTC().Date()
	n.URL = fmt.Sprintf("%s%d/%02d/%d/%s", newsHost, y%100, int(m), id, slug(n.Headline))
	return n
}

var newsAuthors = []string{"Benzinga Newsdesk", "Benzinga Insights", "Happy Mohamed", "Priya Nair",
	"Tomás Ferreira", "Megan Calloway", "Arjun Mehta", "Lena Kowalski", "Sam Okafor"}

var boilerplate = []string{
	"This article was generated by Tape's market simulator; the company, figures and quotes are fictitious.",
	"Simulated news: Tape makes up this article to exercise news clients offline. It is not investment advice.",
	"Tape's simulator wrote this story from templates; no real event is described.",
}

var (
	analystFirms = []string{"Morgan Stanley", "Goldman Sachs", "JP Morgan", "Bank of America", "Citigroup", "Wells Fargo",
		"Barclays", "UBS", "Deutsche Bank", "Jefferies", "Piper Sandler", "Raymond James", "Evercore ISI", "Bernstein",
		"Wedbush", "Mizuho", "Needham", "KeyBanc", "Truist Securities", "Oppenheimer"}
	ratingsUp   = []string{"Buy", "Overweight", "Outperform", "Strong Buy"}
	ratingsFlat = []string{"Neutral", "Equal-Weight", "Hold", "Market Perform", "Sector Perform"}
	ratingsDown = []string{"Sell", "Underweight", "Underperform"}
	products    = []string{"AI Platform", "Next-Generation Chip", "Subscription Tier", "Cloud Service", "Developer Toolkit",
		"Electric Vehicle Model", "Streaming Bundle", "Payments Feature", "Data Center Expansion", "Security Suite"}
	moverReasons = []string{"after an analyst upgrade", "amid sector-wide strength", "on heavy volume",
		"following a report on supply-chain checks", "as investors rotate out of growth names",
		"after comments at an industry conference", "amid broader market weakness"}
	wraps = []string{
		"Stocks Edge Higher As Investors Await Fed Minutes",
		"Dow, S&P 500 Slip As Treasury Yields Climb",
		"Nasdaq Leads Gains As Tech Rebounds",
		"Markets Mixed Ahead Of Jobs Report",
		"Stocks Close Lower As Energy Shares Weigh",
	}
)

// company is the name a headline uses for a symbol.
func company(sym string) string {
	if n, ok := companyNames[sym]; ok {
		return n
	}
	return sym
}

var companyNames = map[string]string{
	"AAPL": "Apple", "MSFT": "Microsoft", "NVDA": "NVIDIA", "AMZN": "Amazon.com", "GOOGL": "Alphabet",
	"META": "Meta Platforms", "TSLA": "Tesla", "AMD": "Advanced Micro Devices", "NFLX": "Netflix", "INTC": "Intel",
	"SPY": "SPDR S&P 500 ETF", "QQQ": "Invesco QQQ Trust", "IWM": "iShares Russell 2000 ETF", "JPM": "JPMorgan Chase",
	"BAC": "Bank of America", "XOM": "Exxon Mobil", "KO": "Coca-Cola", "DIS": "Walt Disney", "BA": "Boeing",
	"PLTR": "Palantir Technologies", "FAKEPACA": "Fakepaca Holdings",
}

var coinNames = map[string]string{"BTC": "Bitcoin", "ETH": "Ethereum", "SOL": "Solana", "XRP": "XRP", "DOGE": "Dogecoin",
	"LTC": "Litecoin", "AVAX": "Avalanche", "LINK": "Chainlink", "BCH": "Bitcoin Cash", "DOT": "Polkadot", "UNI": "Uniswap",
	"AAVE": "Aave", "SHIB": "Shiba Inu", "USDT": "Tether", "USDC": "USD Coin"}

// priceOr is sym's current price, or a plausible one when unknown.
func (g *newsGen) priceOr(sym string) float64 {
	if p := g.price(sym); p > 0 {
		return p
	}
	return 100
}

func (g *newsGen) earnings(n *market.News, now int64) {
	r := g.rng
	sym := g.pickCompany()
	name := company(sym)
	px := g.priceOr(sym)
	q := (int(time.Unix(0, now).UTC().Month())+8)/3%4 + 1 // the quarter being reported, one behind
	est := math.Round(px*(0.004+0.006*r.Float64())*100) / 100
	eps := math.Round(est*(1+0.12*r.NormFloat64())*100) / 100
	sales := math.Round(px*(0.03+0.15*r.Float64())*100) / 100 // billions
	salesEst := math.Round(sales/(1+0.05*r.NormFloat64())*100) / 100
	verb := func(a, b float64) string {
		switch {
		case a > b:
			return "Beats"
		case a < b:
			return "Misses"
		}
		return "In Line With"
	}
	n.Headline = fmt.Sprintf("%s Q%d EPS $%.2f %s $%.2f Estimate, Sales $%.2fB %s $%.2fB Estimate", name, q, eps, verb(eps, est), est,
		sales, strings.TrimSuffix(verb(sales, salesEst), " With"), salesEst)
	n.Summary = fmt.Sprintf("%s reported quarterly earnings of $%.2f per share against the analyst consensus estimate of $%.2f, "+
		"and quarterly sales of $%.2f billion against an estimate of $%.2f billion.", name, eps, est, sales, salesEst)
	n.Author = "Benzinga Insights"
	n.Symbols = []string{sym}
}

func (g *newsGen) analyst(n *market.News) {
	r := g.rng
	sym := g.pickCompany()
	name := company(sym)
	px := g.priceOr(sym)
	firm := pick(r, analystFirms)
	pt := max(1, math.Round(px*(1.08+0.12*r.NormFloat64())))
	old := max(1, math.Round(pt*(1-0.1*r.NormFloat64())))
	var action, rating string
	switch v := r.IntN(10); {
	case v < 2:
		action, rating = "Upgrades", pick(r, ratingsUp)
	case v < 3:
		action, rating = "Downgrades", pick(r, append(ratingsFlat[:len(ratingsFlat):len(ratingsFlat)], ratingsDown...))
	default:
		action = "Maintains"
		if pt >= px {
			rating = pick(r, ratingsUp)
		} else {
			rating = pick(r, ratingsFlat)
		}
	}
	move := "Maintains"
	switch {
	case pt > old:
		move = "Raises"
	case pt < old:
		move = "Lowers"
	}
	n.Headline = fmt.Sprintf("%s %s %s on %s, %s Price Target to $%.0f", firm, action, rating, name, move, pt)
	n.Summary = fmt.Sprintf("%s analyst %s %s rating on %s (%s) and %s the price target from $%.0f to $%.0f, against a last price of $%.2f.",
		firm, strings.ToLower(action), article(rating)+" "+rating, name, sym, strings.ToLower(move), old, pt, px)
	n.Author = "Benzinga Newsdesk"
	n.Symbols = []string{sym}
}

// article is "a" or "an" before w.
func article(w string) string {
	if strings.ContainsRune("AEIOU", rune(w[0])) {
		return "an"
	}
	return "a"
}

func (g *newsGen) corporate(n *market.News) {
	r := g.rng
	sym := g.pickCompany()
	name := company(sym)
	n.Symbols = []string{sym}
	switch r.IntN(6) {
	case 0:
		p := pick(r, products)
		n.Headline = fmt.Sprintf("%s Unveils New %s", name, p)
		n.Summary = fmt.Sprintf("%s (%s) introduced a new %s, which it said would be available to customers later this year.",
			name, sym, strings.ToLower(p))
	case 1:
		b := 1 + r.IntN(50)
		n.Headline = fmt.Sprintf("%s Announces $%d Billion Share Buyback Program", name, b)
		n.Summary = fmt.Sprintf("The board of %s (%s) authorized the repurchase of up to $%d billion of the company's common stock.", name, sym, b)
	case 2:
		d := g.priceOr(sym) * (0.002 + 0.004*r.Float64())
		n.Headline = fmt.Sprintf("%s Declares Quarterly Dividend of $%.2f Per Share", name, d)
		n.Summary = fmt.Sprintf("%s (%s) declared a quarterly cash dividend of $%.2f per share, payable next month to shareholders of record.", name, sym, d)
	case 3:
		other := g.pickStock()
		n.Headline = fmt.Sprintf("%s Expands Partnership With %s", name, company(other))
		n.Summary = fmt.Sprintf("%s (%s) and %s (%s) said they would broaden their collaboration.", name, sym, company(other), other)
		if other != sym {
			n.Symbols = sortedPair(sym, other)
		}
	case 4:
		n.Headline = fmt.Sprintf("%s To Present At Upcoming Investor Conference", name)
		n.Summary = fmt.Sprintf("%s (%s) said members of its management team will present at an investor conference next week.", name, sym)
	default:
		n.Headline = fmt.Sprintf("%s Names New Chief Financial Officer", name)
		n.Summary = fmt.Sprintf("%s (%s) appointed a new chief financial officer, effective at the start of next quarter.", name, sym)
	}
}

func (g *newsGen) mover(n *market.News) {
	r := g.rng
	sym := g.pickStock()
	name := company(sym)
	dir, verb := "Higher", "up"
	if r.IntN(2) == 0 {
		dir, verb = "Lower", "down"
	}
	pct := 1 + 2*r.ExpFloat64()
	n.Headline = fmt.Sprintf("%s Shares Are Trading %s: What's Going On?", name, dir)
	n.Summary = fmt.Sprintf("%s shares are %s %.1f%% at $%.2f %s.", name, verb, pct, g.priceOr(sym), pick(r, moverReasons))
	n.Symbols = []string{sym}
}

func (g *newsGen) options(n *market.News) {
	r := g.rng
	sym := g.pickStock()
	name := company(sym)
	side := pick(r, []string{"Bullish", "Bearish"})
	n.Headline = fmt.Sprintf("Looking At %s's Recent Unusual Options Activity", name)
	n.Summary = fmt.Sprintf("Investors with a lot of money to spend have taken a %s stance on %s, with %d unusual options trades spotted today.",
		strings.ToLower(side), name, 5+r.IntN(40))
	n.Author = "Benzinga Insights"
	n.Symbols = []string{sym}
}

func (g *newsGen) wrap(n *market.News) {
	r := g.rng
	n.Headline = pick(r, wraps)
	n.Summary = "U.S. stocks moved as traders weighed economic data and earnings reports."
	syms := []string{}
	for _, s := range []string{"SPY", "QQQ", "IWM"} {
		if g.has(s) {
			syms = append(syms, s)
		}
	}
	if len(syms) == 0 {
		syms = append(syms, g.pickStock())
	}
	if other := g.pickStock(); !slices.Contains(syms, other) {
		syms = append(syms, other)
	}
	slices.Sort(syms)
	n.Symbols = syms
}

func (g *newsGen) has(sym string) bool { return slices.Contains(g.stocks, sym) }

func (g *newsGen) cryptoStory(n *market.News) {
	r := g.rng
	if len(g.pairs) == 0 {
		g.wrap(n)
		return
	}
	pair := pick(r, g.pairs)
	base, quote, _ := strings.Cut(pair, "/")
	name := coinNames[base]
	if name == "" {
		name = base
	}
	px := strconv.FormatFloat(g.priceOr(pair), 'f', -1, 64)
	if pairProfileFor(pair).stable {
		n.Headline = fmt.Sprintf("%s Supply Grows As Stablecoin Demand Picks Up", name)
		n.Summary = fmt.Sprintf("%s (%s) held its peg at %s %s as issuance rose.", name, base, px, quote)
	} else {
		dir := pick(r, []string{"Rises", "Slips", "Climbs", "Falls"})
		n.Headline = fmt.Sprintf("%s %s %.1f%% As Traders Eye %s", name, dir, 0.5+1.5*r.ExpFloat64(),
			pick(r, []string{"ETF Flows", "Fed Speakers", "Options Expiry", "Whale Wallets", "Macro Data"}))
		n.Summary = fmt.Sprintf("%s (%s) traded at %s %s as crypto markets moved.", name, base, px, quote)
	}
	// Alpaca tags crypto news with the pair without its slash (BTCUSD).
	n.Symbols = []string{base + quote}
}

func sortedPair(a, b string) []string {
	if b < a {
		a, b = b, a
	}
	return []string{a, b}
}

// slug makes a URL path segment of a headline.
func slug(h string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(h) {
		if b.Len() >= 80 {
			break
		}
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

var htmlReplacer = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

func htmlEscape(s string) string { return htmlReplacer.Replace(s) }
