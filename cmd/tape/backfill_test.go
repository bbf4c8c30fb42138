package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/backfill"
	"github.com/tapehq/tape/internal/backfill/backfilltest"
	"github.com/tapehq/tape/internal/datadir"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/tickfile"
)

// backfillFake is a fake of Alpaca's data API with keys AK/SK.
func backfillFake(t *testing.T) *backfilltest.Server {
	fake := backfilltest.New(t)
	fake.SetKeys("AK", "SK")
	return fake
}

// backfillOpts are a command's defaults against fake, with waits skipped
// (the waits asked for are recorded in *slept).
func backfillOpts(fake *backfilltest.Server, dir string, slept *[]time.Duration) backfillOptions {
	var mu sync.Mutex
	return backfillOptions{dataDir: dir, url: fake.URL, key: "AK", secret: "SK", kind: backfill.Bars, timeframe: market.OneMinute,
		feed: "iex", concurrency: 4, timeout: 10 * time.Second, retries: 5, pageLimit: 10000, deriveBars: true,
		start: session0.Add(-time.Hour), end: session0.Add(48 * time.Hour),
		jitter: func(d time.Duration) time.Duration { return d },
		sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			if slept != nil {
				*slept = append(*slept, d)
			}
			return ctx.Err()
		}}
}

func doBackfill(t *testing.T, o backfillOptions) (*backfillResult, string, error) {
	t.Helper()
	var stderr, summary bytes.Buffer
	res, err := runBackfill(context.Background(), &stderr, o)
	if res != nil {
		res.print(&summary, o)
	}
	return res, summary.String(), err
}

// fakeBars are n minute bars of sym from session0, as Alpaca sends them.
func fakeBars(sym string, n int, at time.Time) []market.Event {
	out := genBars([]string{sym}, n, false, uint64(len(sym)))
	for i := range out {
		out[i].Time = at.Add(time.Duration(i) * time.Minute).UnixNano()
	}
	return out
}

