package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/auth"
	"github.com/tapehq/tape/internal/datadir"
	"github.com/tapehq/tape/internal/hub"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/streamclient"
	"github.com/tapehq/tape/internal/wsapi"
)

// runTape runs the tape command line as main does and returns its
// output, the message main would print and the exit status.
func runTape(t *testing.T, args ...string) (stdout, msg string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return out.String(), "", 0
	}
	return out.String(), err.Error(), exitCode(err)
}

// closedPort is an address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// streamServer is a Tape stream endpoint (hub and wsapi, no simulator),
// with keys if given.
func streamServer(t *testing.T, keys *auth.Keys) (*hub.Hub, string) {
	t.Helper()
	h := hub.New(hub.Options{Formats: []hub.Encoder{alpacawire.AppendJSON, alpacawire.AppendMsgpack}})
	ws := wsapi.New(wsapi.Options{Hub: h, Keys: keys})
	hs := httptest.NewServer(ws)
	t.Cleanup(func() { ws.Close(); hs.Close() })
	return h, "ws" + strings.TrimPrefix(hs.URL, "http") + "/v2/iex"
}

// TestWatchExitStatus: tape watch ends, with a status and a message that
// says why, on everything retrying cannot fix, and reports a run that
// never connected as such instead of success.
func TestWatchExitStatus(t *testing.T) {
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<!doctype html><html><head><title>Tape</title></head><body>dashboard</body></html>"))
	}))
	defer page.Close()
	_, keyed := streamServer(t, auth.NewKeys(map[string]string{"AK": "SK"}))
	ws := func(hs *httptest.Server, path string) string { return "ws" + strings.TrimPrefix(hs.URL, "http") + path }

	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"nothing listens, --duration", []string{"--url", "ws://" + closedPort(t) + "/v2/iex", "--duration", "300ms", "AAPL"},
			exitNeverConnected, []string{"never connected", "--duration 300ms ran out", "connection refused"}},
		{"a 404", []string{"--url", ws(notFound, "/v2/foo"), "AAPL"}, exitFailed, []string{"no stream at", "HTTP 404"}},
		{"a web page, not a stream", []string{"--url", ws(page, ""), "AAPL"}, exitFailed, []string{"is not a stream endpoint", "HTTP 200 OK: Tape"}},
		{"keys refused", []string{"--url", keyed, "--key", "AK", "--secret", "wrong", "AAPL"}, exitFailed, []string{"402", "check --key and --secret"}},
		{"not a URL", []string{"--url", "127.0.0.1:8080", "AAPL"}, exitUsage, []string{`"127.0.0.1:8080" is not a stream URL`, "ws://127.0.0.1:8080/v2/iex"}},
		{"no symbol", []string{}, exitUsage, []string{"needs the symbols", "tape watch AAPL MSFT"}},
		{"a bad symbol", []string{"A B"}, exitUsage, []string{`"A B" is not a symbol`}},
		{"a bad channel", []string{"--channels", "nope", "AAPL"}, exitUsage, []string{`unknown channel "nope"`}},
		{"a bad duration", []string{"--duration", "5", "AAPL"}, exitUsage, []string{`--duration "5"`, "with its unit"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, msg, code := runTape(t, append([]string{"watch", "--log-level", "error"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit status %d, want %d (message %q)", code, tc.code, msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
		})
	}
}

// TestWatchStoppedAfterConnecting: stopped after it connected, watch
// succeeds (exit status 0).
func TestWatchStoppedAfterConnecting(t *testing.T) {
	h, url := streamServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		// Publish until watch prints it (it subscribes at some point).
		for ctx.Err() == nil {
			h.Publish([]market.Event{{Kind: market.KindTrade, Symbol: "AAPL", Time: time.Now().UnixNano(),
				Trade: market.Trade{ID: 1, Price: 10, Size: 100, Exchange: 'V'}}})
			time.Sleep(10 * time.Millisecond)
		}
	})
	out := &untilWriter{want: "AAPL", done: cancel}
	err := runWatch(ctx, out, slog.New(slog.DiscardHandler), watchOptions{url: url, channels: []string{"trades"}, symbols: []string{"AAPL"}})
	if err != nil || !strings.Contains(out.String(), "AAPL     trade") {
		t.Fatalf("runWatch: %v (exit status %d), printed %q", err, exitCode(err), out.String())
	}
}

