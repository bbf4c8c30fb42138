package options

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tapehq/tape/internal/calendar"
)

// Contract is one option contract.
type Contract struct {
	// Root is the OCC root symbol: the underlying without punctuation
	// (BRK.B's is BRKB), at most six characters.
	Root   string
	Expiry calendar.Date
	Put    bool
	// StrikeMilli is the strike in thousandths of a dollar, as the OCC
	// symbol writes it.
	StrikeMilli int64
}

// Strike returns the strike price in dollars.
func (c Contract) Strike() float64 { return float64(c.StrikeMilli) / 1000 }

// Type returns "call" or "put", as Alpaca writes a contract's type.
func (c Contract) Type() string {
	if c.Put {
		return "put"
	}
	return "call"
}

// Symbol returns the contract's OCC symbol, as Alpaca writes it (no
// padding of the root): AAPL261218C00230000.
func (c Contract) Symbol() string {
	return string(c.AppendSymbol(make([]byte, 0, 21)))
}

// AppendSymbol appends the contract's OCC symbol to b.
func (c Contract) AppendSymbol(b []byte) []byte {
	b = append(b, c.Root...)
	y, m, d := c.Expiry.Civil()
	b = append(b, byte('0'+y/10%10), byte('0'+y%10), byte('0'+int(m)/10), byte('0'+int(m)%10), byte('0'+d/10), byte('0'+d%10))
	if c.Put {
		b = append(b, 'P')
	} else {
		b = append(b, 'C')
	}
	k := c.StrikeMilli
	var digits [8]byte
	for i := 7; i >= 0; i-- {
		digits[i] = byte('0' + k%10)
		k /= 10
	}
	return append(b, digits[:]...)
}

// Expires returns when the contract stops trading: its expiration date's
// regular close (16:00 New York, 13:00 on an early close).
func (c Contract) Expires() time.Time {
	if d, ok := calendar.TradingDay(c.Expiry); ok {
		return d.Close
	}
	return c.Expiry.At(16, 0)
}

// ErrSymbol is the error of a string that is not an OCC option symbol.
var ErrSymbol = errors.New("not an option symbol")

// maxStrikeMilli is the largest strike the OCC format holds ($99,999.999).
const maxStrikeMilli = 99_999_999

// Parse parses an OCC option symbol: a root of one to six letters or
// digits, the expiration as YYMMDD (20YY), C or P, and the strike in
// thousandths of a dollar in eight digits. The padded form of the OCC's
// own files (the root padded to six with spaces) is accepted too. Lower
// case is upper-cased.
func Parse(s string) (Contract, error) {
	var c Contract
	if len(s) < 16 || len(s) > 21 {
		return c, fmt.Errorf("%w: %q", ErrSymbol, s)
	}
	s = strings.ToUpper(s)
	tail := s[len(s)-15:]
	root := strings.TrimRight(s[:len(s)-15], " ")
	if root == "" || len(root) > 6 || !alnum(root) {
		return c, fmt.Errorf("%w: %q", ErrSymbol, s)
	}
	for i, ch := range []byte(tail) {
		if i == 6 {
			continue
		}
		if ch < '0' || ch > '9' {
			return c, fmt.Errorf("%w: %q", ErrSymbol, s)
		}
	}
	num := func(a, b int) int { n, _ := strconv.Atoi(tail[a:b]); return n }
	y, m, d := 2000+num(0, 2), num(2, 4), num(4, 6)
	if m < 1 || m > 12 || d < 1 || d > 31 {
		return c, fmt.Errorf("%w: %q: no such date", ErrSymbol, s)
	}
	date := calendar.NewDate(y, time.Month(m), d)
	if yy, mm, dd := date.Civil(); yy != y || int(mm) != m || dd != d {
		return c, fmt.Errorf("%w: %q: no such date", ErrSymbol, s)
	}
	switch tail[6] {
	case 'C':
	case 'P':
		c.Put = true
	default:
		return c, fmt.Errorf("%w: %q", ErrSymbol, s)
	}
	strike, _ := strconv.ParseInt(tail[7:], 10, 64)
	if strike <= 0 {
		return c, fmt.Errorf("%w: %q: zero strike", ErrSymbol, s)
	}
	c.Root, c.Expiry, c.StrikeMilli = root, date, strike
	return c, nil
}

// IsSymbol reports whether s is an OCC option symbol as Alpaca writes
// them (upper case, no padding).
func IsSymbol(s string) bool {
	c, err := Parse(s)
	return err == nil && c.Symbol() == s
}

// RootOf returns the OCC root of an underlying symbol: letters and digits
// only, at most six (BRK.B → BRKB).
func RootOf(underlying string) string {
	b := make([]byte, 0, len(underlying))
	for i := 0; i < len(underlying) && len(b) < 6; i++ {
		if c := underlying[i]; c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b = append(b, c)
		}
	}
	return string(b)
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// dailyRoots have an expiration every trading day, as SPY, QQQ and IWM
// have had since 2022.
var dailyRoots = []string{"SPY", "QQQ", "IWM"}

