// Package alpaca is the upstream feed: one connection to an Alpaca stream
// endpoint (or to another Tape), shared by every downstream client.
//
// Alpaca allows one stream connection per endpoint per account (a second
// one gets error 406), which is why several strategies cannot share a feed.
// Here, downstream clients subscribe to Tape; the feed keeps the upstream
// subscription equal to the union of what they want, reference-counted per
// channel and symbol, plus an always-on set (--symbols). The first client
// to want a symbol subscribes it upstream, and waits for Alpaca's answer:
// a refusal (405 symbol limit, 409 plan) goes back to that client as the
// same error and changes nothing for the others. The last client to leave a
// symbol unsubscribes it upstream.
//
// The connection itself — reconnects with backoff and jitter, the silence
// watchdog, resubscribing the union — is streamclient's.
package alpaca

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/streamclient"
)

// Options configures a Feed.
type Options struct {
	// URL of the upstream endpoint, e.g. wss://stream.data.alpaca.markets/v2/sip.
	URL string
	// Key and Secret authenticate upstream (APCA_API_KEY_ID / APCA_API_SECRET_KEY).
	Key, Secret string
	// Always is subscribed whatever the clients want.
	Always alpacawire.Subscription
	// Stream is the endpoint's stream family; default stocks.
	Stream *alpacawire.Stream
	// Client tunes the upstream connection (backoff, watchdog, clock); URL,
	// keys and subscription are filled in from the fields above.
	Client streamclient.Options
	// GapFill, if set, fills from the REST API what the stream missed
	// while it was reconnecting (stock streams). Its Symbols defaults to
	// the feed's explicit subscription.
	GapFill *GapFill
	Logger  *slog.Logger
}

// Feed is the shared upstream connection.
type Feed struct {
	opts   Options
	client *streamclient.Client
	log    *slog.Logger

	mu      sync.Mutex
	refs    [market.NumChannels]map[string]int // downstream references per symbol
	running atomic.Bool                        // Run is connecting or connected
	gaps    *gapFiller                         // nil without GapFill
	primed  atomic.Bool                        // the next session's first frame closes a gap (PrimeGap)
}

