package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
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
}

func newWatchCmd() *cobra.Command {
	var o watchOptions
	var channels, logLevel string
	cmd := &cobra.Command{
		Use:   "watch SYMBOL...",
		Short: "Print the live stream of some symbols in the terminal",
		Long: `Print the live stream of the given symbols ("*" for all), one event per line,
through the same public protocol any Alpaca client uses. It reconnects by
itself if Tape restarts. Stop it with Ctrl-C.`,
		Example: `  tape watch AAPL MSFT
  tape watch --channels trades '*'
  tape watch --url ws://tape.example:8080/v2/sip --key AK --secret SK NVDA`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnvAndConfig(cmd); err != nil {
				return err
			}
			o.symbols = args
			o.channels = splitList(channels)
			log, err := newLogger(logLevel, "text")
			if err != nil {
				return err
			}
			err = runWatch(cmd.Context(), cmd.OutOrStdout(), log, o)
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return nil
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "ws://127.0.0.1:8080/v2/iex", "stream endpoint of a running Tape (or of Alpaca)")
	f.StringVar(&o.key, "key", "tape", "API key (any key works with a Tape on loopback without keys)")
	f.StringVar(&o.secret, "secret", "tape", "API secret")
	f.StringVar(&channels, "channels", "trades,quotes,bars,updatedBars,dailyBars,statuses,lulds",
		"channels to print: trades, quotes, bars, updatedBars, dailyBars, statuses, lulds, imbalances")
	f.BoolVar(&o.utc, "utc", false, "print times in UTC instead of local time")
	f.DurationVar(&o.duration, "duration", 0, "stop after this long (0: until Ctrl-C)")
	f.StringVar(&logLevel, "log-level", "info", "connection messages on stderr: debug, info, warn or error")
	return cmd
}

func runWatch(ctx context.Context, w io.Writer, log *slog.Logger, o watchOptions) error {
	var sub alpacawire.Subscription
	syms := make([]string, 0, len(o.symbols))
	for _, s := range o.symbols {
		n, ok := alpacawire.NormalizeSymbol(s)
		if !ok {
			return fmt.Errorf("%q is not a symbol", s)
		}
		syms = append(syms, n)
	}
	for _, name := range o.channels {
		ch, ok := market.ChannelByName(name)
		if !ok {
			return fmt.Errorf("unknown channel %q (want trades, quotes, bars, updatedBars, dailyBars, statuses, lulds, imbalances)", name)
		}
		sub[ch] = syms
	}
	client, err := streamclient.New(streamclient.Options{URL: o.url, Key: o.key, Secret: o.secret,
		Subscription: sub, Logger: log})
	if err != nil {
		return err
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
	bw := bufio.NewWriterSize(w, 64<<10)
	defer bw.Flush()
	var line []byte
	err = client.Run(ctx, func(msgs []alpacawire.Message) {
		for i := range msgs {
			line = formatMessage(line[:0], &msgs[i], loc)
			if len(line) > 0 {
				bw.Write(line)
			}
		}
		bw.Flush()
	})
	var pe *streamclient.ProtocolError
	if errors.As(err, &pe) && pe.Code == alpacawire.CodeAuthFailed {
		return fmt.Errorf("%w: check --key and --secret (or TAPE_KEY/TAPE_SECRET)", err)
	}
	return err
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
