// Package embedded runs a NATS server with JetStream inside the Tape
// process (tape serve --nats embedded), so that one box starts clustered
// and grows: a second and third box join with routes to the first, and the
// stream and lease are raised to three replicas.
//
// It is a thin layer over github.com/nats-io/nats-server/v2: Tape's options
// in, the server's address and shutdown out, its log into slog. Anything
// it does not expose is on Server.NATS.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configures an embedded server. StoreDir is required.
type Options struct {
	// Name is the server's name, unique within a cluster. Default
	// "tape-<host>-<client port>".
	Name string
	// StoreDir is where JetStream keeps streams. Required.
	StoreDir string
	// Listen is the client address, host:port. Default "127.0.0.1:4222";
	// port 0 picks a free one (see Server.ClientURL).
	Listen string
	// Cluster, when ClusterListen is set, makes the server a cluster node.
	ClusterName string // default "tape"
	// ClusterListen is the route address other nodes connect to, host:port
	// (port 0 picks a free one; see Server.ClusterURL).
	ClusterListen string
	// Routes are the other nodes' route addresses ("host:port" or
	// "nats-route://host:port"). Listing every node, itself included, on
	// every node is the usual and simplest configuration.
	Routes []string
	// MaxMemory and MaxStore cap JetStream's memory and disk use in bytes;
	// 0 lets the server size them from the machine.
	MaxMemory, MaxStore int64
	// User and Password, when User is set, are required of every client
	// and of every route: the other nodes of a cluster must be configured
	// with the same pair, which is added to Routes that carry none. Without
	// them the server trusts whoever reaches it, so Tape keeps it on
	// loopback (server.Options.Validate).
	User, Password string
	// Logger receives the server's log (notices as Info, debug and trace
	// as Debug). Nil: silent.
	Logger *slog.Logger
}

// Server is a running embedded NATS server.
type Server struct {
	ns *server.Server
}

func parseHostPort(s, def string) (string, int, error) {
	if s == "" {
		s = def
	}
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", s)
	}
	if port == 0 {
		port = server.RANDOM_PORT // nats-server reads 0 as "the default port"
	}
	return host, port, nil
}

// Start starts the server and waits until it accepts clients (and, for a
// single server, until JetStream is up), or ctx ends. A cluster node's
// JetStream becomes available once a quorum of nodes has met; see
// Server.WaitJetStream.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.StoreDir == "" {
		return nil, errors.New("embedded: Options.StoreDir is required")
	}
	host, port, err := parseHostPort(o.Listen, "127.0.0.1:4222")
	if err != nil {
		return nil, fmt.Errorf("embedded: listen: %w", err)
	}
	so := &server.Options{
		ServerName:         o.Name,
		Host:               host,
		Port:               port,
		JetStream:          true,
		StoreDir:           o.StoreDir,
		JetStreamMaxMemory: o.MaxMemory,
		JetStreamMaxStore:  o.MaxStore,
		NoSigs:             true, // the process's signals are Tape's
		NoLog:              o.Logger == nil,
	}
	if o.User != "" {
		so.Username, so.Password = o.User, o.Password
	}
	if so.JetStreamMaxMemory == 0 {
		so.JetStreamMaxMemory = -1
	}
	if so.JetStreamMaxStore == 0 {
		so.JetStreamMaxStore = -1
	}
	if so.ServerName == "" {
		so.ServerName = "tape-" + strings.NewReplacer(".", "-", ":", "-").Replace(host) + "-" + strconv.Itoa(port)
	}
	if o.ClusterListen != "" {
		ch, cp, err := parseHostPort(o.ClusterListen, "")
		if err != nil {
			return nil, fmt.Errorf("embedded: cluster listen: %w", err)
		}
		so.Cluster = server.ClusterOpts{Name: o.ClusterName, Host: ch, Port: cp, Username: o.User, Password: o.Password}
		if so.Cluster.Name == "" {
			so.Cluster.Name = "tape"
		}
		for i, r := range o.Routes {
			if !strings.Contains(r, "://") {
				r = "nats-route://" + r
			}
			u, err := url.Parse(r)
			if err != nil {
				// Not the route itself, which may hold a password.
				var ue *url.Error
				if errors.As(err, &ue) {
					err = ue.Err
				}
				return nil, fmt.Errorf("embedded: route %d of %d: %w", i+1, len(o.Routes), err)
			}
			if o.User != "" && u.User == nil {
				u.User = url.UserPassword(o.User, o.Password)
			}
			so.Routes = append(so.Routes, u)
		}
	} else if len(o.Routes) > 0 {
		return nil, errors.New("embedded: Routes need ClusterListen")
	}
	ns, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	if o.Logger != nil {
		ns.SetLoggerV2(slogAdapter{o.Logger.With("component", "nats")}, true, false, false)
	}
	ns.Start()
	s := &Server{ns: ns}
	wait := 30 * time.Second
	if d, ok := ctx.Deadline(); ok {
		wait = time.Until(d)
	}
	if !ns.ReadyForConnections(wait) {
		s.Shutdown()
		s.WaitForShutdown()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("embedded: server not ready after %v", wait)
	}
	if o.ClusterListen == "" {
		if err := s.WaitJetStream(ctx); err != nil {
			s.Shutdown()
			s.WaitForShutdown()
			return nil, err
		}
	}
	return s, nil
}

// WaitJetStream waits until this server's JetStream can serve requests:
// enabled, and in a cluster, in touch with an elected meta leader.
func (s *Server) WaitJetStream(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if s.ns.JetStreamEnabled() && (!s.ns.JetStreamIsClustered() || s.ns.JetStreamIsCurrent()) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("embedded: waiting for JetStream: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// ClientURL is the address clients connect to (nats://host:port).
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// ClusterURL is the route address other nodes list in Routes, or "" when
// the server is not a cluster node.
func (s *Server) ClusterURL() string {
	a := s.ns.ClusterAddr()
	if a == nil {
		return ""
	}
	return "nats-route://" + a.String()
}

// Name is the server's name.
func (s *Server) Name() string { return s.ns.Name() }

// NATS returns the underlying server.
func (s *Server) NATS() *server.Server { return s.ns }

// Shutdown stops the server: clients are disconnected and JetStream's
// state is flushed. It does not wait; see WaitForShutdown.
func (s *Server) Shutdown() { s.ns.Shutdown() }

// WaitForShutdown blocks until the server has shut down.
func (s *Server) WaitForShutdown() { s.ns.WaitForShutdown() }

// slogAdapter is the server's Logger over slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Info(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
