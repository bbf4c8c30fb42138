package newsstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tapehq/tape/internal/httpapi"
	"github.com/tapehq/tape/internal/market"
)

// benchArticles makes n articles a minute apart, about 500 bytes each,
// about one or two of 300 symbols; "RARE" is on one in a thousand.
func benchArticles(n int) []market.Event {
	r := rand.New(rand.NewPCG(1, 1))
	evs := make([]market.Event, n)
	for i := range evs {
		syms := []string{fmt.Sprintf("S%03d", r.IntN(300))}
		if r.IntN(3) == 0 {
			syms = append(syms, fmt.Sprintf("S%03d", r.IntN(300)))
		}
		if i%1000 == 0 {
			syms = append(syms, "RARE")
		}
		e := article(uint64(i+1), int64(i+1), t0+int64(i)*60e9, 0, string(make([]byte, 300)), syms...)
		evs[i] = e
	}
	return evs
}

func benchStore(b *testing.B, n int) (*Store, string) {
	b.Helper()
	dir := b.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	s.Apply(benchArticles(n))
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, dir
}

// BenchmarkApply: one op is one article applied (encoded, indexed,
// queued for the flush); bytes are its record.
func BenchmarkApply(b *testing.B) {
	evs := benchArticles(100_000)
	rec := len(appendRecord(nil, &evs[0]))
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	b.SetBytes(int64(rec))
	b.ResetTimer()
	for i := range b.N {
		e := evs[i%len(evs)]
		e.Seq = uint64(i + 1)
		e.News = &market.News{}
		*e.News = *evs[i%len(evs)].News
		e.News.UpdatedAt = t0 + int64(i)*1e9 // each a newer version or a new article
		s.Apply([]market.Event{e})
		if s.pendAt+int64(len(s.pend)) > 64<<20 {
			b.StopTimer()
			if err := s.Flush(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
}

// BenchmarkNews: one op is one query of a 50,000-article store, read from
// the file (the page cache): the latest 50, the latest 50 of a symbol on
// 1 in 240 articles, and the 50 articles of a symbol on 1 in 1000 (a scan
// of the whole index).
func BenchmarkNews(b *testing.B) {
	s, _ := benchStore(b, 50_000)
	for _, bc := range []struct {
		name string
		q    httpapi.NewsQuery
	}{
		{"latest", httpapi.NewsQuery{Start: 0, End: 1 << 62, Desc: true, Limit: 50}},
		{"symbol", httpapi.NewsQuery{Symbols: []string{"S042"}, Start: 0, End: 1 << 62, Desc: true, Limit: 50}},
		{"rare symbol", httpapi.NewsQuery{Symbols: []string{"RARE"}, Start: 0, End: 1 << 62, Desc: true, Limit: 50}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				res, err := s.News(context.Background(), bc.q)
				if err != nil || len(res.Articles) == 0 {
					b.Fatal(len(res.Articles), err)
				}
			}
		})
	}
}

// BenchmarkOpen: one op is opening a 50,000-article store (reading the
// whole data file and rebuilding the index) and closing it.
func BenchmarkOpen(b *testing.B) {
	s, dir := benchStore(b, 50_000)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(s.durable)
	b.ResetTimer()
	for range b.N {
		s, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if s.Len() != 50_000 {
			b.Fatal(s.Len())
		}
		s.Close()
	}
}
