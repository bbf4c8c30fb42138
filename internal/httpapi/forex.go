package httpapi

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tapehq/tape/internal/forexsim"
	"github.com/tapehq/tape/internal/history"
)

// Forex rates: /v1beta1/forex/latest/rates and /v1beta1/forex/rates, which
// the official JS SDK calls (getLatestForexRates, getHistoricalForexRates)
// and Alpaca documents.
//
// Tape records no forex, so it simulates it (package forexsim): a rate is
// a pure function of the pair and the instant, so history and latest agree
// and a query repeated gives the same bytes. "Now" is Options.Now, the
// feed's clock, which a simulator may run ahead of the wall clock: no rate
// is served from after it. The latest rate is the one in effect at now,
// to the five seconds, or over the weekend (forex trades from Sunday
// 17:00 to Friday 17:00 New York time) the last one before the close.
// History samples the rate at each multiple of the timeframe since the
// epoch (every UTC minute for 1Min, 00:00 UTC for 1Day) within [start,
// end], skipping the weekends, in pages: sorted by pair, then by time in
// the requested direction, limit in total across pairs.

// forexSeries names the rates walk in page-token hashes, apart from every
// symbol series.
const forexSeries = "forex/rates"

// forexDefaultStep is the timeframe when a request names none: Alpaca's
// documented default, 1Min.
const forexDefaultStep = time.Minute

// forexPairs parses the required currency_pairs parameter: six letters
// each (USDJPY), upper-cased, sorted and unique, of simulated currencies.
// Like a request's symbols, a missing or invalid pair is a 400.
func (p *parser) forexPairs(s string) ([]forexsim.Pair, *apiError) {
	if strings.Trim(s, ", ") == "" {
		return nil, badRequest("missing currency_pairs")
	}
	names, aerr := p.symbolList(s, forexCanonical, func(part string) *apiError {
		return badRequest("invalid currency pair: %q (want six letters, such as EURUSD)", clip(part))
	})
	if aerr != nil {
		return nil, aerr
	}
	pairs := make([]forexsim.Pair, len(names))
	for i, name := range names {
		pair, err := forexsim.Lookup(name)
		if errors.Is(err, forexsim.ErrUnknown) {
			return nil, badRequest("unsupported currency pair: %s (Tape simulates pairs of %s)", name, strings.Join(forexsim.Currencies(), ", "))
		}
		if err != nil { // unreachable: forexCanonical admitted it
			return nil, badRequest("invalid currency pair: %q", name)
		}
		pairs[i] = pair
	}
	return pairs, nil
}

// forexCanonical upper-cases s and reports whether it is six ASCII letters.
func forexCanonical(s string) (string, bool) {
	if len(s) != 6 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' { // | 0x20 lower-cases a letter
			return "", false
		}
	}
	return strings.ToUpper(s), true
}

// forexLatest serves /v1beta1/forex/latest/rates:
// {"rates":{"USDJPY":{"bp":…,"mp":…,"ap":…,"t":…}}}.
func (h *Handler) forexLatest(w http.ResponseWriter, r *http.Request, v url.Values) {
	pairs, aerr := h.parser.forexPairs(v.Get("currency_pairs"))
	if aerr != nil {
		h.fail(w, r, aerr)
		return
	}
	now := h.opts.Now().UnixNano()
	buf := getBuffer()
	defer putBuffer(buf)
	b := append((*buf)[:0], `{"rates":{`...)
	for i, p := range pairs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, p.Name())
		b = append(b, ':')
		b = appendForexRate(b, p.At(now))
	}
	*buf = append(b, '}', '}')
	h.write(w, r, http.StatusOK, *buf)
}

// forexRequest is a validated history request.
type forexRequest struct {
	pairs []forexsim.Pair
	step  time.Duration
	walk
}

// parseForexHistory validates a history request, its parameters checked in
// a fixed order as parseHistory checks them. The range is parseRange's
// (start defaults to the beginning of today, end to now), its end then cut
// to now: the simulation has no future. A page token binds to the pairs,
// timeframe, start, end and sort, and carries the resolved range.
func (h *Handler) parseForexHistory(v url.Values) (forexRequest, *apiError) {
	var req forexRequest
	var err *apiError
	if req.pairs, err = h.parser.forexPairs(v.Get("currency_pairs")); err != nil {
		return req, err
	}
	req.step = forexDefaultStep
	if s := v.Get("timeframe"); s != "" {
		step, ok := forexsim.ParseTimeframe(s)
		if !ok {
			return req, errInvalidTimeframe
		}
		req.step = step
	}
	names := make([]string, len(req.pairs))
	for i, p := range req.pairs {
		names[i] = p.Name()
	}
	if req.walk, err = h.parser.parseWalk(v, forexSeries, names, req.step.String()); err != nil {
		return req, err
	}
	// The simulation has no future. A token's end was cut when it was made.
	req.end = min(req.end, h.opts.Now().UnixNano())
	return req, nil
}

// forexRates serves /v1beta1/forex/rates:
// {"rates":{"USDJPY":[{"bp":…,"mp":…,"ap":…,"t":…},…]},"next_page_token":…},
// a pair without rates in the range left out. A page ends at limit rates;
// next_page_token is null exactly when no rate is left.
func (h *Handler) forexRates(w http.ResponseWriter, r *http.Request, v url.Values) {
	req, aerr := h.parseForexHistory(v)
	if aerr != nil {
		h.fail(w, r, aerr)
		return
	}
	buf := getBuffer()
	defer putBuffer(buf)
	b := append((*buf)[:0], `{"rates":{`...)
	n := 0
	var last history.Cursor
	more := false
	for _, p := range req.pairs {
		name := p.Name()
		start, end := req.start, req.end
		if a := req.after; a != nil {
			// The cursor's time comes from the client: step off it
			// without overflowing.
			switch {
			case name < a.Symbol:
				continue
			case name == a.Symbol && req.desc:
				if a.Time == math.MinInt64 {
					continue
				}
				end = min(end, a.Time-1)
			case name == a.Symbol:
				if a.Time == math.MaxInt64 {
					continue
				}
				start = max(start, a.Time+1)
			}
		}
		opened := false
		for t := range forexsim.Times(start, end, req.step, req.desc) {
			if n == req.limit {
				more = true
				break
			}
			if opened {
				b = append(b, ',')
			} else {
				if n > 0 {
					b = append(b, ',')
				}
				b = appendString(b, name)
				b = append(b, ':', '[')
				opened = true
			}
			b = appendForexRate(b, p.At(t))
			last = history.Cursor{Symbol: name, Time: t}
			n++
		}
		if opened {
			b = append(b, ']')
		}
		if more {
			break
		}
	}
	b = append(b, `},"next_page_token":`...)
	if more {
		b = appendString(b, encodeToken(&pageToken{start: req.start, end: req.end, cursor: last}, req.hash))
	} else {
		b = append(b, "null"...)
	}
	*buf = append(b, '}')
	h.write(w, r, http.StatusOK, *buf)
}

// appendForexRate appends {"bp":…,"mp":…,"ap":…,"t":…}, in the order of
// Alpaca's documentation.
func appendForexRate(b []byte, r forexsim.Rate) []byte {
	b = append(b, `{"bp":`...)
	b = appendFloat(b, r.Bid)
	b = append(b, `,"mp":`...)
	b = appendFloat(b, r.Mid)
	b = append(b, `,"ap":`...)
	b = appendFloat(b, r.Ask)
	b = append(b, `,"t":`...)
	b = appendTime(b, r.Time)
	return append(b, '}')
}
