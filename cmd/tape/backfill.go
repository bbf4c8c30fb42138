package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tapehq/tape/internal/backfill"
	"github.com/tapehq/tape/internal/datadir"
	"github.com/tapehq/tape/internal/feed/staged"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/server"
	"github.com/tapehq/tape/internal/tickfile"
)

// backfillOptions are the resolved flags of `tape backfill`.
type backfillOptions struct {
	dataDir      string
	url          string
	key, secret  string
	symbols      []string // in the order given: the order of the summary
	start, end   time.Time
	kind         backfill.Kind
	timeframe    market.Timeframe // bars: OneMinute or OneDay
	feed         string
	concurrency  int
	timeout      time.Duration
	retries      int
	rateLimit    int // requests per minute; 0: none
	pageLimit    int
	allowOverlap bool
	deriveBars   bool
	progress     bool

	// sleep and jitter replace the client's waits (backoff, rate limit)
	// and their randomness in tests.
	sleep  func(context.Context, time.Duration) error
	jitter func(time.Duration) time.Duration
}

// backfillFeeds are the feeds the historical endpoints accept.
var backfillFeeds = []string{"iex", "sip", "otc", "boats"}

func newBackfillCmd() *cobra.Command {
	var (
		o                             backfillOptions
		symbols, start, end, kind, tf string
		config                        string
	)
	cmd := &cobra.Command{
		Use:   "backfill --symbols SYMBOLS --start WHEN [--end WHEN] [--kind bars|trades|quotes] [--timeframe 1Min|1Day]",
		Short: "Fetch trades, quotes or bars from Alpaca's REST API into Tape's data directory, many symbols at once",
		Long: `Fetch history from Alpaca's market-data REST API (GET /v2/stocks/bars, /trades,
/quotes) and store it in Tape's data directory, as if Tape had recorded it: the
history REST API serves it and tape serve --feed replay plays it back.

Symbols are fetched concurrently (--concurrency requests at a time), each page
after page (next_page_token), every request with its own --timeout. Rate
limiting (429) and server errors (5xx) are retried with exponential backoff and
jitter, never sooner than Alpaca's Retry-After; --rate-limit spaces requests
out under your plan's limit (Alpaca: 200 calls a minute on the free plan,
10,000 on Algo Trader Plus). Results are handed on in the order of --symbols
whatever order they arrive in, so the same backfill stores the same journal.

A symbol that fails (after its retries) stores nothing and is listed in the
summary with its error, with the command that fetches it again; the others are
stored. Keys, plan and URL errors stop the whole backfill.

Bars are Alpaca's own bars, stored as they are: --timeframe 1Min as minute bars,
1Day as daily bars (Tape aggregates every other timeframe from those when
queried). Trades get minute, updated and daily bars derived from them exactly
as tape import derives them, unless --derive-bars=false.

Like tape import, backfill writes the journal and history store that tape
serve owns while it runs: stop tape serve first. It refuses to store trades or
quotes where the data directory already has some for the same symbol and
period (they would be stored twice) unless --allow-overlap.

Keys come from APCA_API_KEY_ID and APCA_API_SECRET_KEY, the variables Alpaca's
SDKs read; the API's address from --data-url, else APCA_API_DATA_URL.`,
		Example: `  tape backfill --symbols AAPL,MSFT --start 2026-11-01 --end 2026-11-25 --timeframe 1Min
  tape backfill --symbols AAPL,MSFT,NVDA,SPY --start 2026-01-01 --timeframe 1Day
  tape backfill --symbols SPY --start 2026-11-24 --end 2026-11-24 --kind trades --feed sip
  tape backfill --symbols AAPL --start 2026-11-24T14:30:00Z --end 2026-11-24T15:00:00Z --kind quotes
  tape backfill --symbols AAPL,MSFT --start 2026-11-24 --data-url http://127.0.0.1:8080   # from another Tape
  tape serve --feed replay --from 2026-11-24 --speed 10    # then replay what was fetched`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnvAndConfig(cmd); err != nil {
				return err
			}
			if !cmd.Flags().Changed("data-url") {
				if u := os.Getenv("APCA_API_DATA_URL"); u != "" {
					o.url = u // the SDKs' variable, after --data-url, TAPE_DATA_URL and --config
				}
			}
			var err error
			if o.symbols, err = parseSymbolList(symbols); err != nil {
				return err
			}
			if start == "" {
				return errors.New("--start is required: a date like 2026-11-24 (midnight New York time) or an RFC 3339 time")
			}
			if o.start, err = parseWhen(start, false); err != nil {
				return fmt.Errorf("--start: %w", err)
			}
			o.end = time.Now()
			if end != "" {
				if o.end, err = parseWhen(end, true); err != nil {
					return fmt.Errorf("--end: %w", err)
				}
			}
			if o.end.Before(o.start) {
				return fmt.Errorf("--end %s is before --start %s", o.end.Format(time.RFC3339), o.start.Format(time.RFC3339))
			}
			if o.kind, err = backfill.ParseKind(kind); err != nil {
				return fmt.Errorf("--kind: %w", err)
			}
			if o.kind == backfill.Bars {
				if o.timeframe, err = backfillTimeframe(tf); err != nil {
					return err
				}
			}
			o.feed = strings.ToLower(o.feed)
			if !slices.Contains(backfillFeeds, o.feed) {
				return fmt.Errorf("--feed %q: want iex (free plan) or sip (Algo Trader Plus), or otc or boats", o.feed)
			}
			if o.concurrency < 1 || o.concurrency > 64 {
				return fmt.Errorf("--concurrency %d: want 1 to 64 symbols at a time", o.concurrency)
			}
			if o.timeout <= 0 {
				return fmt.Errorf("--timeout %v: want a positive duration like 30s", o.timeout)
			}
			if o.rateLimit < 0 {
				return fmt.Errorf("--rate-limit %d: want calls per minute, or 0 for no limit", o.rateLimit)
			}
			o.key, o.secret = os.Getenv("APCA_API_KEY_ID"), os.Getenv("APCA_API_SECRET_KEY")
			if o.key == "" || o.secret == "" {
				return errors.New("tape backfill needs your Alpaca keys: set APCA_API_KEY_ID and APCA_API_SECRET_KEY " +
					"(the API keys on your Alpaca dashboard; paper-trading keys work for market data)")
			}
			res, err := runBackfill(cmd.Context(), cmd.ErrOrStderr(), o)
			if res != nil {
				res.print(cmd.OutOrStdout(), o)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&symbols, "symbols", "", "comma-separated symbols to fetch, in the order the summary lists them (required)")
	f.StringVar(&start, "start", "", "first time: a date (2026-11-24, midnight New York time) or an RFC 3339 time (required)")
	f.StringVar(&end, "end", "", "last time, inclusive: a date (its whole day) or an RFC 3339 time (default: now)")
	f.StringVar(&kind, "kind", "bars", "what to fetch: bars, trades or quotes")
	f.StringVar(&tf, "timeframe", "1Min", "bars: 1Min (stored as minute bars) or 1Day (daily bars)")
	f.StringVar(&o.feed, "feed", "iex", "Alpaca data feed: iex (free plan) or sip (all exchanges; Algo Trader Plus, or data older than 15 minutes)")
	f.StringVar(&o.url, "data-url", backfill.DefaultBaseURL, "Alpaca's market-data API, else $APCA_API_DATA_URL (another Tape works too: http://127.0.0.1:8080)")
	f.IntVar(&o.concurrency, "concurrency", 4, "symbols fetched at the same time")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "time allowed for each request before it is retried")
	f.IntVar(&o.retries, "retries", 5, "retries of a request rate-limited (429), failed (5xx) or timed out, with exponential backoff")
	f.IntVar(&o.rateLimit, "rate-limit", 200, "requests per minute at most (Alpaca: 200 on the free plan, 10,000 on Algo Trader Plus; 0: no limit)")
	f.StringVar(&o.dataDir, "data", server.DefaultDataDir(), "Tape's data directory to store into: $TAPE_DATA, else $XDG_DATA_HOME/tape, else ~/.local/share/tape")
	f.BoolVar(&o.allowOverlap, "allow-overlap", false, "store trades or quotes even where the data directory already has some for the same symbol and period (they would be stored twice)")
	f.BoolVar(&o.deriveBars, "derive-bars", true, "trades: derive minute, updated and daily bars from them, as tape import does")
	f.BoolVar(&o.progress, "progress", isTerminal(os.Stderr), "show a progress bar on stderr (default: when stderr is a terminal)")
	f.IntVar(&o.pageLimit, "page-limit", backfill.MaxPageLimit, "rows per request (1-10000)")
	f.StringVar(&config, "config", "", `config file of "flag = value" lines`)
	f.MarkHidden("page-limit")
	return cmd
}

