// Package clustertest starts real NATS servers with JetStream in-process,
// on loopback with free ports, for the tests and benchmarks of the cluster
// package: one server, or a cluster of several whose nodes can be killed
// and restarted (same name, ports and store) mid-test.
package clustertest

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tapehq/tape/internal/cluster/embedded"
)

// Cluster is a set of in-process NATS servers.
type Cluster struct {
	tb    testing.TB
	mu    sync.Mutex
	nodes []*node
}

type node struct {
	opts embedded.Options
	srv  *embedded.Server // nil while killed
}

// freeAddr returns a loopback address with a port free right now. A
// cluster's nodes must know each other's route ports before any starts,
// and a restarted node must come back on its old ports, so ports are
// chosen up front rather than by the server.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("clustertest: reserve a port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Single starts one server.
func Single(tb testing.TB) *Cluster {
	tb.Helper()
	c := &Cluster{tb: tb}
	c.nodes = []*node{{opts: embedded.Options{Name: "n0", StoreDir: tb.TempDir(), Listen: "127.0.0.1:0"}}}
	c.startAll()
	return c
}

// Start starts a cluster of n servers and waits until JetStream is
// available on every one.
func Start(tb testing.TB, n int) *Cluster {
	tb.Helper()
	c := &Cluster{tb: tb}
	routes := make([]string, n)
	for i := range routes {
		routes[i] = freeAddr(tb)
	}
	for i := range n {
		c.nodes = append(c.nodes, &node{opts: embedded.Options{
			Name:          "n" + strconv.Itoa(i),
			StoreDir:      tb.TempDir(),
			Listen:        freeAddr(tb),
			ClusterName:   "tapetest",
			ClusterListen: routes[i],
			Routes:        routes,
		}})
	}
	c.startAll()
	return c
}

func (c *Cluster) startAll() {
	c.tb.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(c.nodes))
	for i := range c.nodes {
		wg.Go(func() { errs[i] = c.start(i) })
	}
	wg.Wait()
	c.tb.Cleanup(c.shutdown)
	for i, err := range errs {
		if err != nil {
			c.tb.Fatalf("clustertest: node %d: %v", i, err)
		}
	}
	c.WaitReady()
}

func (c *Cluster) start(i int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := embedded.Start(ctx, c.nodes[i].opts)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.nodes[i].srv = s
	c.mu.Unlock()
	return nil
}

// WaitReady waits until JetStream answers on every running node.
func (c *Cluster) WaitReady() {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, s := range c.running() {
		if err := s.WaitJetStream(ctx); err != nil {
			c.tb.Fatalf("clustertest: %s: %v", s.Name(), err)
		}
	}
}

func (c *Cluster) running() []*embedded.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*embedded.Server
	for _, n := range c.nodes {
		if n.srv != nil {
			out = append(out, n.srv)
		}
	}
	return out
}

func (c *Cluster) shutdown() {
	for _, s := range c.running() {
		s.Shutdown()
	}
	for _, s := range c.running() {
		s.WaitForShutdown()
	}
}

// URL lists every node's client address (running or not), so a client
// reconnects to whichever is up.
func (c *Cluster) URL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	urls := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		if n.srv != nil {
			urls[i] = n.srv.ClientURL()
		} else {
			urls[i] = "nats://" + n.opts.Listen
		}
	}
	return strings.Join(urls, ",")
}

// Size is the number of nodes.
func (c *Cluster) Size() int { return len(c.nodes) }

// Connect returns a client that reconnects quickly and forever; it is
// closed when the test ends.
func (c *Cluster) Connect(tb testing.TB) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(c.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.ReconnectJitter(10*time.Millisecond, 10*time.Millisecond), nats.Timeout(5*time.Second))
	if err != nil {
		tb.Fatalf("clustertest: connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// Kill shuts node i down and waits until it is gone.
func (c *Cluster) Kill(i int) {
	c.tb.Helper()
	c.mu.Lock()
	s := c.nodes[i].srv
	c.nodes[i].srv = nil
	c.mu.Unlock()
	if s == nil {
		c.tb.Fatalf("clustertest: node %d is not running", i)
	}
	s.Shutdown()
	s.WaitForShutdown()
}

// Restart starts node i again with its name, ports and store.
func (c *Cluster) Restart(i int) {
	c.tb.Helper()
	if err := c.start(i); err != nil {
		c.tb.Fatalf("clustertest: restart node %d: %v", i, err)
	}
	c.WaitReady()
}
