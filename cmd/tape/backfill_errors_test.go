package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestBackfillAgainstWhatIsNotADataAPI: pointed at something that is not
// Alpaca's data API, or at nothing, backfill stops with one message that
// says so (no per-symbol table, no markup), and asks the server as little
// as it can.
func TestBackfillAgainstWhatIsNotADataAPI(t *testing.T) {
	nginx404 := "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n"
	spa := "<!doctype html><html><head><meta charset=utf-8><title>My App</title><script>window.x = 1</script></head><body><div id=root></div></body></html>"
	cases := []struct {
		name    string
		handler http.HandlerFunc // nil: nothing listens
		want    []string
	}{
		{"nginx's 404 page", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(nginx404))
		}, []string{"has no market-data API (404 Not Found)", "--data-url should be https://data.alpaca.markets or a Tape"}},
		{"a web app answering 200 everywhere", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(spa))
		}, []string{"is not a market-data API: it answered with a web page, not Alpaca's JSON", "nothing was stored"}},
		{"nothing listens", nil, []string{"nothing answers at", "(connection refused)", "nothing was stored"}},
	}
	syms := []string{"AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "AMD"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int64
			url := "http://" + closedPort(t)
			if tc.handler != nil {
				hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					requests.Add(1)
					if r.URL.Query().Get("symbols") != syms[0] {
						// The others wait for the stop (or the test's end), so
						// that only a stop frees their slots.
						<-r.Context().Done()
						return
					}
					tc.handler(w, r)
				}))
				defer hs.Close()
				url = hs.URL
			}
			fake := backfillFake(t)
			o := backfillOpts(fake, t.TempDir(), nil)
			o.url, o.symbols, o.concurrency = url, syms, 2
			_, summary, err := doBackfill(t, o)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			if strings.ContainsAny(msg, "<>\n") || strings.Count(msg, url) != 1 {
				t.Errorf("message %q: markup, or the URL not once", msg)
			}
			if summary != "" {
				t.Errorf("a per-symbol summary for an error that is every symbol's:\n%s", summary)
			}
			// The first answer, the other symbol in flight, and one more
			// that may start in the slot the first freed before the stop.
			if n := requests.Load(); n > int64(o.concurrency)+1 {
				t.Errorf("%d requests for %d symbols: it should stop after the first answer", n, len(syms))
			}
		})
	}
}

// TestBackfillSummaryCleansErrorPages: a symbol failing with a server's
// HTML error page is listed with the page's title, not its markup.
func TestBackfillSummaryCleansErrorPages(t *testing.T) {
	fake := backfillFake(t)
	fake.Add(fakeBars("AAPL", 3, session0)...)
	fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Query().Get("symbols") != "BAD" {
			return false
		}
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><p>The proxy could not reach the upstream server, because it went away while this message was being written out in full</p></body></html>"))
		return true
	}
	o := backfillOpts(fake, t.TempDir(), nil)
	o.symbols, o.retries = []string{"AAPL", "BAD"}, 1
	_, summary, err := doBackfill(t, o)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 symbols failed") {
		t.Fatalf("err %v\n%s", err, summary)
	}
	var bad string
	for _, l := range strings.Split(summary, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "BAD") {
			bad = l
		}
	}
	if !strings.HasSuffix(bad, "502 Bad Gateway (gave up after 1 retries)") || strings.ContainsAny(bad, "<>") {
		t.Fatalf("summary row %q\n%s", bad, summary)
	}
}
