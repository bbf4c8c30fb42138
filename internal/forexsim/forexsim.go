package forexsim

import (
	"errors"
	"hash/fnv"
	"math"
	"slices"
	"time"
)

// Tick is the model's resolution: a rate holds for five seconds, Alpaca's
// finest forex timeframe (5Sec).
const Tick = 5 * time.Second

const tickNS = int64(Tick)

// currency is one simulated currency. Its value in US dollars is
// usd·exp(vol·(beta·dollar + √(1−beta²)·own)), where dollar and own are
// unit noise fields (see field) and exp is expSeries.
type currency struct {
	code string
	usd  float64 // anchor value of one unit in US dollars
	vol  float64 // annualised volatility of its dollar value
	beta float64 // loading on the shared dollar component, 0 to 1
	half float64 // typical relative half-spread against the dollar
	own  field
}

// The simulated currencies, with 2024-ish levels, volatilities and
// interbank spreads (a EURUSD spread of about half a pip, USDJPY under a
// pip, the Scandinavians and the rand a few pips). The Hong Kong dollar is
// pegged: its volatility is a fraction of a percent.
var currencies = []*currency{
	{code: "USD"},
	{code: "EUR", usd: 1.085, vol: 0.075, beta: 0.8, half: 0.28e-4},
	{code: "JPY", usd: 1 / 150.0, vol: 0.10, beta: 0.5, half: 0.27e-4},
	{code: "GBP", usd: 1.27, vol: 0.08, beta: 0.7, half: 0.40e-4},
	{code: "CHF", usd: 1 / 0.88, vol: 0.075, beta: 0.7, half: 0.70e-4},
	{code: "CAD", usd: 1 / 1.36, vol: 0.06, beta: 0.5, half: 0.45e-4},
	{code: "AUD", usd: 0.66, vol: 0.10, beta: 0.6, half: 0.60e-4},
	{code: "NZD", usd: 0.61, vol: 0.105, beta: 0.6, half: 1.2e-4},
	{code: "MXN", usd: 1 / 17.0, vol: 0.13, beta: 0.4, half: 1.0e-4},
	{code: "CNH", usd: 1 / 7.2, vol: 0.04, beta: 0.5, half: 1.0e-4},
	{code: "HKD", usd: 1 / 7.82, vol: 0.003, beta: 0.3, half: 0.3e-4},
	{code: "SGD", usd: 1 / 1.34, vol: 0.045, beta: 0.7, half: 1.1e-4},
	{code: "SEK", usd: 1 / 10.5, vol: 0.10, beta: 0.8, half: 1.9e-4},
	{code: "NOK", usd: 1 / 10.6, vol: 0.11, beta: 0.7, half: 2.4e-4},
	{code: "ZAR", usd: 1 / 18.6, vol: 0.16, beta: 0.4, half: 2.7e-4},
}

// Majors are the dollar pairs in market convention, the pairs a client is
// most likely to ask for. Any two currencies make a pair (see Lookup).
var Majors = []string{"AUDUSD", "EURUSD", "GBPUSD", "NZDUSD", "USDCAD", "USDCHF", "USDCNH",
	"USDHKD", "USDJPY", "USDMXN", "USDNOK", "USDSEK", "USDSGD", "USDZAR"}

// Currencies returns the ISO codes of the simulated currencies, sorted.
func Currencies() []string {
	codes := make([]string, len(currencies))
	for i, c := range currencies {
		codes[i] = c.code
	}
	slices.Sort(codes)
	return codes
}

// Lookup errors.
var (
	// ErrMalformed: the name is not six ASCII letters.
	ErrMalformed = errors.New("forexsim: a currency pair is six letters, such as EURUSD")
	// ErrUnknown: a currency of the pair is not simulated, or the pair
	// repeats one.
	ErrUnknown = errors.New("forexsim: currency pair not simulated")
)

// Pair is a simulated currency pair: the price of one unit of the base
// currency in the quote currency. The zero Pair is not valid.
type Pair struct {
	name        string
	base, quote *currency
	level       float64 // the anchor rate: base's dollar value over quote's
	scale       float64 // 10^decimals
}

// Lookup returns the pair named by six upper-case letters, base then quote
// ("USDJPY": yen per dollar).
func Lookup(name string) (Pair, error) {
	if len(name) != 6 {
		return Pair{}, ErrMalformed
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 'A' || c > 'Z' {
			return Pair{}, ErrMalformed
		}
	}
	base, quote := find(name[:3]), find(name[3:])
	if base == nil || quote == nil || base == quote {
		return Pair{}, ErrUnknown
	}
	level := usdOf(base) / usdOf(quote)
	return Pair{name: name, base: base, quote: quote, level: level, scale: math.Pow10(decimals(level))}, nil
}

func find(code string) *currency {
	for _, c := range currencies {
		if c.code == code {
			return c
		}
	}
	return nil
}

func usdOf(c *currency) float64 {
	if c.code == "USD" {
		return 1
	}
	return c.usd
}

// decimals is the quoting precision of a pair whose rate is about level:
// five decimals for rates from 0.1 to 10 (EURUSD 1.08512, USDCHF 0.88123),
// one fewer per power of ten above (USDMXN 17.0512, USDJPY 150.123), and
// five significant digits below (JPYUSD 0.0066667).
func decimals(level float64) int {
	e := int(math.Floor(math.Log10(level)))
	switch {
	case e >= 0:
		return max(5-e, 0)
	case e == -1:
		return 5
	}
	return min(4-e, 12)
}

// Name returns the pair's name, such as "USDJPY".
func (p Pair) Name() string { return p.name }

