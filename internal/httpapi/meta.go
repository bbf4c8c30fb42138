package httpapi

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tapehq/tape/internal/alpacameta"
)

// exchanges serves /v2/stocks/meta/exchanges: Alpaca's exchange code ->
// name table.
func (h *Handler) exchanges(w http.ResponseWriter, r *http.Request, _ url.Values) {
	h.writeJSON(w, r, alpacameta.StockExchanges())
}

// conditions serves /v2/stocks/meta/conditions/{trade|quote}?tape=A|B|C:
// the code -> description table of the tape's plan (CTA for A and B, UTP
// for C).
func (h *Handler) conditions(w http.ResponseWriter, r *http.Request, v url.Values) {
	var table func(byte) (map[string]string, bool)
	switch r.PathValue("ticktype") {
	case "trade":
		table = alpacameta.TradeConditions
	case "quote":
		table = alpacameta.QuoteConditions
	default:
		h.fail(w, r, badRequest("invalid ticktype: want trade or quote"))
		return
	}
	tape := v.Get("tape")
	if tape == "" {
		h.fail(w, r, invalidParam("missing tape: want A, B or C"))
		return
	}
	m, ok := map[string]string(nil), false
	if len(tape) == 1 {
		m, ok = table(tape[0])
	}
	if !ok {
		h.fail(w, r, invalidParam("invalid tape: want A, B or C"))
		return
	}
	h.writeJSON(w, r, m)
}

// corporateActionTypes are the types /v1/corporate-actions filters on.
var corporateActionTypes = []string{
	"reverse_split", "forward_split", "unit_split", "cash_dividend", "stock_dividend", "spin_off",
	"cash_merger", "stock_merger", "stock_and_cash_merger", "redemption", "name_change",
	"worthless_removal", "rights_distribution", "partial_call", "reorganization",
}

// Limits of /v1/corporate-actions.
const (
	defaultCALimit = 100
	maxCALimit     = 1000
)

// emptyCorporateActions is the answer of /v1/corporate-actions: Alpaca's
// shape with nothing in it. The SDK's GetCorporateActions decodes it to an
// empty CorporateActions and stops paging at the null token.
const emptyCorporateActions = `{"corporate_actions":{},"next_page_token":null}`

// corporateActions serves /v1/corporate-actions. Tape records no
// corporate actions, so a valid request gets an empty result; its
// parameters are still checked as Alpaca checks them, so that a client's
// mistake fails here as it would there.
func (h *Handler) corporateActions(w http.ResponseWriter, r *http.Request, v url.Values) {
	if s := v.Get("symbols"); s != "" {
		if _, err := h.parser.parseSymbols(s); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if s := v.Get("types"); s != "" {
		for t := range strings.SplitSeq(s, ",") {
			if !slices.Contains(corporateActionTypes, strings.TrimSpace(t)) {
				h.fail(w, r, invalidParam("invalid types: unknown type %q", clip(t)))
				return
			}
		}
	}
	if s := v.Get("region"); s != "" && s != "us" && s != "non_us" && s != "all" {
		h.fail(w, r, invalidParam("invalid region: want us, non_us or all"))
		return
	}
	var start, end int64
	for _, p := range []struct {
		name string
		t    *int64
	}{{"start", &start}, {"end", &end}} {
		s := v.Get(p.name)
		if s == "" {
			continue
		}
		if len(s) != len("2006-01-02") {
			h.fail(w, r, invalidParam("invalid %s: want YYYY-MM-DD, got %q", p.name, clip(s)))
			return
		}
		t, err := h.parser.parseTime(p.name, s)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		*p.t = t
	}
	if v.Get("start") != "" && v.Get("end") != "" && end < start {
		h.fail(w, r, invalidParam("end should not be before start"))
		return
	}
	if v.Get("ids") != "" && (v.Get("symbols") != "" || v.Get("cusips") != "" || v.Get("types") != "" || v.Get("start") != "" || v.Get("end") != "") {
		h.fail(w, r, invalidParam("ids cannot be combined with symbols, cusips, types, start or end"))
		return
	}
	if _, err := parseLimit(v.Get("limit"), defaultCALimit, maxCALimit); err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := parseSort(v.Get("sort"), "asc"); err != nil {
		h.fail(w, r, err)
		return
	}
	// Tape issues no corporate action page tokens, so any is foreign.
	if v.Get("page_token") != "" {
		h.fail(w, r, errInvalidToken)
		return
	}
	h.write(w, r, http.StatusOK, []byte(emptyCorporateActions))
}
