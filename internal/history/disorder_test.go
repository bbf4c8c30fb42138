package history

import (
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tapehq/tape/internal/market"
)

// testDay is the trades of one symbol for the disorder tests: enough
// records for several runs (runMinLen is 2048), over a regular session, 5%
// of them up to 3 s late, with bursts sharing a timestamp.
func testDay(sym string, n int, seed uint64) []market.Event {
	evs := recordedDay(sym, n, at("2024-06-03 09:30:00"), at("2024-06-03 16:00:00"), seed)
	for i := 100; i+5 < len(evs); i += 997 {
		for j := 1; j <= 5; j++ {
			evs[i+j].Time = evs[i].Time
		}
	}
	return evs
}

// disorderCases are arrival orders the store must answer exactly, each
// made of one or more symbols' trades; imports and backfills arrive in
// time order (as tape import and tape backfill send them).
func disorderCases() []struct {
	name string
	evs  []market.Event
} {
	const n = 9_000
	day := testDay("X", n, 1)
	var cases []struct {
		name string
		evs  []market.Event
	}
	add := func(name string, evs ...[]market.Event) {
		cases = append(cases, struct {
			name string
			evs  []market.Event
		}{name, slices.Concat(evs...)})
	}
	noon := at("2024-06-03 11:00:00")
	window := func(evs []market.Event, from, to string) []market.Event {
		lo, hi := at("2024-06-03 "+from), at("2024-06-03 "+to)
		var out []market.Event
		for _, e := range evs {
			if e.Time >= lo && e.Time < hi {
				out = append(out, e)
			}
		}
		return out
	}

	late := slices.Clone(day)
	r := rand.New(rand.NewPCG(7, 7))
	for i := range 10 {
		late[n/11*(i+1)+r.IntN(100)].Time -= int64(5+r.IntN(200)) * 60e9
	}
	late[3000].Time, late[3001].Time = late[3000].Time-7200e9, late[3000].Time-3000e9 // two in a row
	late[0].Time -= 3600e9
	add("late reports", late)

	var rec, morning []market.Event
	for _, e := range day {
		if e.Time >= noon {
			rec = append(rec, e)
		} else {
			morning = append(morning, e)
		}
	}
	add("backfilled morning", rec, sortedByTime(morning))
	add("reimported day", day, sortedByTime(day))
	add("overlapping imports", day, sortedByTime(window(day, "09:30", "12:00")),
		sortedByTime(window(day, "11:00", "14:00")), sortedByTime(window(day, "13:00", "16:00")))
	add("import after a few recorded", day[n-10:], sortedByTime(day))
	add("earlier days after later ones", testDay("X", n/2, 3), shiftDays(testDay("X", n/2, 4), -2), shiftDays(testDay("X", n/2, 5), -1))

	// Live trades with a backfill arriving in batches between them.
	var mixed []market.Event
	bf := sortedByTime(window(day, "09:30", "12:30"))
	live := window(day, "12:30", "16:00")
	for i := 0; len(bf) > 0 || len(live) > 0; i++ {
		k := min(len(live), 700)
		mixed, live = append(mixed, live[:k]...), live[k:]
		k = min(len(bf), 1500)
		mixed, bf = append(mixed, bf[:k]...), bf[k:]
	}
	add("backfill between live batches", mixed)

	rev := sortedByTime(day)
	slices.Reverse(rev)
	add("reverse order", rev)
	shuffled := slices.Clone(day)
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	add("random order", shuffled)

	// Two symbols interleaved, one imported after the other is recorded,
	// with late reports of the day before arriving after midnight.
	y := testDay("Y", n/2, 9)
	var yday []market.Event
	for _, e := range shiftDays(testDay("Y", 3000, 10), 1) {
		yday = append(yday, e)
		if len(yday)%300 == 0 {
			yday = append(yday, trade("Y", at("2024-06-03 23:59:59.9")-int64(len(yday))*1e9, 1, int64(len(yday))))
		}
	}
	add("two symbols across midnight", y, sortedByTime(testDay("X", n/2, 11)), yday)
	return cases
}

// shiftDays moves events by whole days.
func shiftDays(evs []market.Event, days int) []market.Event {
	for i := range evs {
		evs[i].Time += int64(days) * nsPerDay
	}
	return evs
}

