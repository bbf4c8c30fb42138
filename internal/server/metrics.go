package server

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tapehq/tape/internal/datadir"
	"github.com/tapehq/tape/internal/feed/poll"
	"github.com/tapehq/tape/internal/journal"
)

// metricsHandler exposes Tape's counters. They are read from the components'
// atomic counters at scrape time, so the hot paths pay nothing for metrics.
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	counter := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "tape", Name: name, Help: help}, f))
	}
	gauge := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "tape", Name: name, Help: help}, f))
	}
	counter("ingest_events_total", "Raw events sequenced by the core.", func() float64 { return float64(s.pipe().Stats().Events) })
	counter("ingest_derived_total", "Bars derived by the core.", func() float64 { return float64(s.pipe().Stats().Derived) })
	gauge("ingest_last_seq", "Sequence number of the last event.", func() float64 { return float64(s.pipe().Stats().LastSeq) })
	gauge("ingest_feed_time_seconds", "The feed clock of the last batch.", func() float64 { return float64(s.pipe().Stats().FeedNow) / 1e9 })
	counter("ingest_late_total", "Raw events journaled behind the record clock (flagged late).", func() float64 { return float64(s.pipe().Stats().Late) })
	gauge("ingest_record_clock_seconds", "The record clock: the time journal records are stamped with; it never goes backwards.",
		func() float64 { return float64(s.pipe().Stats().Clock) / 1e9 })
	gauge("ingest_released_seq", "Sequence number of the last event published to clients and history.", func() float64 { return float64(s.pipe().Stats().Released) })
	gauge("checkpoint_seq", "Sequence number of the last record-state checkpoint (a restart replays the journal after it).",
		func() float64 { return float64(s.pipe().Stats().CheckpointSeq) })
	counter("checkpoint_errors_total", "Checkpoint writes that failed.", func() float64 { return float64(s.pipe().Stats().CheckpointErrors) })
	j := s.dir.Journal
	gauge("journal_first_seq", "Oldest retained journal record.", func() float64 { return float64(j.First()) })
	gauge("journal_last_seq", "Newest journal record appended.", func() float64 { return float64(j.Last()) })
	gauge("journal_written_seq", "Newest journal record handed to the OS (survives kill -9).", func() float64 { return float64(j.Written()) })
	gauge("journal_synced_seq", "Newest journal record fsynced (survives a power cut).", func() float64 { return float64(j.Synced()) })
	gauge("journal_bytes", "Bytes of the retained journal segments.", func() float64 { return float64(j.Stats().Bytes) })
	gauge("journal_segments", "Retained journal segments.", func() float64 { return float64(j.Stats().Segments) })
	counter("journal_written_bytes_total", "Bytes written to the journal since start.", func() float64 { return float64(j.Stats().BytesWritten) })
	h := s.dir.History
	gauge("history_applied_seq", "Last event applied to the history store (what queries see).", func() float64 { return float64(h.Stats().LastSeq) })
	gauge("history_durable_seq", "Last event the history store made durable (a restart replays the journal after it).",
		func() float64 { return float64(h.Stats().AppliedSeq) })
	gauge("history_lag_events", "Published events not yet durable in history.", func() float64 {
		rel, dur := s.pipe().Stats().Released, h.Stats().AppliedSeq
		return float64(rel - min(rel, dur))
	})
	gauge("history_pending_bytes", "History data applied but not yet written to its files.", func() float64 { return float64(h.Stats().PendingBytes) })
	gauge("history_bytes", "Bytes of the history store's files.", func() float64 { return float64(h.Stats().DiskBytes) })
	counter("history_flush_failures_total", "History flushes that failed (retried; see the log).", func() float64 { return float64(h.Stats().FlushFailures) })
	gauge("disk_free_bytes", "Free space on the data directory's file system.", func() float64 { return float64(datadir.FreeBytes(s.dir.Path)) })
	gauge("disk_budget_bytes", "The journal-plus-history disk budget (0: none).", func() float64 { return float64(s.keep.MaxBytes) })
	counter("disk_pruned_bytes_total", "Bytes the disk budget and retention deleted.", func() float64 { return float64(s.keep.Usage(s.dir).Pruned) })
	reg.MustRegister(&fsyncCollector{s: s, desc: prometheus.NewDesc("tape_journal_fsync_seconds",
		"Journal fsync latency.", nil, nil)})
	s.httpm.register(reg)
	counter("hub_published_total", "Events offered to the hub.", func() float64 { return float64(s.hub.Stats().Published) })
	counter("hub_deliveries_total", "Messages queued to subscribers.", func() float64 { return float64(s.hub.Stats().Deliveries) })
	counter("hub_conflated_total", "Quotes replaced by a newer one in a slow subscriber's queue.", func() float64 { return float64(s.hub.Stats().Conflated) })
	counter("hub_slow_kicks_total", "Subscribers disconnected because their queue overflowed.", func() float64 { return float64(s.hub.Stats().Kicked) })
	gauge("hub_subscribers", "Current subscribers.", func() float64 { return float64(s.hub.Stats().Subscribers) })
	gauge("stream_sessions", "Open stream connections.", func() float64 { return float64(s.stream.Stats().Sessions + s.denied.Stats().Sessions) })
	counter("stream_frames_total", "Frames written to stream clients.", func() float64 { return float64(s.stream.Stats().Frames) })
	counter("stream_messages_total", "Data messages written to stream clients.", func() float64 { return float64(s.stream.Stats().Messages) })
	counter("stream_bytes_total", "Bytes written to stream clients.", func() float64 { return float64(s.stream.Stats().Bytes) })
	counter("stream_auth_failures_total", "Failed stream authentications.", func() float64 { return float64(s.stream.Stats().AuthFailures) })
	counter("stream_write_timeouts_total", "Clients disconnected because a write stalled or their queue overflowed.", func() float64 { return float64(s.stream.Stats().SlowKicks) })
	reg.MustRegister(&upstreamCollector{s: s,
		up:     prometheus.NewDesc("tape_upstream_connected", "1 while the upstream is connected (or polling), by stream.", []string{"stream"}, nil),
		failed: prometheus.NewDesc("tape_upstream_failed", "1 once the upstream stopped for good (402, 409, 410, 411, or an upstream URL that is not a stream: a 404, a web page), by stream.", []string{"stream"}, nil)})
	if s.src.alpha != nil {
		a := s.src.alpha
		counter("gapfill_gaps_total", "Upstream reconnects after which the gap was filled from the REST API.", func() float64 { return float64(a.GapStats().Gaps) })
		counter("gapfill_events_total", "Events the stream missed, filled from the REST API.", func() float64 { return float64(a.GapStats().Filled) })
		counter("gapfill_failures_total", "Gap fills that failed (the gap stays; see the log).", func() float64 { return float64(a.GapStats().Failures) })
	}
	if s.link != nil {
		gauge("cluster_publish_acked_seq", "Last record JetStream acknowledged from this node.", func() float64 { return float64(s.clusterStatus().PublishedAcked) })
		gauge("cluster_publish_lag", "Journal records not yet in JetStream.", func() float64 { return float64(s.clusterStatus().PublishLag) })
		gauge("cluster_edge_applied_seq", "Last record this node applied from JetStream.", func() float64 { return float64(s.clusterStatus().Applied) })
		gauge("cluster_edge_lag", "Records JetStream holds beyond what this node applied.", func() float64 { return float64(s.clusterStatus().EdgeLag) })
		counter("cluster_takeovers_total", "Times this node became the cluster's leader.", func() float64 { return float64(s.clusterStatus().Takeovers) })
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "tape", Name: "cluster_leader",
			Help: "1 while this node leads the cluster (holds the upstream connection)."}, func() float64 {
			if s.role() == "leader" || s.role() == "origin" {
				return 1
			}
			return 0
		}))
	}
	if pf, ok := s.src.main.(*poll.Feed); ok {
		counter("poll_polls_total", "Polls of Alpaca's REST API (--feed poll).", func() float64 { n, _, _ := pf.Stats(); return float64(n) })
		counter("poll_errors_total", "Polls that failed and backed off (--feed poll).", func() float64 { _, n, _ := pf.Stats(); return float64(n) })
	}
	reg.MustRegister(&errorCollector{s: s, desc: prometheus.NewDesc("tape_stream_errors_total",
		"Protocol errors sent to stream clients, by Alpaca error code.", []string{"code"}, nil)})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

