package embedded

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestSingleKeepsStreamsAcrossRestart: a single embedded server serves
// JetStream on a free port and keeps what it stored in StoreDir.
func TestSingleKeepsStreamsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	var logs strings.Builder
	s, err := Start(testCtx(t), Options{StoreDir: dir, Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.ClientURL(), "nats://127.0.0.1:") || strings.HasSuffix(s.ClientURL(), ":0") {
		t.Fatalf("ClientURL %q", s.ClientURL())
	}
	if s.ClusterURL() != "" {
		t.Fatalf("a single server has a cluster URL %q", s.ClusterURL())
	}
	publish := func(s *Server) uint64 {
		nc, err := nats.Connect(s.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		if _, err := js.CreateOrUpdateStream(testCtx(t), jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}}); err != nil {
			t.Fatal(err)
		}
		ack, err := js.Publish(testCtx(t), "s.x", []byte("hello"))
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	if seq := publish(s); seq != 1 {
		t.Fatalf("first message at %d", seq)
	}
	s.Shutdown()
	s.WaitForShutdown()
	if !strings.Contains(logs.String(), "JetStream") {
		t.Fatalf("the server's log did not reach the logger:\n%s", logs.String())
	}
	s, err = Start(testCtx(t), Options{StoreDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	if seq := publish(s); seq != 2 {
		t.Fatalf("after a restart the next message is at %d, want 2", seq)
	}
}

// TestClusterOfThree: three embedded servers routed to each other form a
// JetStream cluster that takes a three-replica stream. They require a
// password, of clients and of routes (the routes are listed without it, as
// a user would: Start adds it).
func TestClusterOfThree(t *testing.T) {
	routes := make([]string, 3)
	for i := range routes {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		routes[i] = l.Addr().String()
		l.Close()
	}
	servers := make([]*Server, 3)
	errs := make(chan error, 3)
	for i := range servers {
		go func() {
			var err error
			servers[i], err = Start(testCtx(t), Options{Name: "c" + string(rune('0'+i)), StoreDir: t.TempDir(),
				Listen: "127.0.0.1:0", ClusterListen: routes[i], Routes: routes, User: "tape", Password: "s3cret"})
			errs <- err
		}()
	}
	for range servers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, s := range servers {
			s.Shutdown()
		}
		for _, s := range servers {
			s.WaitForShutdown()
		}
	}()
	for _, s := range servers {
		if err := s.WaitJetStream(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if s.ClusterURL() == "" {
			t.Fatalf("%s: no cluster URL", s.Name())
		}
	}
	if nc, err := nats.Connect(servers[1].ClientURL()); err == nil {
		nc.Close()
		t.Fatal("a client without the password connected")
	}
	nc, err := nats.Connect(servers[0].ClientURL(), nats.UserInfo("tape", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	st, err := js.CreateStream(testCtx(t), jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3.>"}, Replicas: 3})
	if err != nil {
		t.Fatalf("a three-replica stream: %v", err)
	}
	if info := st.CachedInfo(); info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream cluster info %+v, want a leader and two replicas", info.Cluster)
	}
}

// TestPassword: with User and Password set, a client needs both.
func TestPassword(t *testing.T) {
	s, err := Start(testCtx(t), Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", User: "tape", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	for _, tc := range []struct {
		name string
		opts []nats.Option
		ok   bool
	}{
		{"no credentials", nil, false},
		{"a wrong password", []nats.Option{nats.UserInfo("tape", "guess")}, false},
		{"the password", []nats.Option{nats.UserInfo("tape", "s3cret")}, true},
	} {
		nc, err := nats.Connect(s.ClientURL(), tc.opts...)
		if (err == nil) != tc.ok {
			t.Errorf("%s: connect error %v", tc.name, err)
		}
		if err == nil {
			nc.Close()
		} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Errorf("%s: %v, want an authorization error", tc.name, err)
		}
	}
}

func TestStartRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"no store", Options{Listen: "127.0.0.1:0"}},
		{"bad listen", Options{StoreDir: t.TempDir(), Listen: "127.0.0.1"}},
		{"bad port", Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:99999"}},
		{"routes without a cluster address", Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", Routes: []string{"127.0.0.1:1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := Start(testCtx(t), tc.o); err == nil {
				s.Shutdown()
				t.Fatal("Start accepted it")
			}
		})
	}
}
