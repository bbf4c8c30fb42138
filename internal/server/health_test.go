package server

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/feed"
)

func getHealth(t *testing.T, srv *Server, path string) (health, int) {
	t.Helper()
	resp, err := http.Get("http://" + srv.Addr().String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return h, resp.StatusCode
}

// TestHealthDeadUpstream: with every upstream unreachable, /healthz and
// /readyz turn 503 "degraded" with the reason once the reconnect grace has
// passed (not at the first blip), feed_time stays null, and /livez stays
// 200.
func TestHealthDeadUpstream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	srv, err := New(Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Feed: "alpaca", AlpacaKey: "k", AlpacaSecret: "s",
		AlpacaDataURL:   "http://" + dead,
		AlpacaStreamURL: "ws://" + dead + "/v2", Symbols: []string{"AAPL"}})
	if err != nil {
		t.Fatal(err)
	}
	srv.grace.reconnect = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-srv.Ready()
	h, code := getHealth(t, srv, "/healthz")
	if code != http.StatusOK || h.Status != healthOK {
		t.Fatalf("at once: %d %+v (a fresh reconnect is within the grace)", code, h)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		h, code = getHealth(t, srv, "/readyz")
		if code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d %+v", code, h)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if h.Status != healthDegraded || h.Reason == "" || h.FeedTime != nil || h.FeedState == "connected" {
		t.Fatalf("dead upstream: %+v", h)
	}
	t.Logf("reason: %s", h.Reason)
	if _, code := getHealth(t, srv, "/livez"); code != http.StatusOK {
		t.Fatalf("livez %d", code)
	}
}

// silent is a feed that never sends anything.
type silent struct{}

func (silent) Run(ctx context.Context, _ chan<- feed.Batch) error { <-ctx.Done(); return ctx.Err() }

// TestHealthStalledFeed: a simulator-like feed that stops sending makes
// Tape degraded ("stalled"); a running one is ok with its feed time.
func TestHealthStalledFeed(t *testing.T) {
	srv, _ := start(t, Options{Source: simSource(t, 100, 1)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitFor(t, ctx, "a batch", func() bool { return srv.pipe().Stats().LastBatchWall != 0 }, nil)
	if h, code := getHealth(t, srv, "/healthz"); code != http.StatusOK || h.FeedTime == nil || h.LastBatchAge == nil {
		t.Fatalf("running feed: %d %+v", code, h)
	}

	srv2, err := New(Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Source: silent{}})
	if err != nil {
		t.Fatal(err)
	}
	srv2.grace.stall = 200 * time.Millisecond
	ctx2, cancel2 := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv2.Run(ctx2) }()
	defer func() { cancel2(); <-done }()
	<-srv2.Ready()
	waitFor(t, ctx, "stalled", func() bool {
		h, code := getHealth(t, srv2, "/healthz")
		return code == http.StatusServiceUnavailable && h.FeedState == "stalled" && h.Reason != ""
	}, nil)
}

// TestHealthWhileStarting: before the data directory is open, readiness
// is 503 "starting", liveness 200, and every other path 503 JSON.
func TestHealthWhileStarting(t *testing.T) {
	srv, err := New(Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/healthz": 503, "/readyz": 503, "/livez": 200, "/v2/stocks/bars": 503, "/v2/iex": 503} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %q, want %d JSON", path, rec.Code, rec.Body.String(), want)
		}
	}
}

// TestMetricsCoverRESTAndJournal: REST requests are counted by route (the
// pattern, not the symbol) and status, with latency; the journal's
// watermarks, bytes and fsync latency are exported.
func TestMetricsCoverRESTAndJournal(t *testing.T) {
	srv, _ := start(t, Options{Source: simSource(t, 200, 60), Fsync: "always"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitFor(t, ctx, "events", func() bool { return srv.pipe().Stats().Released > 100 }, nil)
	base := "http://" + srv.Addr().String()
	for _, p := range []string{"/v2/stocks/AAPL/trades?start=2020-01-01", "/v2/stocks/MSFT/trades?start=2020-01-01", "/v2/stocks/bars?symbols=AAPL&timeframe=nope"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`tape_http_requests_total{code="200",route="/v2/stocks/{symbol}/trades"} 2`,
		`tape_http_requests_total{code="422",route="/v2/stocks/bars"} 1`,
		`tape_http_request_duration_seconds_count{route="/v2/stocks/{symbol}/trades"} 2`,
		"tape_journal_synced_seq ", "tape_journal_bytes ", "tape_journal_fsync_seconds_bucket{le=",
		"tape_ingest_record_clock_seconds ", "tape_checkpoint_seq ",
		"tape_history_lag_events ", "tape_history_durable_seq ", "tape_history_pending_bytes ", "tape_disk_budget_bytes ",
		"tape_disk_free_bytes ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestStatusShowsHistoryLagAndDisk: /tape/v1/status reports history's
// durable progress behind the journal and the disk budget, as the
// dashboard shows them.
func TestStatusShowsHistoryLagAndDisk(t *testing.T) {
	srv, _ := start(t, Options{Source: simSource(t, 500, 60), RetainBytes: 1 << 30})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitFor(t, ctx, "a flushed history", func() bool { return srv.Status().History.DurableSeq > 0 }, nil)
	st := srv.Status()
	if st.History.AppliedSeq < st.History.DurableSeq || st.History.DiskBytes <= 0 || st.Disk.BudgetBytes != 1<<30 ||
		st.Disk.JournalBytes <= 0 || st.Journal.WrittenSeq == 0 {
		t.Fatalf("status: history %+v disk %+v journal %+v", st.History, st.Disk, st.Journal)
	}
	if st.History.LagEvents > st.Ingest.Released {
		t.Fatalf("history lag %d beyond what was released (%d)", st.History.LagEvents, st.Ingest.Released)
	}
}
