package httpapi

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tapehq/tape/internal/alpacameta"
	"github.com/tapehq/tape/internal/calendar"
	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/options"
)

// optionExchanges serves /v1beta1/options/meta/exchanges.
func (h *Handler) optionExchanges(w http.ResponseWriter, r *http.Request, _ url.Values) {
	if e := h.optionsReady(); e != nil {
		h.fail(w, r, e)
		return
	}
	h.writeJSON(w, r, options.ExchangeNames)
}

// optionConditions serves /v1beta1/options/meta/conditions/{trade|quote}.
func (h *Handler) optionConditions(w http.ResponseWriter, r *http.Request, _ url.Values) {
	if e := h.optionsReady(); e != nil {
		h.fail(w, r, e)
		return
	}
	switch r.PathValue("ticktype") {
	case "trade":
		h.writeJSON(w, r, options.TradeConditionNames)
	case "quote":
		h.writeJSON(w, r, options.QuoteConditionNames)
	default:
		h.fail(w, r, badRequest("invalid ticktype: want trade or quote"))
	}
}

// optionContractJSON is the trading API's option contract.
type optionContractJSON struct {
	ID                string  `json:"id"`
	Symbol            string  `json:"symbol"`
	Name              string  `json:"name"`
	Status            string  `json:"status"`
	Tradable          bool    `json:"tradable"`
	ExpirationDate    string  `json:"expiration_date"`
	RootSymbol        string  `json:"root_symbol"`
	UnderlyingSymbol  string  `json:"underlying_symbol"`
	UnderlyingAssetID string  `json:"underlying_asset_id"`
	Type              string  `json:"type"`
	Style             string  `json:"style"`
	StrikePrice       string  `json:"strike_price"`
	Multiplier        string  `json:"multiplier"`
	Size              string  `json:"size"`
	OpenInterest      *string `json:"open_interest"`
	OpenInterestDate  *string `json:"open_interest_date,omitempty"`
	ClosePrice        *string `json:"close_price,omitempty"`
	ClosePriceDate    *string `json:"close_price_date,omitempty"`
	Deliverables      []any   `json:"deliverables,omitempty"`
}

// contractJSON describes c, listed on day d on underlying, whose previous
// close was ref. The close price is the model's value at that close; the
// open interest a deterministic figure that falls away from the money.
func contractJSON(c options.Contract, underlying string, d calendar.Date, ref float64, deliverables bool) optionContractJSON {
	y, m, day := c.Expiry.Civil()
	sym := c.Symbol()
	strike := strconv.FormatFloat(c.Strike(), 'f', -1, 64)
	out := optionContractJSON{
		ID: alpacameta.AssetID("us_option", sym), Symbol: sym,
		Name:   underlying + " " + time.Month(m).String()[:3] + " " + strconv.Itoa(day) + " " + strconv.Itoa(y) + " " + strike + " " + strings.ToUpper(c.Type()[:1]) + c.Type()[1:],
		Status: "active", Tradable: true, ExpirationDate: c.Expiry.String(),
		RootSymbol: c.Root, UnderlyingSymbol: underlying, UnderlyingAssetID: alpacameta.AssetID(alpacameta.ClassUSEquity, underlying),
		Type: c.Type(), Style: "american", StrikePrice: strike, Multiplier: "100", Size: "100",
	}
	prev := calendar.PrevTradingDay(d)
	date := prev.String()
	oi := strconv.FormatInt(options.OpenInterest(c, ref), 10)
	out.OpenInterest, out.OpenInterestDate = &oi, &date
	if td, ok := calendar.TradingDay(prev); ok && ref > 0 {
		p := strconv.FormatFloat(c.Value(ref, td.Close.UnixNano()).Price, 'f', 2, 64)
		out.ClosePrice, out.ClosePriceDate = &p, &date
	}
	if deliverables {
		out.Deliverables = []any{map[string]any{
			"type": "equity", "symbol": underlying, "asset_id": out.UnderlyingAssetID, "amount": "100",
			"allocation_percentage": "100", "settlement_type": "T+1", "settlement_method": "CCC", "delayed_settlement": false,
		}}
	}
	return out
}