// TestDisorder checks every arrival order of disorderCases against a
// brute-force sort: random ranges both ways, in random page sizes, with the
// data written in many flushes and reopened, and for a few cases also in
// memory, on disk and both (the memory part is the same code for every
// order).
func TestDisorder(t *testing.T) {
	allStates := map[string]bool{"late reports": true, "backfill between live batches": true, "two symbols across midnight": true}
	for _, dc := range disorderCases() {
		t.Run(dc.name, func(t *testing.T) {
			var g seqr
			evs := g.seq(slices.Clone(dc.evs))
			o := newOracle()
			o.apply(evs)
			syms := []string{"X", "Y"}
			lo, hi := evs[0].Time, evs[0].Time
			for _, e := range evs {
				lo, hi = min(lo, e.Time), max(hi, e.Time)
			}
			r := rand.New(rand.NewPCG(uint64(len(evs)), 1))
			sts := []string{"flushed-in-pieces", "reopened"}
			switch {
			case raceEnabled:
				sts = sts[1:]
			case allStates[dc.name]:
				sts = states
			}
			for _, state := range sts {
				t.Run(state, func(t *testing.T) {
					s := storeState(t, state, evs)
					for i := range 8 {
						a := lo - 600e9 + r.Int64N(hi-lo+1200e9)
						b := a + r.Int64N(120e9)
						switch i % 4 {
						case 0:
							b = a + r.Int64N(hi-lo+1)
						case 1:
							a, b = math.MinInt64, math.MaxInt64
						}
						q := Query{Symbols: syms, Start: a, End: b, Desc: i%2 == 1, Limit: 400 + r.IntN(3000)}
						sameEvents(t, state, walk(t, s.Trades, q), o.expectTicks(market.KindTrade, q))
					}
					for _, sym := range syms {
						want, ok := o.latestTick(market.KindTrade, sym)
						got, gotOK := s.LatestTrade(sym)
						if ok != gotOK || (ok && (got.Seq != want.Seq || got.Time != want.Time)) {
							t.Fatalf("latest %s trade %v, want %v", sym, evString(got), evString(want))
						}
					}
				})
			}
		})
	}
}

// latestTick is the symbol's latest trade or quote by (time, seq).
func (o *oracle) latestTick(kind market.Kind, sym string) (market.Event, bool) {
	var best market.Event
	ok := false
	for _, e := range o.ticks[kind] {
		if e.Symbol == sym && (!ok || e.Time > best.Time || (e.Time == best.Time && e.Seq > best.Seq)) {
			best, ok = e, true
		}
	}
	return best, ok
}

// TestRuns checks the runs the flusher cuts, for each disorder case: every
// run keeps its lateness bound and its time bounds, runs tile the file,
// there are few of them, imports and lone late reports get runs of their
// own, and cutting the runs while appending in many flushes gives exactly
// what cutting them from the whole file gives (as the upgrade of a version
// 1 file and a rebuild after a crash do).
func TestRuns(t *testing.T) {
	wantRuns := map[string][2]int{ // at least, at most (per file)
		"late reports":                  {3, 30},
		"backfilled morning":            {2, 2},
		"reimported day":                {2, 2},
		"overlapping imports":           {2, 4}, // the overlaps are an hour: fewer than runMinLen records at this size
		"import after a few recorded":   {2, 2},
		"backfill between live batches": {2, 20},
		"reverse order":                 {2, 64},
		"random order":                  {1, 64},
	}
	for _, dc := range disorderCases() {
		t.Run(dc.name, func(t *testing.T) {
			var g seqr
			evs := g.seq(slices.Clone(dc.evs))
			dir := t.TempDir()
			s := openStore(t, dir)
			defer s.Close()
			for i := 0; i < len(evs); i += 997 {
				s.Apply(evs[i:min(i+997, len(evs))])
				mustFlush(t, s)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "symbols", "*", "trades-*.dat"))
			if len(files) == 0 {
				t.Fatal("no trade files")
			}
			for _, path := range files {
				f, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				n, _ := recordCount(f, tickRecSize)
				var hb [headerSize]byte
				if err := readFull(f, hb[:], 0); err != nil {
					t.Fatal(err)
				}
				hdr, err := decodeHeader(hb[:], kindTrades)
				if err != nil || hdr.v1 {
					t.Fatalf("%s: header %+v, %v", path, hdr, err)
				}
				var sidecarErr error
				runs := fileRuns(nil, hdr, true, n, func(closed uint32, end int64) ([]runEntry, error) {
					rf, err := os.Open(runsPath(path))
					if err != nil {
						sidecarErr = err
						return nil, err
					}
					defer rf.Close()
					e, err := readRuns(rf, kindRuns, closed, end)
					sidecarErr = err
					return e, err
				})
				if sidecarErr != nil {
					t.Fatalf("%s: sidecar: %v", path, sidecarErr)
				}
				checkRuns(t, f, n, runs)
				if w, ok := wantRuns[dc.name]; ok && (len(runs) < w[0] || len(runs) > w[1]) {
					t.Errorf("%s: %d runs, want %d to %d", filepath.Base(path), len(runs), w[0], w[1])
				}
				// Cut from the whole file: the same runs.
				whole, entries, err := buildRuns(f, kindTrades, n)
				if err != nil {
					t.Fatal(err)
				}
				if whole != hdr || len(entries) != len(runs)-1 {
					t.Fatalf("%s: rebuilt header %+v with %d closed runs, flusher wrote %+v with %d", path, whole, len(entries), hdr, len(runs)-1)
				}
				for i, e := range entries {
					if r := runs[i]; r != (tickRun{a: int(e.start), b: int(e.end), min: e.min, max: e.max, late: e.late}) {
						t.Fatalf("%s: run %d is %+v rebuilt, %+v written", path, i, e, r)
					}
				}
			}
		})
	}
}

