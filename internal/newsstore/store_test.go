package newsstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/httpapi"
	"github.com/tapehq/tape/internal/market"
)

var t0 = time.Date(2026, 7, 15, 12, 0, 0, 0, time.UTC).UnixNano()

func mustOpen(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// article returns a news event; updated 0 leaves UpdatedAt unset.
func article(seq uint64, id int64, created, updated int64, content string, syms ...string) market.Event {
	n := &market.News{ID: id, Headline: fmt.Sprintf("Headline %d at %d", id, max(created, updated)), Summary: "Summary",
		Author: "Benzinga Newsdesk", CreatedAt: created, UpdatedAt: updated, URL: "https://news.tape.invalid/" + fmt.Sprint(id),
		Content: content, Symbols: syms, Source: "benzinga"}
	return market.Event{Seq: seq, Time: max(created, updated), Kind: market.KindNews, News: n}
}

// model is the brute-force answer: the latest version of every article,
// filtered and sorted as httpapi.NewsStore says.
type model struct{ latest map[int64]*market.News }

func (m *model) apply(evs []market.Event) {
	for _, e := range evs {
		if e.Kind != market.KindNews {
			continue
		}
		if old, ok := m.latest[e.News.ID]; ok && newsTime(e.News) <= newsTime(old) {
			continue
		}
		m.latest[e.News.ID] = e.News
	}
}

func (m *model) query(q httpapi.NewsQuery) []*market.News {
	var out []*market.News
	for _, n := range m.latest {
		t := newsTime(n)
		if t < q.Start || t > q.End || (q.ExcludeContentless && n.Content == "") {
			continue
		}
		if len(q.Symbols) > 0 && !slices.ContainsFunc(n.Symbols, func(s string) bool { return slices.Contains(q.Symbols, s) }) {
			continue
		}
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b *market.News) int {
		c := cmpKey(newsTime(a), a.ID, newsTime(b), b.ID)
		if q.Desc {
			c = -c
		}
		return c
	})
	return out
}

// walkAll pages through q with the store's cursors and returns every
// article, checking that each page but the last is full.
func walkAll(t *testing.T, s *Store, q httpapi.NewsQuery) []*market.News {
	t.Helper()
	var out []*market.News
	for pages := 0; ; pages++ {
		res, err := s.News(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.Articles...)
		if res.Next == nil {
			return out
		}
		if len(res.Articles) != q.Limit || pages > 10000 {
			t.Fatalf("a page of %d articles (limit %d) with a next page", len(res.Articles), q.Limit)
		}
		last := res.Articles[len(res.Articles)-1]
		if *res.Next != (httpapi.NewsCursor{Time: newsTime(last), ID: last.ID}) {
			t.Fatalf("next %+v after article %d at %d", *res.Next, last.ID, newsTime(last))
		}
		q.After = res.Next
	}
}

func ids(ns []*market.News) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = fmt.Sprintf("%d@%d", n.ID, newsTime(n))
	}
	return out
}

// randomNews makes n events: articles with colliding times, a few
// symbols each, some without content, some without UpdatedAt, updates of
// earlier ones (some stale), duplicates, and other kinds in between.
func randomNews(r *rand.Rand, n int) []market.Event {
	syms := []string{"AAPL", "MSFT", "SPY", "BTCUSD", "KO", "BRK.B"}
	var evs []market.Event
	var made []market.Event
	seq := uint64(0)
	for range n {
		seq++
		switch v := r.IntN(100); {
		case v < 10:
			evs = append(evs, market.Event{Seq: seq, Time: t0, Symbol: "AAPL", Kind: market.KindTrade})
		case v < 25 && len(made) > 0:
			o := made[r.IntN(len(made))].News
			up := *o
			up.UpdatedAt = newsTime(o) + int64(r.IntN(5)-1)*int64(time.Minute) // sometimes stale or the same
			up.Summary = o.Summary + " (updated)"
			e := market.Event{Seq: seq, Time: up.UpdatedAt, Kind: market.KindNews, News: &up}
			evs = append(evs, e)
			made = append(made, e)
		default:
			created := t0 + int64(r.IntN(200))*int64(time.Minute)
			updated := created
			if r.IntN(5) == 0 {
				updated = 0
			}
			content := "<p>content</p>"
			if r.IntN(6) == 0 {
				content = ""
			}
			k := 1 + r.IntN(3)
			var ss []string
			for _, i := range r.Perm(len(syms))[:k] {
				ss = append(ss, syms[i])
			}
			e := article(seq, int64(1000+r.IntN(5000)), created, updated, content, ss...)
			evs = append(evs, e)
			made = append(made, e)
		}
	}
	return evs
}

