package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tapehq/tape/internal/cluster"
	"github.com/tapehq/tape/internal/cluster/embedded"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/ingest"
	"github.com/tapehq/tape/internal/market"
)

// natsLink is Tape's connection to NATS JetStream (--nats), and the
// nats-server it runs itself with --nats embedded.
type natsLink struct {
	emb    *embedded.Server
	nc     *nats.Conn
	stream cluster.StreamOptions
	node   string // this node's name in the lease

	// Set while running; read by metrics and status.
	pub   atomic.Pointer[cluster.Publisher]
	edge  atomic.Pointer[cluster.EdgeFeed]
	roles *cluster.Roles
	// failed holds why following or publishing stopped for good (a gap
	// retention left, a diverged journal, a newer writer).
	failed atomic.Pointer[string]
}

func (l *natsLink) fail(err error) {
	msg := err.Error()
	l.failed.Store(&msg)
}

// connectNATS connects to the NATS server(s) of --nats, starting one
// in-process for "embedded".
func (s *Server) connectNATS(ctx context.Context) (*natsLink, error) {
	o := &s.opts
	l := &natsLink{stream: cluster.StreamOptions{Name: o.NATSStream, Replicas: o.NATSReplicas, MaxAge: o.NATSMaxAge,
		MaxBytes: o.NATSMaxBytes}, node: o.NATSNode}
	addr := o.NATS
	if addr == "embedded" {
		emb, err := embedded.Start(ctx, embedded.Options{StoreDir: filepath.Join(o.DataDir, "nats"), Listen: o.NATSListen,
			ClusterListen: o.NATSClusterListen, Routes: o.NATSRoutes, User: o.NATSUser, Password: o.NATSPassword,
			Logger: s.log.With("nats", "embedded")})
		if err != nil {
			return nil, fmt.Errorf("--nats embedded: %w", err)
		}
		l.emb, addr = emb, emb.ClientURL()
		s.log.Info("embedded NATS server started", "url", addr, "store", filepath.Join(o.DataDir, "nats"))
	}
	if l.node == "" {
		host, _ := os.Hostname()
		l.node = host + "/" + s.Addr().String()
	}
	copts := []nats.Option{nats.Name("tape " + l.node), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(false)}
	switch {
	case o.NATSUser != "":
		copts = append(copts, nats.UserInfo(o.NATSUser, o.NATSPassword))
	case o.NATSCreds != "":
		copts = append(copts, nats.UserCredentials(o.NATSCreds))
	}
	if o.NATSCA != "" {
		copts = append(copts, nats.RootCAs(o.NATSCA))
	}
	nc, err := nats.Connect(addr, copts...)
	if err != nil {
		l.close()
		hint := "is a NATS server with JetStream running there? --nats embedded runs one in Tape"
		var cve *tls.CertificateVerificationError
		switch {
		case errors.As(err, &cve):
			hint = "if a private CA signed the server's certificate, give it with --nats-ca"
		case errors.Is(err, nats.ErrAuthorization):
			hint = "give the server's user with --nats-user and TAPE_NATS_PASSWORD, or --nats-creds"
		}
		return nil, fmt.Errorf("--nats %s: %w (%s)", redactURL(o.NATS), err, hint)
	}
	l.nc = nc
	return l, nil
}

// close disconnects and stops the embedded server; everything using the
// connection must have stopped.
func (l *natsLink) close() {
	if l.nc != nil {
		l.nc.Close()
	}
	if l.emb != nil {
		l.emb.Shutdown()
		l.emb.WaitForShutdown()
	}
}

// role names what this node does, for status and metrics: "single" (no
// NATS), "origin" (publishing its record), "edge" (following one),
// "leader" or "standby"/"candidate" (failover).
func (s *Server) role() string {
	l := s.link
	switch {
	case l == nil:
		return "single"
	case l.roles != nil:
		return l.roles.Role().String()
	case s.kind == srcEdge:
		return "edge"
	}
	return "origin"
}

// startPublisher makes the publisher that tails the journal into the
// stream for epoch (0 for a lone origin, which claims the stream before
// anything is sequenced).
func (s *Server) startPublisher(epoch uint64) (*cluster.Publisher, error) {
	l := s.link
	pub, err := cluster.NewPublisher(l.nc, cluster.PublisherOptions{Journal: s.dir.Journal, Stream: l.stream, Epoch: epoch,
		Clock: func() int64 { return s.pipe().FeedNow() }, Logger: s.log.With("nats", "publisher")})
	if err != nil {
		return nil, err
	}
	l.pub.Store(pub)
	return pub, nil
}