// optionContracts serves the trading API's /v2/options/contracts: the
// contracts listed today, filtered by underlying_symbols, status, the
// expiration and strike ranges, root_symbol, type and style, sorted by
// root, then symbol (the same order but for roots that end in a digit),
// and paged (limit 1–10000, default 100). As at Alpaca, the
// expiration range defaults to today through the next weekend.
func (h *Handler) optionContracts(w http.ResponseWriter, r *http.Request, v url.Values) {
	if e := h.optionsReady(); e != nil {
		h.fail(w, r, e)
		return
	}
	now := h.opts.Now()
	today := calendar.DateOf(now)
	weekend := today.AddDays((int(time.Saturday)-int(today.Weekday())+7)%7 + 7)
	f, aerr := parseContractFilter(v, today.String(), weekend.String())
	if aerr != nil {
		h.fail(w, r, aerr)
		return
	}
	if v.Get("expiration_date") != "" && v.Get("expiration_date_lte") == "" {
		f.expHi = calendar.Last // an exact date is not bounded by the default range
	}
	limit, aerr := parseLimit(v.Get("limit"), defaultChainLimit, maxLimit)
	if aerr != nil {
		h.fail(w, r, aerr)
		return
	}
	status := v.Get("status")
	if status != "" && status != "active" && status != "inactive" {
		h.fail(w, r, invalidParam("invalid status: want active or inactive"))
		return
	}
	style := v.Get("style")
	if style != "" && style != "american" && style != "european" {
		h.fail(w, r, invalidParam("invalid style: want american or european"))
		return
	}
	deliverables, aerr := parseBool("show_deliverables", v.Get("show_deliverables"))
	if aerr != nil {
		h.fail(w, r, aerr)
		return
	}
	unds := h.opts.StockSymbols()
	if s := v.Get("underlying_symbols"); s != "" {
		if unds, aerr = h.parser.parseSymbols(s); aerr != nil {
			h.fail(w, r, aerr)
			return
		}
	}
	// Walk the underlyings by root, each root's contracts in symbol order,
	// from the page token on: a page costs the roots it reads, not every
	// chain of every stock Tape serves.
	byRoot := h.underlyings()
	roots := make([]string, 0, len(unds))
	for _, und := range unds {
		if root := options.RootOf(und); byRoot[root] == und {
			roots = append(roots, root)
		}
	}
	slices.Sort(roots)
	roots = slices.Compact(roots)
	hash := hashQuery("options/contracts", unds, v.Get("status"), v.Get("type"), v.Get("style"), v.Get("strike_price_gte"),
		v.Get("strike_price_lte"), v.Get("expiration_date"), v.Get("expiration_date_gte"), v.Get("expiration_date_lte"), v.Get("root_symbol"))
	var after string
	var afterRoot string
	if tok := v.Get("page_token"); tok != "" {
		t, ok := decodeToken(tok, hash)
		c, err := options.Parse(t.cursor.Symbol)
		if !ok || err != nil {
			h.fail(w, r, errInvalidToken)
			return
		}
		after, afterRoot = t.cursor.Symbol, c.Root
	}
	out := make([]optionContractJSON, 0, min(limit, 1024))
	var next any
	var last string
	if status == "inactive" || style == "european" {
		roots = nil // Tape's contracts are all active and American
	}
walk:
	for _, root := range roots {
		if root < afterRoot {
			continue
		}
		und := byRoot[root]
		listed, ref := h.listed(und, today)
		for _, c := range listed {
			if !f.match(c) {
				continue
			}
			sym := c.Symbol()
			if root == afterRoot && sym <= after {
				continue
			}
			if len(out) == limit {
				next = encodeToken(&pageToken{cursor: history.Cursor{Symbol: last}}, hash)
				break walk
			}
			out = append(out, contractJSON(c, und, today, ref, deliverables))
			last = sym
		}
	}
	h.writeJSON(w, r, map[string]any{"option_contracts": out, "next_page_token": next})
}

// optionContract serves /v2/options/contracts/{symbol_or_id}: any
// contract on a served underlying by its symbol, or a contract listed
// today by its ID.
func (h *Handler) optionContract(w http.ResponseWriter, r *http.Request, _ url.Values) {
	if e := h.optionsReady(); e != nil {
		h.fail(w, r, e)
		return
	}
	id := r.PathValue("id")
	today := calendar.DateOf(h.opts.Now())
	roots := h.underlyings()
	if c, und, ok := contractOf(id, roots); ok {
		h.writeJSON(w, r, contractJSON(c, und, today, h.refPrice(und, today), false))
		return
	}
	// An ID is a name-based UUID of the symbol: find it among today's
	// listings (a scan, so only for what looks like an ID).
	for _, und := range h.opts.StockSymbols() {
		if len(id) != 36 || strings.Count(id, "-") != 4 {
			break
		}
		listed, ref := h.listed(und, today)
		for _, c := range listed {
			if alpacameta.AssetID("us_option", c.Symbol()) == id {
				h.writeJSON(w, r, contractJSON(c, und, today, ref, false))
				return
			}
		}
	}
	h.fail(w, r, &apiError{status: http.StatusNotFound, code: codeNotFound, msg: "option contract not found for " + clip(id)})
}