// New returns a feed; it connects when Run is called.
func New(opts Options) (*Feed, error) {
	if opts.URL == "" {
		return nil, errors.New("alpaca: no upstream URL")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	co := opts.Client
	co.URL, co.Key, co.Secret, co.Subscription, co.Logger = opts.URL, opts.Key, opts.Secret, opts.Always, opts.Logger
	co.Stream = opts.Stream
	c, err := streamclient.New(co)
	if err != nil {
		return nil, err
	}
	f := &Feed{opts: opts, client: c, log: opts.Logger}
	for ch := range f.refs {
		f.refs[ch] = make(map[string]int)
	}
	if g := opts.GapFill; g != nil {
		if g.Client == nil {
			return nil, errors.New("alpaca: GapFill needs a REST client")
		}
		gf := *g
		if gf.Symbols == nil {
			gf.Symbols = f.explicitSymbols
		}
		if gf.Logger == nil {
			gf.Logger = opts.Logger
		}
		gf.withDefaults()
		f.gaps = &gapFiller{opts: gf, seen: newSeen()}
	}
	return f, nil
}

// Run keeps the upstream connection and sends its events to out until ctx
// ends or the upstream refuses for good (402 auth failed, 409 plan, ...,
// or a handshake no retry can fix: a 404, a web page; streamclient.IsFatal).
func (f *Feed) Run(ctx context.Context, out chan<- feed.Batch) error {
	f.running.Store(true)
	defer f.running.Store(false)
	var (
		batch   []market.Event
		session uint64 // the upstream session the last frame came from
	)
	if f.gaps != nil {
		defer f.gaps.wg.Wait()
	}
	err := f.client.Run(ctx, func(msgs []alpacawire.Message) {
		for i := range msgs {
			if msgs[i].Event.Kind != market.KindInvalid {
				batch = append(batch, msgs[i].Event)
			}
		}
		if len(batch) == 0 {
			return
		}
		if g := f.gaps; g != nil {
			// The first frame of a new session after an earlier one: what
			// happened between the last event before the drop and the
			// first one now is fetched from the REST API.
			if n, _, _ := f.client.Stats(); n != session {
				primed := f.primed.Swap(false)
				if from := g.seen.lastTime(); (session != 0 || primed) && from != 0 {
					to := batch[0].Time
					for i := range batch {
						to = min(to, batch[i].Time)
					}
					g.wg.Go(func() { g.fill(ctx, from, max(to, from+1), out) })
				}
				session = n
			}
			if batch = g.seen.note(batch, g.opts.Lateness); len(batch) == 0 {
				return
			}
		}
		// The decoder reuses its messages: the batch is a copy, and the
		// receiver owns it. Blocking here is back-pressure on the upstream
		// socket, never loss.
		select {
		case out <- feed.Batch{Events: batch, Now: time.Now().UnixNano()}:
		case <-ctx.Done():
		}
		batch = nil
	})
	var he *streamclient.HandshakeError
	if errors.Is(err, context.Canceled) || errors.As(err, &he) {
		return err // a HandshakeError names the URL already
	}
	return fmt.Errorf("upstream %s: %w", f.opts.URL, err)
}

// PrimeGap tells a feed about to run that the record ends at last (the
// time of its last trade or quote), with recent its last trades: the first
// frame of its next session then closes the gap from there, as after a
// reconnect. A cluster node taking over from a dead leader calls it, so
// the record has no hole where no node was connected. It does nothing
// without GapFill.
func (f *Feed) PrimeGap(last int64, recent []market.Event) {
	if f.gaps == nil || last == 0 {
		return
	}
	f.gaps.seen.prime(last, recent)
	f.primed.Store(true)
}

// GapStats returns the gap fill counters (zero without GapFill).
func (f *Feed) GapStats() GapStats {
	if f.gaps == nil {
		return GapStats{}
	}
	return f.gaps.Stats()
}

// explicitSymbols are the symbols the upstream subscription names (not
// "*"), on the trade, quote and bar channels: what a gap fill can fetch.
func (f *Feed) explicitSymbols() []string {
	sub := f.client.Subscription()
	set := map[string]bool{}
	for _, ch := range []market.Channel{market.ChanTrades, market.ChanQuotes, market.ChanBars} {
		for _, s := range sub[ch] {
			if s != "*" {
				set[s] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Disconnect drops the upstream connection; Run reconnects.
func (f *Feed) Disconnect() { f.client.Disconnect() }

// FeedState reports the upstream connection state for /tape/v1/status.
func (f *Feed) FeedState() (state, lastErr string) {
	_, _, lastErr = f.client.Stats()
	return f.client.State().String(), lastErr
}

// Stats returns upstream connects, reconnects and the last error.
func (f *Feed) Stats() (connects, reconnects uint64, lastErr string) { return f.client.Stats() }

// Subscription is what the upstream connection is subscribed to.
func (f *Feed) Subscription() alpacawire.Subscription { return f.client.Subscription() }

// Change records that a downstream client adds and removes subscriptions,
// and subscribes or unsubscribes upstream what that changes in the union.
// An upstream refusal of an addition is returned (a *streamclient.ProtocolError
// with Alpaca's code) and the client's references are rolled back, so the
// caller can answer its client with the same error.
func (f *Feed) Change(ctx context.Context, add, remove alpacawire.Subscription) error {
	f.mu.Lock()
	var up, down alpacawire.Subscription
	for ch := range market.NumChannels {
		for _, sym := range add[ch] {
			if f.refs[ch][sym]++; f.refs[ch][sym] == 1 && !f.always(ch, sym) {
				up[ch] = append(up[ch], sym)
			}
		}
		for _, sym := range remove[ch] {
			n, ok := f.refs[ch][sym]
			if !ok {
				continue
			}
			if n <= 1 {
				delete(f.refs[ch], sym)
				if !f.always(ch, sym) {
					down[ch] = append(down[ch], sym)
				}
			} else {
				f.refs[ch][sym] = n - 1
			}
		}
	}
	f.mu.Unlock()

	if !empty(&up) {
		// While the upstream is (re)connecting, give it the caller's time
		// to come up, so that a refusal can still reach this caller.
		// A feed that is not running (a standby cluster node) keeps the
		// change for when it runs and does not wait.
		for f.running.Load() && f.client.State() != streamclient.StateConnected && f.client.State() != streamclient.StateFailed {
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
				continue
			}
			break
		}
		err := f.client.Change(ctx, true, up)
		var pe *streamclient.ProtocolError
		if errors.As(err, &pe) {
			f.release(add)
			return err
		}
		if err != nil && !errors.Is(err, streamclient.ErrNotConnected) {
			// The connection is failing; the union is re-subscribed when it
			// comes back, and the client keeps its subscription.
			f.log.Warn("upstream subscribe failed; it applies on reconnect", "err", err)
		}
	}
	if !empty(&down) {
		if err := f.client.Change(ctx, false, down); err != nil && !errors.Is(err, streamclient.ErrNotConnected) {
			f.log.Warn("upstream unsubscribe failed", "err", err)
		}
	}
	return nil
}

// release undoes the references of add after a refusal.
func (f *Feed) release(add alpacawire.Subscription) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range market.NumChannels {
		for _, sym := range add[ch] {
			if f.refs[ch][sym]--; f.refs[ch][sym] <= 0 {
				delete(f.refs[ch], sym)
			}
		}
	}
}

func (f *Feed) always(ch market.Channel, sym string) bool {
	for _, s := range f.opts.Always[ch] {
		if s == sym {
			return true
		}
	}
	return false
}

func empty(s *alpacawire.Subscription) bool {
	for ch := range s {
		if len(s[ch]) > 0 {
			return false
		}
	}
	return true
}
