package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/httpapi"
	"github.com/tapehq/tape/internal/market"
)

// benchBars is a full page: 10,000 one-minute bars of one symbol.
func benchBars() []market.Event {
	return sharedData().bars[market.OneMinute]["AAPL"][:10_000]
}

// jsonBar and jsonBarsPage are what an encoding/json implementation would
// marshal, shaped like the SDK's entities.
type jsonBar struct {
	T  time.Time `json:"t"`
	O  float64   `json:"o"`
	H  float64   `json:"h"`
	L  float64   `json:"l"`
	C  float64   `json:"c"`
	V  uint64    `json:"v"`
	N  uint64    `json:"n"`
	VW float64   `json:"vw"`
}

type jsonBarsPage struct {
	Bars          map[string][]jsonBar `json:"bars"`
	NextPageToken *string              `json:"next_page_token"`
}

// BenchmarkEncodeBars compares the hand-written encoder with encoding/json
// on a page of 10,000 bars. The encoding/json variant includes building its
// structs from the events, which an implementation based on it would have
// to do too.
func BenchmarkEncodeBars(b *testing.B) {
	evs := benchBars()
	size := len(httpapi.AppendBarsPage(nil, evs, "token"))
	b.Run("appender", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		buf := make([]byte, 0, size)
		for b.Loop() {
			buf = httpapi.AppendBarsPage(buf[:0], evs, "token")
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		tok := "token"
		for b.Loop() {
			bars := make([]jsonBar, len(evs))
			for i := range evs {
				e := &evs[i]
				bars[i] = jsonBar{T: time.Unix(0, e.Time).UTC(), O: e.Bar.Open, H: e.Bar.High, L: e.Bar.Low, C: e.Bar.Close,
					V: e.Bar.Volume, N: e.Bar.TradeCount, VW: e.Bar.VWAP}
			}
			if _, err := json.Marshal(jsonBarsPage{Bars: map[string][]jsonBar{"AAPL": bars}, NextPageToken: &tok}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// fixedStore answers every bars query with the same page, so that
// BenchmarkServeBars measures the API, not a store.
type fixedStore struct {
	fakeStore
	page []market.Event
}

func (s *fixedStore) Bars(context.Context, history.Query, market.Timeframe) (history.Result, error) {
	l := s.page[len(s.page)-1]
	return history.Result{Events: s.page, Next: &history.Cursor{Symbol: l.Symbol, Time: l.Time, Seq: l.Seq}}, nil
}

// BenchmarkServeBars serves a page of 10,000 bars end to end through
// ServeHTTP (parameters, encoding, token, compression), without and with
// gzip. Bytes are those of the uncompressed JSON.
func BenchmarkServeBars(b *testing.B) {
	evs := benchBars()
	h := httpapi.New(httpapi.Options{Store: &fixedStore{page: evs}})
	size := len(httpapi.AppendBarsPage(nil, evs, ""))
	for _, enc := range []string{"identity", "gzip"} {
		b.Run(enc, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/v2/stocks/bars?symbols=AAPL&timeframe=1Min&start=2024-03-04&end=2024-03-30&limit=10000", nil)
			req.Header.Set("Accept-Encoding", enc)
			w := &discardWriter{header: http.Header{}}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				clear(w.header)
				h.ServeHTTP(w, req)
			}
			b.ReportMetric(float64(w.n)/float64(b.N), "wire-B/op")
		})
	}
}

// discardWriter is a ResponseWriter that counts and drops the body.
type discardWriter struct {
	header http.Header
	n      int
}

func (w *discardWriter) Header() http.Header { return w.header }
func (w *discardWriter) WriteHeader(int)     {}
func (w *discardWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return io.Discard.Write(p)
}

// BenchmarkScreener serves /v1beta1/screener/stocks/movers over 8,000
// symbols: recomputed every request from a source that lists its rows in
// one pass (what a store implementing ScreenerSource costs), from a real
// history store read symbol by symbol through its snapshots (the
// default), and reused within the screener interval (the default
// behaviour).
func BenchmarkScreener(b *testing.B) {
	const n = 8000
	rows := make([]httpapi.ScreenRow, n)
	for i := range rows {
		p := 10 + float64(i%500)
		rows[i] = httpapi.ScreenRow{Symbol: symbolName(i), Day: screenDay, Close: p + float64(i%7) - 3, Volume: uint64(1000 + i*7%5000),
			TradeCount: uint64(10 + i%900), PrevClose: p}
	}
	// The history store is built once, for the two variants that read it;
	// closing it writes 8,000 symbols' files, which takes seconds.
	hs := sync.OnceValue(func() httpapi.Store { return historyStore(b, n) })
	for _, tc := range []struct {
		name     string
		opts     func() httpapi.Options
		interval time.Duration
	}{
		{"bulk", func() httpapi.Options {
			return httpapi.Options{Store: &fakeStore{data: sharedData()}, StockScreener: &rowsSource{rows: rows}}
		}, -1},
		{"history_snapshots", func() httpapi.Options { return httpapi.Options{Store: hs()} }, -1},
		{"cached", func() httpapi.Options { return httpapi.Options{Store: hs()} }, 0},
	} {
		b.Run(tc.name, func(b *testing.B) {
			opts := tc.opts()
			opts.ScreenerInterval = tc.interval
			h := httpapi.New(opts)
			req := httptest.NewRequest("GET", "/v1beta1/screener/stocks/movers?top=50", nil)
			w := &discardWriter{header: http.Header{}}
			h.ServeHTTP(w, req) // the first computation, outside the timing for "cached"
			b.ReportAllocs()
			for b.Loop() {
				clear(w.header)
				h.ServeHTTP(w, req)
			}
		})
	}
}
