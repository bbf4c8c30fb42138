package httpapi

import (
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Responses are built whole in a pooled buffer, then written once, so the
// length is known (Content-Length, or whether gzip is worth it) and a
// failure can still become an error response: nothing reaches the client
// until the body is complete.

// maxPooledBuffer is the largest buffer returned to the pool. A page of
// 10,000 quotes is about 1.5 MB; rarer, larger ones are left to the GC
// rather than pinned in the pool.
const maxPooledBuffer = 4 << 20

var bufferPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func getBuffer() *[]byte { return bufferPool.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) <= maxPooledBuffer {
		bufferPool.Put(b)
	}
}

// gzipMinBytes is the smallest body that is compressed. Alpaca documents
// 256 bytes; Tape uses 1 KiB because below that the gzip header and the CPU
// cost outweigh the saving, and clients cannot tell the difference.
const gzipMinBytes = 1 << 10

// gzip writers are pooled because each allocates about 1.2 MB of
// compressor state on first use and takes 0.3 ms to do it, which would
// dominate small responses. BestSpeed compresses a page of random-walk
// minute bars about 5:1 at some 200 MB/s; the default level is seven times
// slower for a 1.4 times smaller body, and HuffmanOnly only halves it
// (measured on 10,000 bars; BenchmarkServeBars tracks the total). The
// responses mostly travel over loopback or a LAN, where time matters more
// than the last bytes.
var gzipPool = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // the level is valid, so no error
	return zw
}}

// write sends body as a JSON response with the given status, compressed
// when the client accepts gzip (the SDK always does) and it is big enough.
func (h *Handler) write(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json; charset=UTF-8")
	hdr.Add("Vary", "Accept-Encoding")
	if len(body) >= gzipMinBytes && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		hdr.Set("Content-Encoding", "gzip")
		w.WriteHeader(status)
		zw := gzipPool.Get().(*gzip.Writer)
		zw.Reset(w)
		_, err := zw.Write(body)
		if err == nil {
			err = zw.Close()
		}
		zw.Reset(nil) // drop the reference to w before pooling
		gzipPool.Put(zw)
		if err != nil {
			h.opts.Logger.Debug("writing response", "path", r.URL.Path, "err", err)
		}
		return
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if _, err := w.Write(body); err != nil {
		h.opts.Logger.Debug("writing response", "path", r.URL.Path, "err", err)
	}
}

// acceptsGzip reports whether an Accept-Encoding value allows gzip: a
// "gzip" or "*" coding whose q is not zero (RFC 9110 §12.5.3).
func acceptsGzip(s string) bool {
	for part := range strings.SplitSeq(s, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.TrimSpace(coding)
		if !strings.EqualFold(coding, "gzip") && !strings.EqualFold(coding, "x-gzip") && coding != "*" {
			continue
		}
		q := strings.TrimSpace(params)
		if v, ok := strings.CutPrefix(strings.ToLower(q), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f == 0 {
				return false
			}
		}
		return true
	}
	return false
}
