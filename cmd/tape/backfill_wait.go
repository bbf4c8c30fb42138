package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tapehq/tape/internal/backfill"
	"github.com/tapehq/tape/internal/streamclient"
)

// waitNotes puts on the progress line why a backfill is not moving: a
// wait for a rate limit or before a retry ("waiting 12s: retrying after
// 429 Too Many Requests"). The REST client calls Options.Sleep for both,
// and logs each retry (its error and wait) just before sleeping for it: a
// sleep whose length a retry line announced is that retry, any other is
// --rate-limit spacing requests out.
type waitNotes struct {
	sleep     func(context.Context, time.Duration) error // the real wait
	rateLimit int                                        // --rate-limit, for the note

	mu      sync.Mutex
	bar     *progress
	retries map[time.Duration]string // announced waits → why
	waiting int                      // noted waits in progress
}

// minNotedWait: shorter waits pass unremarked.
const minNotedWait = time.Second

func newWaitNotes(sleep func(context.Context, time.Duration) error, rateLimit int) *waitNotes {
	if sleep == nil {
		sleep = backfill.Sleep
	}
	return &waitNotes{sleep: sleep, rateLimit: rateLimit, retries: map[time.Duration]string{}}
}

// setBar names the line to write notes on (nil: none).
func (w *waitNotes) setBar(p *progress) {
	w.mu.Lock()
	w.bar = p
	w.mu.Unlock()
}

// Sleep is the client's Options.Sleep.
func (w *waitNotes) Sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	why, retry := w.retries[d]
	delete(w.retries, d)
	if !retry {
		why = fmt.Sprintf("--rate-limit %d requests a minute", w.rateLimit)
	}
	bar := w.bar
	noted := bar != nil && d >= minNotedWait
	if noted {
		w.waiting++
		bar.setNote(fmt.Sprintf("waiting %s: %s", d.Round(100*time.Millisecond), why))
	}
	w.mu.Unlock()
	err := w.sleep(ctx, d)
	if noted {
		w.mu.Lock()
		if w.waiting--; w.waiting == 0 {
			bar.setNote("")
		}
		w.mu.Unlock()
	}
	return err
}

// The slog.Handler the client logs its retries to.

func (w *waitNotes) Enabled(context.Context, slog.Level) bool { return true }
func (w *waitNotes) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w *waitNotes) WithGroup(string) slog.Handler            { return w }

func (w *waitNotes) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "retrying" {
		return nil
	}
	var err error
	var wait time.Duration
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "err":
			err, _ = a.Value.Any().(error)
		case "wait":
			if a.Value.Kind() == slog.KindDuration {
				wait = a.Value.Duration()
			}
		}
		return true
	})
	if wait <= 0 {
		return nil
	}
	w.mu.Lock()
	if len(w.retries) < 1024 { // announced waits are slept at once; this only bounds a surprise
		w.retries[wait] = "retrying after " + retryReason(err)
	}
	w.mu.Unlock()
	return nil
}

// retryReason names what a request is retried after.
func retryReason(err error) string {
	var ae *backfill.APIError
	var te *backfill.TimeoutError
	switch {
	case errors.As(err, &ae):
		return fmt.Sprintf("%d %s", ae.Status, http.StatusText(ae.Status))
	case errors.As(err, &te):
		return fmt.Sprintf("no answer within --timeout %v", te.After)
	}
	return "a dropped connection"
}

// errStopAll is the cause a backfill is stopped with when one symbol's
// failure shows every other would fail the same way.
type errStopAll struct{ err error }

func (e *errStopAll) Error() string { return e.err.Error() }
func (e *errStopAll) Unwrap() error { return e.err }

// failsEverySymbol reports whether a symbol's error is not the symbol's
// but the server's, so that every other symbol would fail the same way:
// nothing listens (connection refused, no such host), or what answers is
// not a market-data API (its 200 answer is not Alpaca's JSON).
func failsEverySymbol(err error) bool {
	var dns *net.DNSError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dns) && dns.IsNotFound ||
		errors.As(err, &syn) || errors.As(err, &typ)
}

// cleanError is err's message with an API error's body reduced to a short
// line of text: a web server's error page as its title, not its markup.
func cleanError(err error) string {
	msg := err.Error()
	var ae *backfill.APIError
	if errors.As(err, &ae) && ae.Message != "" {
		if clean := streamclient.Excerpt([]byte(strings.TrimSuffix(ae.Message, "...")), 100); clean != ae.Message {
			if clean == "" || strings.EqualFold(clean, fmt.Sprintf("%d %s", ae.Status, http.StatusText(ae.Status))) ||
				strings.EqualFold(clean, http.StatusText(ae.Status)) {
				msg = strings.Replace(msg, ": "+ae.Message, "", 1) // the status says it all
			} else {
				msg = strings.Replace(msg, ae.Message, clean, 1)
			}
		}
	}
	return msg
}