// TestBackfillBars fetches minute bars of two symbols over several pages
// into an empty data directory, then finds them through the history store
// (as stored, and aggregated to 5Min) and through a replay of the journal,
// in time order as tape serve would have recorded them.
func TestBackfillBars(t *testing.T) {
	fake := backfillFake(t)
	aapl := append(fakeBars("AAPL", 25, session0), fakeBars("AAPL", 5, session0.Add(24*time.Hour))...)
	msft := fakeBars("MSFT", 12, session0)
	fake.Add(aapl...)
	fake.Add(msft...)
	dir := t.TempDir()
	o := backfillOpts(fake, dir, nil)
	o.symbols = []string{"MSFT", "AAPL"}
	o.pageLimit = 10
	res, summary, err := doBackfill(t, o)
	if err != nil {
		t.Fatalf("%v\n%s", err, summary)
	}
	if res.imported["bars"] != 42 || res.fetch.Pages != 2+3 || res.fetch.Failed != 0 {
		t.Fatalf("imported %v, fetched %+v", res.imported, res.fetch)
	}
	for _, want := range []string{"tape backfill: stored 42 1Min bars of 2 symbols into " + dir,
		"SYMBOL  ROWS  PAGES  RETRIES  ERROR", "MSFT    12    2      0", "AAPL    30    3      0",
		"journal    seq 1 to 42", "replay it:   tape serve --data " + dir + " --feed replay --from 2026-11-24 --to 2026-11-25"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	// The request carried the flags.
	q := fake.Requests()[0].URL.Query()
	if q.Get("timeframe") != "1Min" || q.Get("feed") != "iex" || q.Get("limit") != "10" || q.Get("start") != "2026-11-24T13:30:00Z" {
		t.Fatalf("query %v", q)
	}

	lo, hi := session0.Add(-time.Hour).UnixNano(), session0.Add(48*time.Hour).UnixNano()
	got := storeAll(t, dir, tickfile.KindBars, market.OneMinute, []string{"AAPL", "MSFT"}, lo, hi)
	if err := sameEvents(got, append(append([]market.Event{}, aapl...), msft...)); err != nil {
		t.Fatalf("stored minute bars: %v", err)
	}
	five := storeAll(t, dir, tickfile.KindBars, market.Timeframe{N: 5, Unit: market.Minute}, []string{"AAPL"}, lo, hi)
	if len(five) != 5+1 || five[0].Bar.Volume != aapl[0].Bar.Volume+aapl[1].Bar.Volume+aapl[2].Bar.Volume+aapl[3].Bar.Volume+aapl[4].Bar.Volume {
		t.Fatalf("5Min bars: %d, first %+v", len(five), five[0].Bar)
	}

	j, err := journal.Open(filepath.Join(dir, "journal"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	replayed := replayAll(t, j, session0.Add(-time.Hour))
	if len(replayed) != 42 {
		t.Fatalf("replayed %d", len(replayed))
	}
	// Time order; among equal times, the order of --symbols.
	for i := 1; i < len(replayed); i++ {
		a, b := replayed[i-1], replayed[i]
		if b.Seq != a.Seq+1 || b.Time < a.Time || b.Time == a.Time && !(a.Symbol == "MSFT" && b.Symbol == "AAPL") {
			t.Fatalf("replay out of order at %d: %s %v then %s %v", i, a.Symbol, a.Timestamp(), b.Symbol, b.Timestamp())
		}
	}
}

// TestBackfillDailyBars: 1Day bars are stored as daily bars; a bar that
// does not start at midnight New York time is skipped and reported.
func TestBackfillDailyBars(t *testing.T) {
	fake := backfillFake(t)
	daily := genBars([]string{"SPY"}, 3, true, 1)
	odd := daily[0]
	odd.Time += int64(time.Hour)
	fake.Add(daily...)
	fake.Add(odd)
	dir := t.TempDir()
	o := backfillOpts(fake, dir, nil)
	o.symbols, o.timeframe = []string{"SPY"}, market.OneDay
	o.start, o.end = daily[0].Timestamp().Add(-time.Hour), daily[2].Timestamp().Add(time.Hour)
	res, summary, err := doBackfill(t, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.imported["bars"] != 3 || !strings.Contains(summary, "(1 bars skipped: not on a 1Day boundary)") {
		t.Fatalf("imported %v\n%s", res.imported, summary)
	}
	if q := fake.Requests()[0].URL.Query(); q.Get("timeframe") != "1Day" {
		t.Fatalf("timeframe %q", q.Get("timeframe"))
	}
	got := storeAll(t, dir, tickfile.KindBars, market.OneDay, []string{"SPY"}, o.start.UnixNano(), o.end.UnixNano())
	if err := sameEvents(got, daily); err != nil {
		t.Fatalf("daily bars: %v (%d stored)", err, len(got))
	}
	// Journaled as daily bars: a replay sends them on the dailyBars channel.
	j, err := journal.Open(filepath.Join(dir, "journal"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, e := range replayAll(t, j, o.start) {
		if e.Kind != market.KindDailyBar {
			t.Fatalf("journaled as %v", e.Kind)
		}
	}
	if n := len(storeAll(t, dir, tickfile.KindBars, market.OneMinute, []string{"SPY"}, o.start.UnixNano(), o.end.UnixNano())); n != 0 {
		t.Fatalf("%d minute bars", n)
	}
}

// TestBackfillTradesAndFailures: trades of three symbols where one fails
// on its second page (after its retries) and one is rate limited once.
// The failed symbol stores nothing, the others are stored with bars
// derived from them, the summary names the failure and the command to
// fetch it again, and that command succeeds once the API does: no
// overlap, since nothing of it was stored. Fetching the others again is
// refused as an overlap, unless --allow-overlap.
func TestBackfillTradesAndFailures(t *testing.T) {
	fake := backfillFake(t)
	syms := []string{"AAPL", "BAD", "MSFT"}
	all := genTrades(3000, syms, 3)
	fake.Add(all...)
	var mu sync.Mutex
	broken, limited := true, false
	fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case backfilltest.Symbol(r) == "BAD" && r.URL.Query().Get("page_token") != "" && broken:
			backfilltest.Error(w, 500, 50010000, "internal server error occurred")
			return true
		case backfilltest.Symbol(r) == "MSFT" && !limited:
			limited = true
			w.Header().Set("Retry-After", "3")
			backfilltest.Error(w, 429, 0, "too many requests.")
			return true
		}
		return false
	}
	dir := t.TempDir()
	var slept []time.Duration
	o := backfillOpts(fake, dir, &slept)
	o.symbols, o.kind, o.pageLimit, o.retries = syms, backfill.Trades, 500, 2
	res, summary, err := doBackfill(t, o)
	if err == nil || !strings.Contains(err.Error(), "1 of 3 symbols failed") {
		t.Fatalf("got %v\n%s", err, summary)
	}
	count := map[string]int{}
	for _, e := range all {
		count[e.Symbol]++
	}
	rows := map[string]string{}
	for _, l := range strings.Split(summary, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			rows[f[0]] = strings.Join(f, " ")
		}
	}
	for sym, want := range map[string]string{
		"AAPL": fmt.Sprintf("AAPL %s %d 0", commas(int64(count["AAPL"])), (count["AAPL"]+499)/500),
		"BAD":  "BAD 500 1 2 500 Internal Server Error (code 50010000): internal server error occurred (gave up after 2 retries)",
		"MSFT": fmt.Sprintf("MSFT %s %d 1", commas(int64(count["MSFT"])), (count["MSFT"]+499)/500),
	} {
		if rows[sym] != want {
			t.Errorf("summary row %q, want %q", rows[sym], want)
		}
	}
	for _, want := range []string{
		"tape backfill: stored " + commas(int64(count["AAPL"]+count["MSFT"])) + " trades of 2 symbols into " + dir + "; 1 failed",
		"derived    ",
		"fetch the failed symbols again: tape backfill --symbols BAD --start 2026-11-24T13:30:00Z --end 2026-11-26T14:30:00Z --kind trades --data-url " + shellQuote(fake.URL) + " --data " + dir,
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	if res.derived[market.KindBar] == 0 || res.derived[market.KindDailyBar] == 0 {
		t.Fatalf("derived %v", res.derived)
	}
	if w := fmt.Sprint(slept); w != "[1s 2s 3s]" && w != "[3s 1s 2s]" && w != "[1s 3s 2s]" {
		t.Fatalf("waits %v: want BAD's backoff 1s, 2s and MSFT's Retry-After 3s", slept)
	}
	lo, hi := o.start.UnixNano(), o.end.UnixNano()
	stored := storeAll(t, dir, tickfile.KindTrades, market.Timeframe{}, syms, lo, hi)
	if len(stored) != count["AAPL"]+count["MSFT"] {
		t.Fatalf("%d trades stored", len(stored))
	}
	for _, e := range stored {
		if e.Symbol == "BAD" {
			t.Fatal("a trade of the failed symbol was stored")
		}
	}

	// The API works again: the command from the summary fetches BAD.
	mu.Lock()
	broken = false
	mu.Unlock()
	again := o
	again.symbols = []string{"BAD"}
	if _, summary, err := doBackfill(t, again); err != nil {
		t.Fatalf("fetching BAD again: %v\n%s", err, summary)
	}
	if n := len(storeAll(t, dir, tickfile.KindTrades, market.Timeframe{}, []string{"BAD"}, lo, hi)); n != count["BAD"] {
		t.Fatalf("%d BAD trades stored, want %d", n, count["BAD"])
	}

	// AAPL again would store it twice.
	again.symbols = []string{"AAPL"}
	if _, _, err := doBackfill(t, again); err == nil || !strings.Contains(err.Error(), "already has trades of AAPL") ||
		!strings.Contains(err.Error(), "--allow-overlap") {
		t.Fatalf("overlap: %v", err)
	}
	again.allowOverlap = true
	if _, _, err := doBackfill(t, again); err != nil {
		t.Fatal(err)
	}
	if n := len(storeAll(t, dir, tickfile.KindTrades, market.Timeframe{}, []string{"AAPL"}, lo, hi)); n != 2*count["AAPL"] {
		t.Fatalf("%d AAPL trades after --allow-overlap", n)
	}
}

// TestBackfillCommand runs `tape backfill` as a user would: keys and the
// API's address from Alpaca's environment variables, flags checked with
// messages that say what to do.
func TestBackfillCommand(t *testing.T) {
	fake := backfillFake(t)
	fake.Add(fakeBars("AAPL", 3, session0)...)
	run := func(args ...string) (string, error) {
		root := newRootCmd()
		var out, errOut bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&errOut)
		root.SetArgs(append([]string{"backfill"}, args...))
		err := root.ExecuteContext(context.Background())
		return out.String() + errOut.String(), err
	}
	dir := t.TempDir()
	t.Setenv("APCA_API_DATA_URL", fake.URL)
	t.Setenv("APCA_API_KEY_ID", "AK")
	t.Setenv("APCA_API_SECRET_KEY", "SK")
	out, err := run("--symbols", "aapl", "--start", "2026-11-24", "--end", "2026-11-24", "--data", dir)
	if err != nil || !strings.Contains(out, "stored 3 1Min bars of 1 symbols") {
		t.Fatalf("%v\n%s", err, out)
	}

	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--start", "2026-11-24"}, nil, "--symbols is required"},
		{[]string{"--symbols", "AAPL"}, nil, "--start is required"},
		{[]string{"--symbols", "AAPL", "--start", "2026-11-24", "--timeframe", "5Min"}, nil,
			"Tape stores 1Min and 1Day bars and aggregates every other timeframe from them"},
		{[]string{"--symbols", "AAPL", "--start", "2026-11-24", "--feed", "nasdaq"}, nil, "--feed \"nasdaq\": want iex"},
		{[]string{"--symbols", "AAPL", "--start", "2026-11-25", "--end", "2026-11-24"}, nil, "is before --start"},
		{[]string{"--symbols", "AAPL", "--start", "2026-11-24"}, map[string]string{"APCA_API_SECRET_KEY": ""},
			"needs your Alpaca keys: set APCA_API_KEY_ID and APCA_API_SECRET_KEY"},
		{[]string{"--symbols", "AAPL", "--start", "2026-11-24"}, map[string]string{"APCA_API_SECRET_KEY": "wrong"},
			"refused the keys (401 Unauthorized (code 40110000): request is not authorized): check APCA_API_KEY_ID"},
		{[]string{"--symbols", "AAPL", "--start", "2026-11-24", "--data-url", "data.alpaca.markets"}, nil, "--data-url"},
	}
	for _, c := range cases {
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		out, err := run(append(c.args, "--data", t.TempDir())...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q\n%s", c.args, err, c.want, out)
		}
		t.Setenv("APCA_API_SECRET_KEY", "SK")
	}

	// tape serve holds the directory.
	unlock, err := datadir.Lock(dir, "tape serve")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	want := fmt.Sprintf("%s is in use by tape serve (pid %d): stop it first, then run tape backfill again", dir, os.Getpid())
	if _, err := run("--symbols", "AAPL", "--start", "2026-11-24", "--data", dir); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("locked: %v\nwant %q", err, want)
	}
}
