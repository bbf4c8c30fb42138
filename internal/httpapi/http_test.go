package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tapehq/tape/internal/auth"
	"github.com/tapehq/tape/internal/httpapi"
)

// These tests speak raw HTTP, for what the SDK hides: exact bodies, status
// codes, headers and compression.

type response struct {
	status int
	header http.Header
	body   []byte
}

// getJSON sends a GET with the given headers and returns the response with
// the body decompressed if the server compressed it.
func getJSON(t *testing.T, target string, header http.Header) response {
	t.Helper()
	return do(t, http.MethodGet, target, header)
}

func do(t *testing.T, method, target string, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if req.Header.Get("Accept-Encoding") == "" {
		// Ask explicitly, so that Go's transport does not decompress behind
		// the test's back.
		req.Header.Set("Accept-Encoding", "identity")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	body, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// jsonField returns a top-level string field of a JSON object ("" for null
// or absent).
func jsonField(t *testing.T, body []byte, name string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var s string
	if raw, ok := m[name]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return s
}

// alpacaError is the body of every error response.
type alpacaError struct {
	Code    *int   `json:"code"`
	Message string `json:"message"`
}

// refusal is a request the API must refuse: with status, and a message in
// Alpaca's error shape that contains msg.
type refusal struct {
	name, target string
	status       int
	msg          string
}

// checkRefusals sends each refusal's target to the server at base, a
// subtest each.
func checkRefusals(t *testing.T, base string, tests []refusal) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := getJSON(t, base+tc.target, nil)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if ae := checkErrorShape(t, r); !strings.Contains(ae.Message, tc.msg) {
				t.Errorf("message %q, want it to contain %q", ae.Message, tc.msg)
			}
		})
	}
}

// checkErrorShape checks that r is an error in Alpaca's JSON shape.
func checkErrorShape(t *testing.T, r response) alpacaError {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var e alpacaError
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	if e.Message == "" {
		t.Errorf("error body without message: %s", r.body)
	}
	if r.status == http.StatusUnprocessableEntity && (e.Code == nil || *e.Code != 42210000) {
		t.Errorf("422 without code 42210000: %s", r.body)
	}
	return e
}

const validBars = "/v2/stocks/bars?symbols=AAPL&timeframe=1Min&start=2024-03-04T09:30:00Z&end=2024-03-04T10:00:00Z"

