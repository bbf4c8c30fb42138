package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/server"
	"github.com/tapehq/tape/internal/tickfile"
)

// TestExportImportRoundTrip: export → import → export gives identical rows
// (and identical bytes) for every kind and both formats, and the first
// export holds exactly the rows that were put in.
func TestExportImportRoundTrip(t *testing.T) {
	syms := []string{"AAPL", "BRK.B", "MSFT"}
	cases := []struct {
		name string
		kind tickfile.Kind
		tf   market.Timeframe
		evs  []market.Event
	}{
		{"trades", tickfile.KindTrades, market.Timeframe{}, genTrades(10_000, syms, 2)},
		{"quotes", tickfile.KindQuotes, market.Timeframe{}, genQuotes(10_000, syms, 3)},
		{"bars", tickfile.KindBars, market.OneMinute, genBars(syms, 500, false, 4)},
		{"daily", tickfile.KindBars, market.OneDay, genBars(syms, 20, true, 5)},
	}
	for _, c := range cases {
		for _, ext := range []string{"csv", "csv.gz", "parquet"} {
			t.Run(c.name+"/"+ext, func(t *testing.T) {
				tmp := t.TempDir()
				seed := filepath.Join(tmp, "seed."+ext)
				writeFile(t, seed, c.kind, c.evs, c.tf.String())
				a, b := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
				mustImport(t, a, seed)

				o := exportOptions{symbols: syms, kind: c.kind, timeframe: c.tf, start: session0.AddDate(0, -1, 0), end: session0.AddDate(0, 1, 0)}
				o.dataDir, o.out = a, filepath.Join(tmp, "out1."+ext)
				res, err := doExport(t, o)
				if err != nil {
					t.Fatal(err)
				}
				if res.rows != int64(len(c.evs)) {
					t.Fatalf("exported %d rows, put in %d", res.rows, len(c.evs))
				}
				mustImport(t, b, o.out)
				o.dataDir, o.out = b, filepath.Join(tmp, "out2."+ext)
				if _, err := doExport(t, o); err != nil {
					t.Fatal(err)
				}
				one, two := readFile(t, filepath.Join(tmp, "out1."+ext)), readFile(t, o.out)
				if err := sameEvents(one, two); err != nil {
					t.Fatalf("export → import → export: %v", err)
				}
				b1, _ := os.ReadFile(filepath.Join(tmp, "out1."+ext))
				b2, _ := os.ReadFile(o.out)
				if !bytes.Equal(b1, b2) {
					t.Errorf("the two exports differ in bytes (%d and %d)", len(b1), len(b2))
				}
				// Against the input: same rows, ordered by symbol then time.
				want := sortedBySymbol(c.evs)
				for i := range want {
					if c.kind == tickfile.KindBars && c.tf == market.OneDay {
						want[i].Kind = market.KindBar // the REST and export kind of a daily bar
					}
				}
				if err := sameEvents(one, want); err != nil {
					t.Fatalf("export vs input: %v", err)
				}
			})
		}
	}
}

// sortedBySymbol orders events as an export does: by symbol, then time,
// then import order (a stable sort of the time-sorted input).
func sortedBySymbol(evs []market.Event) []market.Event {
	out := append([]market.Event(nil), evs...)
	sortStable(out, func(a, b *market.Event) int {
		if a.Time != b.Time {
			if a.Time < b.Time {
				return -1
			}
			return 1
		}
		return 0
	})
	sortStable(out, func(a, b *market.Event) int { return strings.Compare(a.Symbol, b.Symbol) })
	return out
}

func sortStable(evs []market.Event, cmp func(a, b *market.Event) int) {
	// slices.SortStableFunc on values copies; a simple merge via indexes is
	// not needed at these sizes.
	tmp := make([]*market.Event, len(evs))
	for i := range evs {
		tmp[i] = &evs[i]
	}
	sortPtrs(tmp, cmp)
	out := make([]market.Event, len(evs))
	for i, p := range tmp {
		out[i] = *p
	}
	copy(evs, out)
}