// TestQueries compares every kind of query, walked page by page, with the
// brute-force model, on the store before and after a flush and after a
// reopen (the same answers from memory and from the file).
func TestQueries(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	evs := randomNews(r, 3000)
	m := &model{latest: map[int64]*market.News{}}
	m.apply(evs)
	dir := t.TempDir()
	s := mustOpen(t, dir)
	// Apply in uneven batches.
	for i := 0; i < len(evs); {
		j := min(len(evs), i+1+r.IntN(50))
		s.Apply(evs[i:j])
		i = j
	}
	if s.Len() != len(m.latest) {
		t.Fatalf("%d articles, want %d", s.Len(), len(m.latest))
	}
	all := httpapi.NewsQuery{Start: -1 << 62, End: 1 << 62}
	queries := []struct {
		name string
		q    httpapi.NewsQuery
	}{
		{"everything ascending", all},
		{"everything descending", httpapi.NewsQuery{Start: all.Start, End: all.End, Desc: true}},
		{"one symbol", httpapi.NewsQuery{Symbols: []string{"AAPL"}, Start: all.Start, End: all.End, Desc: true}},
		{"symbols", httpapi.NewsQuery{Symbols: []string{"BRK.B", "BTCUSD"}, Start: all.Start, End: all.End}},
		{"unknown symbol", httpapi.NewsQuery{Symbols: []string{"ZZZ"}, Start: all.Start, End: all.End}},
		{"range", httpapi.NewsQuery{Start: t0 + 30*int64(time.Minute), End: t0 + 90*int64(time.Minute)}},
		{"range descending", httpapi.NewsQuery{Start: t0 + 30*int64(time.Minute), End: t0 + 90*int64(time.Minute), Desc: true}},
		{"one instant", httpapi.NewsQuery{Start: t0 + 50*int64(time.Minute), End: t0 + 50*int64(time.Minute), Desc: true}},
		{"without contentless", httpapi.NewsQuery{Start: all.Start, End: all.End, ExcludeContentless: true, Symbols: []string{"KO", "SPY"}}},
		{"empty range", httpapi.NewsQuery{Start: t0 - 10, End: t0 - 1}},
	}
	check := func(t *testing.T, s *Store) {
		for _, tt := range queries {
			for _, limit := range []int{1, 7, 50, 100000} {
				t.Run(fmt.Sprintf("%s/limit=%d", tt.name, limit), func(t *testing.T) {
					q := tt.q
					q.Limit = limit
					got, want := walkAll(t, s, q), m.query(q)
					if !slices.Equal(ids(got), ids(want)) {
						t.Fatalf("got %d articles %v\nwant %d %v", len(got), clip(ids(got)), len(want), clip(ids(want)))
					}
					for i := range got {
						if got[i].Summary != want[i].Summary || !slices.Equal(got[i].Symbols, want[i].Symbols) || got[i].Content != want[i].Content {
							t.Fatalf("article %d: %+v, want %+v", got[i].ID, got[i], want[i])
						}
					}
				})
			}
		}
	}
	t.Run("in memory", func(t *testing.T) { check(t, s) })
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Run("flushed", func(t *testing.T) { check(t, s) })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := mustOpen(t, dir)
	if got := s2.AppliedSeq(); got != evs[len(evs)-1].Seq {
		t.Errorf("AppliedSeq %d after reopening, want %d", got, evs[len(evs)-1].Seq)
	}
	t.Run("reopened", func(t *testing.T) { check(t, s2) })
}

func clip(s []string) []string { return s[:min(len(s), 12)] }

// TestCursorOfSupersededArticle: a page cursor stays valid when the
// article it names is updated before the next page is read: the walk
// resumes strictly after the cursor's position.
func TestCursorOfSupersededArticle(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	var evs []market.Event
	for i := range 10 {
		evs = append(evs, article(uint64(i+1), int64(100+i), t0+int64(i)*1e9, 0, "c", "AAPL"))
	}
	s.Apply(evs)
	q := httpapi.NewsQuery{Start: t0, End: t0 + 100e9, Limit: 3}
	res, err := s.News(context.Background(), q)
	if err != nil || len(res.Articles) != 3 || res.Next == nil {
		t.Fatalf("%v %v", res, err)
	}
	// Article 102 (the cursor) moves to the end.
	s.Apply([]market.Event{article(11, 102, t0+2e9, t0+50e9, "c", "AAPL")})
	q.After, q.Limit = res.Next, 100
	res, err = s.News(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"103@", "104@", "105@", "106@", "107@", "108@", "109@", "102@"}
	for i, n := range res.Articles {
		if i >= len(want) || !strings.HasPrefix(ids([]*market.News{n})[0], want[i]) {
			t.Fatalf("after the cursor: %v, want %v", ids(res.Articles), want)
		}
	}
}