func TestErrors(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	// A walk's token, to test it against other queries.
	tok := jsonField(t, getJSON(t, e.srv.URL+validBars+"&limit=5", nil).body, "next_page_token")
	tooMany := make([]string, 1001)
	for i := range tooMany {
		tooMany[i] = "S" + strings.Repeat("X", i%5) + string(rune('A'+i%26)) + string(rune('A'+i/26%26)) + string(rune('A'+i/676))
	}
	tests := []refusal{
		{"missing timeframe", "/v2/stocks/bars?symbols=AAPL", 422, "timeframe is required"},
		{"bad timeframe", "/v2/stocks/bars?symbols=AAPL&timeframe=1Minute", 422, "invalid timeframe"},
		{"timeframe 60Min", "/v2/stocks/AAPL/bars?timeframe=60Min", 422, "invalid timeframe"},
		{"timeframe 2Day", "/v2/stocks/bars?symbols=AAPL&timeframe=2Day", 422, "invalid timeframe"},
		{"limit 0", validBars + "&limit=0", 422, "invalid limit"},
		{"limit 10001", validBars + "&limit=10001", 422, "invalid limit"},
		{"limit x", validBars + "&limit=x", 422, "invalid limit"},
		{"limit -1", validBars + "&limit=-1", 422, "invalid limit"},
		{"limit 1.5", validBars + "&limit=1.5", 422, "invalid limit"},
		{"bad start", "/v2/stocks/trades?symbols=AAPL&start=yesterday", 422, "invalid start"},
		{"start without zone", "/v2/stocks/trades?symbols=AAPL&start=2024-03-04T09:30:00", 422, "invalid start"},
		{"start month 13", "/v2/stocks/trades?symbols=AAPL&start=2024-13-01", 422, "invalid start"},
		{"start year 3000", "/v2/stocks/trades?symbols=AAPL&start=3000-01-01", 422, "invalid start"},
		{"bad end", "/v2/stocks/quotes?symbols=AAPL&end=2024-03-04T25:00:00Z", 422, "invalid end"},
		{"end before start", "/v2/stocks/trades?symbols=AAPL&start=2024-03-05&end=2024-03-04", 422, "end should not be before start"},
		{"default end before start", "/v2/stocks/trades?symbols=AAPL&start=2030-01-01", 422, "end should not be before start"},
		{"bad sort", validBars + "&sort=descending", 422, "invalid sort"},
		{"bad feed", validBars + "&feed=nasdaq", 422, "invalid feed"},
		{"historical overnight", validBars + "&feed=overnight", 422, "invalid feed"},
		{"latest bad feed", "/v2/stocks/trades/latest?symbols=AAPL&feed=SIP", 422, "invalid feed"},
		{"bad adjustment", validBars + "&adjustment=splits", 422, "invalid adjustment"},
		{"bad adjustment in list", validBars + "&adjustment=split,bogus", 422, "invalid adjustment"},
		{"bad asof", validBars + "&asof=2024/03/04", 422, "invalid asof"},
		{"bad currency", validBars + "&currency=EUR", 422, "currency"},
		{"garbage token", validBars + "&page_token=!!!", 422, "invalid page token"},
		{"base64 token", validBars + "&page_token=QUFQTHwyMDIxLTEwLTEzVDA4OjAwOjAwLjA4OTYwNzY4MFp8UHwwOTIyMzM3MjAzNjg1NDc3NTgwOQ", 422, "invalid page token"},
		{"token of other query", strings.Replace(validBars, "AAPL", "MSFT", 1) + "&page_token=" + tok, 422, "invalid page token"},
		{"truncated token", validBars + "&page_token=" + tok[:len(tok)-4], 422, "invalid page token"},
		{"huge token", validBars + "&page_token=" + strings.Repeat("A", 5000), 422, "invalid page token"},
		{"missing symbols", "/v2/stocks/bars?timeframe=1Min", 400, "missing symbols"},
		{"empty symbols", "/v2/stocks/trades?symbols=,,", 400, "missing symbols"},
		{"latest missing symbols", "/v2/stocks/quotes/latest", 400, "missing symbols"},
		{"snapshots missing symbols", "/v2/stocks/snapshots", 400, "missing symbols"},
		{"invalid symbol", "/v2/stocks/trades?symbols=AAPL,A$B", 400, "invalid symbol"},
		{"symbol with space", "/v2/stocks/trades?symbols=AA%20PL", 400, "invalid symbol"},
		{"symbol too long", "/v2/stocks/trades?symbols=ABCDEFGHIJKLMNOPQ", 400, "invalid symbol"},
		{"path symbol invalid", "/v2/stocks/A..B/trades", 400, "invalid symbol"},
		{"too many symbols", "/v2/stocks/snapshots?symbols=" + strings.Join(tooMany, ","), 400, "too many symbols"},
		{"latest unknown symbol", "/v2/stocks/NOPE/trades/latest", 404, "no trade found for NOPE"},
		{"latest bar unknown symbol", "/v2/stocks/NOPE/bars/latest", 404, "no bar found for NOPE"},
		{"snapshot unknown symbol", "/v2/stocks/NOPE/snapshot", 404, "no snapshot found for NOPE"},
		{"unknown path", "/v2/stocks/AAPL/fundamentals", 404, "not found"},
		{"options not served", "/v1beta1/options/bars?symbols=AAPL240419P00140000", 404, "not found"},
		{"trailing slash", "/v2/stocks/bars/", 404, "not found"},
	}
	checkRefusals(t, e.srv.URL, tests)
}

// TestAccepted checks values that must not be refused.
func TestAccepted(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	for _, target := range []string{
		validBars,
		validBars + "&limit=1",
		validBars + "&limit=10000",
		validBars + "&sort=asc",
		validBars + "&sort=desc",
		validBars + "&feed=iex&adjustment=raw",
		validBars + "&feed=sip&adjustment=split,dividend,spin-off",
		validBars + "&feed=otc&adjustment=all&asof=-",
		validBars + "&feed=boats&asof=2024-03-04&currency=usd",
		validBars + "&unknown=parameter&page_token=",
		"/v2/stocks/bars?symbols=aapl,msft&timeframe=1h&start=2024-03-04&end=2024-03-08",
		"/v2/stocks/bars?symbols=AAPL,&timeframe=1D&start=2024-03-04",
		// An unescaped '+' in an offset arrives as a space.
		"/v2/stocks/trades?symbols=AAPL&start=2024-03-04T04:30:00+05:00&end=2024-03-04T10:00:00.123456789-05:00",
		"/v2/stocks/AAPL/trades?start=2024-03-04T09:30:00.5Z&end=2024-03-04T09:30:00.5Z",
		"/v2/stocks/BRK.B/quotes?start=2024-03-04",
		"/v2/stocks/quotes/latest?symbols=AAPL&feed=delayed_sip",
		"/v2/stocks/bars/latest?symbols=NOPE",
		"/v2/stocks/aapl/snapshot?feed=overnight",
		"/v2/stocks/snapshots?symbols=AAPL,NOPE&currency=USD",
	} {
		t.Run(target, func(t *testing.T) {
			if r := getJSON(t, e.srv.URL+target, nil); r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
		})
	}
}

