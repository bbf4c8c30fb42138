package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Status is the body of GET /tape/v1/status: everything the dashboard's
// health panel shows, from Tape's public API ("nothing silent").
type Status struct {
	Version     string        `json:"version"`
	Started     time.Time     `json:"started"`
	Uptime      float64       `json:"uptime_seconds"`
	Feed        FeedStatus    `json:"feed"`
	Upstreams   []FeedStatus  `json:"upstreams,omitempty"` // crypto, options, news proxies
	Symbols     []string      `json:"symbols"`
	Ingest      IngestStatus  `json:"ingest"`
	GapFill     *GapStatus    `json:"gap_fill,omitempty"`
	Cluster     ClusterStatus `json:"cluster"`
	Journal     JournalStatus `json:"journal"`
	History     HistoryStatus `json:"history"`
	Disk        DiskStatus    `json:"disk"`
	Hub         HubStatus     `json:"hub"`
	Stream      StreamStatus  `json:"stream"`
	Subscribers []SubscriberS `json:"subscribers"`
}

// FeedStatus describes the source.
type FeedStatus struct {
	Name      string    `json:"name"`
	State     string    `json:"state"` // connected, reconnecting, failed, running
	LastError string    `json:"last_error,omitempty"`
	FeedTime  time.Time `json:"feed_time"` // the feed clock of the last batch
}

// IngestStatus counts what entered the core.
type IngestStatus struct {
	Events   uint64 `json:"events"`
	Derived  uint64 `json:"derived"`
	Late     uint64 `json:"late"` // raw events behind the record clock
	LastSeq  uint64 `json:"last_seq"`
	Released uint64 `json:"released_seq"` // published to clients and history
	// RecordClock is the time journal records are stamped with: it never
	// goes backwards. Null before any event.
	RecordClock   *time.Time `json:"record_clock"`
	CheckpointSeq uint64     `json:"checkpoint_seq"`
}

// ClusterStatus is the node's part in a NATS JetStream cluster.
type ClusterStatus struct {
	// Role: single (no NATS), origin (publishing its record), edge
	// (following one), leader, candidate or standby (failover).
	Role string `json:"role"`
	Node string `json:"node,omitempty"`
	// Publisher: the last record JetStream acknowledged and how far the
	// journal is ahead of it.
	PublishedAcked uint64 `json:"published_acked,omitempty"`
	PublishLag     uint64 `json:"publish_lag,omitempty"`
	// Edge: the last record applied from the stream and how many it holds
	// after it.
	Applied   uint64 `json:"applied,omitempty"`
	EdgeLag   uint64 `json:"edge_lag,omitempty"`
	Epoch     uint64 `json:"epoch,omitempty"`
	Takeovers uint64 `json:"takeovers,omitempty"`
	// Failed says why following or publishing stopped for good.
	Failed string `json:"failed,omitempty"`
}

// GapStatus says what the stock upstream's gap fill did.
type GapStatus struct {
	Gaps      uint64     `json:"gaps"`
	Filled    uint64     `json:"filled_events"`
	Failures  uint64     `json:"failures"`
	LastFrom  *time.Time `json:"last_from,omitempty"`
	LastTo    *time.Time `json:"last_to,omitempty"`
	LastError string     `json:"last_error,omitempty"`
}