// parseSymbolList is parseSymbols keeping the order given (duplicates
// dropped): the backfill hands symbols on, and lists them, in that order.
func parseSymbolList(s string) ([]string, error) {
	var out []string
	for _, x := range splitList(s) {
		sym, ok := tickfile.CanonicalSymbol(x)
		if !ok {
			return nil, fmt.Errorf("--symbols: %q is not a symbol", x)
		}
		if !slices.Contains(out, sym) {
			out = append(out, sym)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("--symbols is required: a comma-separated list like AAPL,MSFT")
	}
	return out, nil
}

// backfillTimeframe accepts the timeframes Tape stores.
func backfillTimeframe(s string) (market.Timeframe, error) {
	tf, err := market.ParseTimeframe(s)
	if err != nil {
		return tf, fmt.Errorf("--timeframe: %w (1Min or 1Day)", err)
	}
	if tf != market.OneMinute && tf != market.OneDay {
		return tf, fmt.Errorf("--timeframe %v: Tape stores 1Min and 1Day bars and aggregates every other timeframe from them when queried: "+
			"backfill --timeframe 1Min (or 1Day), then ask the history API for %v bars", tf, tf)
	}
	return tf, nil
}

// backfillResult is what a backfill did, for the summary.
type backfillResult struct {
	writeResult
	fetch       backfill.Summary
	skipped     map[string]int64 // rows refused, by symbol (a bar off its timeframe)
	staged      int64            // rows to store
	first, last int64            // event time range of what was stored
	took        time.Duration
	deriveBars  bool // bars were derived from the trades
	interrupted bool
	stopped     bool // an error that was every symbol's stopped the fetch: no table
}

// runBackfill fetches o and stores it into o.dataDir. It returns the
// result so far even on error (nil if nothing was attempted).
func runBackfill(ctx context.Context, stderr io.Writer, o backfillOptions) (*backfillResult, error) {
	began := time.Now()
	retries := o.retries
	if retries == 0 {
		retries = -1 // the client's "none"; its 0 is "the default"
	}
	// The client's waits and retries are shown on the progress line.
	notes := newWaitNotes(o.sleep, o.rateLimit)
	client, err := backfill.New(backfill.Options{BaseURL: o.url, Key: o.key, Secret: o.secret, Timeout: o.timeout,
		MaxRetries: retries, RequestsPerMinute: o.rateLimit, UserAgent: "tape-backfill/" + versionString(),
		Sleep: notes.Sleep, Jitter: o.jitter, Logger: slog.New(notes)})
	if err != nil {
		return nil, fmt.Errorf("--data-url: %w", err)
	}
	if err := os.MkdirAll(o.dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	// The directory is locked and opened first: the overlap check must
	// come before spending API calls, and nobody may write it meanwhile.
	d, err := openForWrite(ctx, o.dataDir, "backfill")
	if err != nil {
		return nil, err
	}
	res := &backfillResult{writeResult: newWriteResult(), skipped: map[string]int64{}}
	err = fetchAndStore(ctx, stderr, client, notes, d, o, res)
	if cerr := d.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing the data directory: %w", cerr)
	}
	res.took = time.Since(began)
	if err == nil && res.fetch.Failed > 0 {
		err = fmt.Errorf("%d of %d symbols failed (see the summary): fetch them again with the command it gives", res.fetch.Failed, len(o.symbols))
	}
	return res, err
}

func fetchAndStore(ctx context.Context, stderr io.Writer, client *backfill.Client, notes *waitNotes, d *datadir.Dir,
	o backfillOptions, res *backfillResult) error {
	var fileKind tickfile.Kind
	switch o.kind {
	case backfill.Trades:
		fileKind = tickfile.KindTrades
	case backfill.Quotes:
		fileKind = tickfile.KindQuotes
	default:
		fileKind = tickfile.KindBars
	}
	spans := map[spanKey]span{}
	for _, s := range o.symbols {
		spans[spanKey{s, fileKind}] = span{o.start.UnixNano(), o.end.UnixNano()}
	}
	if err := checkOverlap(ctx, d.History, spans, o.allowOverlap, "backfill"); err != nil {
		return err
	}

	// Rows are staged as they are handed on, in --symbols order; a symbol
	// that fails is cut back out (from mark on), so it stores nothing and
	// can be fetched again without overlapping itself.
	var st staged.Rows
	mark, done := 0, 0
	var symRows int64
	bar := newItemProgress(stderr, o.progress, int64(len(o.symbols)), "fetching")
	notes.setBar(bar)
	// A failure that is the server's, not the symbol's (nothing listens,
	// or what answers is not a data API), stops the whole fetch with one
	// message rather than failing every symbol in turn.
	fctx, stopAll := context.WithCancelCause(ctx)
	defer stopAll(nil)
	daily := o.kind == backfill.Bars && o.timeframe == market.OneDay
	req := backfill.Request{Kind: o.kind, Symbols: o.symbols, Start: o.start, End: o.end,
		Feed: o.feed, PageLimit: o.pageLimit, Concurrency: o.concurrency,
		OnSymbol: func(r backfill.SymbolResult) {
			if r.Err != nil {
				st.Truncate(mark)
				if failsEverySymbol(r.Err) {
					stopAll(&errStopAll{r.Err})
				}
			}
			mark, symRows = st.Len(), 0
			done++
			bar.add(1)
		}}
	if o.kind == backfill.Bars {
		req.Timeframe = o.timeframe.String()
	}
	fetched, err := client.Fetch(fctx, req, func(sym string, page []market.Event) error {
		for i := range page {
			e := &page[i]
			switch {
			case daily:
				e.Kind = market.KindDailyBar
				if !isMidnight(e.Time) {
					res.skipped[sym]++ // not a day of Tape's calendar
					continue
				}
			case o.kind == backfill.Bars:
				if e.Time%int64(time.Minute) != 0 {
					res.skipped[sym]++
					continue
				}
			}
			st.Add(e)
		}
		symRows += int64(len(page))
		bar.describe(fmt.Sprintf("fetching %s (%d of %d): %s rows", sym, done+1, len(o.symbols), commas(symRows)))
		return nil
	})
	notes.setBar(nil)
	bar.done()
	res.fetch = fetched
	var all *errStopAll
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		res.interrupted = true
		return errors.New("interrupted while fetching: nothing was stored")
	case errors.As(err, &all):
		res.stopped = true
		return fetchError(all.err, o)
	case err != nil:
		res.stopped = backfill.IsFatal(err)
		return fetchError(err, o)
	}
	if st.Len() == 0 {
		return nil
	}
	res.staged = int64(st.Len())
	res.first, res.last = st.Span()
	st.Sort()
	res.deriveBars = o.kind == backfill.Trades && o.deriveBars
	err = store(ctx, d, &st, res.deriveBars, &res.writeResult, newProgress(stderr, o.progress, int64(st.Len()), "storing"))
	if errors.Is(err, context.Canceled) {
		res.interrupted = true
		return fmt.Errorf("interrupted after storing %s of %s rows, those up to %s (rows go in time order): "+
			"to finish, backfill from that time on", commas(res.total()), commas(res.staged), fmtTime(res.lastTime))
	}
	return err
}

