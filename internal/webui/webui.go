package webui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:static
var embedded embed.FS

// ChartLib is the path, under static/, of the chart library that
// scripts/build-web.sh copies from node_modules.
const ChartLib = "vendor/lightweight-charts.standalone.production.js"

// ChartMissingNotice is what the chart panel says when the binary was built
// without ChartLib.
const ChartMissingNotice = "chart library not built: run ./scripts/build-web.sh"

// Markers in index.html that the handler rewrites when ChartLib is missing:
// the script tag goes, so the browser does not ask for a file that is not
// there, and the notice shows.
const (
	chartScriptTag = `<script src="static/` + ChartLib + `"></script>`
	noticeHidden   = `id="chart-missing" hidden`
	noticeShown    = `id="chart-missing"`
)

// contentSecurityPolicy allows only Tape's own origin. lightweight-charts
// adds a <style> element and inline styles, hence 'unsafe-inline' for
// styles (never for scripts).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"

// Handler returns the dashboard: index.html at "/" (and "/index.html"), the
// files of static/ under "/static/". Anything else is 404. Mount it as the
// fallback ("/") of a mux; it answers only GET and HEAD.
func Handler() http.Handler {
	sub, err := fs.Sub(embedded, "static")
	if err != nil {
		panic("webui: " + err.Error()) // unreachable: static/ is embedded
	}
	h, err := newHandler(sub)
	if err != nil {
		panic("webui: " + err.Error()) // unreachable: covered by the package tests
	}
	return h
}

// ChartLibBuilt reports whether the binary carries the chart library.
func ChartLibBuilt() bool {
	_, err := fs.Stat(embedded, "static/"+ChartLib)
	return err == nil
}

type file struct {
	body, gz    []byte // gz is nil when compression does not pay
	ctype, etag string
}

type handler struct {
	files    map[string]*file // by path under static/, e.g. "js/app.js"
	index    *file
	chartLib bool
}

// newHandler loads every file of fsys (the contents of static/) into
// memory. Files and directories whose names start with "." are not served.
func newHandler(fsys fs.FS) (*handler, error) {
	h := &handler{files: map[string]*file{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		h.files[p] = newFile(p, body)
		return nil
	})
	if err != nil {
		return nil, err
	}
	_, h.chartLib = h.files[ChartLib]
	idx, ok := h.files["index.html"]
	if !ok {
		return nil, fs.ErrNotExist
	}
	body := idx.body
	if !h.chartLib {
		body = bytes.Replace(body, []byte(chartScriptTag), []byte("<!-- "+ChartMissingNotice+" -->"), 1)
		body = bytes.Replace(body, []byte(noticeHidden), []byte(noticeShown), 1)
	}
	h.index = newFile("index.html", body)
	return h, nil
}

func newFile(name string, body []byte) *file {
	sum := sha256.Sum256(body)
	f := &file{body: body, ctype: contentType(name), etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
	if compressible(f.ctype) && len(body) > 1024 {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		if b.Len() < len(body)*9/10 {
			f.gz = b.Bytes()
		}
	}
	return f
}

// contentType is fixed here rather than taken from the host's mime tables,
// which vary (some map .js to application/javascript, some lack .mjs).
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".json", ".map":
		return "application/json"
	case ".txt":
		return "text/plain; charset=utf-8"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.HasPrefix(ctype, "application/json") || ctype == "image/svg+xml"
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var f *file
	switch p := r.URL.Path; {
	case p == "/" || p == "/index.html":
		f = h.index
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
		w.Header().Set("X-Frame-Options", "DENY")
	case strings.HasPrefix(p, "/static/"):
		f = h.files[strings.TrimPrefix(p, "/static/")]
		if f == h.files["index.html"] {
			f = h.index
		}
	}
	if f == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", f.ctype)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	body, etag := f.body, f.etag
	if f.gz != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, etag = f.gz, f.etag[:len(f.etag)-1]+`-gz"`
			hdr.Set("Content-Encoding", "gzip")
		}
	}
	hdr.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether an Accept-Encoding value admits gzip (a
// "gzip;q=0" refuses it).
func acceptsGzip(ae string) bool {
	for part := range strings.SplitSeq(ae, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