// drainPublisher waits, for a few seconds at most, until the stream holds
// the whole journal: a clean stop leaves nothing for the next origin to
// find missing.
func (s *Server) drainPublisher(pub *cluster.Publisher) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := pub.WaitAcked(ctx, s.dir.Journal.Last()); err != nil {
		s.log.Warn("stopping before JetStream acknowledged the whole journal; the next origin republishes it",
			"journal_last", s.dir.Journal.Last(), "acked", pub.Stats().Acked, "err", err)
	}
}

// runOrigin runs the source into the pipeline, and the publisher beside it
// when the record is published into JetStream. It returns when ctx ends
// and everything journaled has been published (or the wait gave up).
func (s *Server) runOrigin(ctx context.Context, epoch uint64) error {
	var pub *cluster.Publisher
	pubCtx, stopPub := context.WithCancel(context.Background())
	defer stopPub()
	var wg sync.WaitGroup
	var pubErr, feedErr error
	if s.link != nil && s.kind != srcEdge {
		var err error
		if pub, err = s.startPublisher(epoch); err != nil {
			return err
		}
		wg.Go(func() {
			if err := pub.Run(pubCtx); err != nil && !errors.Is(err, context.Canceled) {
				pubErr = fmt.Errorf("publishing into JetStream: %w", err)
				s.link.fail(pubErr)
				s.log.Error("publishing into JetStream stopped", "err", err)
			}
		})
	}
	batches := make(chan feed.Batch, 64)
	var feeds sync.WaitGroup
	feeds.Go(func() {
		err := s.src.main.Run(ctx, batches)
		switch {
		case err == nil || errors.Is(err, context.Canceled):
		case s.kind == srcAlpaca:
			// 402, 409, 410, 411, or an upstream that is not a stream (a 404,
			// a web page): fatal for the endpoint, not for Tape.
			// History, the other streams and the dashboard go on; the
			// log, /healthz, /tape/v1/status and /metrics say why.
			s.log.Error("upstream stopped for good", "feed", s.opts.AlpacaFeed, "err", err)
		case s.kind == srcEdge:
			// A gap retention left, or a journal that diverged from the
			// stream: following cannot go on, serving can.
			s.link.fail(err)
			s.log.Error("following the JetStream record stopped for good", "err", err)
		default:
			feedErr = fmt.Errorf("feed %s: %w", s.kind, err)
		}
	})
	for _, u := range s.src.upstreams {
		feeds.Go(func() {
			err := u.feed.Run(ctx, batches)
			if err != nil && !errors.Is(err, context.Canceled) {
				s.log.Error("upstream stopped for good", "stream", u.name, "err", err)
			}
		})
	}
	// The pipeline drains what the feeds sent: it stops once they have.
	go func() {
		feeds.Wait()
		close(batches)
	}()
	err := s.pipe().Run(context.Background(), batches)
	if pub != nil {
		s.drainPublisher(pub)
	}
	stopPub()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	return errors.Join(feedErr, pubErr)
}

// follow runs the node as an edge: the stream into a pipeline that keeps
// the origin's sequence numbers and derives nothing. It returns once the
// pipeline has journaled everything the edge feed emitted.
func (s *Server) follow(ctx context.Context) error {
	l := s.link
	p := s.newPipeline(true)
	s.pipeline.Store(p)
	ef := cluster.NewEdgeFeed(l.nc, cluster.EdgeOptions{Stream: l.stream, Journal: s.dir.Journal, Logger: s.log.With("nats", "edge")})
	l.edge.Store(ef)
	batches := make(chan feed.Batch, 64)
	var feedErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		feedErr = ef.Run(ctx, batches)
		close(batches)
	})
	err := p.Run(context.Background(), batches)
	wg.Wait()
	if errors.Is(feedErr, context.Canceled) {
		feedErr = nil
	}
	if feedErr != nil {
		l.fail(feedErr)
	}
	return errors.Join(feedErr, err)
}

// lead runs the node as the origin for epoch: Roles has claimed the
// stream; the upstream connects, a pipeline continues the journal's
// sequence, and the publisher writes it into the stream.
func (s *Server) lead(ctx context.Context, epoch uint64) error {
	s.pipeline.Store(s.newPipeline(false))
	s.link.edge.Store(nil)
	if a := s.src.alpha; a != nil {
		// The record stops where the last leader stopped: the upstream's
		// first frame closes the gap from there (F10), so the takeover
		// leaves no hole.
		last, recent, err := s.recordTail(2 * time.Minute)
		if err != nil {
			s.log.Warn("reading the record's end for the gap fill", "err", err)
		}
		a.PrimeGap(last, recent)
	}
	return s.runOrigin(ctx, epoch)
}