// TestExportURLMatchesData exports through the REST API of a running
// Tape, then, once it has stopped, through its data directory: the files
// are identical for trades, quotes and bars.
func TestExportURLMatchesData(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 11, 24, 10, 0, 0, 0, newYork)
	srv, err := server.New(server.Options{Listen: "127.0.0.1:0", DataDir: dir, Seed: 5, Rate: 60, Speed: 600, NoPast: true,
		Symbols: []string{"AAPL", "MSFT", "SPY"}, SimStart: start})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	}
	defer func() {
		if ctx.Err() == nil {
			stop()
		}
	}()
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatal(err)
	}
	base := "http://" + srv.Addr().String()

	// The period is three simulated minutes; wait until the feed clock is
	// past it by more than the bar window (15 min), so no late trade or
	// updated bar can change it between the two exports.
	end := start.Add(3 * time.Minute)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if feedTime(t, base).After(end.Add(17 * time.Minute)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the simulator did not get past the period")
		}
		time.Sleep(50 * time.Millisecond)
	}
	type exp struct {
		kind tickfile.Kind
		tf   market.Timeframe
		ext  string
		feed string
	}
	exps := []exp{{tickfile.KindTrades, market.Timeframe{}, "csv", ""}, {tickfile.KindQuotes, market.Timeframe{}, "parquet", ""},
		{tickfile.KindBars, market.OneMinute, "csv", ""}, {tickfile.KindBars, market.Timeframe{N: 2, Unit: market.Minute}, "parquet", ""},
		// IEX's own market (--feed iex), exported and moved below.
		{tickfile.KindTrades, market.Timeframe{}, "csv", "iex"}, {tickfile.KindQuotes, market.Timeframe{}, "parquet", "iex"},
		{tickfile.KindBars, market.OneMinute, "csv", "iex"}}
	tmp := t.TempDir()
	o := exportOptions{symbols: []string{"AAPL", "MSFT", "SPY"}, start: start.Add(-time.Minute), end: end, pageSize: 997}
	for i, e := range exps {
		o.kind, o.timeframe, o.feed, o.url, o.out = e.kind, e.tf, e.feed, base, filepath.Join(tmp, "url"+itoa(i)+"."+e.ext)
		res, err := doExport(t, o)
		if err != nil {
			t.Fatal(err)
		}
		if res.rows < 5 {
			t.Fatalf("%v: only %d rows through --url", e.kind, res.rows)
		}
	}
	stop()
	for i, e := range exps {
		o.kind, o.timeframe, o.feed, o.url, o.dataDir, o.out = e.kind, e.tf, e.feed, "", dir, filepath.Join(tmp, "data"+itoa(i)+"."+e.ext)
		if _, err := doExport(t, o); err != nil {
			t.Fatal(err)
		}
		u, _ := os.ReadFile(filepath.Join(tmp, "url"+itoa(i)+"."+e.ext))
		d, _ := os.ReadFile(o.out)
		if !bytes.Equal(u, d) {
			if err := sameEvents(readFile(t, filepath.Join(tmp, "url"+itoa(i)+"."+e.ext)), readFile(t, o.out)); err != nil {
				t.Errorf("%v %v: --url and --data exports differ: %v", e.kind, e.tf, err)
			} else {
				t.Errorf("%v %v: same rows, different bytes", e.kind, e.tf)
			}
		}
	}

	// The iex exports are IEX's market: only IEX's trades (fewer than
	// the consolidated ones), only IEX's quotes, bars of IEX's trades.
	sipTrades, iexTrades := readFile(t, filepath.Join(tmp, "data0.csv")), readFile(t, filepath.Join(tmp, "data4.csv"))
	if len(iexTrades) == 0 || len(iexTrades) >= len(sipTrades) {
		t.Errorf("%d IEX trades of %d", len(iexTrades), len(sipTrades))
	}
	for _, e := range iexTrades {
		if e.Trade.Exchange != market.IEXExchange {
			t.Fatalf("an iex export holds a trade of exchange %c", e.Trade.Exchange)
		}
	}
	iexQuotes := readFile(t, filepath.Join(tmp, "data5.parquet"))
	for _, e := range iexQuotes {
		if e.Quote.BidExchange != market.IEXExchange || e.Quote.AskExchange != market.IEXExchange {
			t.Fatalf("an iex export holds a quote of exchanges %c/%c", e.Quote.BidExchange, e.Quote.AskExchange)
		}
	}
	var sipVol, iexVol uint64
	for _, e := range readFile(t, filepath.Join(tmp, "data2.csv")) {
		sipVol += e.Bar.Volume
	}
	for _, e := range readFile(t, filepath.Join(tmp, "data6.csv")) {
		iexVol += e.Bar.Volume
	}
	if len(iexQuotes) == 0 || iexVol == 0 || iexVol >= sipVol {
		t.Errorf("%d IEX quotes; IEX bar volume %d of %d", len(iexQuotes), iexVol, sipVol)
	}

	// A recorded period moves to another data directory whole: import the
	// trades, quotes and minute bars together (the bars as recorded, with
	// the simulator's corrections and cancels in them) and every export,
	// the aggregated 2Min bars included, is the same again.
	moved := t.TempDir()
	mustImport(t, moved, filepath.Join(tmp, "data0.csv"), filepath.Join(tmp, "data1.parquet"), filepath.Join(tmp, "data2.csv"))
	for i, e := range exps[:4] { // one market moves; an import is one feed's record
		o.kind, o.timeframe, o.feed, o.dataDir, o.out = e.kind, e.tf, e.feed, moved, filepath.Join(tmp, "moved"+itoa(i)+"."+e.ext)
		if _, err := doExport(t, o); err != nil {
			t.Fatal(err)
		}
		if err := sameEvents(readFile(t, filepath.Join(tmp, "data"+itoa(i)+"."+e.ext)), readFile(t, o.out)); err != nil {
			t.Errorf("%v %v: after moving the period to another directory: %v", e.kind, e.tf, err)
		}
	}
}