// TestWatchNamesQuietSymbols: a subscribed symbol that sends nothing while
// connected gets a note asking whether it is right.
func TestWatchNamesQuietSymbols(t *testing.T) {
	_, url := streamServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	logs := &untilWriter{want: "no data for", done: cancel}
	log := slog.New(slog.NewTextHandler(logs, nil))
	err := runWatch(ctx, &bytes.Buffer{}, log, watchOptions{url: url, channels: []string{"trades", "quotes"},
		symbols: []string{"zzzz"}, quietAfter: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("runWatch: %v", err)
	}
	if !strings.Contains(logs.String(), "no data for ZZZZ yet") || !strings.Contains(logs.String(), "is the symbol right?") {
		t.Fatalf("log %q", logs.String())
	}
}

func TestQuietSymbols(t *testing.T) {
	q := newQuietSymbols([]string{"AAPL", "ZZZZ", "MSFT", "*"})
	q.heard("AAPL")
	q.heard("NVDA") // not subscribed: ignored
	q.heard("AAPL")
	if got := strings.Join(q.silent(), ","); got != "MSFT,ZZZZ" {
		t.Fatalf("silent %q", got)
	}
	if got := q.silent(); got != nil {
		t.Fatalf("reported twice: %v", got)
	}
	q = newQuietSymbols([]string{"AAPL"})
	q.heard("AAPL")
	if q.left.Load() != 0 || q.silent() != nil {
		t.Fatal("a symbol heard from reported as quiet")
	}
	if newQuietSymbols([]string{"*"}).left.Load() != 0 {
		t.Fatal(`"*" is waited for`)
	}
}

// TestFlagErrors: a flag's bad value is answered with what it expects and
// an example, never Go's parser text, and exit status 2, wherever the
// value came from.
func TestFlagErrors(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "tape.conf")
	os.WriteFile(conf, []byte("# settings\npoll-interval = 5\n"), 0o644)
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"int", nil, []string{"serve", "--seed", "abc"}, []string{`--seed "abc": want a whole number, like --seed 42`}},
		{"float", nil, []string{"serve", "--rate", "lots"}, []string{`--rate "lots": want a number, like --rate 1000`}},
		{"duration", nil, []string{"serve", "--poll-interval", "5"}, []string{`--poll-interval "5"`, "unit", "like --poll-interval 1s"}},
		{"bool", nil, []string{"serve", "--pprof=maybe"}, []string{`--pprof "maybe": want true or false`}},
		{"speed", nil, []string{"serve", "--speed", "fast"}, []string{`--speed "fast": want a positive number`, `"max"`}},
		{"no value", nil, []string{"serve", "--seed"}, []string{"--seed needs a value"}},
		{"environment", map[string]string{"TAPE_SEED": "abc"}, []string{"serve"}, []string{`TAPE_SEED="abc": want a whole number, like TAPE_SEED=42`}},
		{"config file", nil, []string{"serve", "--config", conf}, []string{conf + ":2", `poll-interval = "5"`, "like poll-interval = 1s"}},
		{"--sim-start", nil, []string{"serve", "--sim-start", "2026-12-5"}, []string{`--sim-start "2026-12-5"`, "2026-11-25"}},
		{"--from", nil, []string{"serve", "--feed", "replay", "--from", "yesterday"}, []string{`--from "yesterday"`, "want a date like"}},
		{"--rate 0", nil, []string{"serve", "--rate", "0"}, []string{"--rate 0: want messages per second above 0"}},
		{"--symbols ''", nil, []string{"serve", "--symbols", ""}, []string{`--symbols "" names no symbol`, "AAPL,MSFT"}},
		{"--symbols ,", nil, []string{"serve", "--symbols", " , "}, []string{"names no symbol"}},
		{"--feeds ''", nil, []string{"serve", "--feeds", ""}, []string{"names no feed"}},
		{"--poll-interval 0", nil, []string{"serve", "--poll-interval", "0s"}, []string{"want a positive duration"}},
		{"--client-queue 0", nil, []string{"serve", "--client-queue", "0"}, []string{"want bytes above 0"}},
		{"backfill --concurrency", nil, []string{"backfill", "--concurrency", "four"}, []string{`--concurrency "four": want a whole number, like --concurrency 4`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, msg, code := runTape(t, tc.args...)
			if code != exitUsage {
				t.Fatalf("exit status %d, want %d (message %q)", code, exitUsage, msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			for _, leak := range []string{"strconv.", "time: invalid", "parsing time", `"2006-01-02`} {
				if strings.Contains(msg, leak) {
					t.Errorf("message %q leaks Go's parser text %q", msg, leak)
				}
			}
		})
	}
}

