package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tapehq/tape/internal/datadir"
	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/tickfile"
)

// exportOptions are the resolved flags of `tape export`.
type exportOptions struct {
	url, key, secret string
	dataDir          string // non-empty: read the store directly, offline
	symbols          []string
	feed             string // "", "sip" or "iex" (others pass through to --url)
	start, end       time.Time
	kind             tickfile.Kind
	timeframe        market.Timeframe
	format           tickfile.Format
	gzip             bool
	out              string // "" or "-": stdout
	progress         bool
	pageSize         int
}

func newExportCmd() *cobra.Command {
	var (
		o                                   exportOptions
		symbols, start, end, kind, tf, fmt_ string
		config                              string
	)
	cmd := &cobra.Command{
		Use:   "export --symbols SYMBOLS --start WHEN [--end WHEN] [--kind trades|quotes|bars] [--out FILE]",
		Short: "Write trades, quotes or bars to a Parquet or CSV file for pandas, polars or DuckDB",
		Long: `Write the trades, quotes or bars Tape has stored for some symbols and a period
to a Parquet or CSV file that pandas, polars and DuckDB read directly:

  pd.read_parquet("aapl.parquet")        pl.read_parquet("aapl.parquet")
  SELECT * FROM 'aapl.parquet'           pd.read_csv("aapl.csv", parse_dates=["t"])

Columns (docs/tickfile.md has the details):
  trades  symbol, t, id, exchange, price, size, conditions, tape
  quotes  symbol, t, bid_exchange, bid_price, bid_size, ask_exchange, ask_price, ask_size, conditions, tape
  bars    symbol, t, open, high, low, close, volume, trade_count, vwap
t is the time in UTC (a bar's start), with nanoseconds. Rows are ordered by
symbol, then time.

--feed picks the market, as the REST API's feed parameter does: sip (the
default) is the consolidated market, every exchange's trades and the NBBO;
iex is IEX's own trades, quotes and bars, which a simulated record holds
beside them. A record received from one Alpaca feed is that feed's market
either way.

By default export reads through the REST API of the Tape running at --url, so
it works while tape serve runs. With --data DIR it opens the data directory
itself instead, which only works while no tape serve uses it. Either way it
streams page by page: memory stays small however long the period.

The format comes from --format, else from the --out extension (.parquet,
.csv, .csv.gz), else CSV on standard output.`,
		Example: `  tape export --symbols AAPL --start 2026-11-24 --out aapl-bars.parquet
  tape export --symbols AAPL,MSFT --start 2026-11-24 --end 2026-11-25 --kind trades --out trades.parquet
  tape export --symbols SPY --start 2026-11-24T14:30:00Z --end 2026-11-24T15:00:00Z --kind quotes > spy-quotes.csv
  tape export --symbols AAPL --start 2026-11-01 --kind bars --timeframe 1Day --out daily.csv
  tape export --symbols AAPL --start 2026-11-24 --kind quotes --feed iex --out aapl-iex-quotes.parquet
  tape export --data ~/.local/share/tape --symbols AAPL --start 2026-11-24 --out aapl.parquet   # offline`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			urlGiven, dataGiven := cmd.Flags().Changed("url"), cmd.Flags().Changed("data")
			if err := bindEnvAndConfig(cmd); err != nil {
				return err
			}
			if urlGiven && dataGiven {
				return errors.New("--url and --data are alternatives: read through a running Tape (--url) or its data directory (--data), not both")
			}
			if urlGiven {
				o.dataDir = "" // TAPE_DATA or a config file must not override an explicit --url
			}
			var err error
			if o.symbols, err = parseSymbols(symbols); err != nil {
				return err
			}
			if start == "" {
				return errors.New("--start is required: a date like 2026-11-24 (midnight New York time) or an RFC 3339 time")
			}
			if o.start, err = parseWhen(start, false); err != nil {
				return fmt.Errorf("--start: %w", err)
			}
			// No --end: to the end of the record (through a server, the
			// feed's clock, which a fast simulator or a replay sets, not
			// the wall clock).
			if end != "" {
				if o.end, err = parseWhen(end, true); err != nil {
					return fmt.Errorf("--end: %w", err)
				}
			}
			if !o.end.IsZero() && o.end.Before(o.start) {
				return fmt.Errorf("--end %s is before --start %s", o.end.Format(time.RFC3339), o.start.Format(time.RFC3339))
			}
			if o.feed, err = exportFeed(o.feed, o.dataDir != ""); err != nil {
				return err
			}
			if o.kind, err = tickfile.ParseKind(kind); err != nil {
				return fmt.Errorf("--kind: %w", err)
			}
			if o.timeframe, err = market.ParseTimeframe(tf); err != nil {
				return fmt.Errorf("--timeframe: %w (like 1Min, 5Min, 1Hour, 1Day, 1Week, 1Month)", err)
			}
			if o.format, o.gzip, err = exportFormat(fmt_, o.out); err != nil {
				return err
			}
			res, err := runExport(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o, !dataGiven)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), res.summary(o))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&symbols, "symbols", "", "comma-separated symbols to export (required)")
	f.StringVar(&start, "start", "", "first time: a date (2026-11-24, midnight New York time) or an RFC 3339 time (required)")
	f.StringVar(&end, "end", "", "last time, inclusive: a date (its whole day) or an RFC 3339 time (default: the end of the record)")
	f.StringVar(&kind, "kind", "bars", "what to export: trades, quotes or bars")
	f.StringVar(&o.feed, "feed", "", "the market: sip (consolidated; the default) or iex (IEX's own trades, quotes and bars)")
	f.StringVar(&tf, "timeframe", "1Min", "bars: 1Min..59Min, 1Hour..23Hour, 1Day, 1Week, 1Month..12Month")
	f.StringVar(&fmt_, "format", "", "parquet or csv (default: from the --out extension, else csv)")
	f.StringVar(&o.out, "out", "", "file to write (default: standard output, CSV only); it appears only once complete")
	f.StringVar(&o.url, "url", "http://127.0.0.1:8080", "the running Tape to read from (its Alpaca-compatible REST API)")
	f.StringVar(&o.key, "key", "", "API key, if the Tape at --url requires one (--auth-key of tape serve)")
	f.StringVar(&o.secret, "secret", "", "API secret, if the Tape at --url requires one")
	f.StringVar(&o.dataDir, "data", "", "read this data directory directly instead of --url (only while no tape serve uses it)")
	f.BoolVar(&o.progress, "progress", isTerminal(os.Stderr), "show a progress bar on stderr (default: when stderr is a terminal)")
	f.IntVar(&o.pageSize, "page-size", 10000, "rows per request or store query (1-10000)")
	f.StringVar(&config, "config", "", `config file of "flag = value" lines`)
	f.MarkHidden("page-size")
	return cmd
}