type errorCollector struct {
	s    *Server
	desc *prometheus.Desc
}

func (c *errorCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *errorCollector) Collect(ch chan<- prometheus.Metric) {
	merged := map[int]uint64{}
	for _, st := range []map[int]uint64{c.s.stream.Stats().Errors, c.s.denied.Stats().Errors} {
		for code, n := range st {
			merged[code] += n
		}
	}
	for code, n := range merged {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(n), strconv.Itoa(code))
	}
}

type upstreamCollector struct {
	s          *Server
	up, failed *prometheus.Desc
}

func (c *upstreamCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.up; ch <- c.failed }

func (c *upstreamCollector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c.s.feedStatuses() {
		up, failed := 0.0, 0.0
		if f.State == "connected" || f.State == "polling" {
			up = 1
		}
		if f.State == "failed" {
			failed = 1
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, f.Name)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, failed, f.Name)
	}
}

// fsyncCollector turns the journal's fsync histogram into Prometheus'.
type fsyncCollector struct {
	s    *Server
	desc *prometheus.Desc
}

func (c *fsyncCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *fsyncCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.dir.Journal.Stats()
	buckets := make(map[float64]uint64, len(journal.FsyncBuckets))
	var cum uint64
	for i, b := range journal.FsyncBuckets {
		cum += st.FsyncBucketCounts[i]
		buckets[b.Seconds()] = cum
	}
	ch <- prometheus.MustNewConstHistogram(c.desc, st.Fsyncs, st.FsyncSeconds, buckets)
}