// TestUpdates: an update replaces its article, which appears once at its
// new time; a stale or repeated version changes nothing; an event at or
// below the applied seq is ignored; Seq 0 is always taken.
func TestUpdates(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	s.Apply([]market.Event{
		article(1, 7, t0, t0, "v1", "AAPL"),
		article(2, 8, t0+1e9, 0, "", "MSFT"),
	})
	tests := []struct {
		name string
		ev   market.Event
		want string // content of article 7
		at   int64
	}{
		{"update", article(3, 7, t0, t0+5e9, "v2", "AAPL", "MSFT"), "v2", t0 + 5e9},
		{"stale", article(4, 7, t0, t0+3e9, "v-stale", "AAPL"), "v2", t0 + 5e9},
		{"same time", article(5, 7, t0, t0+5e9, "v-same", "AAPL"), "v2", t0 + 5e9},
		{"old seq", article(5, 7, t0, t0+9e9, "v-replayed", "AAPL"), "v2", t0 + 5e9},
		{"unsequenced", article(0, 7, t0, t0+9e9, "v3", "AAPL"), "v3", t0 + 9e9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Apply([]market.Event{tt.ev})
			res, err := s.News(context.Background(), httpapi.NewsQuery{Start: 0, End: 1 << 62, Limit: 10, Symbols: []string{"AAPL"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Articles) != 1 || res.Articles[0].Content != tt.want || newsTime(res.Articles[0]) != tt.at {
				t.Fatalf("AAPL articles %v, want 7 with %q at %d", ids(res.Articles), tt.want, tt.at)
			}
			if s.Len() != 2 {
				t.Fatalf("Len %d, want 2", s.Len())
			}
		})
	}
}

// TestRecovery: what Open does with a torn or corrupt data file, a lost
// checkpoint, a checkpoint moved on by other events, and a missing
// directory; in every case, replaying the events after AppliedSeq gives
// back the full store.
func TestRecovery(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	evs := randomNews(r, 400)
	full := &model{latest: map[int64]*market.News{}}
	full.apply(evs)
	all := httpapi.NewsQuery{Start: -1 << 62, End: 1 << 62, Limit: 1 << 20}
	// write stores evs in a fresh directory, in two flushes, and returns
	// it with the data file's size after the first.
	write := func(t *testing.T) (string, int64) {
		dir := t.TempDir()
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.Apply(evs[:200])
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(filepath.Join(dir, dataFile))
		s.Apply(evs[200:])
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return dir, st.Size()
	}
	// lastNewsSeq is the seq of the last record written for evs[:to]:
	// the last news event that was not a stale version.
	lastNewsSeq := func(to int) uint64 {
		m := &model{latest: map[int64]*market.News{}}
		last := uint64(0)
		for _, e := range evs[:to] {
			if e.Kind != market.KindNews {
				continue
			}
			if old, ok := m.latest[e.News.ID]; ok && newsTime(e.News) <= newsTime(old) {
				continue
			}
			m.latest[e.News.ID] = e.News
			last = e.Seq
		}
		return last
	}
	tests := []struct {
		name     string
		damage   func(t *testing.T, dir string, mid int64)
		applied  func() uint64 // AppliedSeq after reopening
		repaired bool          // the file was cut
	}{
		{"intact", func(*testing.T, string, int64) {}, func() uint64 { return evs[len(evs)-1].Seq }, false},
		{"torn tail", func(t *testing.T, dir string, _ int64) {
			truncate(t, filepath.Join(dir, dataFile), -5)
		}, nil, true},
		{"corrupt record in the middle", func(t *testing.T, dir string, mid int64) {
			flip(t, filepath.Join(dir, dataFile), mid+20)
		}, func() uint64 { return lastNewsSeq(200) }, true},
		{"garbage length", func(t *testing.T, dir string, mid int64) {
			flipAt(t, filepath.Join(dir, dataFile), mid+3, 0x7f)
		}, func() uint64 { return lastNewsSeq(200) }, true},
		{"lost checkpoint", func(t *testing.T, dir string, _ int64) {
			if err := os.Remove(filepath.Join(dir, ckptFile)); err != nil {
				t.Fatal(err)
			}
		}, func() uint64 { return lastNewsSeq(len(evs)) }, false},
		{"corrupt checkpoint", func(t *testing.T, dir string, _ int64) {
			flip(t, filepath.Join(dir, ckptFile), 9)
		}, func() uint64 { return lastNewsSeq(len(evs)) }, false},
		{"missing directory", func(t *testing.T, dir string, _ int64) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}, func() uint64 { return 0 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, mid := write(t)
			tt.damage(t, dir, mid)
			s := mustOpen(t, dir)
			got := s.AppliedSeq()
			if tt.applied != nil && got != tt.applied() {
				t.Errorf("AppliedSeq %d, want %d", got, tt.applied())
			}
			if tt.repaired {
				if got >= evs[len(evs)-1].Seq {
					t.Errorf("AppliedSeq %d after a repair, want below the last event's", got)
				}
			}
			// The journal replay: everything after AppliedSeq.
			for i := range evs {
				if evs[i].Seq > got {
					s.Apply(evs[i:])
					break
				}
			}
			res, err := s.News(context.Background(), all)
			if err != nil {
				t.Fatal(err)
			}
			if want := full.query(all); !slices.Equal(ids(res.Articles), ids(want)) {
				t.Fatalf("after the replay %d articles, want %d", len(res.Articles), len(want))
			}
		})
	}
	t.Run("not a news file", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, dataFile), []byte("something else entirely"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir, Options{}); !errors.Is(err, ErrNotNewsFile) {
			t.Errorf("Open: %v, want ErrNotNewsFile", err)
		}
	})
	t.Run("checkpoint moves with other events", func(t *testing.T) {
		dir := t.TempDir()
		s := mustOpen(t, dir)
		s.Apply([]market.Event{article(1, 1, t0, 0, "", "AAPL"), {Seq: 500, Kind: market.KindTrade, Symbol: "AAPL"}})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if got := mustOpen(t, dir).AppliedSeq(); got != 500 {
			t.Errorf("AppliedSeq %d, want 500", got)
		}
	})
}

