package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tapehq/tape/internal/tickfile"
)

// BenchmarkImportTrades measures an import end to end: read and validate
// the file, sort, derive bars, journal everything and apply it to the
// history store, then sync and close both (one fsync of the journal, one
// syncfs of the store). rows/s counts input trades.
func BenchmarkImportTrades(b *testing.B) {
	const n = 200_000
	evs := genTrades(n, []string{"AAPL", "MSFT", "NVDA", "SPY", "TSLA", "AMZN", "GOOGL", "META"}, 7)
	for _, ext := range []string{"parquet", "csv"} {
		b.Run(ext, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "trades."+ext)
			writeFile(b, path, tickfile.KindTrades, evs, "")
			st, _ := os.Stat(path)
			b.SetBytes(st.Size())
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				dir := filepath.Join(b.TempDir(), "data")
				b.StartTimer()
				res, stderr, err := doImport(b, dir, []string{path}, nil)
				if err != nil || res.imported["trades"] != n {
					b.Fatalf("%v %v\n%s", err, res.imported, stderr)
				}
			}
			b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
