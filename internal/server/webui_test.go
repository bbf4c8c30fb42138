package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// The dashboard is mounted as the fallback without shadowing any API path.
func TestDashboardRoutes(t *testing.T) {
	srv, _ := start(t, Options{})
	base := "http://" + srv.Addr().String()
	for _, tc := range []struct {
		path   string
		status int
		ctype  string
	}{
		{"/", 200, "text/html; charset=utf-8"},
		{"/static/js/app.js", 200, "text/javascript; charset=utf-8"},
		{"/static/css/app.css", 200, "text/css; charset=utf-8"},
		{"/healthz", 200, "application/json"},
		{"/tape/v1/status", 200, "application/json"},
		{"/no/such/page", 404, ""},
	} {
		res, err := http.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.status {
			t.Errorf("GET %s: %d, want %d", tc.path, res.StatusCode, tc.status)
		}
		if tc.ctype != "" && res.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("GET %s: Content-Type %q", tc.path, res.Header.Get("Content-Type"))
		}
	}
	// A plain GET of a stream path is still the stream's (it wants an upgrade).
	res, err := http.Get(base + "/v2/iex")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode == http.StatusOK || strings.Contains(string(b), "<html") {
		t.Errorf("GET /v2/iex: %d, served the dashboard?", res.StatusCode)
	}
}

// TestPprofBehindAFlag: /debug/pprof/ exists only with Pprof, and Pprof is
// refused beyond loopback.
func TestPprofBehindAFlag(t *testing.T) {
	for _, on := range []bool{false, true} {
		srv, _ := start(t, Options{Source: simSource(t, 10, 1), Pprof: on})
		resp, err := http.Get("http://" + srv.Addr().String() + "/debug/pprof/goroutine?debug=1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.StatusCode == http.StatusOK; got != on {
			t.Fatalf("pprof %v: status %d", on, resp.StatusCode)
		}
	}
	if _, err := New(Options{Listen: "0.0.0.0:0", Keys: map[string]string{"k": "s"}, Pprof: true}); err == nil {
		t.Fatal("pprof beyond loopback was accepted")
	}
}