// HistoryStatus is the history store's progress behind the journal.
type HistoryStatus struct {
	// AppliedSeq is what queries see; DurableSeq what is flushed, synced
	// and checkpointed (a restart replays the journal after it).
	AppliedSeq uint64 `json:"applied_seq"`
	DurableSeq uint64 `json:"durable_seq"`
	// LagEvents is the journal's published events not yet durable in
	// history: what a crash would make it replay.
	LagEvents     uint64     `json:"lag_events"`
	PendingBytes  int64      `json:"pending_bytes"`
	DiskBytes     int64      `json:"disk_bytes"`
	FlushFailures uint64     `json:"flush_failures"`
	LastFlush     *time.Time `json:"last_flush,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
}

// DiskStatus is the data directory's disk use and budget.
type DiskStatus struct {
	Dir          string `json:"dir"`
	BudgetBytes  int64  `json:"budget_bytes"` // 0: none
	JournalBytes int64  `json:"journal_bytes"`
	HistoryBytes int64  `json:"history_bytes"`
	FreeBytes    int64  `json:"free_bytes"` // -1: unknown
	PrunedBytes  int64  `json:"pruned_bytes"`
}

// JournalStatus is the durable log: what is appended, written (survives a
// crash of Tape) and synced (survives a power cut), and its size.
type JournalStatus struct {
	FirstSeq   uint64 `json:"first_seq"`
	LastSeq    uint64 `json:"last_seq"`
	WrittenSeq uint64 `json:"written_seq"`
	SyncedSeq  uint64 `json:"synced_seq"`
	Bytes      int64  `json:"bytes"`
	Segments   int    `json:"segments"`
	Fsync      string `json:"fsync"`
	Error      string `json:"error,omitempty"`
}

// HubStatus counts fan-out.
type HubStatus struct {
	Published   uint64 `json:"published"`
	Deliveries  uint64 `json:"deliveries"`
	Conflated   uint64 `json:"conflated"`
	SlowKicks   uint64 `json:"slow_kicks"`
	Subscribers int    `json:"subscribers"`
}

// StreamStatus counts the websocket side.
type StreamStatus struct {
	Sessions     int64             `json:"sessions"`
	Frames       uint64            `json:"frames"`
	Messages     uint64            `json:"messages"`
	Bytes        uint64            `json:"bytes"`
	AuthFailures uint64            `json:"auth_failures"`
	WriteStalls  uint64            `json:"write_stalls"`
	Errors       map[string]uint64 `json:"errors"` // protocol errors sent, by code
}

// SubscriberS is one connected client.
type SubscriberS struct {
	ID          uint64  `json:"id"`
	Client      string  `json:"client"` // "address path codec", then " key PKxx****" once authenticated
	Symbols     int     `json:"symbols"`
	Wildcard    bool    `json:"wildcard"`
	QueuedMsgs  int     `json:"queued_msgs"`
	QueuedBytes int     `json:"queued_bytes"`
	LagMillis   float64 `json:"lag_ms"`
	Delivered   uint64  `json:"delivered"`
	Dropped     uint64  `json:"dropped"`
}

// feedStater is implemented by feeds that have a connection state.
type feedStater interface {
	FeedState() (state, lastErr string)
}

// Status returns the current status.
func (s *Server) Status() Status {
	ps := s.pipe().Stats()
	hs := s.hub.Stats()
	ws := s.stream.Stats()
	ds := s.denied.Stats()
	st := Status{
		Version: Version, Started: s.started.UTC(), Uptime: time.Since(s.started).Seconds(), Symbols: s.opts.Symbols,
		Feed: FeedStatus{Name: s.opts.Feed, State: "running"},
		Ingest: IngestStatus{Events: ps.Events, Derived: ps.Derived, Late: ps.Late, LastSeq: ps.LastSeq, Released: ps.Released,
			CheckpointSeq: ps.CheckpointSeq},
		Hub: HubStatus{Published: hs.Published, Deliveries: hs.Deliveries, Conflated: hs.Conflated, SlowKicks: hs.Kicked, Subscribers: hs.Subscribers},
		Stream: StreamStatus{Sessions: ws.Sessions + ds.Sessions, Frames: ws.Frames, Messages: ws.Messages, Bytes: ws.Bytes,
			AuthFailures: ws.AuthFailures + ds.AuthFailures, WriteStalls: ws.SlowKicks, Errors: map[string]uint64{}},
		Subscribers: []SubscriberS{},
	}
	if fs, ok := s.src.main.(feedStater); ok {
		st.Feed.State, st.Feed.LastError = fs.FeedState()
	}
	if ps.FeedNow != 0 {
		st.Feed.FeedTime = time.Unix(0, ps.FeedNow).UTC()
	}
	if ps.Clock != 0 {
		c := time.Unix(0, ps.Clock).UTC()
		st.Ingest.RecordClock = &c
	}
	if a := s.src.alpha; a != nil {
		g := a.GapStats()
		st.GapFill = &GapStatus{Gaps: g.Gaps, Filled: g.Filled, Failures: g.Failures, LastError: g.LastError}
		if !g.LastFrom.IsZero() {
			st.GapFill.LastFrom, st.GapFill.LastTo = &g.LastFrom, &g.LastTo
		}
	}
	st.Cluster = s.clusterStatus()
	hist := s.dir.History.Stats()
	st.History = HistoryStatus{AppliedSeq: hist.LastSeq, DurableSeq: hist.AppliedSeq, PendingBytes: hist.PendingBytes,
		DiskBytes: hist.DiskBytes, FlushFailures: hist.FlushFailures}
	if ps.Released > hist.AppliedSeq {
		st.History.LagEvents = ps.Released - hist.AppliedSeq
	}
	if !hist.LastFlushAt.IsZero() {
		t := hist.LastFlushAt.UTC()
		st.History.LastFlush = &t
	}
	if hist.LastFlushError != nil {
		st.History.LastError = hist.LastFlushError.Error()
	}
	u := s.keep.Usage(s.dir)
	st.Disk = DiskStatus{Dir: s.dir.Path, BudgetBytes: s.keep.MaxBytes, JournalBytes: u.JournalBytes, HistoryBytes: u.HistoryBytes,
		FreeBytes: u.Free, PrunedBytes: u.Pruned}
	js := s.dir.Journal.Stats()
	st.Journal = JournalStatus{FirstSeq: js.First, LastSeq: js.Last, WrittenSeq: js.Written, SyncedSeq: js.Synced,
		Bytes: js.Bytes, Segments: js.Segments, Fsync: s.opts.Fsync}
	if js.Failed != nil {
		st.Journal.Error = js.Failed.Error()
	}
	for _, u := range append(slices.Clone(s.src.upstreams), s.src.local...) {
		if u.feed != nil {
			state, lastErr := u.feed.FeedState()
			st.Upstreams = append(st.Upstreams, FeedStatus{Name: u.name, State: state, LastError: lastErr})
		}
		us := u.ws.Stats()
		st.Stream.Sessions += us.Sessions
		st.Stream.Frames += us.Frames
		st.Stream.Messages += us.Messages
		st.Stream.Bytes += us.Bytes
	}
	for _, m := range []map[int]uint64{ws.Errors, ds.Errors} {
		for code, n := range m {
			st.Stream.Errors[strconv.Itoa(code)] += n
		}
	}
	for _, sub := range s.hub.Subscribers() {
		st.Subscribers = append(st.Subscribers, SubscriberS{ID: sub.ID, Client: sub.Label, Symbols: sub.Symbols, Wildcard: sub.Wildcard,
			QueuedMsgs: sub.QueuedMsgs, QueuedBytes: sub.QueuedBytes, LagMillis: float64(sub.LagNanos) / 1e6,
			Delivered: sub.Delivered, Dropped: sub.Dropped})
	}
	return st
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(s.Status())
}

// Version is set at build time (-ldflags "-X .../server.Version=v1.2.3").
var Version = "dev"
