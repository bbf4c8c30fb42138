package streamclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/tapehq/tape/internal/alpacawire"
)

// TestHandshakeFailures: what a server answers at the websocket handshake
// decides whether Run ends (a URL that is not a stream stays one) or
// retries (the server is down or overloaded). Retries are counted through
// the injected Sleep, so nothing waits.
func TestHandshakeFailures(t *testing.T) {
	page := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			w.Write([]byte(body))
		}
	}
	nginx404 := "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	cases := []struct {
		name    string
		handler http.HandlerFunc // nil: nothing listens
		status  int              // the *HandshakeError's status; 0: retried, not fatal
		want    []string         // in the error message
	}{
		{"404", page(http.StatusNotFound, nginx404), 404, []string{"no stream at", "HTTP 404 Not Found", "check the path (a Tape's stock streams are /v2/iex"}},
		{"a web page", page(http.StatusOK, "<!doctype html><title>Tape</title><p>dashboard</p>"), 200,
			[]string{"is not a stream endpoint", "(HTTP 200 OK: Tape)", "not a websocket"}},
		{"400", page(http.StatusBadRequest, `{"message":"bad request"}`), 400, []string{"refused the websocket handshake", `{"message":"bad request"}`}},
		{"401", page(http.StatusUnauthorized, "nope"), 401, []string{"refused the connection", "check the keys"}},
		{"a websocket that is not Alpaca", func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			defer c.CloseNow()
			c.Write(r.Context(), websocket.MessageText, []byte(`{"hello":"world"}`))
			c.Read(r.Context())
		}, 101, []string{"not an Alpaca stream", "first message"}},
		{"429", page(http.StatusTooManyRequests, "slow down"), 0, nil},
		{"503", page(http.StatusServiceUnavailable, "opening the data directory"), 0, nil},
		{"502 from a proxy", page(http.StatusBadGateway, "<html><body><h1>502 Bad Gateway</h1></body></html>"), 0, nil},
		{"connection refused", nil, 0, []string{"nothing listens at", "connection refused"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var url string
			if tc.handler != nil {
				hs := httptest.NewServer(tc.handler)
				t.Cleanup(hs.Close)
				url = "ws" + strings.TrimPrefix(hs.URL, "http") + "/v2/foo"
			} else {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				url = "ws://" + ln.Addr().String() + "/v2/iex"
				ln.Close() // nothing listens there now
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var sleeps atomic.Int64
			c, err := New(Options{URL: url, ReplyTimeout: 5 * time.Second, Sleep: func(ctx context.Context, d time.Duration) error {
				if sleeps.Add(1) == 3 {
					cancel() // three retries prove it retries
				}
				return ctx.Err()
			}})
			if err != nil {
				t.Fatal(err)
			}
			err = c.Run(ctx, func([]alpacawire.Message) {})
			if tc.status == 0 {
				if !errors.Is(err, context.Canceled) || sleeps.Load() != 3 || IsFatal(err) {
					t.Fatalf("Run: %v after %d retries; want retries until cancelled", err, sleeps.Load())
				}
				_, _, last := c.Stats()
				if last == "" {
					t.Fatal("no last error recorded")
				}
				for _, w := range tc.want {
					if !strings.Contains(last, w) {
						t.Errorf("last error %q lacks %q", last, w)
					}
				}
				return
			}
			var he *HandshakeError
			if !errors.As(err, &he) || he.Status != tc.status || !IsFatal(err) {
				t.Fatalf("Run: %v (%T); want a fatal *HandshakeError with status %d", err, err, tc.status)
			}
			if sleeps.Load() != 0 {
				t.Fatalf("retried %d times a failure no retry can fix", sleeps.Load())
			}
			if c.State() != StateFailed {
				t.Fatalf("state %v, want failed", c.State())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "<") || strings.Contains(err.Error(), "\n") {
				t.Errorf("markup in the message: %q", err)
			}
		})
	}
}

func TestNewChecksTheURL(t *testing.T) {
	for _, u := range []string{"127.0.0.1:8080", "localhost:8080/v2/iex", "ftp://host/v2/iex", "ws://", "/v2/iex", "ws//host"} {
		if _, err := New(Options{URL: u}); err == nil || !strings.Contains(err.Error(), "ws://127.0.0.1:8080/v2/iex") {
			t.Errorf("%q: %v; want a refusal with an example", u, err)
		}
	}
	for _, u := range []string{"ws://127.0.0.1:8080/v2/iex", "wss://stream.data.alpaca.markets/v2/sip", "http://h:1/x"} {
		if _, err := New(Options{URL: u}); err != nil {
			t.Errorf("%q: %v", u, err)
		}
	}
}

func TestExcerpt(t *testing.T) {
	cases := []struct {
		body string
		n    int
		want string
	}{
		{"<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1><hr>nginx</body></html>", 80, "404 Not Found"},
		{"<html><body><script>var x = 1;</script><h1>Bad   gateway</h1>\n<p>try &amp; again</p></body></html>", 80, "Bad gateway try & again"},
		{`{"code":40410000,"message":"not found"}`, 80, `{"code":40410000,"message":"not found"}`},
		{"  plain\n\ttext  ", 80, "plain text"},
		{strings.Repeat("word ", 40), 12, "word word w…"},
		{"", 80, ""},
		{"bad \xff utf-8", 80, "bad ? utf-8"},
		{"<html><body><h1>Oops</h1><p>went wrong</p><div class=\"foot", 80, "Oops went wrong"},
	}
	for _, c := range cases {
		if got := Excerpt([]byte(c.body), c.n); got != c.want {
			t.Errorf("Excerpt(%q, %d) = %q, want %q", c.body, c.n, got, c.want)
		}
	}
}

// FuzzExcerpt: whatever a server sends, the excerpt is one line of valid
// UTF-8 of at most n runes. Seeded with real error pages.
func FuzzExcerpt(f *testing.F) {
	f.Add([]byte("<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"), 60)
	f.Add([]byte(`{"code":40410000,"message":"endpoint not found."}`), 60)
	f.Add([]byte("404 page not found\n"), 60)
	f.Add([]byte("<!doctype html><html><head><script>var a='<title>x</title>'</script><style>p{}</style></head><body><p>a &amp; b</p></body></html>"), 10)
	f.Fuzz(func(t *testing.T, body []byte, n int) {
		n = int(uint(n)%200) + 1
		s := Excerpt(body, n)
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > n || strings.ContainsAny(s, "\r\n\t") {
			t.Fatalf("Excerpt(%q, %d) = %q", body, n, s)
		}
	})
}
