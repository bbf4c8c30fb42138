// Package poll is a feed that polls Alpaca's REST API instead of
// streaming: every Interval it asks the latest-trades, latest-quotes and
// latest-bars endpoints about its symbols (one multi-symbol call per
// endpoint and chunk of symbols) and publishes only what changed since the
// previous poll — the seed's "call the API and update when the source
// changed" (PRODUCT.md F11), for plans or symbols without streaming.
//
// What counts as a change:
//   - a trade with a later time, or the same time and another id;
//   - a quote with a later time, or the same time and other values;
//   - a bar with a later start is a minute bar (KindBar); the same minute
//     with other values is an updated bar (KindUpdatedBar).
//
// Anything older than what is known is ignored. Polling samples: between
// two polls only the latest trade and quote are seen, not the ones before
// them; a complete record needs the stream, or `tape backfill` afterwards.
//
// Known seeds what is known at start (the history store's latest values),
// so a restart does not publish the same latest trade again; with nothing
// known, the first poll publishes the latest values as they are. Errors back
// off exponentially from Interval up to MaxBackoff, never sooner than a
// 429's Retry-After; errors that cannot go away by waiting (401, 403, 404)
// end Run. The feed never loops faster than a quarter of Interval, however
// long a poll takes.
package poll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tapehq/tape/internal/backfill"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/market"
)

// FreePlanCallsPerMinute is Alpaca's REST rate limit on the free plan.
const FreePlanCallsPerMinute = 200

// Options configures a Feed.
type Options struct {
	// Client calls the API (required). Its own retries delay a whole poll,
	// so give it few or none: the feed backs off by itself.
	Client *backfill.Client
	// Symbols to poll (required).
	Symbols []string
	// Feed is the data feed asked for (iex, sip, delayed_sip, ...); ""
	// lets the API pick the best the plan allows.
	Feed string
	// Interval between the starts of two polls; default 1 s.
	Interval time.Duration
	// Chunk is how many symbols go in one call; default 100.
	Chunk int
	// Kinds are the endpoints polled, in this order; default trades,
	// quotes and bars.
	Kinds []backfill.Kind
	// MaxBackoff bounds the wait after consecutive errors; default 1 min.
	MaxBackoff time.Duration
	// Known returns what is already known of a symbol (its latest trade,
	// quote and minute bar, any of them), consulted once per symbol when
	// Run starts; nil: nothing is known.
	Known func(symbol string) []market.Event
	// Logger; nil logs nothing.
	Logger *slog.Logger

	// Now, Sleep and Jitter are the feed's clock, for tests; defaults
	// time.Now, backfill.Sleep and backfill.EqualJitter.
	Now    func() time.Time
	Sleep  func(ctx context.Context, d time.Duration) error
	Jitter func(time.Duration) time.Duration
}

// States reported by FeedState.
const (
	StateStarting = "starting" // before the first successful poll
	StatePolling  = "polling"  // the last poll succeeded
	StateRetrying = "retrying" // the last poll failed; backing off
	StateFailed   = "failed"   // Run gave up (keys, plan)
)

// Feed polls the latest values.
type Feed struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	state   string
	lastErr string
	polls   uint64
	errs    uint64
}

// New returns a feed; it polls when Run is called.
func New(opts Options) (*Feed, error) {
	if opts.Client == nil {
		return nil, errors.New("poll: no client")
	}
	if len(opts.Symbols) == 0 {
		return nil, errors.New("poll: no symbols to poll")
	}
	if opts.Interval < 0 {
		return nil, fmt.Errorf("poll: negative interval %v", opts.Interval)
	}
	if opts.Interval == 0 {
		opts.Interval = time.Second
	}
	if opts.Chunk <= 0 {
		opts.Chunk = 100
	}
	if len(opts.Kinds) == 0 {
		opts.Kinds = []backfill.Kind{backfill.Trades, backfill.Quotes, backfill.Bars}
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = time.Minute
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.Interval)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = backfill.Sleep
	}
	if opts.Jitter == nil {
		opts.Jitter = backfill.EqualJitter
	}
	return &Feed{opts: opts, log: opts.Logger, state: StateStarting}, nil
}

// CallsPerMinute is how many API calls the feed makes a minute when every
// poll succeeds: one per endpoint and chunk of symbols per Interval.
func (f *Feed) CallsPerMinute() int {
	chunks := (len(f.opts.Symbols) + f.opts.Chunk - 1) / f.opts.Chunk
	return int(float64(len(f.opts.Kinds)*chunks) * float64(time.Minute) / float64(f.opts.Interval))
}

// FeedState reports the state and the last error (kept after recovery)
// for /tape/v1/status.
func (f *Feed) FeedState() (state, lastErr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state, f.lastErr
}

// Stats returns the polls made, the failed ones and the last error.
func (f *Feed) Stats() (polls, errs uint64, lastErr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.polls, f.errs, f.lastErr
}

