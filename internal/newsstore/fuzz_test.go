package newsstore

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tapehq/tape/internal/httpapi"
	"github.com/tapehq/tape/internal/market"
)

// FuzzOpen opens a store whose data file holds arbitrary bytes: Open must
// either refuse it or repair it, never panic, and a repaired store must
// answer queries without error (every record it kept passed its checks).
// The seeds are real files: empty, one article, and articles with an
// update.
func FuzzOpen(f *testing.F) {
	for _, evs := range [][]market.Event{
		nil,
		{article(1, 1, t0, 0, "", "AAPL")},
		{article(1, 1, t0, t0, "<p>x</p>", "AAPL", "MSFT"), article(2, 2, t0+1e9, 0, "", "BTCUSD"),
			article(3, 1, t0, t0+5e9, "<p>y</p>", "AAPL")},
	} {
		dir := f.TempDir()
		s, err := Open(dir, Options{})
		if err != nil {
			f.Fatal(err)
		}
		s.Apply(evs)
		if err := s.Close(); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, dataFile))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, dataFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, Options{})
		if err != nil {
			return
		}
		defer s.Close()
		res, err := s.News(context.Background(), httpapi.NewsQuery{Start: -1 << 62, End: 1 << 62, Limit: 1000})
		if err != nil {
			t.Fatalf("query of a repaired store: %v", err)
		}
		if len(res.Articles) != s.Len() && res.Next == nil {
			t.Fatalf("%d articles returned, %d held", len(res.Articles), s.Len())
		}
	})
}
