package history

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"

	_ "modernc.org/sqlite" // the side-by-side baseline; test-only
)

// yearOfBars returns one symbol's regular-session minute bars for the first
// 252 weekdays of 2024: 252 × 390 = 98,280 bars.
func yearOfBars() []market.Event {
	var evs []market.Event
	r := rand.New(rand.NewPCG(7, 8))
	price := 180.0
	for d, days := at("2024-01-02 00:00"), 0; days < 252; d += nsPerDay {
		wd := time.Unix(0, d).In(ny).Weekday()
		if wd == time.Saturday || wd == time.Sunday {
			continue
		}
		days++
		open := at(time.Unix(0, d).In(ny).Format("2006-01-02") + " 09:30")
		for m := range 390 {
			o := price
			price += (r.Float64() - 0.5) / 5
			h, l := max(o, price)+r.Float64()/10, min(o, price)-r.Float64()/10
			evs = append(evs, bar(market.KindBar, "AAPL", open+int64(m)*nsPerMinute, o, h, l, price,
				uint64(1000+r.IntN(50000)), uint64(10+r.IntN(500)), (h+l+price)/3))
		}
	}
	var g seqr
	return g.seq(evs)
}

// BenchmarkYearOfMinuteBars queries a year of one symbol's minute bars
// (~98k) from Tape's store and from SQLite holding the same rows, both warm
// in the page cache, both scanning into []market.Event. The sqlite line
// reports its time as a multiple of Tape's (x_tape_time).
func BenchmarkYearOfMinuteBars(b *testing.B) {
	evs := yearOfBars()
	start, end := evs[0].Time, evs[len(evs)-1].Time
	n := len(evs)
	dir := b.TempDir()

	s := openStore(b, filepath.Join(dir, "tape"))
	s.Apply(evs)
	if err := s.Close(); err != nil { // everything on disk, nothing in memory
		b.Fatal(err)
	}
	s = openStore(b, filepath.Join(dir, "tape"))
	defer s.Close()

	db, err := sql.Open("sqlite", filepath.Join(dir, "bars.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE bars(symbol TEXT, t INTEGER, o REAL, h REAL, l REAL, c REAL, vw REAL, v INTEGER, n INTEGER,
		PRIMARY KEY(symbol, t)) WITHOUT ROWID`); err != nil {
		b.Fatal(err)
	}
	tx, _ := db.Begin()
	ins, err := tx.Prepare(`INSERT INTO bars VALUES (?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range evs {
		x := e.Bar
		if _, err := ins.Exec(e.Symbol, e.Time, x.Open, x.High, x.Low, x.Close, x.VWAP, int64(x.Volume), int64(x.TradeCount)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	sel, err := db.Prepare(`SELECT t, o, h, l, c, vw, v, n FROM bars WHERE symbol = ? AND t BETWEEN ? AND ? ORDER BY t`)
	if err != nil {
		b.Fatal(err)
	}
	defer sel.Close()

	ctx := context.Background()
	q := Query{Symbols: []string{"AAPL"}, Start: start, End: end, Limit: 200_000}
	var tapeNs float64
	b.Run("tape", func(b *testing.B) {
		b.SetBytes(int64(n * barRecSize))
		b.ReportAllocs()
		iters := 0
		for b.Loop() {
			res, err := s.Bars(ctx, q, market.OneMinute)
			if err != nil || len(res.Events) != n {
				b.Fatalf("%d bars, %v", len(res.Events), err)
			}
			iters++
		}
		tapeNs = float64(b.Elapsed().Nanoseconds()) / float64(iters)
		b.ReportMetric(tapeNs/1e6, "ms/query")
	})
	b.Run("sqlite", func(b *testing.B) {
		b.SetBytes(int64(n * barRecSize))
		b.ReportAllocs()
		iters := 0
		for b.Loop() {
			rows, err := sel.QueryContext(ctx, "AAPL", start, end)
			if err != nil {
				b.Fatal(err)
			}
			out := make([]market.Event, 0, 1024)
			for rows.Next() {
				e := market.Event{Symbol: "AAPL", Kind: market.KindBar}
				var v, c int64
				if err := rows.Scan(&e.Time, &e.Bar.Open, &e.Bar.High, &e.Bar.Low, &e.Bar.Close, &e.Bar.VWAP, &v, &c); err != nil {
					b.Fatal(err)
				}
				e.Bar.Volume, e.Bar.TradeCount = uint64(v), uint64(c)
				out = append(out, e)
			}
			if err := rows.Err(); err != nil || len(out) != n {
				b.Fatalf("%d rows, %v", len(out), err)
			}
			rows.Close()
			iters++
		}
		ns := float64(b.Elapsed().Nanoseconds()) / float64(iters)
		b.ReportMetric(ns/1e6, "ms/query")
		if tapeNs > 0 {
			b.ReportMetric(ns/tapeNs, "x_tape_time")
		}
	})
}

// BenchmarkApply measures Apply: batches of 1,000 trades and quotes over 500
// symbols, as the ingest goroutine hands them over. "alone" is Apply only;
// "with-flusher" runs Run (default 200 ms interval, real syncs) beside it,
// which on a 2-core machine competes for CPU.
func BenchmarkApply(b *testing.B) {
	const batch, nsyms = 1000, 500
	syms := make([]string, nsyms)
	for i := range syms {
		syms[i] = "S" + string(rune('A'+i%26)) + string(rune('A'+i/26%26))
	}
	proto := make([]market.Event, batch)
	r := rand.New(rand.NewPCG(9, 10))
	for i := range proto {
		sym := syms[r.IntN(nsyms)]
		if i%5 < 3 {
			proto[i] = trade(sym, int64(i)*1000, 100, int64(i))
		} else {
			proto[i] = quote(sym, int64(i)*1000, 100)
		}
	}
	for _, mode := range []string{"alone", "with-flusher"} {
		b.Run(mode, func(b *testing.B) {
			opts := Options{Location: ny}
			if mode == "alone" {
				opts.FlushInterval = time.Hour
			}
			s, err := Open(b.TempDir(), opts)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			evs := make([]market.Event, batch)
			copy(evs, proto)
			base, seq := at("2024-06-03 09:30:00"), uint64(1)
			b.SetBytes(batch * tickRecSize)
			b.ReportAllocs()
			iters := 0
			for b.Loop() {
				for i := range evs {
					evs[i].Seq = seq
					evs[i].Time = base + proto[i].Time
					seq++
				}
				base += batch * 1000
				s.Apply(evs)
				iters++
			}
			b.ReportMetric(float64(iters*batch)/b.Elapsed().Seconds(), "events/s")
			b.StopTimer()
			cancel()
			<-done
			s.Close()
		})
	}
}

// BenchmarkTrades queries one busy day: 1,000,000 trades of one symbol, 5%
// reported up to 3 s late, on disk.
func BenchmarkTrades(b *testing.B) {
	const n = 1_000_000
	s := openStore(b, b.TempDir())
	defer s.Close()
	r := rand.New(rand.NewPCG(11, 12))
	open := at("2024-06-03 09:30:00")
	step := int64(6.5*3600e9) / n
	var g seqr
	evs := make([]market.Event, 0, 10_000)
	for i := range n {
		ts := open + int64(i)*step
		if r.IntN(20) == 0 {
			ts -= int64(r.IntN(3000)) * 1e6
		}
		evs = append(evs, trade("AAPL", ts, 100, int64(i)))
		if len(evs) == cap(evs) {
			s.Apply(g.seq(evs))
			evs = evs[:0]
		}
	}
	mustFlush(b, s)
	ctx := context.Background()
	mid := open + int64(3.25*3600e9)
	for _, c := range []struct {
		name  string
		q     Query
		items int
	}{
		{"page10k-first", Query{Start: open - 3600e9, End: open + 24*3600e9, Limit: 10_000}, 10_000},
		{"page10k-first-desc", Query{Start: open - 3600e9, End: open + 24*3600e9, Limit: 10_000, Desc: true}, 10_000},
		{"page10k-midday", Query{Start: mid, End: open + 24*3600e9, Limit: 10_000}, 10_000},
		{"page1k-after-cursor", Query{Start: open - 3600e9, End: open + 24*3600e9, Limit: 1_000,
			After: &Cursor{Symbol: "AAPL", Time: mid, Seq: n / 2}}, 1_000},
		{"whole-day", Query{Start: open - 3600e9, End: open + 24*3600e9, Limit: 2 * n}, n},
	} {
		b.Run(c.name, func(b *testing.B) {
			q := c.q
			q.Symbols = []string{"AAPL"}
			b.SetBytes(int64(c.items * tickRecSize))
			b.ReportAllocs()
			for b.Loop() {
				res, err := s.Trades(ctx, q)
				if err != nil || len(res.Events) != c.items {
					b.Fatalf("%d trades, %v", len(res.Events), err)
				}
			}
		})
	}
}

// BenchmarkOpen measures Open (recovery and loading the latest state) of a
// store with 2,000 symbols, each with three days of trades and quotes,
// minute bars and daily bars.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	s := openStore(b, dir)
	var g seqr
	for i := range 2000 {
		sym := "S" + string(rune('A'+i%26)) + string(rune('A'+i/26%26)) + string(rune('A'+i/676))
		var evs []market.Event
		for d := range 3 {
			t0 := at("2024-06-03 09:30:00") + int64(d)*nsPerDay
			for k := range 20 {
				evs = append(evs, trade(sym, t0+int64(k)*1e9, 1, int64(k)), quote(sym, t0+int64(k)*1e9, 1))
			}
			evs = append(evs, bar(market.KindBar, sym, t0, 1, 1, 1, 1, 1, 1, 1),
				bar(market.KindDailyBar, sym, t0-t0%nsPerDay, 1, 1, 1, 1, 1, 1, 1))
		}
		s.Apply(g.seq(evs))
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := Open(dir, Options{Location: ny})
		if err != nil {
			b.Fatal(err)
		}
		if len(s.Symbols()) != 2000 {
			b.Fatal("symbols missing")
		}
		s.Close()
	}
}