// TestShapes pins the exact JSON of each response form.
func TestShapes(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	const trade = `{"t":"2024-03-04T09:30:00Z","x":"Q","p":10.01,"s":100,"c":["@"],"i":7,"z":"C"}`
	const daily = `{"t":"2024-03-04T05:00:00Z","o":10,"h":10.5,"l":9.5,"c":10.01,"v":1234,"n":12,"vw":10.2}`
	tests := []struct {
		target, want string
	}{
		{"/v2/stocks/ZVZZT/trades?start=2024-03-04", `{"trades":[` + trade + `],"symbol":"ZVZZT","next_page_token":null}`},
		{"/v2/stocks/trades?symbols=ZVZZT,NOPE&start=2024-03-04", `{"trades":{"ZVZZT":[` + trade + `]},"next_page_token":null}`},
		{"/v2/stocks/trades?symbols=NOPE&start=2024-03-04", `{"trades":{},"next_page_token":null}`},
		{"/v2/stocks/NOPE/quotes?start=2024-03-04", `{"quotes":[],"symbol":"NOPE","next_page_token":null}`},
		{"/v2/stocks/ZVZZT/bars?timeframe=1Day&start=2024-03-01&currency=USD", `{"bars":[` + daily + `],"symbol":"ZVZZT","currency":"USD","next_page_token":null}`},
		{"/v2/stocks/trades/latest?symbols=ZVZZT,NOPE", `{"trades":{"ZVZZT":` + trade + `}}`},
		{"/v2/stocks/zvzzt/trades/latest", `{"symbol":"ZVZZT","trade":` + trade + `}`},
		{"/v2/stocks/ZVZZT/snapshot", `{"symbol":"ZVZZT","latestTrade":` + trade + `,"latestQuote":null,"minuteBar":null,"dailyBar":` + daily + `,"prevDailyBar":null}`},
		{"/v2/stocks/snapshots?symbols=NOPE,ZVZZT", `{"NOPE":null,"ZVZZT":{"latestTrade":` + trade + `,"latestQuote":null,"minuteBar":null,"dailyBar":` + daily + `,"prevDailyBar":null}}`},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			r := getJSON(t, e.srv.URL+tc.target, nil)
			if r.status != 200 || string(r.body) != tc.want {
				t.Fatalf("status %d\ngot  %s\nwant %s", r.status, r.body, tc.want)
			}
			if !json.Valid(r.body) {
				t.Fatal("invalid JSON")
			}
		})
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, httpapi.Options{Keys: auth.NewKeys(map[string]string{"key": "secret"})})
	// Forex is market data behind credentials too, as at Alpaca.
	targets := []string{"/v2/stocks/trades/latest?symbols=AAPL", "/v1beta1/forex/latest/rates?currency_pairs=EURUSD"}
	basic := func(user, pass string) string {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(user, pass)
		return r.Header.Get("Authorization")
	}
	tests := []struct {
		name   string
		header http.Header
		status int
	}{
		{"headers", http.Header{"Apca-Api-Key-Id": {"key"}, "Apca-Api-Secret-Key": {"secret"}}, 200},
		{"basic", http.Header{"Authorization": {basic("key", "secret")}}, 200},
		{"no credentials", nil, 403},
		{"wrong secret", http.Header{"Apca-Api-Key-Id": {"key"}, "Apca-Api-Secret-Key": {"nope"}}, 403},
		{"wrong key", http.Header{"Apca-Api-Key-Id": {"nope"}, "Apca-Api-Secret-Key": {"secret"}}, 403},
		{"key without secret", http.Header{"Apca-Api-Key-Id": {"key"}}, 403},
		{"basic wrong", http.Header{"Authorization": {basic("key", "nope")}}, 403},
		{"bearer", http.Header{"Authorization": {"Bearer secret"}}, 403},
		// The headers win over Basic when both are present, as they would
		// be checked first at Alpaca.
		{"wrong headers, right basic", http.Header{"Apca-Api-Key-Id": {"key"}, "Apca-Api-Secret-Key": {"nope"}, "Authorization": {basic("key", "secret")}}, 403},
	}
	open := newEnv(t, httpapi.Options{Keys: auth.NewKeys(nil)})
	for _, target := range targets {
		for _, tc := range tests {
			t.Run(tc.name+" "+target, func(t *testing.T) {
				r := getJSON(t, e.srv.URL+target, tc.header)
				if r.status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
				}
				if r.status != 200 {
					if ae := checkErrorShape(t, r); ae.Message != "forbidden" || ae.Code != nil {
						t.Errorf("body %s", r.body)
					}
				}
			})
		}
		t.Run("open keys accept anything "+target, func(t *testing.T) {
			for _, h := range []http.Header{nil, {"Authorization": {"Bearer x"}}, {"Apca-Api-Key-Id": {"a"}}} {
				if r := getJSON(t, open.srv.URL+target, h); r.status != 200 {
					t.Fatalf("%v: status %d", h, r.status)
				}
			}
		})
	}
}