func truncate(t *testing.T, path string, by int64) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, st.Size()+by); err != nil {
		t.Fatal(err)
	}
}

func flip(t *testing.T, path string, at int64) { flipAt(t, path, at, 0xff) }

func flipAt(t *testing.T, path string, at int64, mask byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[at] ^= mask
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptRecordQuery: a record damaged after Open is reported by the
// query that reads it, as a CorruptionError.
func TestCorruptRecordQuery(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	s.Apply([]market.Event{article(1, 1, t0, 0, "content", "AAPL")})
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	flip(t, filepath.Join(dir, dataFile), headerSize+recHeaderSize+30)
	_, err := s.News(context.Background(), httpapi.NewsQuery{Start: 0, End: 1 << 62, Limit: 5})
	var ce *CorruptionError
	if !errors.As(err, &ce) || ce.Offset != headerSize {
		t.Errorf("query of a corrupt record: %v", err)
	}
}

func TestBadQueryAndClose(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	if _, err := s.News(context.Background(), httpapi.NewsQuery{End: 1}); !errors.Is(err, ErrBadQuery) {
		t.Errorf("limit 0: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.News(context.Background(), httpapi.NewsQuery{End: 1, Limit: 1}); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	s.Apply([]market.Event{article(1, 1, t0, 0, "", "AAPL")}) // ignored, no panic
}

// TestConcurrent runs Apply, Run's flushes and queries together (for the
// race detector), then checks that everything arrived and is durable.
func TestConcurrent(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var runErr error
	wg.Go(func() { runErr = s.Run(ctx) })
	const n = 2000
	for range 3 {
		wg.Go(func() {
			for ctx.Err() == nil {
				res, err := s.News(ctx, httpapi.NewsQuery{Start: 0, End: 1 << 62, Limit: 20, Desc: true, Symbols: []string{"AAPL"}})
				if err != nil && ctx.Err() == nil {
					t.Error(err)
					return
				}
				if !slices.IsSortedFunc(res.Articles, func(a, b *market.News) int { return -cmpKey(newsTime(a), a.ID, newsTime(b), b.ID) }) {
					t.Error("a page out of order")
					return
				}
			}
		})
	}
	for i := range n {
		syms := []string{"AAPL"}
		if i%3 == 0 {
			syms = []string{"MSFT"}
		}
		s.Apply([]market.Event{article(uint64(i+1), int64(i%(n/2)), t0+int64(i%(n/2))*1e9, t0+int64(i)*1e9, "c", syms...)})
	}
	for s.AppliedSeq() < n {
		time.Sleep(time.Millisecond)
	}
	cancel()
	wg.Wait()
	if runErr != nil {
		t.Fatal(runErr)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := mustOpen(t, dir)
	if s2.Len() != n/2 || s2.AppliedSeq() != n {
		t.Errorf("reopened: %d articles, applied %d; want %d, %d", s2.Len(), s2.AppliedSeq(), n/2, n)
	}
}