// known is the last value published (or seeded) per symbol and kind.
type known struct {
	trade, quote, bar          market.Event
	hasTrade, hasQuote, hasBar bool
}

// Run polls until ctx ends or the API refuses for good.
func (f *Feed) Run(ctx context.Context, out chan<- feed.Batch) error {
	state := make(map[string]*known, len(f.opts.Symbols))
	for _, s := range f.opts.Symbols {
		k := &known{}
		if f.opts.Known != nil {
			for _, e := range f.opts.Known(s) {
				k.changed(&e) // seeds; nothing is published
			}
		}
		state[s] = k
	}
	f.log.Info("polling Alpaca's REST API", "symbols", len(f.opts.Symbols), "interval", f.opts.Interval,
		"calls_per_minute", f.CallsPerMinute(), "url", f.opts.Client.BaseURL())
	if n := f.CallsPerMinute(); n > FreePlanCallsPerMinute {
		f.log.Warn("polling makes more calls a minute than Alpaca's free plan allows: expect 429s unless your plan allows more (raise --poll-interval)",
			"calls_per_minute", n, "free_plan", FreePlanCallsPerMinute)
	}
	failures := 0
	for {
		began := f.opts.Now()
		evs, err := f.poll(ctx, state)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// What changed before an error is published all the same.
		if len(evs) > 0 || err == nil {
			select {
			case out <- feed.Batch{Events: evs, Now: f.opts.Now().UnixNano()}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		f.mu.Lock()
		f.polls++
		if err != nil {
			f.errs++
			f.lastErr = err.Error()
			f.state = StateRetrying
			if backfill.IsFatal(err) {
				f.state = StateFailed
			}
		} else {
			f.state = StatePolling
		}
		f.mu.Unlock()

		var wait time.Duration
		if err != nil {
			if backfill.IsFatal(err) {
				f.log.Error("polling refused", "err", err)
				return fmt.Errorf("polling %s: %w", f.opts.Client.BaseURL(), err)
			}
			failures++
			wait = max(f.backoff(failures), backfill.RetryAfter(err))
			f.log.Warn("poll failed; backing off", "err", err, "failures", failures, "wait", wait)
		} else {
			if failures > 0 {
				f.log.Info("polling again", "after_failures", failures)
			}
			failures = 0
			// The next poll starts Interval after this one began, but
			// never sooner than a quarter Interval after it ended.
			wait = max(f.opts.Interval-f.opts.Now().Sub(began), f.opts.Interval/4)
		}
		if err := f.opts.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// backoff is the wait after n consecutive failures: Interval doubling up
// to MaxBackoff, jittered.
func (f *Feed) backoff(n int) time.Duration {
	d := f.opts.Interval
	for i := 1; i < n && d < f.opts.MaxBackoff; i++ {
		d *= 2
	}
	return f.opts.Jitter(min(d, f.opts.MaxBackoff))
}

// poll makes one round of calls and returns what changed; on an error it
// returns what changed before it.
func (f *Feed) poll(ctx context.Context, state map[string]*known) ([]market.Event, error) {
	var out []market.Event
	for _, kind := range f.opts.Kinds {
		for i := 0; i < len(f.opts.Symbols); i += f.opts.Chunk {
			chunk := f.opts.Symbols[i:min(i+f.opts.Chunk, len(f.opts.Symbols))]
			evs, err := f.opts.Client.Latest(ctx, kind, chunk, f.opts.Feed)
			if err != nil {
				return out, fmt.Errorf("latest %s: %w", kind, err)
			}
			for j := range evs {
				k := state[evs[j].Symbol]
				if k == nil {
					continue // a symbol not asked for
				}
				if k.changed(&evs[j]) {
					out = append(out, evs[j])
				}
			}
		}
	}
	return out, nil
}

// changed records e if it is news and reports whether it is, turning a
// changed bar of the same minute into an updated bar.
func (k *known) changed(e *market.Event) bool {
	switch e.Kind {
	case market.KindTrade:
		if k.hasTrade && (e.Time < k.trade.Time || e.Time == k.trade.Time && e.Trade.ID == k.trade.Trade.ID) {
			return false
		}
		k.trade, k.hasTrade = *e, true
	case market.KindQuote:
		if k.hasQuote && (e.Time < k.quote.Time || e.Time == k.quote.Time && e.Quote == k.quote.Quote) {
			return false
		}
		k.quote, k.hasQuote = *e, true
	case market.KindBar, market.KindUpdatedBar:
		switch {
		case !k.hasBar || e.Time > k.bar.Time:
			e.Kind = market.KindBar
		case e.Time == k.bar.Time && e.Bar != k.bar.Bar:
			e.Kind = market.KindUpdatedBar
		default:
			return false
		}
		k.bar, k.hasBar = *e, true
	default:
		return false
	}
	return true
}