// Listing windows: how far ahead each kind of expiration is listed.
const (
	dailyDays    = 14 // calendar days of daily expirations
	weeklyWeeks  = 6
	monthlyCount = 9
	leapsCount   = 2
)

// Expirations returns the expiration dates listed on day d for root, in
// ascending order, from d itself (a contract trades on its expiration day
// until the close).
func Expirations(root string, d calendar.Date) []calendar.Date {
	var out []calendar.Date
	add := func(e calendar.Date) {
		if e >= d {
			out = append(out, e)
		}
	}
	if slices.Contains(dailyRoots, root) {
		for e := d; e <= d.AddDays(dailyDays); e = e.AddDays(1) {
			if calendar.IsTradingDay(e) {
				add(e)
			}
		}
	}
	// Weeklies: each Friday, or the trading day before a Friday holiday.
	fri := d.AddDays((int(time.Friday) - int(d.Weekday()) + 7) % 7)
	for range weeklyWeeks {
		add(expiryOn(fri))
		fri = fri.AddDays(7)
	}
	y, m, _ := d.Civil()
	for i := range monthlyCount + 1 {
		add(monthly(y, m+time.Month(i)))
	}
	for i := 1; i <= leapsCount; i++ {
		add(monthly(y+i, time.January))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// monthly returns the standard monthly expiration of a month: its third
// Friday (or the trading day before, on a holiday).
func monthly(y int, m time.Month) calendar.Date {
	t := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC) // normalises m beyond 12
	first := calendar.NewDate(t.Year(), t.Month(), 1)
	fri := first.AddDays((int(time.Friday) - int(first.Weekday()) + 7) % 7)
	return expiryOn(fri.AddDays(14))
}

// expiryOn moves an expiration that falls on a closed day to the trading
// day before it (Good Friday's expirations are on Thursday).
func expiryOn(d calendar.Date) calendar.Date {
	if calendar.IsTradingDay(d) {
		return d
	}
	return calendar.PrevTradingDay(d)
}

// Listed returns the first day the contract is listed on (the first day
// Expirations lists its expiration): two years ahead for a January
// monthly (LEAPS), nine months for another monthly, six weeks for a
// weekly, two for a daily. It trades from then to its expiration.
func (c Contract) Listed() calendar.Date {
	e := c.Expiry
	y, m, _ := e.Civil()
	switch {
	case e == monthly(y, m) && m == time.January:
		return calendar.NewDate(y-leapsCount, time.January, 1)
	case e == monthly(y, m):
		t := time.Date(y, m-monthlyCount, 1, 0, 0, 0, 0, time.UTC)
		return calendar.NewDate(t.Year(), t.Month(), 1)
	case e.Weekday() == time.Friday:
		return e.AddDays(-7*weeklyWeeks + 1)
	case e.AddDays(1).Weekday() == time.Friday && !calendar.IsTradingDay(e.AddDays(1)):
		return e.AddDays(1 - 7*weeklyWeeks + 1) // the Friday's weekly, a day early
	}
	return e.AddDays(-dailyDays)
}

// StrikeStep returns the strike interval listed around a price.
func StrikeStep(price float64) float64 {
	switch {
	case price < 25:
		return 0.5
	case price < 100:
		return 1
	case price < 300:
		return 2.5
	case price < 1000:
		return 5
	case price < 3000:
		return 10
	}
	// Beyond, a step of about 0.4 % of the price, rounded up to 1, 2.5 or
	// 5 times a power of ten: some fifty strikes a side, however high the
	// price (a chain is listed per request, and must stay small).
	raw := price * 0.004
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2.5, 5, 10} {
		if m*pow >= raw {
			return m * pow
		}
	}
	return 10 * pow
}

// strikeBand is how far from the reference price strikes are listed.
const strikeBand = 0.20

// Strikes returns the strikes (in thousandths) listed around ref, the
// underlying's previous close: every StrikeStep(ref) within 20 % of it.
func Strikes(ref float64) []int64 {
	if !(ref > 0) || math.IsInf(ref, 0) {
		return nil
	}
	step := StrikeStep(ref)
	lo := math.Ceil(ref*(1-strikeBand)/step) * step
	hi := math.Floor(ref*(1+strikeBand)/step) * step
	var out []int64
	for k := lo; k <= hi+step/2; k += step {
		if m := int64(math.Round(k * 1000)); m > 0 && m <= maxStrikeMilli {
			out = append(out, m)
		}
	}
	return out
}

// Chain returns the contracts listed on day d for root, with ref the
// underlying's previous close, sorted by symbol (which orders them by
// expiration, then type, then strike).
func Chain(root string, d calendar.Date, ref float64) []Contract {
	strikes := Strikes(ref)
	exps := Expirations(root, d)
	out := make([]Contract, 0, 2*len(strikes)*len(exps))
	for _, e := range exps {
		for _, put := range []bool{false, true} {
			for _, k := range strikes {
				out = append(out, Contract{Root: root, Expiry: e, Put: put, StrikeMilli: k})
			}
		}
	}
	return out
}