// parseSymbols splits, upper-cases, checks, sorts and de-duplicates a
// comma-separated list of symbols (the order Tape returns them in).
func parseSymbols(s string) ([]string, error) {
	var out []string
	for _, x := range splitList(s) {
		sym, ok := tickfile.CanonicalSymbol(x)
		if !ok {
			return nil, fmt.Errorf("--symbols: %q is not a symbol", x)
		}
		out = append(out, sym)
	}
	if len(out) == 0 {
		return nil, errors.New("--symbols is required: a comma-separated list like AAPL,MSFT")
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// exportFormat resolves --format and the --out extension.
func exportFormat(flag, out string) (f tickfile.Format, gz bool, err error) {
	ef, egz, ok := tickfile.FormatOf(out)
	switch {
	case flag != "":
		if f, err = tickfile.ParseFormat(flag); err != nil {
			return 0, false, fmt.Errorf("--format: %w", err)
		}
		gz = f == tickfile.CSV && egz
	case ok:
		f, gz = ef, egz
	case out != "" && out != "-":
		return 0, false, fmt.Errorf("--out %s: cannot tell the format from the extension: name it .parquet, .csv or .csv.gz, or pass --format", out)
	default:
		f = tickfile.CSV
	}
	if f == tickfile.Parquet && out == "" {
		return 0, false, errors.New("--format parquet needs --out FILE (Parquet is binary; --out - writes it to standard output)")
	}
	return f, gz, nil
}

// pager yields the export's events a page at a time.
type pager interface {
	next(ctx context.Context) ([]market.Event, error)
}

// exportResult is what an export wrote.
type exportResult struct {
	rows        int64
	symbols     map[string]bool
	first, last int64
	bytes       int64
	path        string
	took        time.Duration
	fellBack    bool // TAPE_DATA was locked by a server: read through --url
}

func (r *exportResult) summary(o exportOptions) string {
	what := o.kind.String()
	if o.kind == tickfile.KindBars {
		what = o.timeframe.String() + " bars"
	}
	if o.feed != "" && o.feed != "sip" {
		what = o.feed + " " + what // "iex quotes": not the consolidated market
	}
	if r.rows == 0 {
		return fmt.Sprintf("tape export: no %s for %s from %s to %s (check --symbols, --start and --end; a date means midnight New York time)",
			what, strings.Join(o.symbols, ","), o.start.UTC().Format(time.RFC3339), endString(o.end))
	}
	dest := "standard output"
	if r.path != "" {
		dest = r.path
	}
	syms := make([]string, 0, len(r.symbols))
	for s := range r.symbols {
		syms = append(syms, s)
	}
	slices.Sort(syms)
	return fmt.Sprintf("tape export: wrote %s %s of %s (%s to %s UTC) to %s, %s, in %s",
		commas(r.rows), what, strings.Join(syms, ","),
		time.Unix(0, r.first).UTC().Format("2006-01-02 15:04:05"), time.Unix(0, r.last).UTC().Format("2006-01-02 15:04:05"),
		dest, sizeString(r.bytes), r.took.Round(time.Millisecond))
}

// runExport writes the export to o.out (or stdout). mayFallBack allows,
// when o.dataDir came from TAPE_DATA or a config file rather than --data,
// reading through o.url when a server holds the directory or it holds no
// data: the user did not ask for offline mode on this command line.
func runExport(ctx context.Context, stdout, stderr io.Writer, o exportOptions, mayFallBack bool) (*exportResult, error) {
	began := time.Now()
	res := &exportResult{symbols: map[string]bool{}}
	if o.pageSize <= 0 || o.pageSize > 10000 {
		o.pageSize = 10000
	}
	var src pager
	if o.dataDir != "" {
		d, err := datadir.Open(ctx, o.dataDir, datadir.Options{Holder: "tape export", NoState: true})
		switch {
		case errors.Is(err, datadir.ErrLocked) && mayFallBack:
			fmt.Fprintf(stderr, "tape export: tape serve is running on %s (TAPE_DATA): reading through %s\n", o.dataDir, o.url)
			res.fellBack = true
		case errors.Is(err, datadir.ErrNoData) && mayFallBack:
			res.fellBack = true // TAPE_DATA names no store yet: the default source
		case errors.Is(err, datadir.ErrLocked):
			return nil, lockedError(err, o.dataDir, "export")
		case errors.Is(err, datadir.ErrNoData):
			return nil, fmt.Errorf("%w: run tape serve or tape import with --data %s first", err, o.dataDir)
		case err != nil:
			return nil, err
		default:
			defer d.Close()
			src = &storePager{s: storeView(d.History, o.feed), o: o}
		}
	}
	if src == nil {
		rp, err := newRESTPager(o)
		if err != nil {
			return nil, err
		}
		src = rp
	}

	// The file appears only once complete: written under a temporary name
	// in the same directory, synced, then renamed, so a failed or
	// interrupted export never leaves a truncated file that looks whole.
	var out io.Writer = stdout
	var tmp *os.File
	if o.out != "" && o.out != "-" {
		var err error
		tmp, err = createTemp(filepath.Dir(o.out), "."+filepath.Base(o.out)+".tmp-")
		if err != nil {
			return nil, fmt.Errorf("--out: %w", err)
		}
		defer func() {
			if tmp != nil {
				tmp.Close()
				os.Remove(tmp.Name())
			}
		}()
		out = tmp
		res.path = o.out
	}
	cw := &countWriter{w: out}
	w, err := tickfile.NewWriter(cw, tickfile.WriterOptions{Format: o.format, Kind: o.kind, Gzip: o.gzip,
		Timeframe: o.timeframe.String(), Version: versionString(), Build: readBuildInfo().Commit})
	if err != nil {
		return nil, err
	}
	bar := newSpanProgress(stderr, o.progress, "exporting "+o.kind.String())
	span := newExportSpan(o.symbols, o.start, o.end, time.Now())
	for {
		evs, err := src.next(ctx)
		if err != nil {
			bar.done()
			return nil, err
		}
		if len(evs) == 0 {
			break
		}
		if err := w.Write(evs); err != nil {
			bar.done()
			return nil, fmt.Errorf("writing: %w", err)
		}
		for i := range evs {
			e := &evs[i]
			if res.rows == 0 || e.Time < res.first {
				res.first = e.Time
			}
			res.last = max(res.last, e.Time)
			res.rows++
			if !res.symbols[e.Symbol] {
				res.symbols[e.Symbol] = true
			}
		}
		bar.setSpan(res.rows, span.at(&evs[len(evs)-1]))
	}
	bar.setSpan(res.rows, spanUnits) // the whole span is done, whatever the rows' times
	bar.done()
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("writing: %w", err)
	}
	res.bytes = cw.n
	if tmp != nil {
		if err := tmp.Sync(); err != nil {
			return nil, fmt.Errorf("--out: %w", err)
		}
		if err := tmp.Close(); err != nil {
			return nil, fmt.Errorf("--out: %w", err)
		}
		if err := os.Rename(tmp.Name(), o.out); err != nil {
			return nil, fmt.Errorf("--out: %w", err)
		}
		tmp = nil
	}
	res.took = time.Since(began)
	return res, nil
}

// createTemp is os.CreateTemp with the permissions of any new file,
// 0666 less the umask, instead of 0600: the export, renamed into place, is
// then readable as the user's other files are (by a notebook server, a
// group), as a file written by cp or pandas would be.
func createTemp(dir, prefix string) (*os.File, error) {
	for range 10000 {
		name := filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("%s: cannot find a free temporary name", dir)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// exportSpan maps an export's position to its progress. Tape answers a
// query symbol by symbol in ascending order (as Alpaca does), each
// symbol's rows in time order, so the position of the last row written
// is its symbol's rank plus how far into the range its time is: symbols
// are equal shares of the bar, and a symbol's share fills with time.
// That is exact for the order, and for the time left only as good as the
// assumption that symbols and hours hold similar numbers of rows.
type exportSpan struct {
	symbols    []string // sorted
	start, end int64
}

// newExportSpan is the span of an export of symbols from start to end;
// a zero end (the end of the record) counts as now.
func newExportSpan(symbols []string, start, end, now time.Time) exportSpan {
	if end.IsZero() {
		end = now
	}
	return exportSpan{symbols: symbols, start: start.UnixNano(), end: end.UnixNano()}
}

// at is the position of e in the span, 0 to spanUnits.
func (s exportSpan) at(e *market.Event) int64 {
	n := len(s.symbols)
	i, ok := slices.BinarySearch(s.symbols, e.Symbol)
	if n == 0 || !ok {
		return 0
	}
	f := 1.0
	if s.end > s.start {
		f = min(1, max(0, float64(e.Time-s.start)/float64(s.end-s.start)))
	}
	return int64((float64(i) + f) / float64(n) * spanUnits)
}

// exportFeed checks --feed: sip or iex, and through --url also the other
// feeds Alpaca's own API knows (export can read from it). Empty is the
// API's default: sip at Tape, the best the plan allows at Alpaca.
func exportFeed(feed string, offline bool) (string, error) {
	switch feed = strings.ToLower(strings.TrimSpace(feed)); feed {
	case "", "sip", "iex":
		return feed, nil
	case "otc", "boats":
		if !offline {
			return feed, nil
		}
	}
	return "", fmt.Errorf("--feed %q: want sip (the consolidated market) or iex (IEX's own)", feed)
}

// historyView is what storePager reads: the history store, or its IEX
// view.
type historyView interface {
	Trades(ctx context.Context, q history.Query) (history.Result, error)
	Quotes(ctx context.Context, q history.Query) (history.Result, error)
	Bars(ctx context.Context, q history.Query, tf market.Timeframe) (history.Result, error)
}

// storeView returns the view of h that --feed names: for iex the IEX view
// where the record has one (a simulated record), as the server answers
// feed=iex, and otherwise the record itself.
func storeView(h *history.Store, feed string) historyView {
	if feed == "iex" && h.HasIEX() {
		return h.IEX()
	}
	return h
}

// storePager pages through the history store directly (--data).
type storePager struct {
	s      historyView
	o      exportOptions
	cursor *history.Cursor
	done   bool
}

func (p *storePager) next(ctx context.Context) ([]market.Event, error) {
	if p.done {
		return nil, nil
	}
	end := int64(math.MaxInt64)
	if !p.o.end.IsZero() {
		end = p.o.end.UnixNano()
	}
	q := history.Query{Symbols: p.o.symbols, Start: p.o.start.UnixNano(), End: end,
		Limit: p.o.pageSize, After: p.cursor}
	var res history.Result
	var err error
	switch p.o.kind {
	case tickfile.KindTrades:
		res, err = p.s.Trades(ctx, q)
	case tickfile.KindQuotes:
		res, err = p.s.Quotes(ctx, q)
	default:
		res, err = p.s.Bars(ctx, q, p.o.timeframe)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the history store: %w", err)
	}
	p.cursor = res.Next
	p.done = res.Next == nil
	return res.Events, nil
}

// endString names an export's end: a time, or the end of the record.
func endString(t time.Time) string {
	if t.IsZero() {
		return "the end of the record"
	}
	return t.UTC().Format(time.RFC3339)
}
