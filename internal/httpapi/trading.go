package httpapi

import (
	"bytes"
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/tapehq/tape/internal/alpacameta"
	"github.com/tapehq/tape/internal/calendar"
)

// The market endpoints of Alpaca's trading API (api.alpaca.markets),
// which data programs call too: the clock, the calendar and the assets. A
// client points its trading base URL (APCA_API_BASE_URL) at Tape for them.

// clock serves /v2/clock at the feed's "now" (Options.Now), so a
// simulator running ahead of the wall clock opens and closes its market
// by its own time.
func (h *Handler) clock(w http.ResponseWriter, r *http.Request, _ url.Values) {
	h.writeJSON(w, r, calendar.ClockAt(h.opts.Now()))
}

// calendarIndex is every entry of Tape's calendar, First to Last (about
// 28,000 trading days, 3 MB of JSON), encoded once: a request's answer is
// then a contiguous run of it, whichever date it selects by, because a
// later trade date never settles earlier. Encoding a wide range per
// request would take a quarter of a second.
type calendarIndex struct {
	body          []byte          // the JSON array of every entry
	start, end    []int           // body[start[i]:end[i]] is entry i
	trade, settle []calendar.Date // entry i's trade and settlement dates, both ascending
}

var calendarEntries = sync.OnceValue(func() *calendarIndex {
	days := calendar.Calendar(calendar.First, calendar.Last, calendar.ByTradeDate)
	ix := &calendarIndex{body: make([]byte, 0, 120*len(days)+2)}
	ix.body = append(ix.body, '[')
	for i, d := range days {
		if i > 0 {
			ix.body = append(ix.body, ',')
		}
		b, err := json.Marshal(d)
		if err != nil {
			panic("httpapi: encoding the calendar: " + err.Error()) // unreachable: plain strings
		}
		trade, err1 := calendar.ParseDate(d.Date)
		settle, err2 := calendar.ParseDate(d.SettlementDate)
		if err1 != nil || err2 != nil {
			panic("httpapi: the calendar's own dates do not parse") // unreachable
		}
		ix.start = append(ix.start, len(ix.body))
		ix.body = append(ix.body, b...)
		ix.end = append(ix.end, len(ix.body))
		ix.trade, ix.settle = append(ix.trade, trade), append(ix.settle, settle)
	}
	ix.body = append(ix.body, ']')
	return ix
})

// appendRange appends the JSON array of the entries whose date (trade or
// settlement date, per by) is in [from, to].
func (ix *calendarIndex) appendRange(b []byte, from, to calendar.Date, by calendar.DateType) []byte {
	dates := ix.trade
	if by == calendar.BySettlementDate {
		dates = ix.settle
	}
	i, _ := slices.BinarySearch(dates, from)
	j, _ := slices.BinarySearch(dates, to+1) // the first entry after to
	if j <= i {
		return append(b, '[', ']')
	}
	b = append(b, '[')
	b = append(b, ix.body[ix.start[i]:ix.end[j-1]]...)
	return append(b, ']')
}

// calendar serves /v2/calendar: start and end (dates, or timestamps whose
// date is taken as written, both inclusive) default to the first and last
// day Tape's calendar knows; date_type selects by trade (default) or
// settlement date. The answer is calendar.Calendar's for the range.
func (h *Handler) calendar(w http.ResponseWriter, r *http.Request, v url.Values) {
	// An end past Last defaults wide enough for Last's settlement date.
	start, end := calendar.First, calendar.Last+30
	for _, p := range []struct {
		name string
		d    *calendar.Date
	}{{"start", &start}, {"end", &end}} {
		s := v.Get(p.name)
		if s == "" {
			continue
		}
		d, err := calendar.ParseDate(s)
		if err != nil {
			h.fail(w, r, invalidParam("invalid %s: want YYYY-MM-DD, got %q", p.name, clip(s)))
			return
		}
		*p.d = d
	}
	by, err := calendar.ParseDateType(v.Get("date_type"))
	if err != nil {
		h.fail(w, r, invalidParam("invalid date_type: want TRADING or SETTLEMENT"))
		return
	}
	ix := calendarEntries()
	if v.Get("start") == "" && v.Get("end") == "" {
		h.write(w, r, http.StatusOK, ix.body)
		return
	}
	buf := getBuffer()
	defer putBuffer(buf)
	*buf = ix.appendRange((*buf)[:0], start, end, by)
	h.write(w, r, http.StatusOK, *buf)
}

// assetCache keeps the asset records built so far: building one derives a
// UUID, and /v2/assets lists every symbol on every request.
type assetCache struct {
	mu sync.Mutex
	m  map[string]alpacameta.Asset // by class + ":" + symbol
}

// get returns the asset of class and symbol, and false for a crypto symbol
// that is not a pair.
func (c *assetCache) get(class, symbol string) (alpacameta.Asset, bool) {
	key := class + ":" + symbol
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, ok := c.m[key]; ok {
		return a, true
	}
	var a alpacameta.Asset
	ok := true
	if class == alpacameta.ClassCrypto {
		a, ok = alpacameta.CryptoAsset(symbol)
	} else {
		a = alpacameta.StockAsset(symbol)
	}
	if !ok {
		return a, false
	}
	if c.m == nil {
		c.m = make(map[string]alpacameta.Asset)
	}
	c.m[key] = a
	return a, true
}

