package backfill

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// APIError is an answer other than 200 from the API. Alpaca's body is
// {"code":42210000,"message":"invalid timeframe"} or just {"message":...};
// a body in neither shape becomes the Message as it is (trimmed).
type APIError struct {
	Status  int    // the HTTP status
	Code    int    // Alpaca's code; 0 if the body had none
	Message string // Alpaca's message
	// RetryAfter is how long the server asked to wait (Retry-After, or for
	// a 429 without one X-RateLimit-Reset); 0 if it did not say.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(e.Status))
	if t := http.StatusText(e.Status); t != "" {
		b.WriteString(" " + t)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, " (code %d)", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Temporary reports whether asking again later may succeed: 429 (rate
// limited) and 5xx.
func (e *APIError) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// Fatal reports whether the error would come back the same for every
// symbol, so that fetching the others is pointless: 401 (keys), 403 (plan,
// e.g. "subscription does not permit querying recent SIP data") and 404
// (the URL is not a market-data API).
func (e *APIError) Fatal() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status == http.StatusNotFound
}

// TimeoutError is returned when one request overran Options.Timeout. It
// unwraps to context.DeadlineExceeded, as aio.WaitFor's does.
type TimeoutError struct {
	After time.Duration // the per-request budget
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("no complete answer within the %v request timeout", e.After)
}

// Unwrap returns context.DeadlineExceeded.
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// IsFatal reports whether err (from Page, Latest or a Fetch summary) is an
// *APIError that would fail every symbol alike (see APIError.Fatal).
func IsFatal(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Fatal()
}

// RetryAfter returns how long an *APIError in err asked the caller to
// wait, or 0.
func RetryAfter(err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.RetryAfter
	}
	return 0
}

// retriesError says a request failed even after retries; it unwraps to
// the last attempt's error.
type retriesError struct {
	err     error
	retries int
}

func (e *retriesError) Error() string {
	return fmt.Sprintf("%v (gave up after %d retries)", e.err, e.retries)
}

func (e *retriesError) Unwrap() error { return e.err }
