package cluster_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tapehq/tape/internal/cluster"
	"github.com/tapehq/tape/internal/cluster/clustertest"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/ingest"
	"github.com/tapehq/tape/internal/journal"
)

// upstream stands in for the Alpaca connection: a few events every
// millisecond, different on each node (salt), until ctx ends.
type upstream struct{ salt int }

func (u upstream) Run(ctx context.Context, out chan<- feed.Batch) error {
	var n uint64
	for {
		b := feed.Batch{Now: time.Now().UnixNano()}
		for range 3 {
			n++
			b.Events = append(b.Events, eventFor(n, u.salt))
		}
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		time.Sleep(time.Millisecond)
	}
}

// node is one Tape server of a cluster, wired as the server will be:
// Follow is an EdgeFeed into a pipeline that keeps sequence numbers, Lead
// is the upstream into a sequencing pipeline plus a Publisher.
type node struct {
	t      *testing.T
	name   string
	nc     *nats.Conn
	j      *journal.Memory
	so     cluster.StreamOptions
	roles  *cluster.Roles
	cancel context.CancelFunc
	done   chan struct{}
	err    error

	mu      sync.Mutex
	changes []cluster.RoleChange
}

func (n *node) follow(ctx context.Context) error {
	in := make(chan feed.Batch, 4)
	f := cluster.NewEdgeFeed(n.nc, cluster.EdgeOptions{Stream: n.so, Journal: n.j, Logger: testLogger(n.t, n.name+" edge")})
	p := ingest.New(ingest.Options{Publish: discard{}, Journal: n.j, KeepSeq: true})
	var ferr error
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(in)
		ferr = f.Run(ctx, in)
	})
	perr := p.Run(context.Background(), in) // drains everything the feed sent
	wg.Wait()
	if errors.Is(ferr, context.Canceled) {
		ferr = nil
	}
	return errors.Join(ferr, perr)
}

func (n *node) lead(ctx context.Context, epoch uint64) error {
	pub, err := cluster.NewPublisher(n.nc, cluster.PublisherOptions{Journal: n.j, Stream: n.so, Epoch: epoch,
		Logger: testLogger(n.t, n.name+" publisher")})
	if err != nil {
		return err
	}
	pctx, pcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer pcancel()
	var perr error
	var wg sync.WaitGroup
	wg.Go(func() { perr = pub.Run(pctx) })

	in := make(chan feed.Batch, 4)
	p := ingest.New(ingest.Options{Publish: discard{}, Journal: n.j})
	var uerr error
	wg.Go(func() {
		defer close(in)
		uerr = upstream{salt: int(n.name[0])}.Run(ctx, in)
	})
	err = p.Run(context.Background(), in)
	// Stepping down: what was journaled must reach the stream before the
	// lease goes, or this journal would hold records the cluster does not.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	werr := pub.WaitAcked(wctx, n.j.Last())
	wcancel()
	pcancel()
	wg.Wait()
	for _, e := range []*error{&uerr, &perr} {
		if errors.Is(*e, context.Canceled) {
			*e = nil
		}
	}
	return errors.Join(err, uerr, perr, werr)
}

func startNode(t *testing.T, c *clustertest.Cluster, name string, j *journal.Memory, so cluster.StreamOptions, lo cluster.LeaseOptions) *node {
	t.Helper()
	n := &node{t: t, name: name, nc: c.Connect(t), j: j, so: so, done: make(chan struct{})}
	lo.Holder = name
	r, err := cluster.NewRoles(n.nc, cluster.RolesOptions{Lease: lo, Stream: so, Journal: j,
		Logger: testLogger(t, name),
		Follow: n.follow, Lead: n.lead, OnChange: func(ch cluster.RoleChange) {
			n.mu.Lock()
			n.changes = append(n.changes, ch)
			n.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	n.roles = r
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() {
		defer close(n.done)
		n.err = r.Run(ctx)
	}()
	t.Cleanup(n.stop)
	return n
}

func (n *node) stop() {
	n.cancel()
	<-n.done
}

func (n *node) leading() bool { return n.roles.Role() == cluster.RoleLeader }

// TestRolesFailover: two nodes, one leads and one follows; the leader goes
// away (cleanly, then by losing its connection), the other takes over and
// continues the same sequence; the old one comes back as a follower. At
// every step the stream is one gap-free sequence and the followers'
// journals are the stream.
func TestRolesFailover(t *testing.T) {
	c := clustertest.Single(t)
	so := cluster.StreamOptions{Name: "ROLES", Prefix: "roles"}
	lo := cluster.LeaseOptions{Bucket: "roles_lease", TTL: time.Second, RenewInterval: 200 * time.Millisecond}
	ja, jb := journal.NewMemory(journal.Options{}), journal.NewMemory(journal.Options{})

	a := startNode(t, c, "A", ja, so, lo)
	waitFor(t, "A to lead", a.leading)
	b := startNode(t, c, "B", jb, so, lo)
	waitFor(t, "B to follow past 300", func() bool { return jb.Last() >= 300 })
	if b.leading() {
		t.Fatal("two leaders")
	}

	// 1. A shuts down: it publishes what it journaled and releases the
	// lease; B takes over from the stream's last record.
	a.stop()
	if !errors.Is(a.err, context.Canceled) {
		t.Fatalf("A: %v", a.err)
	}
	handover := ja.Last()
	waitFor(t, "B to lead", b.leading)
	waitFor(t, "B to sequence 300 more", func() bool { return jb.Last() >= handover+300 })
	sameRecords(t, "B up to the handover", ja, jb, 1, handover)

	// 2. A comes back with its journal: it follows, its last record checks
	// against the stream.
	a = startNode(t, c, "A", ja, so, lo)
	waitFor(t, "A to follow B", func() bool {
		select {
		case <-a.done:
			t.Fatalf("A stopped: %v (journal at %d, handover %d)", a.err, ja.Last(), handover)
		default:
		}
		return ja.Last() >= handover+300
	})
	if a.leading() {
		t.Fatal("A leads while B holds the lease")
	}

	// 3. B loses its connection (a crash, as far as the cluster can
	// tell). A takes over once B's lease expires.
	b.nc.Close()
	waitFor(t, "A to lead again", a.leading)
	crashAt := ja.Last()
	waitFor(t, "A to sequence 300 more", func() bool { return ja.Last() >= crashAt+300 })
	a.stop()
	b.stop()

	// The stream is A's journal: one sequence through three epochs.
	check := journal.NewMemory(journal.Options{})
	ed := startEdge(t, c.Connect(t), check, cluster.EdgeOptions{Stream: so})
	waitFor(t, "a fresh edge at A's last", func() bool { return check.Last() == ja.Last() })
	ed.stop()
	sameRecords(t, "stream", ja, check, 1, ja.Last())

	st := a.roles.Stats()
	if st.Takeovers != 1 || st.Lease.Acquired == 0 {
		t.Fatalf("A's second life: %+v, want one takeover", st)
	}
	var epochs []uint64
	a.mu.Lock()
	for _, ch := range a.changes {
		if ch.Role == cluster.RoleLeader {
			epochs = append(epochs, ch.Epoch)
		}
	}
	a.mu.Unlock()
	if len(epochs) != 1 || epochs[0] <= b.roles.Stats().Lease.Revision {
		t.Fatalf("A's leader epochs %v must be above B's last lease revision %d", epochs, b.roles.Stats().Lease.Revision)
	}
}
