package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/tickfile"
)

// session0 is 09:30 New York on a weekday: the open of a regular session.
var session0 = time.Date(2026, 11, 24, 9, 30, 0, 0, newYork)

// doImport runs an import with the defaults of the command.
func doImport(t testing.TB, dir string, files []string, mod func(*importOptions)) (*importResult, string, error) {
	t.Helper()
	o := importOptions{dataDir: dir, maxReport: 20}
	if mod != nil {
		mod(&o)
	}
	var stderr bytes.Buffer
	res, err := runImport(context.Background(), &stderr, files, o)
	return res, stderr.String(), err
}

func mustImport(t testing.TB, dir string, files ...string) *importResult {
	t.Helper()
	res, stderr, err := doImport(t, dir, files, nil)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	return res
}

// doExport runs an export of o to out through the store (dir) or a URL.
func doExport(t testing.TB, o exportOptions) (*exportResult, error) {
	t.Helper()
	if o.format == 0 {
		f, gz, err := exportFormat("", o.out)
		if err != nil {
			t.Fatal(err)
		}
		o.format, o.gzip = f, gz
	}
	if o.timeframe == (market.Timeframe{}) {
		o.timeframe = market.OneMinute
	}
	var stdout, stderr bytes.Buffer
	return runExport(context.Background(), &stdout, &stderr, o, false)
}

// writeFile writes events of kind k to path in the format its extension
// names, as a hand-made or third-party file would be.
func writeFile(t testing.TB, path string, k tickfile.Kind, evs []market.Event, timeframe string) {
	t.Helper()
	f, gz, ok := tickfile.FormatOf(path)
	if !ok {
		t.Fatalf("extension of %s", path)
	}
	var buf bytes.Buffer
	w, err := tickfile.NewWriter(&buf, tickfile.WriterOptions{Format: f, Kind: k, Gzip: gz, Timeframe: timeframe})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(evs); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	writeBytes(t, path, buf.Bytes())
}

func writeBytes(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := osWriteFile(path, b); err != nil {
		t.Fatal(err)
	}
}

// readFile reads every row of a tick file.
func readFile(t testing.TB, path string) []market.Event {
	t.Helper()
	r, err := tickfile.OpenFile(path, tickfile.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []market.Event
	for {
		var e market.Event
		err := r.Next(&e)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, e)
	}
}

// genTrades returns n regular-session trades of syms in random time order
// (an import must sort them), with sizes and prices that make volume and
// VWAP checks meaningful. Conditions are all ones that update every field
// of a bar, so every minute with a trade has a bar.
func genTrades(n int, syms []string, seed uint64) []market.Event {
	rng := rand.New(rand.NewPCG(seed, 9))
	span := int64(390 * time.Minute)
	conds := []market.Conditions{{'@'}, {'@', 'F'}, {}, {' '}}
	out := make([]market.Event, n)
	for i := range out {
		out[i] = market.Event{Kind: market.KindTrade, Symbol: syms[rng.IntN(len(syms))],
			Time: session0.UnixNano() + rng.Int64N(span),
			Trade: market.Trade{ID: int64(i + 1), Price: float64(10000+rng.IntN(2000)) / 100, Size: uint32(100 * (1 + rng.IntN(20))),
				Exchange: "QNVP"[rng.IntN(4)], Tape: 'C', Conditions: conds[rng.IntN(len(conds))]}}
	}
	return out
}

func genQuotes(n int, syms []string, seed uint64) []market.Event {
	rng := rand.New(rand.NewPCG(seed, 10))
	out := make([]market.Event, n)
	for i := range out {
		bid := float64(10000+rng.IntN(2000)) / 100
		out[i] = market.Event{Kind: market.KindQuote, Symbol: syms[rng.IntN(len(syms))],
			Time: session0.UnixNano() + rng.Int64N(int64(time.Hour)),
			Quote: market.Quote{BidPrice: bid, AskPrice: bid + 0.01*float64(1+rng.IntN(3)), BidSize: uint32(rng.IntN(30)), AskSize: uint32(1 + rng.IntN(30)),
				BidExchange: 'Q', AskExchange: "NVP"[rng.IntN(3)], Tape: 'C', Conditions: market.Conditions{'R'}}}
	}
	return out
}

// genBars returns one bar per symbol per step (a minute or a day), in
// symbol order as an export writes them.
func genBars(syms []string, n int, daily bool, seed uint64) []market.Event {
	rng := rand.New(rand.NewPCG(seed, 11))
	var out []market.Event
	for _, s := range syms {
		for i := range n {
			t := session0.Add(time.Duration(i) * time.Minute)
			if daily {
				d := time.Date(2026, 11, 2+i, 0, 0, 0, 0, newYork)
				t = d
			}
			o := float64(10000+rng.IntN(2000)) / 100
			c := o + float64(rng.IntN(200)-100)/100
			out = append(out, market.Event{Kind: market.KindBar, Symbol: s, Time: t.UnixNano(),
				Bar: market.Bar{Open: o, Close: c, High: max(o, c) + 0.5, Low: min(o, c) - 0.25, Volume: uint64(rng.IntN(1e6)),
					TradeCount: uint64(rng.IntN(1e4)), VWAP: (o + c) / 2}})
		}
	}
	return out
}

// storeAll pages through a history query and returns every item.
func storeAll(t testing.TB, dir string, kind tickfile.Kind, tf market.Timeframe, syms []string, start, end int64) []market.Event {
	t.Helper()
	h, err := history.Open(filepath.Join(dir, "history"), history.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var out []market.Event
	q := history.Query{Symbols: slices.Sorted(slices.Values(syms)), Start: start, End: end, Limit: 10000}
	for {
		var res history.Result
		switch kind {
		case tickfile.KindTrades:
			res, err = h.Trades(context.Background(), q)
		case tickfile.KindQuotes:
			res, err = h.Quotes(context.Background(), q)
		default:
			res, err = h.Bars(context.Background(), q, tf)
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.Events...)
		if res.Next == nil {
			return out
		}
		q.After = res.Next
	}
}

// sameEvents compares events ignoring Seq (assigned by each import).
func sameEvents(a, b []market.Event) error {
	if len(a) != len(b) {
		return errors.New("different lengths: " + itoa(len(a)) + " and " + itoa(len(b)))
	}
	for i := range a {
		x, y := &a[i], &b[i]
		if x.Kind != y.Kind || x.Symbol != y.Symbol || x.Time != y.Time || x.Trade != y.Trade || x.Quote != y.Quote || x.Bar != y.Bar {
			return errors.New("row " + itoa(i) + " differs")
		}
	}
	return nil
}

func itoa(n int) string { return commas(int64(n)) }

func osWriteFile(path string, b []byte) error { return os.WriteFile(path, b, 0o644) }

// sortPtrs is a stable sort of pointers.
func sortPtrs(p []*market.Event, cmp func(a, b *market.Event) int) {
	slices.SortStableFunc(p, cmp)
}
