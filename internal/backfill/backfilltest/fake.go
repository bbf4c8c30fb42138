// Package backfilltest is a fake of Alpaca's market-data REST API for
// tests: the historical bars, trades and quotes endpoints (multi-symbol,
// paginated with next_page_token, limit counted across symbols) and the
// latest trades, quotes and bars, answering in Alpaca's JSON shapes, gzip
// when asked. Tests inject failures (429, 500, slowness) with Intercept
// and change the latest values between polls with SetLatest.
package backfilltest

import (
	"cmp"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// Server is a running fake.
type Server struct {
	*httptest.Server

	// Intercept, if set, sees every request first; when it returns true it
	// has answered and the fake does nothing more. It runs concurrently.
	Intercept func(w http.ResponseWriter, r *http.Request) bool

	mu          sync.Mutex
	key, secret string
	history     map[string]map[string][]market.Event // kind → symbol → events by time
	latest      map[string]map[string]market.Event   // kind → symbol → event
	requests    []*http.Request
	inflight    int
	maxIn       int
}

// New starts a fake that stops when the test ends.
func New(t testing.TB) *Server {
	s := &Server{history: map[string]map[string][]market.Event{}, latest: map[string]map[string]market.Event{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// SetKeys makes the fake require these keys (401 otherwise); "" turns
// the check off.
func (s *Server) SetKeys(key, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key, s.secret = key, secret
}

// Add stores historical events; their Kind says the endpoint (KindTrade:
// trades, KindQuote: quotes, any bar kind: bars).
func (s *Server) Add(evs ...market.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range evs {
		k := kindPath(e.Kind)
		if s.history[k] == nil {
			s.history[k] = map[string][]market.Event{}
		}
		l := append(s.history[k][e.Symbol], e)
		slices.SortStableFunc(l, func(a, b market.Event) int { return cmp.Compare(a.Time, b.Time) })
		s.history[k][e.Symbol] = l
	}
}

// SetLatest sets what the latest endpoints answer for the events' symbols.
func (s *Server) SetLatest(evs ...market.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range evs {
		k := kindPath(e.Kind)
		if s.latest[k] == nil {
			s.latest[k] = map[string]market.Event{}
		}
		s.latest[k][e.Symbol] = e
	}
}

// Requests returns the requests served so far (intercepted ones too).
func (s *Server) Requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// MaxInFlight is the most requests that were being served at once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxIn
}

func kindPath(k market.Kind) string {
	switch k {
	case market.KindTrade:
		return "trades"
	case market.KindQuote:
		return "quotes"
	}
	return "bars"
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r)
	s.inflight++
	s.maxIn = max(s.maxIn, s.inflight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
	}()
	if s.Intercept != nil && s.Intercept(w, r) {
		return
	}
	s.Handle(w, r)
}

// Handle answers r as the fake does when nothing intercepts it; an
// Intercept may call it and then act on having answered.
func (s *Server) Handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	key, secret := s.key, s.secret
	s.mu.Unlock()
	if key != "" && (r.Header.Get("APCA-API-KEY-ID") != key || r.Header.Get("APCA-API-SECRET-KEY") != secret) {
		Error(w, http.StatusUnauthorized, 40110000, "request is not authorized")
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/") // v2 stocks bars [latest]
	if len(parts) < 3 || parts[0] != "v2" || parts[1] != "stocks" {
		Error(w, http.StatusNotFound, 0, "endpoint not found")
		return
	}
	kind := parts[2]
	if kind != "bars" && kind != "trades" && kind != "quotes" {
		Error(w, http.StatusNotFound, 0, "endpoint not found")
		return
	}
	q := r.URL.Query()
	syms := strings.Split(q.Get("symbols"), ",")
	if q.Get("symbols") == "" {
		Error(w, http.StatusBadRequest, 40010001, "symbols is required")
		return
	}
	if len(parts) == 4 && parts[3] == "latest" {
		s.serveLatest(w, r, kind, syms)
		return
	}
	if len(parts) != 3 {
		Error(w, http.StatusNotFound, 0, "endpoint not found")
		return
	}
	if kind == "bars" && q.Get("timeframe") == "" {
		Error(w, http.StatusUnprocessableEntity, 42210000, "invalid timeframe")
		return
	}
	start, end := int64(0), int64(1<<63-1)
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"start", &start}, {"end", &end}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				Error(w, http.StatusUnprocessableEntity, 42210000, "invalid "+p.name)
				return
			}
			*p.dst = t.UnixNano()
		}
	}
	limit := 1000
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			Error(w, http.StatusUnprocessableEntity, 42210000, "invalid limit")
			return
		}
		limit = n
	}
	// The whole result, symbols ascending, then time; a page token is the
	// offset into it (opaque to clients, base64 as at Alpaca).
	slices.Sort(syms)
	s.mu.Lock()
	var all []market.Event
	for _, sym := range slices.Compact(syms) {
		for _, e := range s.history[kind][sym] {
			if e.Time >= start && e.Time <= end {
				all = append(all, e)
			}
		}
	}
	s.mu.Unlock()
	off := 0
	if tok := q.Get("page_token"); tok != "" {
		b, err := base64.StdEncoding.DecodeString(tok)
		if err == nil {
			off, err = strconv.Atoi(string(b))
		}
		if err != nil || off < 0 || off > len(all) {
			Error(w, http.StatusBadRequest, 40010001, "invalid page token")
			return
		}
	}
	page := all[off:min(len(all), off+limit)]
	items := map[string][]map[string]any{}
	for _, e := range page {
		items[e.Symbol] = append(items[e.Symbol], Item(e))
	}
	var next *string
	if off+len(page) < len(all) {
		t := base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(off + len(page))))
		next = &t
	}
	WriteJSON(w, r, map[string]any{kind: items, "next_page_token": next})
}

