package tickfile

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/feed/sim"
	"github.com/tapehq/tape/internal/market"
)

// benchRows is the rows per benchmark operation: one export page is 10,000
// rows, a row group 64k; 100k covers both.
const benchRows = 100_000

// simTicks returns n trades or quotes from the simulator: realistic
// prices, sizes, codes and time gaps, which is what compression sees.
func simTicks(tb testing.TB, k Kind, n int) []market.Event {
	s, err := sim.New(sim.Options{Seed: 1, Rate: 20000, Start: time.Date(2026, 11, 24, 9, 30, 0, 0, newYork)})
	if err != nil {
		tb.Fatal(err)
	}
	want := market.KindTrade
	if k == KindQuotes {
		want = market.KindQuote
	}
	out := make([]market.Event, 0, n)
	var buf []market.Event
	for len(out) < n {
		buf, _ = s.Next(buf[:0])
		for _, e := range buf {
			if e.Kind == want && len(out) < n {
				out = append(out, e)
			}
		}
	}
	return out
}

// countingWriter counts bytes and discards them.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func benchWrite(b *testing.B, k Kind, opts WriterOptions) {
	evs := simTicks(b, k, benchRows)
	opts.Kind = k
	var out int64
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var cw countingWriter
		w, err := NewWriter(&cw, opts)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < len(evs); i += 10_000 { // export pages
			if err := w.Write(evs[i:min(i+10_000, len(evs))]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		out = cw.n
	}
	b.SetBytes(out) // MB/s of file written
	b.ReportMetric(float64(b.N)*benchRows/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(out)/benchRows, "B/row")
}

// BenchmarkWriteParquet measures rows/s and file size per row by codec; it
// is the measurement behind the zstd default (docs/tickfile.md).
func BenchmarkWriteParquet(b *testing.B) {
	for _, k := range []Kind{KindTrades, KindQuotes} {
		for _, c := range []string{"zstd", "snappy", "none"} {
			b.Run(k.String()+"/"+c, func(b *testing.B) {
				benchWrite(b, k, WriterOptions{Format: Parquet, Compression: c})
			})
		}
	}
}

func BenchmarkWriteCSV(b *testing.B) {
	for _, k := range []Kind{KindTrades, KindQuotes} {
		b.Run(k.String(), func(b *testing.B) { benchWrite(b, k, WriterOptions{Format: CSV}) })
		b.Run(k.String()+"/gzip", func(b *testing.B) { benchWrite(b, k, WriterOptions{Format: CSV, Gzip: true}) })
	}
}

// BenchmarkRead measures parsing and validation, the first half of an
// import.
func BenchmarkRead(b *testing.B) {
	evs := simTicks(b, KindTrades, benchRows)
	for _, f := range []Format{CSV, Parquet} {
		b.Run(f.String(), func(b *testing.B) {
			data := write(b, KindTrades, f, false, evs)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var e market.Event
			for b.Loop() {
				var r *Reader
				var err error
				if f == CSV {
					r, err = NewCSVReader(bytes.NewReader(data), ReaderOptions{})
				} else {
					r, err = NewParquetReader(bytes.NewReader(data), int64(len(data)), ReaderOptions{})
				}
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for {
					err := r.Next(&e)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != benchRows {
					b.Fatalf("%d rows", n)
				}
			}
			b.ReportMetric(float64(b.N)*benchRows/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
