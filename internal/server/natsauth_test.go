package server

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// TestEmbeddedNATSWithPassword: an origin running the embedded NATS server
// with a user and password serves its record to an edge that has them, and
// an edge without them is refused with a message that says what to set.
func TestEmbeddedNATSWithPassword(t *testing.T) {
	origin, _ := start(t, Options{Symbols: []string{"AAPL"}, Seed: 5, Rate: 200, Speed: 1, SimStart: regularSession(),
		CryptoSymbols: []string{}, NATS: "embedded", NATSListen: "127.0.0.1:0", NATSUser: "tape", NATSPassword: "s3cret"})
	url := origin.link.emb.ClientURL()
	edge, _ := start(t, Options{Feed: "nats", NATS: url, NATSUser: "tape", NATSPassword: "s3cret"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	trades := watchTrades(t, ctx, edge.Addr().String())
	waitFor(t, ctx, "trades at the edge", func() bool { return len(trades.list()) > 5 }, nil)

	for name, o := range map[string]Options{
		"no password":      {Feed: "nats", NATS: url},
		"a wrong password": {Feed: "nats", NATS: url, NATSUser: "tape", NATSPassword: "guess"},
	} {
		srv, err := New(Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Feed: o.Feed, NATS: o.NATS,
			NATSUser: o.NATSUser, NATSPassword: o.NATSPassword})
		if err != nil {
			t.Fatal(err)
		}
		rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
		err = srv.Run(rctx)
		rcancel()
		if err == nil || !strings.Contains(err.Error(), "--nats-user") || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Errorf("%s: Run returned %v, want an authorization error naming --nats-user", name, err)
		}
	}
}

func TestEmbeddedNATSBeyondLoopbackNeedsPassword(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want error // nil: accepted
		msg  string
	}{
		{"client address", Options{NATS: "embedded", NATSListen: "0.0.0.0:4222"}, ErrNeedNATSAuth, "--nats-listen"},
		{"route address", Options{NATS: "embedded", NATSListen: "127.0.0.1:4222", NATSClusterListen: "10.0.0.5:6222"}, ErrNeedNATSAuth, "--nats-cluster-listen"},
		{"with a password", Options{NATS: "embedded", NATSListen: "0.0.0.0:4222", NATSClusterListen: ":6222",
			NATSUser: "tape", NATSPassword: "s3cret"}, nil, ""},
		{"loopback", Options{NATS: "embedded", NATSListen: "127.0.0.1:4222"}, nil, ""},
		{"a remote server", Options{NATS: "nats://10.0.0.5:4222"}, nil, ""},
		{"user without password", Options{NATS: "nats://10.0.0.5:4222", NATSUser: "tape"}, nil, "TAPE_NATS_PASSWORD"},
		{"password without user", Options{NATS: "nats://10.0.0.5:4222", NATSPassword: "x"}, nil, "--nats-user"},
		{"creds and user", Options{NATS: "nats://10.0.0.5:4222", NATSCreds: "x.creds", NATSUser: "u", NATSPassword: "p"}, nil, "choose one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.Listen, o.DataDir = "127.0.0.1:0", t.TempDir()
			_, err := New(o)
			switch {
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("got %v, want %v", err, tc.want)
			case tc.msg != "" && (err == nil || !strings.Contains(err.Error(), tc.msg)):
				t.Fatalf("got %v, want a message naming %s", err, tc.msg)
			case tc.want == nil && tc.msg == "" && err != nil:
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	got := redactURL("nats://tape:s3cret@10.0.0.5:4222,nats://10.0.0.6:4222")
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "10.0.0.6") || !strings.Contains(got, "tape:") {
		t.Fatalf("redactURL: %q", got)
	}
}

// TestNATSPrivateCA: --nats-ca lets Tape verify a tls:// NATS server whose
// certificate a private CA signed; without it the connection is refused.
func TestNATSPrivateCA(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "nats.crt"), filepath.Join(dir, "nats.key")
	writeCert(t, certFile, keyFile, "nats") // self-signed: its own CA
	tc, err := natsserver.GenTLSConfig(&natsserver.TLSConfigOpts{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: natsserver.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), TLS: true, TLSConfig: tc, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	url := "tls://" + ns.Addr().String()

	srv, err := New(Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Symbols: []string{"AAPL"}, CryptoSymbols: []string{},
		NoPast: true, NATS: url})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Run(ctx); err == nil || !strings.Contains(err.Error(), "--nats-ca") {
		t.Fatalf("without --nats-ca: Run returned %v, want a certificate error naming --nats-ca", err)
	}

	origin, _ := start(t, Options{Symbols: []string{"AAPL"}, Seed: 5, Rate: 200, Speed: 1, SimStart: regularSession(),
		CryptoSymbols: []string{}, NATS: url, NATSCA: certFile})
	waitFor(t, ctx, "the record published over TLS", func() bool {
		p := origin.link.pub.Load()
		return p != nil && p.Stats().Acked > 10
	}, nil)
}