// TestServeTakesADateForSimStart: --sim-start takes a date as --from
// does; the command then goes on to the next check (listening beyond
// loopback without keys), proving the date was accepted.
func TestServeTakesADateForSimStart(t *testing.T) {
	_, msg, code := runTape(t, "serve", "--sim-start", "2026-12-05", "--listen", "0.0.0.0:0", "--data", t.TempDir())
	if code != exitFailed || !strings.Contains(msg, "without API keys") {
		t.Fatalf("exit status %d, message %q", code, msg)
	}
}

func TestHelp(t *testing.T) {
	out, _, code := runTape(t, "serve", "--help")
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	if want := " familiar\ntickers plus FAKEPACA"; !strings.Contains(out, want) {
		t.Errorf("help lacks %q", want)
	}
	// Every flag says its default once (pflag's "(default ...)").
	for _, cmd := range []string{"serve", "watch", "import", "export", "backfill"} {
		out, _, _ := runTape(t, cmd, "--help")
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "-") && strings.Count(l, "default") > 1 {
				t.Errorf("tape %s --help says a default twice: %q", cmd, l)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	out, _, code := runTape(t, "version")
	if code != 0 || !strings.HasPrefix(out, "tape ") || !strings.Contains(out, "go1.") || !strings.Contains(out, "dashboard") {
		t.Fatalf("exit status %d, output %q", code, out)
	}
	// The link-time variables win over the toolchain's record.
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "v9.8.7", "0123456789abcdef0123", "2026-12-01T10:00:00Z"
	var b bytes.Buffer
	loadBuildInfo().write(&b)
	for _, w := range []string{"tape v9.8.7\n", "commit     0123456789ab\n", "built      2026-12-01T10:00:00Z\n"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("version output %q lacks %q", b.String(), w)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	_, msg, code := runTape(t, "sevre")
	if code != exitUsage || !strings.Contains(msg, `unknown command "sevre"`) {
		t.Fatalf("exit status %d, message %q", code, msg)
	}
	if out, _, code := runTape(t); code != 0 || !strings.Contains(out, "Available Commands") {
		t.Fatalf("tape alone: exit status %d, %q", code, out)
	}
	if _, msg, code := runTape(t, "serve", "--nope"); code != exitUsage || !strings.Contains(msg, "unknown flag: --nope") {
		t.Fatalf("unknown flag: exit status %d, message %q", code, msg)
	}
}

func TestExitCode(t *testing.T) {
	if exitCode(errors.New("x")) != exitFailed || exitCode(usageErrorf("x")) != exitUsage {
		t.Fatal("exit codes")
	}
	wrapped := &exitError{code: exitNeverConnected, err: streamclient.ErrNotConnected}
	if exitCode(errors.Join(errors.New("ctx"), wrapped)) != exitNeverConnected || !errors.Is(wrapped, streamclient.ErrNotConnected) {
		t.Fatal("wrapped exit code")
	}
}

// TestServeLockedDataDir: a second tape serve on the same directory says
// who holds it, once, and what to do.
func TestServeLockedDataDir(t *testing.T) {
	dir := t.TempDir()
	unlock, err := datadir.Lock(dir, "tape serve")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, msg, code := runTape(t, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--log-level", "error")
	want := fmt.Sprintf("%s is in use by tape serve (pid %d): stop it first, or pick another directory with --data", dir, os.Getpid())
	if code != exitFailed || msg != want {
		t.Fatalf("exit status %d, message %q\nwant %q", code, msg, want)
	}
}