// Rate is a pair's quote at an instant: bid, mid and ask in the quote
// currency, and Time, the start of the Tick the rate is from (Unix
// nanoseconds).
type Rate struct {
	Time          int64
	Bid, Mid, Ask float64
}

// At returns the rate in effect at t (Unix nanoseconds): the rate of the
// Tick that contains t or, while the market is closed for the weekend, of
// the last Tick before the close.
func (p Pair) At(t int64) Rate {
	open, close := Week(t)
	if t >= close {
		t = close - 1
	}
	return p.at(floorDiv(t, tickNS), t-open)
}

// at computes the rate of tick k, sinceOpen nanoseconds after the week's
// open.
func (p Pair) at(k, sinceOpen int64) Rate {
	mid := p.level * expSeries(p.base.move(k)-p.quote.move(k))
	half := (p.base.half + p.quote.half) * spreadFactor(k, sinceOpen)
	bid := math.Floor(mid * (1 - half) * p.scale)
	ask := math.Ceil(mid * (1 + half) * p.scale)
	if ask <= bid {
		ask = bid + 1
	}
	// Dividing exact integers by an exact power of ten rounds once, so the
	// values print as the short decimals they are.
	return Rate{Time: k * tickNS, Bid: bid / p.scale, Ask: ask / p.scale, Mid: (bid + ask) * 5 / (p.scale * 10)}
}

// move returns the log of the currency's dollar value at tick k relative
// to its anchor.
func (c *currency) move(k int64) float64 {
	if c.code == "USD" {
		return 0
	}
	return c.vol * (c.beta*dollar.at(k) + math.Sqrt(1-c.beta*c.beta)*c.own.at(k))
}

// expSeries is exp(x) by its Taylor series to x⁸/8!: within 1e-6 of exp
// for the |x| < 0.7 the model produces (two currencies' moves of at most
// twice their volatility each), and smooth and increasing there, which is
// all the model needs. math.Exp would do, but on amd64 it takes an FMA path
// on CPUs that have one, so its last bit, and now and then a rounded rate,
// could differ from host to host; these few operations cannot.
func expSeries(x float64) float64 {
	s := 1.0
	for i := 8; i >= 1; i-- {
		s = 1 + s*x/float64(i)
	}
	return s
}

// spreadFactor scales a pair's typical spread at tick k: a jitter of ±25 %,
// three times wider in the first hour after the Sunday open, when liquidity
// returns, and four times in the ten minutes around the daily rollover at
// 17:00 New York time (the trading day starts then, so sinceOpen modulo a
// day is the time since the last rollover: the week has one UTC offset).
func spreadFactor(k, sinceOpen int64) float64 {
	f := 0.75 + 0.5*(unit(spreadKey, k)+1)/2
	sinceRollover := sinceOpen % int64(24*time.Hour)
	switch {
	case sinceOpen < int64(time.Hour):
		f *= 3
	case sinceRollover < int64(5*time.Minute) || sinceRollover >= int64(24*time.Hour-5*time.Minute):
		f *= 4
	}
	return f
}

// scales are the noise components' periods in ticks: 5 s, 1 min, 10 min,
// 1 h, 8 h, 5 days, 30 days, 180 days.
var scales = [...]int64{1, 12, 120, 720, 5760, 86400, 518400, 3110400}

// ticksPerYear converts annual volatility to a component's amplitude.
const ticksPerYear = 365 * 24 * 3600 / 5

// amplitudes[j] is scale j's amplitude for a field of unit annual
// volatility. Node values are uniform in [-1, 1], so two nodes differ by
// √(2/3) of the amplitude; 1.2·√(scale in years) makes the field's spread
// over a horizon about √(horizon in years), a unit random walk's, with the
// smaller scales' share included.
var amplitudes = func() (a [len(scales)]float64) {
	for j, s := range scales {
		a[j] = 1.2 * math.Sqrt(float64(s)/ticksPerYear)
	}
	return a
}()

// field is a noise field of unit annual volatility: per scale, the hash key
// of its nodes.
type field [len(scales)]uint64

// at evaluates the field at tick k.
func (f *field) at(k int64) float64 {
	var sum float64
	for j, s := range scales {
		var v float64
		if s == 1 {
			v = unit(f[j], k)
		} else {
			n := floorDiv(k, s)
			x := float64(k-n*s) / float64(s)
			x = x * x * (3 - 2*x) // smoothstep: no kinks at the nodes
			u0, u1 := unit(f[j], n), unit(f[j], n+1)
			v = u0 + (u1-u0)*x
		}
		sum += amplitudes[j] * v
	}
	return sum
}

// newField returns the field named name; the name is its seed.
func newField(name string) field {
	h := fnv.New64a()
	h.Write([]byte(name))
	seed := h.Sum64()
	var f field
	for j := range f {
		f[j] = mix(seed + uint64(j+1)*0x9e3779b97f4a7c15)
	}
	return f
}

// dollar is the shared component; spreadKey keys the spread jitter.
var (
	dollar    = newField("USD")
	spreadKey = mix(0x5eed5eed)
)

func init() {
	for _, c := range currencies {
		c.own = newField(c.code)
	}
}

// unit hashes node n of key to a value uniform in [-1, 1).
func unit(key uint64, n int64) float64 {
	return float64(mix(key^uint64(n))>>11)*(1.0/(1<<52)) - 1
}

// mix is SplitMix64's finaliser: a bijection of 64-bit values whose
// outputs look independent for inputs that differ in a bit.
func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// floorDiv divides rounding toward minus infinity, so that instants before
// 1970 fall in the right tick.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
