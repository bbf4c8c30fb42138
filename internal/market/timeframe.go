package market

import (
	"fmt"
	"strconv"
	"strings"
)

// TimeUnit is the unit of a bar timeframe.
type TimeUnit uint8

// Timeframe units, as Alpaca names them.
const (
	Minute TimeUnit = iota + 1
	Hour
	Day
	Week
	Month
)

// Timeframe is a bar resolution such as 1Min, 15Min, 1Hour, 1Day.
type Timeframe struct {
	N    int
	Unit TimeUnit
}

// Common timeframes.
var (
	OneMinute = Timeframe{1, Minute}
	OneDay    = Timeframe{1, Day}
)

func (t Timeframe) String() string {
	u := [...]string{"", "Min", "Hour", "Day", "Week", "Month"}
	if t.Unit == 0 || int(t.Unit) >= len(u) {
		return "invalid"
	}
	return strconv.Itoa(t.N) + u[t.Unit]
}

// ParseTimeframe parses Alpaca's timeframe syntax: [1-59]Min or T,
// [1-23]Hour or H, 1Day or D, 1Week or W, [1,2,3,4,6,12]Month or M.
func ParseTimeframe(s string) (Timeframe, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i > 3 {
		return Timeframe{}, fmt.Errorf("invalid timeframe %q", s)
	}
	n, _ := strconv.Atoi(s[:i])
	var u TimeUnit
	switch strings.ToLower(s[i:]) {
	case "min", "t":
		u = Minute
	case "hour", "h":
		u = Hour
	case "day", "d":
		u = Day
	case "week", "w":
		u = Week
	case "month", "m":
		u = Month
	default:
		return Timeframe{}, fmt.Errorf("invalid timeframe %q", s)
	}
	ok := false
	switch u {
	case Minute:
		ok = n >= 1 && n <= 59
	case Hour:
		ok = n >= 1 && n <= 23
	case Day, Week:
		ok = n == 1
	case Month:
		ok = n == 1 || n == 2 || n == 3 || n == 4 || n == 6 || n == 12
	}
	if !ok {
		return Timeframe{}, fmt.Errorf("invalid timeframe %q", s)
	}
	return Timeframe{N: n, Unit: u}, nil
}