// checkRuns checks that runs tile the file's n records and that each
// record is within its run's bounds and lateness.
func checkRuns(t *testing.T, f *os.File, n int, runs []tickRun) {
	t.Helper()
	buf := make([]byte, n*tickRecSize)
	if err := readFull(f, buf, headerSize); err != nil {
		t.Fatal(err)
	}
	next := 0
	for i, r := range runs {
		if r.a != next || r.b <= r.a {
			t.Fatalf("run %d is [%d, %d), expected to start at %d", i, r.a, r.b, next)
		}
		next = r.b
		mx := int64(math.MinInt64)
		for j := r.a; j < r.b; j++ {
			ts := recTime(buf[j*tickRecSize:])
			if ts < r.min || ts > r.max {
				t.Fatalf("run %d: record %d at %d outside [%d, %d]", i, j, ts, r.min, r.max)
			}
			if j > r.a && mx-ts > r.late {
				t.Fatalf("run %d: record %d is %d late, run lateness %d", i, j, mx-ts, r.late)
			}
			mx = max(mx, ts)
		}
	}
	if next != n {
		t.Fatalf("runs end at %d of %d records", next, n)
	}
}

// TestRunsBounded feeds the run cutter the worst orders at a larger size:
// the number of runs grows with the logarithm of the file's size.
func TestRunsBounded(t *testing.T) {
	const n = 1 << 20
	r := rand.New(rand.NewPCG(1, 1))
	orders := map[string]func(i int) int64{
		"reverse":     func(i int) int64 { return int64(n - i) },
		"random":      func(int) int64 { return r.Int64N(n) },
		"sawtooth":    func(i int) int64 { return int64(i % 5000 * 1000) },
		"alternating": func(i int) int64 { return int64(i) + int64(i%2)*n },
	}
	for name, order := range orders {
		var h header
		h.kind = kindTrades
		times := make([]int64, n)
		runs := 1
		for i := range times {
			times[i] = order(i)
			if _, closed, err := h.add(int64(i), times[i], func(j int64) (int64, error) { return times[j], nil }); err != nil {
				t.Fatal(err)
			} else if closed {
				runs++
			}
		}
		t.Logf("%s: %d runs", name, runs)
		if runs > 300 {
			t.Errorf("%s: %d runs for %d records", name, runs, n)
		}
	}
}

