package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/streamclient"
)

type watchOptions struct {
	url, key, secret string
	channels         []string
	symbols          []string
	utc              bool
	duration         time.Duration
	// quietAfter is how long a subscribed symbol may send nothing, while
	// connected, before watch asks whether it is right; 0: 30 s.
	quietAfter time.Duration
	// client tunes the connection (tests: backoff, clock).
	client streamclient.Options
}

// defaultQuietAfter: a traded symbol quotes many times a minute even in
// the extended sessions.
const defaultQuietAfter = 30 * time.Second

func newWatchCmd() *cobra.Command {
	var o watchOptions
	var channels, logLevel string
	cmd := &cobra.Command{
		Use:   "watch SYMBOL...",
		Short: "Print the live stream of some symbols in the terminal",
		Long: `Print the live stream of the given symbols ("*" for all), one event per line,
through the same public protocol any Alpaca client uses. It reconnects by
itself if Tape restarts or is not up yet; it stops, with the reason, when the
server refuses for good: --url is not a stream (a web page, a 404), the keys
are refused (402), the plan does not include the feed (409). A symbol that
sends nothing for 30 s while connected gets a note: is it spelt right? Stop
it with Ctrl-C.

Exit status: 0 stopped (Ctrl-C or --duration) after having connected; 1 the
server refused for good; 2 a wrong flag or argument; 3 stopped without ever
having connected (nothing listening at --url, or it kept failing).`,
		Example: `  tape watch AAPL MSFT
  tape watch --channels trades '*'
  tape watch --duration 1m SPY     # exits 3 if it never connected within the minute
  tape watch --url ws://tape.example:8080/v2/sip --key AK --secret SK NVDA`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("tape watch needs the symbols to watch, like: tape watch AAPL MSFT (or '*' for all)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnvAndConfig(cmd); err != nil {
				return err
			}
			o.symbols = args
			o.channels = splitList(channels)
			if len(o.channels) == 0 {
				return usageErrorf("--channels %q names no channel: give some of %s", channels, watchChannels)
			}
			if o.duration < 0 {
				return usageErrorf("--duration %v: want a positive duration like 1m, or 0 to run until Ctrl-C", o.duration)
			}
			log, err := newLogger(os.Stderr, logLevel, "text")
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			return runWatch(cmd.Context(), cmd.OutOrStdout(), log, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "ws://127.0.0.1:8080/v2/sip", "stream endpoint of a running Tape (or of Alpaca); /v2/iex is IEX's own trades, quotes and bars")
	f.StringVar(&o.key, "key", "tape", "API key (any key works with a Tape on loopback without keys)")
	f.StringVar(&o.secret, "secret", "tape", "API secret")
	f.StringVar(&channels, "channels", "trades,quotes,bars,updatedBars,dailyBars,statuses,lulds", "channels to print: "+watchChannels)
	f.BoolVar(&o.utc, "utc", false, "print times in UTC instead of local time")
	f.DurationVar(&o.duration, "duration", 0, "stop after this long (0: until Ctrl-C); exit status 3 if it never connected")
	f.StringVar(&logLevel, "log-level", "info", "connection messages on stderr: debug, info, warn or error")
	return cmd
}

const watchChannels = "trades, quotes, bars, updatedBars, dailyBars, statuses, lulds, imbalances"

// runWatch prints the stream until ctx ends, --duration passes or the
// server refuses for good. It returns nil if it stopped after having
// connected, an error with exitNeverConnected if it never connected, and
// the server's refusal otherwise.
func runWatch(ctx context.Context, w io.Writer, log *slog.Logger, o watchOptions) error {
	if err := streamclient.CheckURL(o.url); err != nil {
		return usageErrorf("--url: %w", err)
	}
	var sub alpacawire.Subscription
	syms := make([]string, 0, len(o.symbols))
	for _, s := range o.symbols {
		n, ok := alpacawire.NormalizeSymbol(s)
		if !ok {
			return usageErrorf("%q is not a symbol (letters, digits and . / - , like AAPL or BRK.B; '*' for all)", s)
		}
		syms = append(syms, n)
	}
	for _, name := range o.channels {
		ch, ok := market.ChannelByName(name)
		if !ok {
			return usageErrorf("unknown channel %q (want %s)", name, watchChannels)
		}
		sub[ch] = syms
	}
	co := o.client
	co.URL, co.Key, co.Secret, co.Subscription, co.Logger = o.url, o.key, o.secret, sub, log
	client, err := streamclient.New(co)
	if err != nil {
		return usageErrorf("--url: %w", err)
	}
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	loc := time.Local
	if o.utc {
		loc = time.UTC
	}

	// Symbols that stay silent while connected get a note: a typo
	// (ZZZZ) would otherwise just wait, printing nothing, forever.
	var quiet *quietSymbols
	if len(sub[market.ChanTrades]) > 0 || len(sub[market.ChanQuotes]) > 0 {
		quiet = newQuietSymbols(syms)
	}
	var wg sync.WaitGroup
	wctx, stopWatching := context.WithCancel(ctx)
	if quiet != nil {
		after := o.quietAfter
		if after <= 0 {
			after = defaultQuietAfter
		}
		wg.Go(func() { quiet.watch(wctx, client, after, log) })
	}

	bw := bufio.NewWriterSize(w, 64<<10)
	var line []byte
	err = client.Run(ctx, func(msgs []alpacawire.Message) {
		for i := range msgs {
			if quiet != nil && msgs[i].Event.Kind != market.KindInvalid {
				quiet.heard(msgs[i].Event.Symbol)
			}
			line = formatMessage(line[:0], &msgs[i], loc)
			if len(line) > 0 {
				bw.Write(line)
			}
		}
		bw.Flush()
	})
	stopWatching()
	wg.Wait()
	bw.Flush()
	connects, _, last := client.Stats()
	var pe *streamclient.ProtocolError
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		if connects > 0 {
			return nil
		}
		why := "it was stopped"
		if o.duration > 0 && errors.Is(err, context.DeadlineExceeded) {
			why = fmt.Sprintf("--duration %v ran out", o.duration)
		}
		msg := fmt.Sprintf("never connected to %s before %s", o.url, why)
		if last != "" {
			msg += ": " + last
		}
		return &exitError{code: exitNeverConnected, err: errors.New(msg)}
	case errors.As(err, &pe) && pe.Code == alpacawire.CodeAuthFailed:
		return fmt.Errorf("%w: check --key and --secret (or TAPE_KEY/TAPE_SECRET)", err)
	}
	return err
}

