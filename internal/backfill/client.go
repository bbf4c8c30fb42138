package backfill

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultBaseURL is Alpaca's market-data API.
const DefaultBaseURL = "https://data.alpaca.markets"

// MaxPageLimit is the API's largest page (limit=10000).
const MaxPageLimit = 10000

// maxBody bounds a response body: a full page of quotes is a few MB.
const maxBody = 256 << 20

// Options configures a Client. Zero values take the defaults on each field.
type Options struct {
	// BaseURL is the API's address; default DefaultBaseURL. Another Tape
	// (http://127.0.0.1:8080) answers the same endpoints.
	BaseURL string
	// Key and Secret are sent as APCA-API-KEY-ID and APCA-API-SECRET-KEY.
	Key, Secret string
	// HTTPClient makes the requests; default a client of its own. Its
	// Timeout, if any, applies on top of Timeout below.
	HTTPClient *http.Client
	// Timeout is the budget of one request (one attempt: connecting,
	// waiting and reading the whole body); default 30 s.
	Timeout time.Duration
	// MaxRetries is how many times a failed request is retried (429, 5xx,
	// timeouts, dropped connections); default 5, negative for none.
	MaxRetries int
	// MinBackoff and MaxBackoff bound the exponential backoff between
	// retries: MinBackoff after the first failure, doubling up to
	// MaxBackoff; defaults 1 s and 30 s. A Retry-After longer than the
	// backoff wins.
	MinBackoff, MaxBackoff time.Duration
	// RequestsPerMinute spaces requests (retries included) evenly so that
	// no more than this many start in any minute; 0 means no limit.
	// Alpaca allows 200 a minute on the free plan, 10,000 on Algo Trader
	// Plus.
	RequestsPerMinute int
	// UserAgent is sent with every request; default "tape".
	UserAgent string
	// Logger gets a debug line per retry; nil logs nothing.
	Logger *slog.Logger

	// Now, Sleep and Jitter are the client's clock, for tests. Now
	// defaults to time.Now; Sleep to a timer that returns ctx's error early
	// if ctx ends; Jitter maps a backoff to the wait actually taken,
	// default uniform in [d/2, d) (equal jitter, so concurrent clients
	// rate-limited together do not retry together).
	Now    func() time.Time
	Sleep  func(ctx context.Context, d time.Duration) error
	Jitter func(d time.Duration) time.Duration
}

func (o *Options) setDefaults() {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 5
	} else if o.MaxRetries < 0 {
		o.MaxRetries = 0
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(30*time.Second, o.MinBackoff)
	}
	if o.UserAgent == "" {
		o.UserAgent = "tape"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = Sleep
	}
	if o.Jitter == nil {
		o.Jitter = EqualJitter
	}
}

// Sleep waits for d or until ctx ends, whichever is first, and returns
// ctx's error in the second case.
func Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// EqualJitter returns a wait uniform in [d/2, d).
func EqualJitter(d time.Duration) time.Duration {
	if d < 2 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// Client calls Alpaca's market-data REST API. It is safe for concurrent
// use.
type Client struct {
	opts Options
	base string // BaseURL without a trailing slash
	log  *slog.Logger

	mu   sync.Mutex
	next time.Time // RequestsPerMinute: when the next request may start
}

// New returns a client; it checks BaseURL but does not connect.
func New(opts Options) (*Client, error) {
	opts.setDefaults()
	u, err := url.Parse(opts.BaseURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("backfill: base URL %q: want http:// or https:// and a host, like %s", opts.BaseURL, DefaultBaseURL)
	}
	if opts.RequestsPerMinute < 0 {
		return nil, fmt.Errorf("backfill: requests per minute must not be negative, not %d", opts.RequestsPerMinute)
	}
	return &Client{opts: opts, base: strings.TrimRight(opts.BaseURL, "/"), log: opts.Logger}, nil
}

// BaseURL is the API address the client calls.
func (c *Client) BaseURL() string { return c.base }

// get fetches path?q and decodes the JSON body into v, retrying what is
// worth retrying. It returns how many retries it made, with or without an
// error.
func (c *Client) get(ctx context.Context, path string, q url.Values, v any) (retries int, err error) {
	u := c.base + path + "?" + q.Encode()
	for attempt := 0; ; attempt++ {
		if err := c.pace(ctx); err != nil {
			return attempt, err
		}
		err := c.once(ctx, u, v)
		if err == nil {
			return attempt, nil
		}
		if ctx.Err() != nil {
			return attempt, ctx.Err()
		}
		if !retryable(err) {
			return attempt, err
		}
		if attempt >= c.opts.MaxRetries {
			if attempt == 0 {
				return 0, err
			}
			return attempt, &retriesError{err: err, retries: attempt}
		}
		wait := c.backoff(attempt, err)
		c.log.Debug("retrying", "url", u, "err", err, "attempt", attempt+1, "wait", wait)
		if err := c.opts.Sleep(ctx, wait); err != nil {
			return attempt, err
		}
	}
}

// backoff is the wait after the attempt-th failure (0-based): the jittered
// exponential backoff, or the server's Retry-After if that is longer.
func (c *Client) backoff(attempt int, err error) time.Duration {
	d := c.opts.MinBackoff
	for i := 0; i < attempt && d < c.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.opts.MaxBackoff)
	return max(c.opts.Jitter(d), RetryAfter(err))
}