// fetchError says what to do about an error that stopped every symbol.
func fetchError(err error, o backfillOptions) error {
	var ae *backfill.APIError
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return &messageError{msg: fmt.Sprintf("nothing answers at %s (connection refused): check --data-url (default %s), "+
			"or start the Tape it names; nothing was stored", o.url, backfill.DefaultBaseURL), err: err}
	case errors.As(err, &dns) && dns.IsNotFound:
		return &messageError{msg: fmt.Sprintf("no such host %q (--data-url %s); nothing was stored", dns.Name, o.url), err: err}
	case failsEverySymbol(err):
		what := fmt.Sprintf("its answer is not Alpaca's JSON (%v)", errors.Unwrap(err))
		if strings.Contains(err.Error(), "invalid character '<'") {
			what = "it answered with a web page, not Alpaca's JSON"
		}
		return &messageError{msg: fmt.Sprintf("%s is not a market-data API: %s; --data-url should be %s or a Tape; nothing was stored",
			o.url, what, backfill.DefaultBaseURL), err: err}
	case !errors.As(err, &ae):
		return fmt.Errorf("fetching from %s: %w (nothing was stored)", o.url, err)
	}
	api := cleanError(ae)
	switch ae.Status {
	case http.StatusUnauthorized:
		return &messageError{msg: fmt.Sprintf("%s refused the keys (%s): check APCA_API_KEY_ID and APCA_API_SECRET_KEY; nothing was stored", o.url, api), err: err}
	case http.StatusForbidden:
		return &messageError{msg: fmt.Sprintf("%s refused the request (%s): your plan may not include --feed %s for this period "+
			"(the free plan has iex, and sip only older than 15 minutes); nothing was stored", o.url, api, o.feed), err: err}
	case http.StatusNotFound:
		return &messageError{msg: fmt.Sprintf("%s has no market-data API (%s): --data-url should be %s or a Tape; nothing was stored",
			o.url, api, backfill.DefaultBaseURL), err: err}
	}
	return &messageError{msg: fmt.Sprintf("fetching from %s: %s (nothing was stored)", o.url, cleanError(err)), err: err}
}