// quietSymbols notices subscribed symbols that send nothing: after a
// while connected, watch says which, once.
type quietSymbols struct {
	mu      sync.Mutex
	pending map[string]bool // not heard from yet; nil once reported
	left    atomic.Int32    // len(pending), read without the lock on every message
}

func newQuietSymbols(syms []string) *quietSymbols {
	q := &quietSymbols{pending: map[string]bool{}}
	for _, s := range syms {
		if s != "*" {
			q.pending[s] = true
		}
	}
	q.left.Store(int32(len(q.pending)))
	return q
}

// heard records a message of sym.
func (q *quietSymbols) heard(sym string) {
	if q.left.Load() == 0 {
		return
	}
	q.mu.Lock()
	if q.pending[sym] {
		delete(q.pending, sym)
		q.left.Add(-1)
	}
	q.mu.Unlock()
}

// silent returns, once, the symbols not heard from (sorted), and stops
// tracking; nil if every symbol was heard from.
func (q *quietSymbols) silent() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for s := range q.pending {
		out = append(out, s)
	}
	q.pending = nil
	q.left.Store(0)
	slices.Sort(out)
	return out
}

// watch counts the time client is connected and, once it reaches after,
// logs the symbols that sent nothing meanwhile.
func (q *quietSymbols) watch(ctx context.Context, client *streamclient.Client, after time.Duration, log *slog.Logger) {
	tick := min(time.Second, after/4)
	t := time.NewTicker(tick)
	defer t.Stop()
	var connected time.Duration
	for connected < after {
		if q.left.Load() == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if client.State() == streamclient.StateConnected {
			connected += tick
		}
	}
	if s := q.silent(); len(s) > 0 {
		log.Warn(fmt.Sprintf("no data for %s yet, %v after connecting: is the symbol right? (a real one can be quiet outside market hours)",
			strings.Join(s, ", "), after))
	}
}

