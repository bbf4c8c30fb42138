package httpapi

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tapehq/tape/internal/calendar"
)

// The trading API's v3 market clock and calendar, which the JS SDK v4's
// default clock() and calendar() call: /v3/clock?markets=&time= and
// /v3/calendar/{market}?start=&end=. Tape knows one market, the NYSE (US
// equities; "XNYS", "NYSE" or "US" name it).

// v3Market describes the market (Alpaca's PublicMarket).
type v3Market struct {
	Name     string `json:"name"`
	Acronym  string `json:"acronym"`
	MIC      string `json:"mic"`
	Timezone string `json:"timezone"`
}

var nyseMarket = v3Market{Name: "New York Stock Exchange", Acronym: "NYSE", MIC: "XNYS", Timezone: "America/New_York"}

// knownMarket reports whether s names the NYSE (or the US equity market).
func knownMarket(s string) bool {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "NYSE", "XNYS", "US", "US_EQUITY", "NASDAQ", "XNAS", "BATS", "BOATS":
		return true
	}
	return false
}

type v3Clock struct {
	Market          v3Market  `json:"market"`
	Timestamp       time.Time `json:"timestamp"`
	IsMarketDay     bool      `json:"is_market_day"`
	Phase           string    `json:"phase"` // closed, pre, core, post
	PhaseUntil      time.Time `json:"phase_until"`
	NextMarketOpen  time.Time `json:"next_market_open"`
	NextMarketClose time.Time `json:"next_market_close"`
}

// clockV3 serves /v3/clock at the feed's now (or ?time=).
func (h *Handler) clockV3(w http.ResponseWriter, r *http.Request, v url.Values) {
	for _, m := range strings.Split(v.Get("markets"), ",") {
		if !knownMarket(m) {
			h.fail(w, r, invalidParam("unknown market %q: Tape knows the NYSE (XNYS)", clip(m)))
			return
		}
	}
	now := h.opts.Now()
	if s := v.Get("time"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			h.fail(w, r, invalidParam("invalid time: want RFC 3339, got %q", clip(s)))
			return
		}
		now = t
	}
	ny := now.In(calendar.NewYork())
	c := v3Clock{Market: nyseMarket, Timestamp: ny, Phase: "closed", NextMarketOpen: calendar.NextOpen(now).In(calendar.NewYork()),
		NextMarketClose: calendar.NextClose(now).In(calendar.NewYork())}
	day, ok := calendar.TradingDay(calendar.DateOf(now))
	c.IsMarketDay = ok
	span := calendar.SpanAt(now)
	switch span.Session {
	case calendar.PreMarket:
		c.Phase = "pre"
	case calendar.Regular:
		c.Phase = "core"
	case calendar.AfterHours:
		c.Phase = "post"
	}
	c.PhaseUntil = span.End.In(calendar.NewYork())
	if c.Phase == "closed" {
		c.PhaseUntil = calendar.NextOpen(now).In(calendar.NewYork())
		if ok && now.Before(day.SessionOpen) {
			c.PhaseUntil = day.SessionOpen.In(calendar.NewYork())
		}
	}
	h.writeJSON(w, r, struct {
		Clocks []v3Clock `json:"clocks"`
	}{[]v3Clock{c}})
}

type v3Day struct {
	Date           string    `json:"date"`
	PreStart       time.Time `json:"pre_start"`
	PreEnd         time.Time `json:"pre_end"`
	CoreStart      time.Time `json:"core_start"`
	CoreEnd        time.Time `json:"core_end"`
	PostStart      time.Time `json:"post_start"`
	PostEnd        time.Time `json:"post_end"`
	SettlementDate string    `json:"settlement_date"`
}

// calendarV3 serves /v3/calendar/{market}: start and end dates, inclusive,
// default today to a year on.
func (h *Handler) calendarV3(w http.ResponseWriter, r *http.Request, v url.Values) {
	if m := r.PathValue("market"); !knownMarket(m) || m == "" {
		h.fail(w, r, &apiError{status: http.StatusNotFound, code: codeNotFound, msg: "unknown market: " + clip(m) + " (Tape knows XNYS)"})
		return
	}
	today := calendar.DateOf(h.opts.Now())
	start, end := today, today.AddDays(365)
	for _, p := range []struct {
		name string
		d    *calendar.Date
	}{{"start", &start}, {"end", &end}} {
		if s := v.Get(p.name); s != "" {
			d, err := calendar.ParseDate(s)
			if err != nil {
				h.fail(w, r, invalidParam("invalid %s: want YYYY-MM-DD, got %q", p.name, clip(s)))
				return
			}
			*p.d = d
		}
	}
	if end < start || end-start > 10*366 {
		h.fail(w, r, invalidParam("invalid range: end before start, or more than ten years"))
		return
	}
	ny := calendar.NewYork()
	out := struct {
		Market   v3Market `json:"market"`
		Calendar []v3Day  `json:"calendar"`
	}{Market: nyseMarket, Calendar: []v3Day{}}
	for _, d := range calendar.Days(start, end) {
		out.Calendar = append(out.Calendar, v3Day{Date: d.Date.String(), PreStart: d.SessionOpen.In(ny), PreEnd: d.Open.In(ny),
			CoreStart: d.Open.In(ny), CoreEnd: d.Close.In(ny), PostStart: d.Close.In(ny), PostEnd: d.SessionClose.In(ny),
			SettlementDate: calendar.SettlementDate(d.Date).String()})
	}
	h.writeJSON(w, r, out)
}