// recordTail returns the time of the record's last trade or quote and the
// trades of the span before it, from the journal.
func (s *Server) recordTail(span time.Duration) (last int64, trades []market.Event, err error) {
	j := s.dir.Journal
	clock := s.dir.State.Clock
	if clock == 0 || j.Last() == 0 {
		return 0, nil, nil
	}
	from, err := j.SeekTime(clock - int64(span))
	if err != nil {
		return 0, nil, err
	}
	r, err := j.NewReader(from)
	if err != nil {
		return 0, nil, err
	}
	defer r.Close()
	var in market.Interner
	for {
		rec, ok, err := r.TryNext()
		if err != nil || !ok {
			return last, trades, err
		}
		var e market.Event
		if err := market.DecodeBinary(rec.Payload, &e, &in); err != nil {
			return last, trades, err
		}
		switch e.Kind {
		case market.KindTrade:
			trades = append(trades, e)
			last = max(last, e.Time)
		case market.KindQuote:
			last = max(last, e.Time)
		}
	}
}

// newPipeline builds the pipeline for the node's role: following (the
// origin's sequence numbers and record times kept, nothing derived) or
// sequencing its own source.
func (s *Server) newPipeline(following bool) *ingest.Pipeline {
	d := s.dir
	po := ingest.Options{Publish: s.hub, Logger: s.log, Journal: d.Journal, State: d.State,
		Also: s.alsoPublish(), ReleaseSynced: s.releaseSynced(),
		Checkpoint: &ingest.Checkpoint{Dir: d.StateDir(), Bars: d.Bars}}
	if following {
		po.KeepSeq = true
	} else if s.kind.derivesBars() {
		po.Bars = d.Bars
	}
	return ingest.New(po)
}

// newRoles makes the node's failover state machine: standby (following
// the stream) until it holds the lease, then leader (the one upstream
// connection of the cluster) until it loses it. Run it with Run.
func (s *Server) newRoles() (*cluster.Roles, error) {
	l := s.link
	return cluster.NewRoles(l.nc, cluster.RolesOptions{
		// The lease bucket is replicated like the stream: losing a NATS
		// server must not lose the lease.
		Lease:   cluster.LeaseOptions{Holder: l.node, TTL: s.opts.NATSLeaseTTL, Replicas: l.stream.Replicas},
		Stream:  l.stream,
		Journal: s.dir.Journal,
		Follow:  s.follow,
		Lead:    s.lead,
		OnChange: func(c cluster.RoleChange) {
			s.log.Info("cluster role", "role", c.Role.String(), "epoch", c.Epoch, "cause", c.Cause)
		},
		Logger: s.log.With("nats", "roles"),
	})
}

// startCluster prepares the node's part in a cluster before anything is
// sequenced: a lone origin claims the stream (so no older writer can
// append after it), a failover node makes its role state machine.
func (s *Server) startCluster(ctx context.Context) error {
	l := s.link
	switch {
	case l == nil || s.kind == srcEdge:
		return nil
	case s.opts.NATSFailover:
		roles, err := s.newRoles()
		if err != nil {
			return err
		}
		l.roles = roles
		return nil
	}
	if err := cluster.Claim(ctx, l.nc, l.stream, 0, s.dir.Journal); err != nil {
		return fmt.Errorf("claiming the JetStream stream %s: %w", l.stream.Name, err)
	}
	return nil
}

// clusterStatus is the node's cluster figures for /tape/v1/status.
func (s *Server) clusterStatus() ClusterStatus {
	cs := ClusterStatus{Role: s.role()}
	l := s.link
	if l == nil {
		return cs
	}
	cs.Node = l.node
	if p := l.pub.Load(); p != nil {
		ps := p.Stats()
		cs.PublishedAcked, cs.PublishLag = ps.Acked, ps.Lag
	}
	if e := l.edge.Load(); e != nil {
		es := e.Stats()
		cs.Applied, cs.EdgeLag = es.Applied, es.Lag
	}
	if r := l.roles; r != nil {
		rs := r.Stats()
		cs.Epoch, cs.Takeovers = rs.Epoch, rs.Takeovers
	}
	if f := l.failed.Load(); f != nil {
		cs.Failed = *f
	}
	return cs
}

// redactURL hides the password of each URL in a --nats list
// (nats://user:pass@host), for messages and logs.
func redactURL(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}