func TestMethods(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	for _, m := range []string{http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions, http.MethodPatch} {
		t.Run(m, func(t *testing.T) {
			r := do(t, m, e.srv.URL+validBars, nil)
			if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET" {
				t.Fatalf("status %d, Allow %q", r.status, r.header.Get("Allow"))
			}
			if m != http.MethodHead {
				checkErrorShape(t, r)
			}
		})
	}
}

// TestStoreFailures checks that store errors become 500 or 504 without a
// word about their cause.
func TestStoreFailures(t *testing.T) {
	secret := "open /var/lib/tape/journal/00000042.seg: input/output error"
	t.Run("error", func(t *testing.T) {
		e := newEnv(t, httpapi.Options{})
		e.store.err = errors.New(secret)
		for _, target := range []string{validBars, "/v2/stocks/AAPL/trades", "/v2/stocks/quotes?symbols=AAPL"} {
			r := getJSON(t, e.srv.URL+target, nil)
			if r.status != 500 || string(r.body) != `{"message":"internal server error"}` {
				t.Fatalf("%s: status %d body %s", target, r.status, r.body)
			}
		}
	})
	t.Run("timeout", func(t *testing.T) {
		e := newEnv(t, httpapi.Options{Timeout: 1}) // expires at once
		e.store.block = true
		r := getJSON(t, e.srv.URL+validBars, nil)
		if r.status != http.StatusGatewayTimeout {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		checkErrorShape(t, r)
	})
}

func TestGzip(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	big := "/v2/stocks/bars?symbols=AAPL,MSFT&timeframe=1Min&start=2024-03-04&end=2024-03-20&limit=10000"
	plain := getJSON(t, e.srv.URL+big, nil)
	if plain.header.Get("Content-Encoding") != "" || plain.header.Get("Content-Length") == "" {
		t.Fatalf("identity response headers %v", plain.header)
	}
	for _, ae := range []string{"gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.5", "*", "GZIP"} {
		t.Run(ae, func(t *testing.T) {
			zipped := getJSON(t, e.srv.URL+big, http.Header{"Accept-Encoding": {ae}})
			if zipped.header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("not compressed: %v", zipped.header)
			}
			if !bytes.Equal(zipped.body, plain.body) {
				t.Fatal("decompressed body differs from the identity body")
			}
			if !strings.Contains(zipped.header.Get("Vary"), "Accept-Encoding") {
				t.Error("no Vary: Accept-Encoding")
			}
		})
	}
	for _, ae := range []string{"gzip;q=0", "deflate", "identity"} {
		t.Run(ae, func(t *testing.T) {
			if r := getJSON(t, e.srv.URL+big, http.Header{"Accept-Encoding": {ae}}); r.header.Get("Content-Encoding") != "" {
				t.Fatalf("compressed for %q", ae)
			}
		})
	}
	t.Run("small bodies are not compressed", func(t *testing.T) {
		r := getJSON(t, e.srv.URL+"/v2/stocks/trades/latest?symbols=AAPL", http.Header{"Accept-Encoding": {"gzip"}})
		if r.status != 200 || r.header.Get("Content-Encoding") != "" {
			t.Fatalf("status %d, headers %v", r.status, r.header)
		}
	})
}

// TestSymbolsNormalised checks that symbols are upper-cased, deduplicated
// and sorted before they reach the store.
func TestSymbolsNormalised(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	r := getJSON(t, e.srv.URL+"/v2/stocks/trades?symbols="+url.QueryEscape("spy, aapl,AAPL,brk.b,")+"&start=2024-03-04", nil)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if got := e.store.lastQuery().Symbols; strings.Join(got, ",") != "AAPL,BRK.B,SPY" {
		t.Fatalf("store got symbols %v", got)
	}
}