// formatMessage appends one readable line for m (nothing for the
// handshake's success and subscription messages).
func formatMessage(b []byte, m *alpacawire.Message, loc *time.Location) []byte {
	switch m.Type {
	case "error":
		return fmt.Appendf(b, "error %d: %s\n", m.Code, m.Msg)
	case "success", "subscription":
		return b
	}
	e := &m.Event
	if e.Kind == market.KindInvalid {
		return b
	}
	ts := time.Unix(0, e.Time).In(loc)
	b = ts.AppendFormat(b, "15:04:05.000")
	b = append(b, "  "...)
	b = appendPadded(b, e.Symbol, 8)
	b = appendPadded(b, e.Kind.String(), 12)
	switch e.Kind {
	case market.KindTrade:
		t := &e.Trade
		b = appendPrice(b, t.Price)
		b = append(b, " x "...)
		b = strconv.AppendUint(b, uint64(t.Size), 10)
		b = append(b, "  "...)
		b = appendCode(b, t.Exchange)
		if t.Conditions.Len() > 0 {
			b = append(b, "  "...)
			b = append(b, strings.Join(t.Conditions.Strings(), " ")...)
		}
	case market.KindQuote:
		q := &e.Quote
		b = appendPrice(b, q.BidPrice)
		b = append(b, " x "...)
		b = strconv.AppendUint(b, uint64(q.BidSize), 10)
		b = append(b, "  /  "...)
		b = appendPrice(b, q.AskPrice)
		b = append(b, " x "...)
		b = strconv.AppendUint(b, uint64(q.AskSize), 10)
		b = append(b, "  "...)
		b = appendCode(b, q.BidExchange)
		b = append(b, '/')
		b = appendCode(b, q.AskExchange)
	case market.KindBar, market.KindUpdatedBar, market.KindDailyBar:
		r := &e.Bar
		b = append(b, "o "...)
		b = appendPrice(b, r.Open)
		b = append(b, "  h "...)
		b = appendPrice(b, r.High)
		b = append(b, "  l "...)
		b = appendPrice(b, r.Low)
		b = append(b, "  c "...)
		b = appendPrice(b, r.Close)
		b = append(b, "  v "...)
		b = strconv.AppendUint(b, r.Volume, 10)
		b = append(b, "  n "...)
		b = strconv.AppendUint(b, r.TradeCount, 10)
		b = append(b, "  vw "...)
		b = strconv.AppendFloat(b, r.VWAP, 'f', 4, 64)
	case market.KindStatus:
		if s := e.Status; s != nil {
			b = fmt.Appendf(b, "%s %s", s.StatusCode, s.StatusMsg)
			if s.ReasonCode != "" {
				b = fmt.Appendf(b, "  (%s %s)", s.ReasonCode, s.ReasonMsg)
			}
		}
	case market.KindLULD:
		if l := e.LULD; l != nil {
			b = append(b, "up "...)
			b = appendPrice(b, l.LimitUp)
			b = append(b, "  down "...)
			b = appendPrice(b, l.LimitDown)
		}
	case market.KindCorrection:
		if c := e.Correction; c != nil {
			b = fmt.Appendf(b, "trade %d %s x %d → %d %s x %d", c.OrigID, fmtPrice(c.OrigPrice), c.OrigSize,
				c.CorrID, fmtPrice(c.CorrPrice), c.CorrSize)
		}
	case market.KindCancelError:
		if x := e.CancelError; x != nil {
			what := "cancel"
			if x.Action == 'E' {
				what = "error"
			}
			b = fmt.Appendf(b, "%s of trade %d %s x %d", what, x.ID, fmtPrice(x.Price), x.Size)
		}
	case market.KindImbalance:
		if im := e.Imbalance; im != nil {
			b = appendPrice(b, im.Price)
		}
	}
	return append(b, '\n')
}

func appendPadded(b []byte, s string, n int) []byte {
	b = append(b, s...)
	for i := len(s); i < n; i++ {
		b = append(b, ' ')
	}
	return append(b, ' ')
}

func appendPrice(b []byte, p float64) []byte {
	if p >= 1 {
		return strconv.AppendFloat(b, p, 'f', 2, 64)
	}
	return strconv.AppendFloat(b, p, 'f', 4, 64)
}

func fmtPrice(p float64) string { return string(appendPrice(nil, p)) }

func appendCode(b []byte, c byte) []byte {
	if c == 0 {
		return append(b, '-')
	}
	return append(b, c)
}
