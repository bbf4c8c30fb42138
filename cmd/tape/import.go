package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tapehq/tape/internal/feed/staged"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/server"
	"github.com/tapehq/tape/internal/tickfile"
)

// importOptions are the resolved flags of `tape import`.
type importOptions struct {
	dataDir      string
	kind         tickfile.Kind // KindInvalid: per file, from its metadata or columns
	timeframe    string        // bars: "1Min" or "1Day"; "": the file's metadata, else 1Min
	symbol       string        // for files without a symbol column
	strict       bool
	allowOverlap bool
	progress     bool
	maxReport    int // bad rows printed one by one; the rest are counted
}

func newImportCmd() *cobra.Command {
	var (
		o            importOptions
		kind, config string
	)
	cmd := &cobra.Command{
		Use:   "import FILE...",
		Short: "Load trades, quotes or bars from CSV or Parquet files, to query and replay them",
		Long: `Load ticks from CSV (.csv, .csv.gz) or Parquet (.parquet) files into Tape's data
directory, so that the history REST API serves them and tape serve --feed replay
plays them back through the stream protocol, like a recorded day.

The files use the columns tape export writes (docs/tickfile.md); columns may come
in any order, unknown ones are ignored, and only these are required:
  trades  symbol, t, price, size                (optional: id, exchange, conditions, tape)
  quotes  symbol, t, bid_price, bid_size, ask_price, ask_size
  bars    symbol, t, open, high, low, close, volume   (optional: trade_count, vwap)
t is an RFC 3339 time with a zone (2026-11-24T14:30:00.123Z). What a file holds
comes from its columns, or --kind.

Every row is checked (symbol, time, positive prices, sizes); a bad row is
reported with file:line and skipped, or with --strict stops the import before
anything is written. Rows are imported in time order, across all the files.

Minute, updated and daily bars are derived from imported trades, exactly as
tape serve derives them live, unless bars files are imported with the trades:
then those bars are used as they are (they carry the source's corrections and
cancels, which trade files do not). Bars files hold 1Min bars, or 1Day bars
(from a Tape Parquet file's metadata, --timeframe 1Day, or bars that all start
at midnight New York time).

Import writes the journal and history store, which tape serve owns while it
runs: stop tape serve first.`,
		Example: `  tape import trades-2026-11-24.parquet
  tape import aapl.csv msft.csv.gz --data ./tape-data
  tape import --kind quotes --symbol SPY spy-quotes.csv     # a file without a symbol column
  tape import --strict bars.csv
  tape import day-trades.parquet day-bars.parquet day-daily.parquet   # a recorded day, bars as recorded
  tape serve --feed replay --from 2026-11-24 --speed 10     # then replay what was imported`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnvAndConfig(cmd); err != nil {
				return err
			}
			if kind != "" {
				k, err := tickfile.ParseKind(kind)
				if err != nil {
					return fmt.Errorf("--kind: %w", err)
				}
				o.kind = k
			}
			res, err := runImport(cmd.Context(), cmd.ErrOrStderr(), args, o)
			if res != nil {
				res.print(cmd.OutOrStdout(), o)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data", server.DefaultDataDir(), "Tape's data directory to import into: $TAPE_DATA, else $XDG_DATA_HOME/tape, else ~/.local/share/tape")
	f.StringVar(&kind, "kind", "", "trades, quotes or bars (default: from each file's columns)")
	f.StringVar(&o.timeframe, "timeframe", "", "bars files: 1Min or 1Day (default: from the file's metadata, else 1Min)")
	f.StringVar(&o.symbol, "symbol", "", "symbol of every row, for files without a symbol column")
	f.BoolVar(&o.strict, "strict", false, "stop at the first bad row, importing nothing, instead of skipping bad rows")
	f.BoolVar(&o.allowOverlap, "allow-overlap", false, "import trades or quotes even where the data directory already has some for the same symbol and period (they would be stored twice)")
	f.BoolVar(&o.progress, "progress", isTerminal(os.Stderr), "show a progress bar on stderr (default: when stderr is a terminal)")
	f.IntVar(&o.maxReport, "max-report", 20, "bad rows to print one by one; further ones are only counted")
	f.StringVar(&config, "config", "", `config file of "flag = value" lines`)
	return cmd
}

// importResult is what an import did, for the summary.
type importResult struct {
	writeResult // what was written: rows by kind, derived bars, seqs
	files       []string
	read        int64 // rows read, good and bad
	skipped     int64
	reasons     map[string]int64 // skipped rows by reason
	warnings    map[string]int64
	symbols     []string
	first, last int64 // event time range
	took        time.Duration
	interrupted bool
	derive      bool // bars were derived from the imported trades
}

// runImport imports files into o.dataDir. It reads and validates every
// file before writing anything, so a refused file or --strict leaves the
// data directory untouched; it returns the result so far even on error.
func runImport(ctx context.Context, stderr io.Writer, files []string, o importOptions) (*importResult, error) {
	began := time.Now()
	res := &importResult{writeResult: newWriteResult(), files: files, reasons: map[string]int64{}, warnings: map[string]int64{}}
	// Lock first: no point reading gigabytes for a directory the server
	// owns.
	if err := os.MkdirAll(o.dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	var st staged.Rows
	spans := map[spanKey]span{}
	kinds := map[tickfile.Kind]bool{}
	reported := 0
	report := func(prefix string, re *tickfile.RowError) {
		if reported < o.maxReport {
			fmt.Fprintf(stderr, "%s %v\n", prefix, re)
		} else if reported == o.maxReport {
			fmt.Fprintf(stderr, "(more rows are only counted; see the summary)\n")
		}
		reported++
	}

	d, err := openForWrite(ctx, o.dataDir, "import")
	if err != nil {
		return nil, err
	}
	closed := false
	defer func() {
		if !closed {
			d.Close()
		}
	}()

	seen := map[string]bool{}
	for _, path := range files {
		if abs, err := filepath.Abs(path); err == nil {
			if seen[abs] {
				return res, fmt.Errorf("%s is listed twice: its rows would be imported twice", path)
			}
			seen[abs] = true
		}
	}
	interrupted := func() error {
		return fmt.Errorf("interrupted while reading the files: nothing was imported")
	}
	for _, path := range files {
		if ctx.Err() != nil {
			return res, interrupted()
		}
		r, err := tickfile.OpenFile(path, tickfile.ReaderOptions{Kind: o.kind, Symbol: o.symbol,
			OnWarning: func(re *tickfile.RowError) {
				res.warnings[re.Reason]++
				report("warning:", re)
			}})
		if err != nil {
			return res, err
		}
		k := r.Kind()
		kinds[k] = true
		evKind, check, err := barKind(r, path, o.timeframe)
		if err != nil {
			r.Close()
			return res, err
		}
		r.SetCheck(check)
		// Bars without a timeframe (a CSV file, or Parquet from elsewhere)
		// are 1Min bars, unless every one starts at midnight New York time:
		// a 1Day export, which would otherwise land among the minute bars.
		guessDaily := k == tickfile.KindBars && o.timeframe == "" && r.Meta(tickfile.MetaTimeframe) == ""
		allMidnight, first := true, st.Len()
		// The bar follows the file's bytes (CSV) or rows (Parquet).
		_, total, inBytes := r.Progress()
		var bar *progress
		if inBytes {
			bar = newFileProgress(stderr, o.progress, total, "reading "+filepath.Base(path))
		} else {
			bar = newProgress(stderr, o.progress, total, "reading "+filepath.Base(path))
		}
		if n := r.Rows(); n > 0 {
			st.Grow(int(n))
		}
		// Declared outside the loop: both escape (Next and errors.As take
		// their address), and a heap allocation per row would be most of
		// the import's garbage.
		var e market.Event
		var re *tickfile.RowError
		for n := 0; ; n++ {
			if n%65536 == 0 && ctx.Err() != nil {
				r.Close()
				bar.done()
				return res, interrupted()
			}
			err := r.Next(&e)
			if err == io.EOF {
				break
			}
			re = nil
			if err != nil && !errors.As(err, &re) {
				r.Close()
				bar.done()
				return res, err
			}
			res.read++
			if re != nil {
				if o.strict {
					r.Close()
					bar.done()
					return res, fmt.Errorf("%v (--strict: nothing was imported)", re)
				}
				res.skipped++
				res.reasons[re.Reason]++
				bar.clear()
				report("skipped", re)
				continue
			}
			e.Kind = evKind
			if guessDaily && allMidnight {
				allMidnight = isMidnight(e.Time)
			}
			st.Add(&e)
			key := spanKey{e.Symbol, k}
			sp, ok := spans[key]
			if !ok {
				sp = span{e.Time, e.Time}
			}
			spans[key] = span{min(sp.lo, e.Time), max(sp.hi, e.Time)}
			if n%1024 == 1023 {
				// Not per row: the bar takes a lock and reads the clock.
				if done, _, inBytes := r.Progress(); inBytes {
					bar.setFile(int64(n+1), done)
				} else {
					bar.set(int(done))
				}
			}
		}
		bar.done()
		if err := r.Close(); err != nil {
			return res, err
		}
		if guessDaily && allMidnight && st.Len() > first {
			st.SetKind(first, market.KindDailyBar)
			fmt.Fprintf(stderr, "%s: every bar starts at midnight New York time: imported as 1Day bars (pass --timeframe 1Min if they are minute bars)\n", path)
		}
	}
	if st.Len() == 0 {
		return res, errors.New("no valid rows to import")
	}
	symSet := map[string]bool{}
	for k := range spans {
		symSet[k.sym] = true
	}
	for s := range symSet {
		res.symbols = append(res.symbols, s)
	}
	slices.Sort(res.symbols)

	// Time order, file order among equal times. Exports are grouped by
	// symbol, so a real sort is the rule, not the exception.
	st.Sort()
	res.first, res.last = st.Span()

	if err := checkOverlap(ctx, d.History, spans, o.allowOverlap, "import"); err != nil {
		return res, err
	}
	// Bars are derived from the trades, unless bars come with them: then
	// they are the bars as the source computed them (with its corrections
	// and cancels, which trade files do not carry) and are used as they are.
	res.derive = kinds[tickfile.KindTrades] && !kinds[tickfile.KindBars]
	err = store(ctx, d, &st, res.derive, &res.writeResult, newProgress(stderr, o.progress, int64(st.Len()), "importing"))
	closed = true
	if cerr := d.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing the data directory: %w", cerr)
	}
	res.took = time.Since(began)
	if errors.Is(err, context.Canceled) {
		res.interrupted = true
		err = fmt.Errorf("interrupted after importing %s of %s rows, those up to %s (rows go in time order): "+
			"to finish, import the rows after that time (importing the same files again is refused as an overlap)",
			commas(res.total()), commas(int64(st.Len())), fmtTime(res.lastTime))
	}
	return res, err
}

// barKind returns the event kind a file's rows become and, for bars, a
// check of each bar's time against the timeframe.
func barKind(r *tickfile.Reader, path, flag string) (market.Kind, func(*market.Event) (string, string), error) {
	switch r.Kind() {
	case tickfile.KindTrades:
		return market.KindTrade, nil, nil
	case tickfile.KindQuotes:
		return market.KindQuote, nil, nil
	}
	tf := flag
	if tf == "" {
		tf = r.Meta(tickfile.MetaTimeframe)
	}
	if tf == "" {
		tf = "1Min"
	}
	t, err := market.ParseTimeframe(tf)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: timeframe %q: %w", path, tf, err)
	}
	switch t {
	case market.OneMinute:
		return market.KindBar, func(e *market.Event) (string, string) {
			if e.Time%int64(time.Minute) != 0 {
				return reasonBarTime, "a 1Min bar must start on a whole minute"
			}
			return "", ""
		}, nil
	case market.OneDay:
		return market.KindDailyBar, func(e *market.Event) (string, string) {
			if !isMidnight(e.Time) {
				return reasonBarTime, "a 1Day bar must start at midnight New York time"
			}
			return "", ""
		}, nil
	}
	return 0, nil, fmt.Errorf("%s holds %v bars: only 1Min and 1Day bars can be imported (Tape stores those and aggregates the others from them)", path, t)
}

func isMidnight(ns int64) bool {
	tm := time.Unix(0, ns).In(newYork)
	return tm.Hour() == 0 && tm.Minute() == 0 && tm.Second() == 0 && tm.Nanosecond() == 0
}

// reasonBarTime refuses a bar whose time does not start a bar of the
// file's timeframe.
const reasonBarTime = "bad bar time"

// print writes the summary: what was read, imported and skipped (by
// reason), the symbols and period, and how to replay it.
func (r *importResult) print(w io.Writer, o importOptions) {
	if r.read == 0 && r.total() == 0 {
		return
	}
	var kinds []string
	for _, k := range []string{"trades", "quotes", "bars"} {
		if n := r.imported[k]; n > 0 {
			kinds = append(kinds, commas(n)+" "+k)
		}
	}
	verb := "imported"
	if r.interrupted {
		verb = "interrupted after importing"
	}
	fmt.Fprintf(w, "tape import: %s %s into %s\n", verb, orNone(strings.Join(kinds, ", ")), o.dataDir)
	fmt.Fprintf(w, "  files      %d (%s)\n", len(r.files), strings.Join(r.files, ", "))
	fmt.Fprintf(w, "  rows read  %s\n", commas(r.read))
	if r.skipped > 0 {
		fmt.Fprintf(w, "  skipped    %s: %s\n", commas(r.skipped), countsString(r.reasons))
	} else {
		fmt.Fprintf(w, "  skipped    0\n")
	}
	if len(r.warnings) > 0 {
		fmt.Fprintf(w, "  warnings   %s (imported)\n", countsString(r.warnings))
	}
	if n := r.derived[market.KindBar] + r.derived[market.KindUpdatedBar] + r.derived[market.KindDailyBar]; n > 0 {
		fmt.Fprintf(w, "  derived    %s minute bars, %s updated bars, %s daily bars\n",
			commas(r.derived[market.KindBar]), commas(r.derived[market.KindUpdatedBar]), commas(r.derived[market.KindDailyBar]))
	} else if r.imported["trades"] > 0 && r.imported["bars"] > 0 {
		fmt.Fprintf(w, "  bars       from the bars files, as they are (not derived from the trades)\n")
	}
	if len(r.symbols) > 0 {
		syms := r.symbols
		more := ""
		if len(syms) > 12 {
			syms, more = syms[:12], fmt.Sprintf(" and %d more", len(r.symbols)-12)
		}
		fmt.Fprintf(w, "  symbols    %d: %s%s\n", len(r.symbols), strings.Join(syms, ", "), more)
		fmt.Fprintf(w, "  period     %s to %s (New York: %s to %s)\n", fmtTime(r.first), fmtTime(r.last),
			time.Unix(0, r.first).In(newYork).Format("2006-01-02 15:04:05"), time.Unix(0, r.last).In(newYork).Format("2006-01-02 15:04:05"))
	}
	if r.lastSeq >= r.firstSeq && r.firstSeq > 0 {
		fmt.Fprintf(w, "  journal    seq %s to %s\n", commas(int64(r.firstSeq)), commas(int64(r.lastSeq)))
		fmt.Fprintf(w, "  took       %s\n", r.took.Round(time.Millisecond))
		data := ""
		if o.dataDir != server.DefaultDataDir() {
			data = " --data " + shellQuote(o.dataDir)
		}
		from := time.Unix(0, r.first).In(newYork).Format(time.DateOnly)
		to := time.Unix(0, r.last).In(newYork).Format(time.DateOnly)
		fmt.Fprintf(w, "replay it:   tape serve%s --feed replay --from %s --to %s --speed 10\n", data, from, to)
		fmt.Fprintf(w, "query it:    curl 'http://127.0.0.1:8080/v2/stocks/bars?symbols=%s&timeframe=1Min&start=%s' (while tape serve runs)\n",
			strings.Join(r.symbols[:min(3, len(r.symbols))], ","), from)
	}
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// countsString formats counts by reason, largest first: "bad price 6, bad time 4".
func countsString(m map[string]int64) string {
	type kv struct {
		k string
		v int64
	}
	var l []kv
	for k, v := range m {
		l = append(l, kv{k, v})
	}
	slices.SortFunc(l, func(a, b kv) int { return cmp.Or(cmp.Compare(b.v, a.v), strings.Compare(a.k, b.k)) })
	parts := make([]string, len(l))
	for i, x := range l {
		parts[i] = fmt.Sprintf("%s %s", x.k, commas(x.v))
	}
	return strings.Join(parts, ", ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '~' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// newYork is where dates start, as everywhere in Tape.
var newYork = market.NewYork