// TestRunsRepair damages the runs of a file with several runs in the ways
// a crash or a failed write can (and a file from before runs existed), and
// checks that queries stay exact before the store repairs anything, and
// after Open and further appends.
func TestRunsRepair(t *testing.T) {
	var base []market.Event
	for _, dc := range disorderCases() {
		if dc.name == "late reports" {
			base = dc.evs
		}
	}
	var g seqr
	evs := g.seq(slices.Clone(base))
	// A last trade of another day, flushed last, so that the checkpoint does
	// not name the damaged file's day and Open leaves it as found.
	other := g.seq([]market.Event{trade("Z", at("2024-06-10 10:00:00"), 1, 1)})
	more := g.seq(sortedByTime(testDay("X", 3000, 21)))
	o := newOracle()
	o.apply(evs)
	dayFile := tickFileName(kindTrades, civilDay(2024, 6, 3))
	damage := []struct {
		name string
		do   func(t *testing.T, dat, runs string)
	}{
		{"sidecar missing", func(t *testing.T, dat, runs string) { must(t, os.Remove(runs)) }},
		{"sidecar entry corrupt", func(t *testing.T, dat, runs string) { flipByte(t, runs, headerSize+runEntrySize+9) }},
		{"sidecar short", func(t *testing.T, dat, runs string) { must(t, os.Truncate(runs, headerSize+runEntrySize+7)) }},
		{"sidecar header corrupt", func(t *testing.T, dat, runs string) { flipByte(t, runs, 2) }},
		{"data header corrupt", func(t *testing.T, dat, runs string) { flipByte(t, dat, 20) }},
		{"header ahead of the records", func(t *testing.T, dat, runs string) {
			st, err := os.Stat(dat)
			must(t, err)
			must(t, os.Truncate(dat, st.Size()-int64(len(o.ticks[market.KindTrade])/3)*tickRecSize))
		}},
		{"version 1 file", func(t *testing.T, dat, runs string) { writeV1Header(t, dat) }},
	}
	for _, dm := range damage {
		t.Run(dm.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir)
			for i := 0; i < len(evs); i += 4000 {
				s.Apply(evs[i:min(i+4000, len(evs))])
				mustFlush(t, s)
			}
			s.Apply(other)
			mustFlush(t, s)
			must(t, s.Close())
			dat := filepath.Join(dir, "symbols", "X", dayFile)
			dm.do(t, dat, runsPath(dat))
			// What is left on disk is the truth now (the truncation drops
			// records a journal replay would bring back).
			want := newOracle()
			want.apply(fileEvents(t, dat))
			q := Query{Symbols: []string{"X"}, Start: math.MinInt64, End: math.MaxInt64, Limit: 777}

			// Read as found: a store that does not repair the file (its day
			// is not in the checkpoint).
			s = openStore(t, dir)
			for _, desc := range []bool{false, true} {
				q.Desc = desc
				sameEvents(t, "as found", walk(t, s.Trades, q), want.expectTicks(market.KindTrade, q))
			}
			// Appending loads the file's runs, rebuilding them.
			s.Apply(more)
			mustFlush(t, s)
			want.apply(more)
			must(t, s.Close())
			s = openStore(t, dir)
			defer s.Close()
			for _, desc := range []bool{false, true} {
				q.Desc = desc
				sameEvents(t, "after append", walk(t, s.Trades, q), want.expectTicks(market.KindTrade, q))
			}
			checkDisk(t, s)
			f, err := os.Open(dat)
			must(t, err)
			defer f.Close()
			var hb [headerSize]byte
			must(t, readFull(f, hb[:], 0))
			hdr, err := decodeHeader(hb[:], kindTrades)
			if err != nil || hdr.v1 || hdr.closed == 0 {
				t.Fatalf("header after append %+v, %v", hdr, err)
			}
			rf, err := os.Open(runsPath(dat))
			must(t, err)
			defer rf.Close()
			if _, err := readRuns(rf, kindRuns, hdr.closed, hdr.runStart); err != nil {
				t.Fatalf("runs after append: %v", err)
			}
		})
	}
}