// pace waits for the next request slot under RequestsPerMinute.
func (c *Client) pace(ctx context.Context) error {
	if c.opts.RequestsPerMinute == 0 {
		return ctx.Err()
	}
	gap := time.Minute / time.Duration(c.opts.RequestsPerMinute)
	c.mu.Lock()
	now := c.opts.Now()
	at := c.next
	if at.Before(now) {
		at = now
	}
	c.next = at.Add(gap)
	c.mu.Unlock()
	return c.opts.Sleep(ctx, at.Sub(now))
}

// once makes one request under its own deadline.
func (c *Client) once(ctx context.Context, u string, v any) error {
	// A fresh cause per request tells this deadline apart from the
	// parent's (a cancelled Fetch, a caller's own deadline).
	timeout := &TimeoutError{After: c.opts.Timeout}
	rctx, cancel := context.WithTimeoutCause(ctx, c.opts.Timeout, timeout)
	defer cancel()
	ownTimeout := func(err error) error {
		if context.Cause(rctx) == error(timeout) && ctx.Err() == nil {
			return timeout
		}
		return err
	}
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if c.opts.Key != "" || c.opts.Secret != "" {
		req.Header.Set("APCA-API-KEY-ID", c.opts.Key)
		req.Header.Set("APCA-API-SECRET-KEY", c.opts.Secret)
	}
	req.Header.Set("Accept", "application/json")
	// Asked for explicitly, so the transport leaves decoding to us (and a
	// custom HTTPClient with compression disabled still gets gzip).
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("User-Agent", c.opts.UserAgent)
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return ownTimeout(err)
	}
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	if strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		gz, err := gzip.NewReader(resp.Body)
		if err != nil {
			return ownTimeout(&readError{err})
		}
		defer gz.Close()
		body = gz
	}
	b, err := io.ReadAll(io.LimitReader(body, maxBody+1))
	if err != nil {
		return ownTimeout(&readError{err})
	}
	if len(b) > maxBody {
		return fmt.Errorf("response over %d MB", maxBody>>20)
	}
	if resp.StatusCode != http.StatusOK {
		return c.apiError(resp, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return &decodeError{err: err}
	}
	return nil
}

// apiError reads Alpaca's error shape and the server's wish for a pause.
func (c *Client) apiError(resp *http.Response, body []byte) *APIError {
	e := &APIError{Status: resp.StatusCode}
	var shape struct {
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &shape) == nil && (shape.Message != "" || len(shape.Code) > 0) {
		e.Message = shape.Message
		e.Code, _ = strconv.Atoi(strings.Trim(string(shape.Code), `"`))
	} else {
		e.Message = strings.TrimSpace(string(body))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200] + "..."
		}
	}
	now := c.opts.Now()
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if s, err := strconv.Atoi(ra); err == nil && s > 0 {
			e.RetryAfter = time.Duration(s) * time.Second
		} else if t, err := http.ParseTime(ra); err == nil && t.After(now) {
			e.RetryAfter = t.Sub(now)
		}
	}
	if e.RetryAfter == 0 && e.Status == http.StatusTooManyRequests {
		// Alpaca's rate-limit headers: the Unix second the window resets.
		if s, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			if d := time.Unix(s, 0).Sub(now); d > 0 && d <= 2*time.Minute {
				e.RetryAfter = d
			}
		}
	}
	return e
}

// readError is a response cut short.
type readError struct{ err error }

func (e *readError) Error() string { return "reading the response: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// decodeError is a 200 answer that is not the JSON expected.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return "unexpected response: " + e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

// retryable reports whether an attempt's error may go away: 429 and 5xx,
// our own timeout, and network errors other than a refused connection or
// an unknown host (a wrong URL does not get right by waiting).
func retryable(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Temporary()
	}
	var te *TimeoutError
	if errors.As(err, &te) {
		return true
	}
	var de *decodeError
	if errors.As(err, &de) {
		return false
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return false
	}
	var ue *url.Error
	var re *readError
	// The connection failed or dropped mid-way.
	return errors.As(err, &ue) || errors.As(err, &re)
}