// assetsOf returns the assets of class Tape serves.
func (h *Handler) assetsOf(class string) []alpacameta.Asset {
	var syms []string
	switch {
	case class == alpacameta.ClassUSEquity:
		syms = h.opts.StockSymbols()
	case class == alpacameta.ClassCrypto && h.opts.CryptoSymbols != nil:
		syms = h.opts.CryptoSymbols()
	}
	out := make([]alpacameta.Asset, 0, len(syms))
	for _, s := range syms {
		if a, ok := h.assets.get(class, s); ok {
			out = append(out, a)
		}
	}
	return out
}

// assetClasses are the asset_class values Alpaca knows. Tape serves the
// first two; the others are valid and list nothing.
var assetClasses = []string{alpacameta.ClassUSEquity, alpacameta.ClassCrypto, "us_option", "crypto_perp"}

// assetList serves /v2/assets. status is active (or absent) for every
// asset Tape serves and inactive for none; asset_class defaults to
// us_equity, as at Alpaca; exchange keeps one exchange; attributes keeps
// the assets with any of the comma-separated attributes. The list is
// sorted by exchange, then symbol.
func (h *Handler) assetList(w http.ResponseWriter, r *http.Request, v url.Values) {
	status := v.Get("status")
	if status != "" && status != "active" && status != "inactive" {
		h.fail(w, r, invalidParam("invalid status: want active or inactive"))
		return
	}
	class := cmp.Or(v.Get("asset_class"), alpacameta.ClassUSEquity)
	if !slices.Contains(assetClasses, class) {
		h.fail(w, r, invalidParam("invalid asset_class: %q", clip(class)))
		return
	}
	var attrs []string
	if s := v.Get("attributes"); s != "" {
		attrs = strings.Split(s, ",")
	}
	exchange := v.Get("exchange")
	out := []alpacameta.Asset{}
	if status != "inactive" {
		for _, a := range h.assetsOf(class) {
			if exchange != "" && a.Exchange != exchange {
				continue
			}
			if attrs != nil && !slices.ContainsFunc(attrs, a.HasAttribute) {
				continue
			}
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b alpacameta.Asset) int {
		return cmp.Or(cmp.Compare(a.Exchange, b.Exchange), cmp.Compare(a.Symbol, b.Symbol))
	})
	h.writeJSON(w, r, out)
}

// asset serves /v2/assets/{symbol_or_id}: a stock symbol, a crypto pair
// (BTC/USD, also as BTC%2FUSD or BTCUSD, as Alpaca accepts them) or an
// asset ID.
func (h *Handler) asset(w http.ResponseWriter, r *http.Request, _ url.Values) {
	id := r.PathValue("id")
	key := strings.ToUpper(id)
	for _, class := range []string{alpacameta.ClassUSEquity, alpacameta.ClassCrypto} {
		for _, a := range h.assetsOf(class) {
			if a.ID == id || a.Symbol == key || (class == alpacameta.ClassCrypto && strings.ReplaceAll(a.Symbol, "/", "") == key) {
				h.writeJSON(w, r, a)
				return
			}
		}
	}
	h.fail(w, r, &apiError{status: http.StatusNotFound, code: codeNotFound, msg: "asset not found for " + clip(id)})
}

// announcements serves /v2/corporate_actions/announcements, the trading
// API's corporate action announcements (the Go SDK's GetAnnouncements):
// always an empty list, as Tape records no corporate actions. since and
// until are checked, as Alpaca checks them.
func (h *Handler) announcements(w http.ResponseWriter, r *http.Request, v url.Values) {
	for _, name := range []string{"since", "until"} {
		if s := v.Get(name); s != "" {
			if _, err := calendar.ParseDate(s); err != nil {
				h.fail(w, r, invalidParam("invalid %s: want YYYY-MM-DD, got %q", name, clip(s)))
				return
			}
		}
	}
	h.write(w, r, http.StatusOK, []byte("[]"))
}

// announcement serves /v2/corporate_actions/announcements/{id}: there are
// none.
func (h *Handler) announcement(w http.ResponseWriter, r *http.Request, _ url.Values) {
	h.fail(w, r, &apiError{status: http.StatusNotFound, code: codeNotFound, msg: "announcement not found"})
}

// marshalJSON encodes v as encoding/json does, without escaping HTML
// characters: a name like "AT&T" reads as Alpaca sends it.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// writeJSON answers 200 with v encoded by encoding/json: the reference
// data, screener, news and clock answers, which are small or rare enough
// not to need an appender.
func (h *Handler) writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := marshalJSON(v)
	if err != nil {
		h.opts.Logger.Error("encoding a response", "path", r.URL.Path, "err", err)
		h.fail(w, r, errInternal)
		return
	}
	h.write(w, r, http.StatusOK, b)
}