func feedTime(t *testing.T, base string) time.Time {
	t.Helper()
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		FeedTime time.Time `json:"feed_time"`
	}
	json.NewDecoder(resp.Body).Decode(&h)
	return h.FeedTime
}

func TestExportErrors(t *testing.T) {
	empty := t.TempDir()
	cases := []struct {
		o    exportOptions
		want string
	}{
		{exportOptions{url: "http://127.0.0.1:1", symbols: []string{"AAPL"}, kind: tickfile.KindTrades, start: session0},
			"no Tape answers at http://127.0.0.1:1"},
		{exportOptions{dataDir: empty, symbols: []string{"AAPL"}, kind: tickfile.KindTrades, start: session0},
			"no Tape data in " + empty},
		{exportOptions{url: "ftp://x", symbols: []string{"AAPL"}, kind: tickfile.KindTrades, start: session0},
			"want http:// or https://"},
	}
	for _, c := range cases {
		c.o.out = filepath.Join(t.TempDir(), "x.csv")
		_, err := doExport(t, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
		if _, serr := os.Stat(c.o.out); serr == nil {
			t.Errorf("a failed export left %s", c.o.out)
		}
	}
	// A data directory from TAPE_DATA that holds nothing yet is not an
	// error: export reads through --url, as if it were not set.
	var stdout, stderr bytes.Buffer
	_, err := runExport(context.Background(), &stdout, &stderr, exportOptions{dataDir: empty, url: "http://127.0.0.1:1",
		symbols: []string{"AAPL"}, kind: tickfile.KindTrades, format: tickfile.CSV, start: session0, end: time.Now()}, true)
	if err == nil || !strings.Contains(err.Error(), "no Tape answers") {
		t.Errorf("implicit data directory: %v", err)
	}
	for _, c := range []struct{ format, out, want string }{
		{"parquet", "", "needs --out FILE"},
		{"", "x.txt", "cannot tell the format"},
		{"xml", "", "unknown format"},
	} {
		if _, _, err := exportFormat(c.format, c.out); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %q: %v", c.format, c.out, err)
		}
	}
	if f, gz, err := exportFormat("", "a.csv.gz"); err != nil || f != tickfile.CSV || !gz {
		t.Errorf("csv.gz: %v %v %v", f, gz, err)
	}
	for _, c := range []struct {
		feed    string
		offline bool
		want    string // "" for an error
	}{
		{"", false, ""}, {"SIP", true, "sip"}, {" iex", true, "iex"}, {"otc", false, "otc"},
		{"otc", true, ""}, {"nasdaq", false, ""}, {"delayed_sip", true, ""},
	} {
		got, err := exportFeed(c.feed, c.offline)
		if c.want == "" && c.feed != "" {
			if err == nil || !strings.Contains(err.Error(), "want sip") {
				t.Errorf("--feed %q (offline %v): %q, %v; want an error", c.feed, c.offline, got, err)
			}
		} else if err != nil || got != c.want {
			t.Errorf("--feed %q (offline %v): %q, %v; want %q", c.feed, c.offline, got, err, c.want)
		}
	}
	if _, err := parseSymbols("AAPL,,a b"); err == nil {
		t.Error("bad symbol accepted")
	}
	if s, _ := parseSymbols("msft, AAPL,MSFT"); strings.Join(s, ",") != "AAPL,MSFT" {
		t.Errorf("symbols %v", s)
	}
}

// TestCommandsHelp: both commands are registered and their help explains
// themselves.
func TestCommandsHelp(t *testing.T) {
	for _, c := range []struct{ cmd, want string }{{"export", "pd.read_parquet"}, {"import", "stop tape serve first"}} {
		root := newRootCmd()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs([]string{c.cmd, "--help"})
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), c.want) || !strings.Contains(out.String(), "Examples:") {
			t.Errorf("%s --help:\n%s", c.cmd, out.String())
		}
	}
	root := newRootCmd()
	root.SetArgs([]string{"export", "--symbols", "AAPL"})
	root.SetOut(&bytes.Buffer{})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "--start is required") {
		t.Errorf("export without --start: %v", err)
	}
}
