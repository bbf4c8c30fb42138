package alpaca

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/streamclient"
)

// TestStopsOnAServerThatIsNotAStream: an upstream URL answered with a 404
// ends Run (that endpoint only) with a clear error and a "failed" state,
// instead of reconnecting forever.
func TestStopsOnAServerThatIsNotAStream(t *testing.T) {
	hs := httptest.NewServer(http.NotFoundHandler())
	defer hs.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/v1beta3/crypto/us"
	f, err := New(Options{URL: url, Client: streamclient.Options{Sleep: func(ctx context.Context, d time.Duration) error {
		t.Error("retried a 404")
		return context.Canceled
	}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = f.Run(ctx, make(chan feed.Batch, 1))
	if !streamclient.IsFatal(err) || !strings.Contains(err.Error(), "HTTP 404") || strings.Count(err.Error(), url) != 1 {
		t.Fatalf("Run: %v; want a fatal 404 naming the URL once", err)
	}
	state, last := f.FeedState()
	if state != "failed" || !strings.Contains(last, "404") {
		t.Fatalf("state %q, last error %q", state, last)
	}
}