// TestRunsCrash stops flushes that cut runs after their data and runs are
// written and synced, before the checkpoint, and checks that recovery and
// the journal replay leave exact results, with consistent runs.
func TestRunsCrash(t *testing.T) {
	for _, dc := range disorderCases() {
		if dc.name != "backfill between live batches" && dc.name != "late reports" {
			continue
		}
		t.Run(dc.name, func(t *testing.T) {
			var g seqr
			evs := g.seq(slices.Clone(dc.evs))
			o := newOracle()
			o.apply(evs)
			dir := t.TempDir()
			s := openStore(t, dir)
			cut := len(evs) / 3
			s.Apply(evs[:cut])
			mustFlush(t, s)
			s.Apply(evs[cut : 2*cut])
			s.testCrashBeforeCheckpoint = true
			if err := s.Flush(); err == nil {
				t.Fatal("flush did not crash")
			}
			s2 := openStore(t, dir)
			defer s2.Close()
			s2.Apply(evs[s2.AppliedSeq():]) // the journal replay
			q := Query{Symbols: []string{"X"}, Start: math.MinInt64, End: math.MaxInt64, Limit: 5000}
			sameEvents(t, "after replay", walk(t, s2.Trades, q), o.expectTicks(market.KindTrade, q))
			mustFlush(t, s2)
			sameEvents(t, "flushed", walk(t, s2.Trades, q), o.expectTicks(market.KindTrade, q))
			dat := filepath.Join(dir, "symbols", "X", tickFileName(kindTrades, civilDay(2024, 6, 3)))
			f, err := os.Open(dat)
			must(t, err)
			defer f.Close()
			n, _ := recordCount(f, tickRecSize)
			hdr, _, err := tickRunsState(f, kindTrades, n, func(bool) (*os.File, func(), error) {
				rf, err := os.Open(runsPath(dat))
				return rf, func() { rf.Close() }, err
			}, func(int64) {})
			if err != nil {
				t.Fatal(err)
			}
			runs := fileRuns(nil, hdr, true, n, func(closed uint32, end int64) ([]runEntry, error) {
				rf, err := os.Open(runsPath(dat))
				if err != nil {
					return nil, err
				}
				defer rf.Close()
				return readRuns(rf, kindRuns, closed, end)
			})
			checkRuns(t, f, n, runs)
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	var b [1]byte
	must(t, readFull(f, b[:], off))
	b[0] ^= 0x40
	_, err = f.WriteAt(b[:], off)
	must(t, err)
}

// writeV1Header replaces a trade file's header by the version 1 header of
// its records (as Tape wrote before runs) and removes its runs sidecar.
func writeV1Header(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	n, _ := recordCount(f, tickRecSize)
	buf := make([]byte, n*tickRecSize)
	must(t, readFull(f, buf, headerSize))
	var mx, late int64
	for i := range n {
		ts := recTime(buf[i*tickRecSize:])
		if i == 0 || ts > mx {
			mx = ts
		} else {
			late = max(late, mx-ts)
		}
	}
	var b [headerSize]byte
	copy(b[:], fileMagic)
	b[4], b[5] = 1, byte(kindTrades)
	le.PutUint16(b[6:], tickRecSize)
	le.PutUint64(b[8:], uint64(mx))
	le.PutUint64(b[16:], uint64(late))
	hb := b[:]
	le.PutUint32(hb[60:], crc32.Checksum(hb[:60], castagnoli))
	_, err = f.WriteAt(hb, 0)
	must(t, err)
	must(t, os.Remove(runsPath(path)))
}

// fileEvents decodes every record of a trade file.
func fileEvents(t *testing.T, path string) []market.Event {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	n, _ := recordCount(f, tickRecSize)
	buf := make([]byte, n*tickRecSize)
	must(t, readFull(f, buf, headerSize))
	out := make([]market.Event, n)
	for i := range out {
		decodeTrade(buf[i*tickRecSize:], filepath.Base(filepath.Dir(path)), &out[i])
	}
	return out
}

// TestUpgradeOnQuery: a version 1 file far out of order that is no longer
// written to is upgraded by the flusher once a query has met it, and
// answers the same before and after.
func TestUpgradeOnQuery(t *testing.T) {
	var base []market.Event
	for _, dc := range disorderCases() {
		if dc.name == "reimported day" {
			base = dc.evs
		}
	}
	var g seqr
	evs := g.seq(slices.Clone(base))
	o := newOracle()
	o.apply(evs)
	dir := t.TempDir()
	s := openStore(t, dir)
	s.Apply(evs)
	mustFlush(t, s)
	s.Apply(g.seq([]market.Event{trade("Z", at("2024-06-10 10:00:00"), 1, 1)})) // the checkpoint names another day
	must(t, s.Close())
	dat := filepath.Join(dir, "symbols", "X", tickFileName(kindTrades, civilDay(2024, 6, 3)))
	writeV1Header(t, dat)

	s = openStore(t, dir)
	defer s.Close()
	q := Query{Symbols: []string{"X"}, Start: math.MinInt64, End: math.MaxInt64, Limit: 1500}
	sameEvents(t, "version 1", walk(t, s.Trades, q), o.expectTicks(market.KindTrade, q))
	mustFlush(t, s)
	f, err := os.Open(dat)
	must(t, err)
	defer f.Close()
	var hb [headerSize]byte
	must(t, readFull(f, hb[:], 0))
	if hdr, err := decodeHeader(hb[:], kindTrades); err != nil || hdr.v1 || hdr.closed != 1 {
		t.Fatalf("after a query and a flush: header %+v, %v; want version 2 with one closed run", hdr, err)
	}
	q.Desc = true
	sameEvents(t, "upgraded", walk(t, s.Trades, q), o.expectTicks(market.KindTrade, q))
}