// what names the rows of o for the summary: "trades", "1Min bars".
func (o backfillOptions) what() string {
	if o.kind == backfill.Bars {
		return o.timeframe.String() + " bars"
	}
	return o.kind.String()
}

// print writes the summary: a table of the symbols (rows, pages, retries,
// error), what was stored, and the commands to fetch the failed symbols
// again and to replay the rest.
func (r *backfillResult) print(w io.Writer, o backfillOptions) {
	if len(r.fetch.Symbols) == 0 || r.stopped {
		return // the error says it, once, for every symbol
	}
	ok := len(r.fetch.Symbols) - r.fetch.Failed
	verb := "stored"
	if r.interrupted {
		verb = "interrupted after storing"
	}
	fmt.Fprintf(w, "tape backfill: %s %s %s of %d symbols into %s", verb, commas(r.total()),
		o.what(), ok, o.dataDir)
	if r.fetch.Failed > 0 {
		fmt.Fprintf(w, "; %d failed", r.fetch.Failed)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  SYMBOL\tROWS\tPAGES\tRETRIES\tERROR")
	var failed []string
	for _, s := range r.fetch.Symbols {
		msg := ""
		if s.Err != nil {
			msg = cleanError(s.Err)
			failed = append(failed, s.Symbol)
		} else if n := r.skipped[s.Symbol]; n > 0 {
			msg = fmt.Sprintf("(%s bars skipped: not on a %s boundary)", commas(n), o.timeframe)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%s\n", s.Symbol, commas(s.Rows), s.Pages, s.Retries, msg)
	}
	tw.Flush()
	if r.deriveBars && len(r.derived) > 0 {
		fmt.Fprintf(w, "  derived    %s minute bars, %s updated bars, %s daily bars\n", commas(r.derived[market.KindBar]),
			commas(r.derived[market.KindUpdatedBar]), commas(r.derived[market.KindDailyBar]))
	}
	if r.staged > 0 {
		fmt.Fprintf(w, "  period     %s to %s (New York: %s to %s)\n", fmtTime(r.first), fmtTime(r.last),
			time.Unix(0, r.first).In(newYork).Format("2006-01-02 15:04:05"), time.Unix(0, r.last).In(newYork).Format("2006-01-02 15:04:05"))
	}
	if r.lastSeq >= r.firstSeq && r.firstSeq > 0 {
		fmt.Fprintf(w, "  journal    seq %s to %s\n", commas(int64(r.firstSeq)), commas(int64(r.lastSeq)))
	}
	fmt.Fprintf(w, "  requests   %s pages, %d retries, in %s\n", commas(int64(r.fetch.Pages)), r.fetch.Retries, r.took.Round(time.Millisecond))
	data := ""
	if o.dataDir != server.DefaultDataDir() {
		data = " --data " + shellQuote(o.dataDir)
	}
	if len(failed) > 0 && !r.interrupted {
		cmd := fmt.Sprintf("tape backfill --symbols %s --start %s --end %s --kind %s", strings.Join(failed, ","),
			o.start.UTC().Format(time.RFC3339Nano), o.end.UTC().Format(time.RFC3339Nano), o.kind)
		if o.kind == backfill.Bars {
			cmd += " --timeframe " + o.timeframe.String()
		}
		if o.feed != "iex" {
			cmd += " --feed " + o.feed
		}
		if o.url != backfill.DefaultBaseURL {
			cmd += " --data-url " + shellQuote(o.url)
		}
		fmt.Fprintf(w, "fetch the failed symbols again: %s%s\n", cmd, data)
	}
	if r.lastSeq >= r.firstSeq && r.firstSeq > 0 {
		from := time.Unix(0, r.first).In(newYork).Format(time.DateOnly)
		to := time.Unix(0, r.last).In(newYork).Format(time.DateOnly)
		fmt.Fprintf(w, "replay it:   tape serve%s --feed replay --from %s --to %s --speed 10\n", data, from, to)
	}
}
