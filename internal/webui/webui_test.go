package webui

import (
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, method, path string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	var r io.Reader = res.Body
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServesIndexAndAssets(t *testing.T) {
	h := Handler()
	for _, tc := range []struct {
		path, ctype, contains string
	}{
		{"/", "text/html; charset=utf-8", `<script type="module" src="static/js/app.js">`},
		{"/index.html", "text/html; charset=utf-8", `id="chart-missing"`},
		{"/static/js/app.js", "text/javascript; charset=utf-8", "new LiveFeed"},
		{"/static/js/stream-worker.js", "text/javascript; charset=utf-8", "new StreamClient"},
		{"/static/js/stream.js", "text/javascript; charset=utf-8", `action: "auth"`},
		{"/static/js/theme.js", "text/javascript; charset=utf-8", "tape.theme"},
		{"/static/css/app.css", "text/css; charset=utf-8", "--up"},
		{"/static/favicon.svg", "image/svg+xml", "<svg"},
	} {
		res := get(t, h, "GET", tc.path)
		if res.StatusCode != 200 {
			t.Errorf("GET %s: %d", tc.path, res.StatusCode)
			continue
		}
		if got := res.Header.Get("Content-Type"); got != tc.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.ctype)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("ETag") == "" || res.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: headers %v", tc.path, res.Header)
		}
		if b := body(t, res); !strings.Contains(b, tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
	}
	if csp := get(t, h, "GET", "/").Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("index CSP %q", csp)
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/static/nope.js", "/static/", "/static/js", "/static/vendor/.gitkeep", "/nope", "/v2/stocks/bars", "/static/../webui.go", "/favicon.ico"} {
		if res := get(t, h, "GET", p); res.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", p, res.StatusCode)
		}
	}
	if res := get(t, h, "POST", "/"); res.StatusCode != 405 || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d %v", res.StatusCode, res.Header)
	}
	res := get(t, h, "HEAD", "/static/js/app.js")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("HEAD: %d %v", res.StatusCode, res.Header)
	}
}

func TestConditionalAndGzip(t *testing.T) {
	h := Handler()
	res := get(t, h, "GET", "/static/js/app.js")
	etag := res.Header.Get("ETag")
	if res := get(t, h, "GET", "/static/js/app.js", "If-None-Match", etag); res.StatusCode != 304 {
		t.Errorf("If-None-Match: %d, want 304", res.StatusCode)
	}
	plain := body(t, res)
	zres := get(t, h, "GET", "/static/js/app.js", "Accept-Encoding", "br, gzip")
	if zres.Header.Get("Content-Encoding") != "gzip" || zres.Header.Get("ETag") == etag || !strings.Contains(zres.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("gzip headers: %v", zres.Header)
	}
	if got := body(t, zres); got != plain {
		t.Error("gzip body differs from the plain one")
	}
	if res := get(t, h, "GET", "/static/js/app.js", "Accept-Encoding", "gzip;q=0"); res.Header.Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 got gzip")
	}
}

// withoutVendor is static/ minus the chart library, as a binary built
// before scripts/build-web.sh has it.
func withoutVendor(t *testing.T) fs.FS {
	t.Helper()
	sub, err := fs.Sub(embedded, "static")
	if err != nil {
		t.Fatal(err)
	}
	m := fstest.MapFS{}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == ChartLib {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestWithoutChartLibrary(t *testing.T) {
	h, err := newHandler(withoutVendor(t))
	if err != nil {
		t.Fatal(err)
	}
	b := body(t, get(t, h, "GET", "/"))
	if strings.Contains(b, "vendor/lightweight-charts") {
		t.Error("the page still loads the missing library")
	}
	if !strings.Contains(b, `<div id="chart-missing" class="chart-missing">`+ChartMissingNotice+`</div>`) {
		t.Errorf("the notice is not shown:\n%s", b)
	}
	if !strings.Contains(b, `src="static/js/app.js"`) {
		t.Error("the page lost its script")
	}
	if res := get(t, h, "GET", "/static/"+ChartLib); res.StatusCode != 404 {
		t.Errorf("missing library: %d", res.StatusCode)
	}
}

func TestIndexMarkers(t *testing.T) {
	// The rewrite above depends on these exact strings in index.html.
	b, err := fs.ReadFile(embedded, "static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{chartScriptTag, noticeHidden, ChartMissingNotice} {
		if !strings.Contains(string(b), s) {
			t.Errorf("index.html lacks %q", s)
		}
	}
	if ChartLibBuilt() {
		h := Handler()
		if b := body(t, get(t, h, "GET", "/")); !strings.Contains(b, chartScriptTag) || !strings.Contains(b, noticeHidden) {
			t.Error("with the library the page must load it and hide the notice")
		}
		if res := get(t, h, "GET", "/static/"+ChartLib); res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
			t.Errorf("library: %d %v", res.StatusCode, res.Header)
		}
	} else {
		t.Log("chart library not built: run ./scripts/build-web.sh to test serving it")
	}
}
