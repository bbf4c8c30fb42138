package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/datadir"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/feed/replay"
	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/server"
	"github.com/tapehq/tape/internal/tickfile"
)

// fixture is a hand-written trades file: out of time order, an odd lot
// (condition I: volume only, so MSFT's first minute has no bar) and a
// trade without conditions.
const fixture = `symbol,t,id,exchange,price,size,conditions,tape
AAPL,2026-11-24T14:30:00.100000000Z,1,Q,230.00,100,@,C
AAPL,2026-11-24T14:30:20Z,2,N,230.50,200,@ F,C
MSFT,2026-11-24T14:30:30Z,3,Q,410.00,50,@ I,C
AAPL,2026-11-24T14:31:05Z,4,Q,229.75,300,@,C
AAPL,2026-11-24T14:30:40Z,5,Q,231.00,100,@,C
MSFT,2026-11-24T14:32:00Z,6,V,411,100,,C
`

func ts(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixNano()
}

// TestImportFixture imports a hand-written CSV and finds it through the
// history store (trades in time order, bars derived from them) and
// through a replay of the journal, as tape serve --feed replay plays it.
func TestImportFixture(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(t.TempDir(), "fixture.csv")
	os.WriteFile(path, []byte(fixture), 0o644)
	res := mustImport(t, dir, path)
	if res.read != 6 || res.imported["trades"] != 6 || res.skipped != 0 {
		t.Fatalf("read %d imported %v skipped %d", res.read, res.imported, res.skipped)
	}
	// Minute bars: AAPL 14:30 and 14:31, MSFT 14:32 (14:30 had only an odd
	// lot); daily bars at the three minute closes that changed a day.
	if res.derived[market.KindBar] != 3 || res.derived[market.KindUpdatedBar] != 0 || res.derived[market.KindDailyBar] != 3 {
		t.Fatalf("derived %v", res.derived)
	}
	var summary strings.Builder
	res.print(&summary, importOptions{dataDir: dir})
	for _, want := range []string{"imported 6 trades", "rows read  6", "symbols    2: AAPL, MSFT",
		"2026-11-24T14:30:00.1Z to 2026-11-24T14:32:00Z", "tape serve --data " + dir + " --feed replay --from 2026-11-24 --to 2026-11-24"} {
		if !strings.Contains(summary.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, summary.String())
		}
	}

	lo, hi := ts("2026-11-24T00:00:00Z"), ts("2026-11-25T00:00:00Z")
	trades := storeAll(t, dir, tickfile.KindTrades, market.Timeframe{}, []string{"AAPL"}, lo, hi)
	var ids []int64
	for _, e := range trades {
		ids = append(ids, e.Trade.ID)
	}
	if fmt.Sprint(ids) != "[1 2 5 4]" {
		t.Fatalf("AAPL trade ids in time order: %v", ids)
	}
	if e := trades[1]; e.Trade.Price != 230.5 || e.Trade.Size != 200 || e.Trade.Exchange != 'N' || e.Trade.Conditions != (market.Conditions{'@', 'F'}) || e.Time != ts("2026-11-24T14:30:20Z") {
		t.Fatalf("trade 2: %+v", e)
	}
	bars := storeAll(t, dir, tickfile.KindBars, market.OneMinute, []string{"AAPL", "MSFT"}, lo, hi)
	want := []string{
		"AAPL 14:30 o230 h231 l230 c231 v400 n3 vw230.5",
		"AAPL 14:31 o229.75 h229.75 l229.75 c229.75 v300 n1 vw229.75",
		"MSFT 14:32 o411 h411 l411 c411 v100 n1 vw411",
	}
	if got := barLines(bars); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("minute bars:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	daily := storeAll(t, dir, tickfile.KindBars, market.OneDay, []string{"AAPL", "MSFT"}, lo-int64(24*time.Hour), hi)
	if got := barLines(daily); len(got) != 2 || !strings.HasPrefix(got[0], "AAPL 05:00 o230 h231 l229.75 c229.75 v700 n4") ||
		!strings.HasPrefix(got[1], "MSFT 05:00 o411 h411 l411 c411 v150 n2") {
		t.Fatalf("daily bars: %q", got)
	}

	// Replay: the journal yields the trades in time order, each minute's
	// bar after its last trade.
	j, err := journal.Open(filepath.Join(dir, "journal"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	got := replayAll(t, j, time.Unix(0, lo))
	var lines []string
	for _, e := range got {
		lines = append(lines, fmt.Sprintf("%s %s %s", e.Kind, e.Symbol, time.Unix(0, e.Time).UTC().Format("15:04:05.0")))
	}
	wantReplay := []string{
		"trade AAPL 14:30:00.1", "trade AAPL 14:30:20.0", "trade MSFT 14:30:30.0", "trade AAPL 14:30:40.0",
		"bar AAPL 14:30:00.0", "dailyBar AAPL 05:00:00.0", "trade AAPL 14:31:05.0",
		"trade MSFT 14:32:00.0", "bar AAPL 14:31:00.0", "dailyBar AAPL 05:00:00.0",
		"bar MSFT 14:32:00.0", "dailyBar MSFT 05:00:00.0",
	}
	if fmt.Sprint(lines) != fmt.Sprint(wantReplay) {
		t.Fatalf("replay:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(wantReplay, "\n"))
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq != got[i-1].Seq+1 {
			t.Fatalf("replayed seqs not contiguous at %d: %d after %d", i, got[i].Seq, got[i-1].Seq)
		}
	}
}

// TestImportTradesWithBars: bars imported along with trades are used as
// they are (nothing is derived) and journaled after their minute's trades,
// where a live feed sends them, so a replay plays them in that order. (A
// trade stamped exactly at the minute's end sorts first by file order:
// live, it would be in the batch that closes the minute, also first.)
func TestImportTradesWithBars(t *testing.T) {
	tmp := t.TempDir()
	trades := filepath.Join(tmp, "t.csv")
	os.WriteFile(trades, []byte(fixture), 0o644)
	barsCSV := "symbol,t,open,high,low,close,volume,trade_count,vwap\n" +
		"AAPL,2026-11-24T14:31:00Z,1,3,1,2,10,1,2\n" +
		"AAPL,2026-11-24T14:30:00Z,5,6,4,5,99,9,5\n"
	barsPath := filepath.Join(tmp, "b.csv")
	os.WriteFile(barsPath, []byte(barsCSV), 0o644)
	dir := t.TempDir()
	res := mustImport(t, dir, trades, barsPath)
	if len(res.derived) != 0 || res.imported["bars"] != 2 || res.imported["trades"] != 6 {
		t.Fatalf("imported %v derived %v", res.imported, res.derived)
	}
	lo, hi := ts("2026-11-24T00:00:00Z"), ts("2026-11-25T00:00:00Z")
	if got := barLines(storeAll(t, dir, tickfile.KindBars, market.OneMinute, []string{"AAPL", "MSFT"}, lo, hi)); fmt.Sprint(got) !=
		"[AAPL 14:30 o5 h6 l4 c5 v99 n9 vw5 AAPL 14:31 o1 h3 l1 c2 v10 n1 vw2]" {
		t.Fatalf("bars %q", got)
	}
	j, err := journal.Open(filepath.Join(dir, "journal"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var lines []string
	for _, e := range replayAll(t, j, time.Unix(0, lo)) {
		lines = append(lines, fmt.Sprintf("%s %s %s", e.Kind, e.Symbol, time.Unix(0, e.Time).UTC().Format("15:04:05")))
	}
	want := "[trade AAPL 14:30:00 trade AAPL 14:30:20 trade MSFT 14:30:30 trade AAPL 14:30:40 bar AAPL 14:30:00 " +
		"trade AAPL 14:31:05 trade MSFT 14:32:00 bar AAPL 14:31:00]"
	if fmt.Sprint(lines) != want {
		t.Fatalf("replay:\n%v\nwant\n%v", lines, want)
	}
}

func barLines(evs []market.Event) []string {
	var out []string
	for _, e := range evs {
		b := e.Bar
		out = append(out, fmt.Sprintf("%s %s o%v h%v l%v c%v v%d n%d vw%v", e.Symbol, time.Unix(0, e.Time).UTC().Format("15:04"),
			b.Open, b.High, b.Low, b.Close, b.Volume, b.TradeCount, math.Round(b.VWAP*1e6)/1e6))
	}
	return out
}

// replayAll runs a max-speed replay of the journal from `from` and returns
// what it sent.
func replayAll(t *testing.T, j *journal.File, from time.Time) []market.Event {
	t.Helper()
	f, err := replay.New(replay.Options{Source: j, From: from})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := make(chan feed.Batch, 16)
	errc := make(chan error, 1)
	go func() { errc <- f.Run(ctx, out) }()
	var got []market.Event
	for {
		select {
		case b := <-out:
			got = append(got, b.Events...)
			continue
		case <-f.Done():
		}
		break
	}
	for len(out) > 0 {
		got = append(got, (<-out).Events...)
	}
	cancel()
	<-errc
	return got
}

// TestImportBadRows: bad rows are reported with file:line and a reason and
// skipped; --strict stops at the first one and writes nothing.
func TestImportBadRows(t *testing.T) {
	in := `symbol,t,price,size
AAPL,2026-11-24T14:30:00Z,10,100
AA PL,2026-11-24T14:30:01Z,10,100
AAPL,2026-11-24T14:30:02Z,-10,100
AAPL,not a time,10,100
AAPL,2026-11-24T14:30:04Z,10
AAPL,2026-11-24T14:30:05Z,11,100
`
	path := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(path, []byte(in), 0o644)

	dir := t.TempDir()
	res, stderr, err := doImport(t, dir, []string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.read != 6 || res.imported["trades"] != 2 || res.skipped != 4 ||
		res.reasons[tickfile.ReasonSymbol] != 1 || res.reasons[tickfile.ReasonPrice] != 1 ||
		res.reasons[tickfile.ReasonTime] != 1 || res.reasons[tickfile.ReasonColumns] != 1 {
		t.Fatalf("read %d imported %v skipped %d %v", res.read, res.imported, res.skipped, res.reasons)
	}
	for _, want := range []string{path + ":3: symbol:", path + ":4: price: -10: must be positive", path + ":5: t:", path + ":6: 3 fields"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	var summary strings.Builder
	res.print(&summary, importOptions{dataDir: dir})
	if !strings.Contains(summary.String(), "skipped    4: ") || !strings.Contains(summary.String(), "bad price 1") {
		t.Errorf("summary:\n%s", summary.String())
	}
	if n := len(storeAll(t, dir, tickfile.KindTrades, market.Timeframe{}, []string{"AAPL"}, 0, math.MaxInt64)); n != 2 {
		t.Fatalf("%d trades stored", n)
	}

	strict := t.TempDir()
	_, _, err = doImport(t, strict, []string{path}, func(o *importOptions) { o.strict = true })
	if err == nil || !strings.Contains(err.Error(), path+":3: symbol:") || !strings.Contains(err.Error(), "--strict") {
		t.Fatalf("strict: %v", err)
	}
	j, err := journal.Open(filepath.Join(strict, "journal"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if j.Last() != 0 {
		t.Fatalf("strict import journaled %d records", j.Last())
	}
	j.Close()
}

// TestImportDerivedBars imports 200k trades (in random order) and checks
// the bars derived from them add up: per symbol the minute bars' volume
// and trade counts sum to the trades', and so does the daily bar.
func TestImportDerivedBars(t *testing.T) {
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	syms := []string{"AAPL", "MSFT", "NVDA", "SPY"}
	evs := genTrades(n, syms, 1)
	path := filepath.Join(t.TempDir(), "many.parquet")
	writeFile(t, path, tickfile.KindTrades, evs, "")
	dir := t.TempDir()
	res := mustImport(t, dir, path)
	if res.imported["trades"] != int64(n) || res.derived[market.KindUpdatedBar] != 0 {
		t.Fatalf("imported %v derived %v", res.imported, res.derived)
	}
	type sums struct {
		vol, n  uint64
		pv      float64
		minutes map[int64]bool
	}
	want := map[string]*sums{}
	for _, e := range evs {
		s := want[e.Symbol]
		if s == nil {
			s = &sums{minutes: map[int64]bool{}}
			want[e.Symbol] = s
		}
		s.vol += uint64(e.Trade.Size)
		s.n++
		s.pv += e.Trade.Price * float64(e.Trade.Size)
		s.minutes[e.Time/int64(time.Minute)] = true
	}
	lo, hi := session0.UnixNano(), session0.Add(7*time.Hour).UnixNano()
	minute := storeAll(t, dir, tickfile.KindBars, market.OneMinute, syms, lo, hi)
	got := map[string]*sums{}
	for _, e := range minute {
		s := got[e.Symbol]
		if s == nil {
			s = &sums{}
			got[e.Symbol] = s
		}
		s.vol += e.Bar.Volume
		s.n += e.Bar.TradeCount
		s.pv += e.Bar.VWAP * float64(e.Bar.Volume)
	}
	if int64(len(minute)) != res.derived[market.KindBar] {
		t.Errorf("%d minute bars stored, %d derived", len(minute), res.derived[market.KindBar])
	}
	daily := storeAll(t, dir, tickfile.KindBars, market.OneDay, syms, session0.Add(-10*time.Hour).UnixNano(), hi)
	if len(daily) != len(syms) {
		t.Fatalf("%d daily bars", len(daily))
	}
	for _, d := range daily {
		w, g := want[d.Symbol], got[d.Symbol]
		if g.vol != w.vol || g.n != w.n || d.Bar.Volume != w.vol || d.Bar.TradeCount != w.n {
			t.Errorf("%s: trades %d shares in %d; minute bars %d in %d; daily %d in %d", d.Symbol, w.vol, w.n, g.vol, g.n, d.Bar.Volume, d.Bar.TradeCount)
		}
		if math.Abs(g.pv-w.pv) > 1e-6*w.pv || math.Abs(d.Bar.VWAP*float64(d.Bar.Volume)-w.pv) > 1e-6*w.pv {
			t.Errorf("%s: VWAP does not add up: trades %v, minute bars %v, daily %v", d.Symbol, w.pv, g.pv, d.Bar.VWAP*float64(d.Bar.Volume))
		}
	}
	var bars int
	for _, s := range want {
		bars += len(s.minutes)
	}
	if len(minute) != bars {
		t.Errorf("%d minute bars, want one per symbol-minute with trades: %d", len(minute), bars)
	}
}

// TestImportRefusesOverlap: importing the same trades twice would store
// them twice; the second import is refused unless --allow-overlap.
func TestImportRefusesOverlap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fixture.csv")
	os.WriteFile(path, []byte(fixture), 0o644)
	dir := t.TempDir()
	mustImport(t, dir, path)
	_, _, err := doImport(t, dir, []string{path}, nil)
	if err == nil || !strings.Contains(err.Error(), "already has trades of AAPL") || !strings.Contains(err.Error(), "--allow-overlap") {
		t.Fatalf("second import: %v", err)
	}
	if _, _, err := doImport(t, dir, []string{path}, func(o *importOptions) { o.allowOverlap = true }); err != nil {
		t.Fatal(err)
	}
	if n := len(storeAll(t, dir, tickfile.KindTrades, market.Timeframe{}, []string{"AAPL"}, 0, math.MaxInt64)); n != 8 {
		t.Fatalf("%d AAPL trades after importing twice", n)
	}
}

// TestLockedDataDir: a data directory held by tape serve (or another
// tape command) gets one message that names the holder and says what to
// do, for import and for export --data.
func TestLockedDataDir(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(t.TempDir(), "fixture.csv")
	os.WriteFile(path, []byte(fixture), 0o644)
	mustImport(t, dir, path)
	for _, c := range []struct{ holder, importWants, exportWants string }{
		{"tape serve", "stop it first, then run tape import again", "export through it with --url"},
		{"tape backfill", "wait for it to finish, then run tape import again", "wait for it to finish, then export again"},
	} {
		unlock, err := datadir.Lock(dir, c.holder)
		if err != nil {
			t.Fatal(err)
		}
		who := fmt.Sprintf("%s is in use by %s (pid %d): ", dir, c.holder, os.Getpid())
		_, _, err = doImport(t, dir, []string{path}, nil)
		if err == nil || !strings.HasPrefix(err.Error(), who+c.importWants) || !errors.Is(err, datadir.ErrLocked) {
			t.Errorf("import: %v\nwant %q", err, who+c.importWants)
		}
		_, err = doExport(t, exportOptions{dataDir: dir, symbols: []string{"AAPL"}, kind: tickfile.KindTrades, start: time.Unix(0, 0),
			out: filepath.Join(t.TempDir(), "x.csv")})
		if err == nil || !strings.HasPrefix(err.Error(), who+c.exportWants) {
			t.Errorf("export: %v\nwant %q", err, who+c.exportWants)
		}
		if strings.Count(fmt.Sprint(err), "in use") != 1 || strings.Count(fmt.Sprint(err), dir) != 1 {
			t.Errorf("the message repeats itself: %v", err)
		}
		unlock()
	}
}

func TestImportRefusals(t *testing.T) {
	tmp := t.TempDir()
	trades := filepath.Join(tmp, "t.csv")
	os.WriteFile(trades, []byte(fixture), 0o644)
	bars := filepath.Join(tmp, "b.csv")
	writeFile(t, bars, tickfile.KindBars, genBars([]string{"A"}, 3, false, 1), "")
	fiveMin := filepath.Join(tmp, "b5.parquet")
	writeFile(t, fiveMin, tickfile.KindBars, genBars([]string{"A"}, 3, false, 1), "5Min")
	cases := []struct {
		files []string
		mod   func(*importOptions)
		want  string
	}{
		{[]string{fiveMin}, nil, "holds 5Min bars: only 1Min and 1Day"},
		{[]string{trades, filepath.Join(tmp, ".", "t.csv")}, nil, "listed twice"},
		{[]string{bars}, func(o *importOptions) { o.timeframe = "1Day" }, "no valid rows"},
		{[]string{filepath.Join(tmp, "missing.csv")}, nil, "no such file"},
		{[]string{filepath.Join(tmp, "t.json")}, nil, "unknown file type"},
		{[]string{trades}, func(o *importOptions) { o.kind = tickfile.KindQuotes }, "no bid_price"},
	}
	for _, c := range cases {
		_, stderr, err := doImport(t, t.TempDir(), c.files, c.mod)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want %q\n%s", c.files, err, c.want, stderr)
		}
	}
}

func TestImportInterrupted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fixture.csv")
	os.WriteFile(path, []byte(fixture), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stderr strings.Builder
	_, err := runImport(ctx, &stderr, []string{path}, importOptions{dataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "nothing was imported") {
		t.Fatalf("got %v", err)
	}
}

// TestImportEarlierDayAfterRecorded: a day recorded live, then an earlier
// day imported. The journal's time never goes backwards (the import is
// journaled at the record clock, flagged backfill and late), the history
// serves the imported day in time order with bars derived as they would
// have been live, a replay of the earlier day plays exactly its rows, and
// the next tape serve continues the record after its end with trade IDs
// above every imported one.
func TestImportEarlierDayAfterRecorded(t *testing.T) {
	dir := t.TempDir()
	recorded := time.Date(2026, 11, 25, 10, 0, 0, 0, newYork)
	runServe := func(n uint64) {
		t.Helper()
		srv, err := server.New(server.Options{Listen: "127.0.0.1:0", DataDir: dir, Seed: 3, Rate: 200, Speed: 600, NoPast: true,
			Symbols: []string{"AAPL", "MSFT"}, SimStart: recorded})
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 { // a restart: no --sim-start, the record goes on
			srv, err = server.New(server.Options{Listen: "127.0.0.1:0", DataDir: dir, Seed: 3, Rate: 200, Speed: 600, NoPast: true,
				Symbols: []string{"AAPL", "MSFT"}})
			if err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		<-srv.Ready()
		base := "http://" + srv.Addr().String()
		deadline := time.Now().Add(60 * time.Second)
		for feedTime(t, base).Before(recorded.Add(3*time.Minute)) || n > 0 && lastSeq(t, base) < n {
			if time.Now().After(deadline) {
				t.Fatal("the simulator did not get far enough")
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	runServe(0)

	// The day before, with a trade ID far above the simulator's.
	earlier := session0 // 2026-11-24 09:30 New York
	var csv strings.Builder
	csv.WriteString("symbol,t,id,exchange,price,size,conditions,tape\n")
	var want []string
	for i := range 600 {
		tm := earlier.Add(time.Duration(i) * 250 * time.Millisecond).UTC()
		id := int64(9_000_000_000 + i)
		fmt.Fprintf(&csv, "AAPL,%s,%d,Q,%.2f,100,@,C\n", tm.Format(time.RFC3339Nano), id, 230+float64(i%7)/100)
		want = append(want, fmt.Sprint(id))
	}
	path := filepath.Join(t.TempDir(), "earlier.csv")
	os.WriteFile(path, []byte(csv.String()), 0o644)
	res := mustImport(t, dir, path)
	if res.imported["trades"] != 600 || res.derived[market.KindBar] == 0 {
		t.Fatalf("imported %v, derived %v", res.imported, res.derived)
	}

	d, err := datadir.Open(context.Background(), dir, datadir.Options{NoState: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Journal.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	var prevTS int64
	var in market.Interner
	var imported int
	for {
		rec, ok, err := r.TryNext()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if rec.TS < prevTS {
			t.Fatalf("journal time goes backwards at seq %d", rec.Seq)
		}
		prevTS = rec.TS
		var e market.Event
		if err := market.DecodeBinary(rec.Payload, &e, &in); err != nil {
			t.Fatal(err)
		}
		if rec.Seq >= res.firstSeq && rec.Seq <= res.lastSeq {
			imported++
			if !e.Flags.Has(market.FlagBackfill) {
				t.Fatalf("imported record %d not flagged backfill: %v", rec.Seq, e.Flags)
			}
			if e.Kind == market.KindTrade && !e.Flags.Has(market.FlagLate) {
				t.Fatalf("imported trade %d (a day before the record's end) not flagged late", rec.Seq)
			}
		}
	}
	r.Close()
	if imported == 0 {
		t.Fatal("no imported records found")
	}
	// History: the day, in time order.
	q := history.Query{Symbols: []string{"AAPL"}, Start: earlier.UnixNano(), End: earlier.Add(24 * time.Hour).Add(-time.Nanosecond).UnixNano(), Limit: 10000}
	hres, err := d.History.Trades(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range hres.Events {
		got = append(got, fmt.Sprint(e.Trade.ID))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("history of the imported day: %d trades, want %d in order", len(got), len(want))
	}
	// A replay from the imported day plays its trades, in order.
	var replayed []string
	for _, e := range replayAll(t, d.Journal, earlier) {
		if e.Kind == market.KindTrade && e.Trade.ID >= 9_000_000_000 {
			replayed = append(replayed, fmt.Sprint(e.Trade.ID))
		}
	}
	d.Close()
	if strings.Join(replayed, ",") != strings.Join(want, ",") {
		t.Fatalf("the replay from the imported day played %d of its %d trades", len(replayed), len(want))
	}

	// The next tape serve continues after the record's end, IDs above the
	// imported ones.
	runServe(res.lastSeq + 2000)
	d, err = datadir.Open(context.Background(), dir, datadir.Options{NoState: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	r, err = d.Journal.NewReader(res.lastSeq + 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		rec, ok, err := r.TryNext()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		var e market.Event
		market.DecodeBinary(rec.Payload, &e, &in)
		if e.Kind == market.KindTrade && e.Symbol == "AAPL" && e.Trade.ID <= 9_000_000_599 {
			t.Fatalf("a new AAPL trade reuses ID range of the import: %d", e.Trade.ID)
		}
		if rec.TS < prevTS {
			t.Fatalf("journal time goes backwards after the restart at seq %d", rec.Seq)
		}
		prevTS = rec.TS
	}
}

// lastSeq reads a running Tape's last sequence number from /healthz.
func lastSeq(t *testing.T, base string) uint64 {
	t.Helper()
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		LastSeq uint64 `json:"last_seq"`
	}
	json.NewDecoder(resp.Body).Decode(&h)
	return h.LastSeq
}
