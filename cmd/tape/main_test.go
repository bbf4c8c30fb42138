package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/server"
)

func TestFormatMessage(t *testing.T) {
	ts := time.Date(2026, 11, 24, 15, 4, 5, 123e6, time.UTC).UnixNano()
	cases := []struct {
		ev   market.Event
		want string
	}{
		{market.Event{Kind: market.KindTrade, Symbol: "AAPL", Time: ts, Trade: market.Trade{Price: 229.91, Size: 100, Exchange: 'V', Conditions: market.MakeConditions("@", "F")}},
			"15:04:05.123  AAPL     trade        229.91 x 100  V  @ F\n"},
		{market.Event{Kind: market.KindQuote, Symbol: "AAPL", Time: ts, Quote: market.Quote{BidPrice: 229.9, BidSize: 3, AskPrice: 229.92, AskSize: 5, BidExchange: 'Q', AskExchange: 'N'}},
			"15:04:05.123  AAPL     quote        229.90 x 3  /  229.92 x 5  Q/N\n"},
		{market.Event{Kind: market.KindBar, Symbol: "SPY", Time: ts, Bar: market.Bar{Open: 1, High: 2, Low: 0.5, Close: 1.5, Volume: 10, TradeCount: 2, VWAP: 1.25}},
			"15:04:05.123  SPY      bar          o 1.00  h 2.00  l 0.5000  c 1.50  v 10  n 2  vw 1.2500\n"},
		{market.Event{Kind: market.KindStatus, Symbol: "AAPL", Time: ts, Status: &market.Status{StatusCode: "H", StatusMsg: "Trading Halt", ReasonCode: "LUDP", ReasonMsg: "Volatility Trading Pause"}},
			"15:04:05.123  AAPL     status       H Trading Halt  (LUDP Volatility Trading Pause)\n"},
		{market.Event{Kind: market.KindLULD, Symbol: "AAPL", Time: ts, LULD: &market.LULD{LimitUp: 241.5, LimitDown: 218.5}},
			"15:04:05.123  AAPL     luld         up 241.50  down 218.50\n"},
		{market.Event{Kind: market.KindCancelError, Symbol: "AAPL", Time: ts, CancelError: &market.CancelError{ID: 7, Price: 10, Size: 5, Action: 'C'}},
			"15:04:05.123  AAPL     cancelError  cancel of trade 7 10.00 x 5\n"},
	}
	for _, c := range cases {
		m := alpacawire.Message{Type: c.ev.Kind.Letter(), Event: c.ev}
		if got := string(formatMessage(nil, &m, time.UTC)); got != c.want {
			t.Errorf("%v:\n got %q\nwant %q", c.ev.Kind, got, c.want)
		}
	}
	if got := formatMessage(nil, &alpacawire.Message{Type: "error", Code: 405, Msg: "symbol limit exceeded"}, time.UTC); string(got) != "error 405: symbol limit exceeded\n" {
		t.Errorf("error line %q", got)
	}
	if got := formatMessage(nil, &alpacawire.Message{Type: "subscription"}, time.UTC); len(got) != 0 {
		t.Errorf("subscription printed %q", got)
	}
}

// TestWatch runs `tape watch` against an in-process Tape and checks it
// prints the subscribed symbols' events, one per line.
func TestWatch(t *testing.T) {
	srv, err := server.New(server.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Seed: 1, Rate: 200, Speed: 60, NoPast: true,
		SimStart: time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-srv.Ready()

	// Watch until a bar has been printed (bars close every simulated
	// minute, a second of wall time here), at most 30 s.
	wctx, stopWatch := context.WithTimeout(context.Background(), 30*time.Second)
	defer stopWatch()
	out := &untilWriter{want: " bar ", done: stopWatch}
	err = runWatch(wctx, out, slog.New(slog.DiscardHandler), watchOptions{
		url: "ws://" + srv.Addr().String() + "/v2/sip", key: "k", secret: "s", utc: true,
		channels: []string{"trades", "quotes", "bars"}, symbols: []string{"aapl"}})
	if err != nil && err != context.Canceled && err != context.DeadlineExceeded {
		t.Fatalf("watch: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 3 || f[1] != "AAPL" {
			t.Fatalf("unexpected line %q", l)
		}
		seen[f[2]] = true
	}
	for _, k := range []string{"trade", "quote", "bar"} {
		if !seen[k] {
			t.Errorf("no %s line in %d lines", k, len(lines))
		}
	}
}

func TestWatchRejectsBadInput(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	if err := runWatch(context.Background(), &bytes.Buffer{}, log, watchOptions{url: "ws://127.0.0.1:1", symbols: []string{"A B"}}); err == nil {
		t.Fatal("bad symbol accepted")
	}
	if err := runWatch(context.Background(), &bytes.Buffer{}, log, watchOptions{url: "ws://127.0.0.1:1", symbols: []string{"A"}, channels: []string{"nope"}}); err == nil {
		t.Fatal("bad channel accepted")
	}
}

// TestEnvAndConfigFile: flags beat the environment, which beats the file.
func TestEnvAndConfigFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tape.conf")
	os.WriteFile(cfg, []byte("# comment\nlisten = 127.0.0.1:9001\nrate: 5\nseed = 9\n"), 0o644)
	t.Setenv("TAPE_SEED", "7")
	var listen string
	var rate float64
	var seed int64
	cmd := &cobra.Command{Use: "x", SilenceErrors: true, SilenceUsage: true, RunE: func(cmd *cobra.Command, _ []string) error { return bindEnvAndConfig(cmd) }}
	cmd.Flags().StringVar(&listen, "listen", "default", "")
	cmd.Flags().Float64Var(&rate, "rate", 1, "")
	cmd.Flags().Int64Var(&seed, "seed", 0, "")
	cmd.Flags().String("config", "", "")
	cmd.SetArgs([]string{"--config", cfg, "--rate", "3"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if listen != "127.0.0.1:9001" || rate != 3 || seed != 7 {
		t.Fatalf("listen %q rate %v seed %v", listen, rate, seed)
	}
	os.WriteFile(cfg, []byte("bogus = 1\n"), 0o644)
	cmd.SetArgs([]string{"--config", cfg})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "unknown setting") {
		t.Fatalf("unknown setting: %v", err)
	}
}

func TestServeRefusesPublicListenWithoutKeys(t *testing.T) {
	root := newRootCmd()
	root.SetArgs([]string{"serve", "--listen", "0.0.0.0:0", "--data", t.TempDir()})
	root.SetOut(&bytes.Buffer{})
	err := root.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "without API keys") {
		t.Fatalf("got %v", err)
	}
}

// untilWriter collects output and calls done once it has seen want.
type untilWriter struct {
	bytes.Buffer
	want string
	done func()
}

func (w *untilWriter) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if strings.Contains(string(p), w.want) {
		w.done()
	}
	return n, err
}

// TestLogDurations: durations are logged as durations, in text and JSON,
// not as raw nanoseconds.
func TestLogDurations(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		log, err := newLogger(&buf, "info", format)
		if err != nil {
			t.Fatal(err)
		}
		log.Info("took", "took", 1500*time.Millisecond)
		if !strings.Contains(buf.String(), "1.5s") {
			t.Fatalf("%s: %s", format, buf.String())
		}
	}
}