func (s *Server) serveLatest(w http.ResponseWriter, r *http.Request, kind string, syms []string) {
	items := map[string]map[string]any{}
	s.mu.Lock()
	for _, sym := range syms {
		if e, ok := s.latest[kind][sym]; ok {
			items[sym] = Item(e)
		}
	}
	s.mu.Unlock()
	WriteJSON(w, r, map[string]any{kind: items})
}

// Item is an event in Alpaca's REST shape (stream names without T and S).
func Item(e market.Event) map[string]any {
	t := time.Unix(0, e.Time).UTC().Format(time.RFC3339Nano)
	switch e.Kind {
	case market.KindTrade:
		tr := e.Trade
		return map[string]any{"t": t, "x": str(tr.Exchange), "p": tr.Price, "s": tr.Size, "c": tr.Conditions.Strings(),
			"i": tr.ID, "z": str(tr.Tape)}
	case market.KindQuote:
		q := e.Quote
		return map[string]any{"t": t, "ax": str(q.AskExchange), "ap": q.AskPrice, "as": q.AskSize,
			"bx": str(q.BidExchange), "bp": q.BidPrice, "bs": q.BidSize, "c": q.Conditions.Strings(), "z": str(q.Tape)}
	}
	b := e.Bar
	return map[string]any{"t": t, "o": b.Open, "h": b.High, "l": b.Low, "c": b.Close, "v": b.Volume, "n": b.TradeCount, "vw": b.VWAP}
}

func str(c byte) string {
	if c == 0 {
		return ""
	}
	return string(c)
}

// WriteJSON answers 200 with v, gzipped if the client accepts gzip.
func WriteJSON(w http.ResponseWriter, r *http.Request, v any) {
	w.Header().Set("Content-Type", "application/json")
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		gz := gzip.NewWriter(w)
		defer gz.Close()
		json.NewEncoder(gz).Encode(v)
		return
	}
	json.NewEncoder(w).Encode(v)
}

// Error answers status with Alpaca's error body; code 0 omits the code.
func Error(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if code == 0 {
		fmt.Fprintf(w, `{"message":%q}`, msg)
		return
	}
	fmt.Fprintf(w, `{"code":%d,"message":%q}`, code, msg)
}

// Symbol returns the symbols= of a request (for Intercept).
func Symbol(r *http.Request) string { return r.URL.Query().Get("symbols") }
