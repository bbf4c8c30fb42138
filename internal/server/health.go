package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Health states, from best to worst.
const (
	healthOK       = "ok"       // serving live data
	healthDegraded = "degraded" // serving, but live data is not flowing (reconnecting, stalled)
	healthFailed   = "failed"   // an upstream stopped for good (402 auth failed, 409 plan, ...)
)

// Health thresholds: an upstream may reconnect for this long, and a feed
// that owes heartbeats (simulator, replay) may be silent for this long,
// before Tape reports itself degraded. Short blips do not flap a load
// balancer; a dead feed shows within seconds.
const (
	reconnectGrace = 10 * time.Second
	stallAfter     = 5 * time.Second
)

// health is the body of /healthz and /readyz.
type health struct {
	Status string `json:"status"`
	// Reason says why Status is not "ok".
	Reason string `json:"reason,omitempty"`
	Feed   string `json:"feed"`
	// FeedState: running, connected, reconnecting (connecting or backoff),
	// polling, retrying, waiting (a replay before its first subscriber),
	// done (a replay that ended), stalled, failed.
	FeedState string  `json:"feed_state"`
	Uptime    float64 `json:"uptime_seconds"`
	Events    uint64  `json:"events"`
	LastSeq   uint64  `json:"last_seq"`
	// FeedTime is the feed's clock (null before the first batch);
	// LastBatchAge is how long ago, in wall seconds, the core last received
	// anything from the feed (null before the first batch).
	FeedTime     *time.Time   `json:"feed_time"`
	LastBatchAge *float64     `json:"last_batch_age_seconds"`
	Subscribers  int          `json:"subscribers"`
	Upstreams    []FeedStatus `json:"upstreams,omitempty"`
}

// downSince remembers when each feed was first seen not connected, so a
// reconnect shorter than reconnectGrace does not make Tape degraded.
type downSince struct {
	mu    sync.Mutex
	since map[string]time.Time
}

func (d *downSince) observe(name string, up bool, now time.Time) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.since == nil {
		d.since = make(map[string]time.Time)
	}
	if up {
		delete(d.since, name)
		return 0
	}
	t, ok := d.since[name]
	if !ok {
		d.since[name], t = now, now
	}
	return now.Sub(t)
}

// handleLive is liveness: the process answers HTTP. It is 200 even while
// the data directory opens; restart Tape only if this fails.
func handleLive(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(`{"status":"alive"}` + "\n"))
}

// health computes readiness: whether Tape serves live data now, and if not
// why. It reads atomic counters and the feeds' states: cheap enough for a
// load balancer polling every second.
func (s *Server) health() (health, int) {
	now := time.Now()
	st := s.pipe().Stats()
	h := health{Status: healthOK, Feed: s.opts.Feed, FeedState: "running", Uptime: time.Since(s.started).Seconds(),
		Events: st.Events + st.Derived, LastSeq: st.LastSeq, Subscribers: s.hub.Stats().Subscribers}
	if st.FeedNow != 0 {
		t := time.Unix(0, st.FeedNow).UTC()
		h.FeedTime = &t
	}
	if st.LastBatchWall != 0 {
		age := now.Sub(time.Unix(0, st.LastBatchWall)).Seconds()
		h.LastBatchAge = &age
	}
	worse := func(status, reason string) {
		if status == healthFailed || h.Status == healthOK {
			h.Status, h.Reason = status, reason
		}
	}
	switch s.kind {
	case srcSim, srcCustom:
		// The simulator sends a batch at least every 100 ms of its clock.
		if st.LastBatchWall == 0 && now.Sub(s.started) > s.grace.stall || st.LastBatchWall != 0 && now.Sub(time.Unix(0, st.LastBatchWall)) > s.grace.stall {
			h.FeedState = "stalled"
			worse(healthDegraded, fmt.Sprintf("the %s feed has sent nothing for over %v", s.opts.Feed, s.grace.stall))
		}
	case srcReplay:
		h.FeedState = s.replayState()
	}
	for i, f := range s.feedStatuses() {
		h.Upstreams = append(h.Upstreams, f)
		if i == 0 && s.src.main != nil {
			if _, ok := s.src.main.(feedStater); ok {
				h.FeedState = f.State
			}
		}
		switch f.State {
		case "failed":
			worse(healthFailed, fmt.Sprintf("%s stopped for good: %s", f.Name, f.LastError))
		case "connected", "polling":
			s.down.observe(f.Name, true, now)
		default: // connecting, backoff, retrying, starting
			if d := s.down.observe(f.Name, false, now); d > s.grace.reconnect {
				reason := fmt.Sprintf("%s has been %s for %v", f.Name, f.State, d.Truncate(100*time.Millisecond))
				if f.LastError != "" {
					reason += ": " + f.LastError
				}
				worse(healthDegraded, reason)
			}
		}
	}
	if h.Status != healthOK {
		return h, http.StatusServiceUnavailable
	}
	return h, http.StatusOK
}

// replayState says where a replay is.
func (s *Server) replayState() string {
	type doner interface{ Done() <-chan struct{} }
	if d, ok := s.src.main.(doner); ok {
		select {
		case <-d.Done():
			return "done"
		default:
		}
	}
	if s.pipe().Stats().LastBatchWall == 0 {
		return "waiting"
	}
	return "running"
}

// handleHealth serves /healthz and /readyz: readiness, with the reason
// when Tape is not serving live data (503).
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	h, code := s.health()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(h)
}
