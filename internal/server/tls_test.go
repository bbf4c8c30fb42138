package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// writeCert writes a self-signed certificate for 127.0.0.1 named cn, and
// its key, and returns it.
func writeCert(t *testing.T, certFile, keyFile, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	c, _ := x509.ParseCertificate(der)
	return c
}

// TestTLS: with --tls-cert/--tls-key, REST and the stream are served over
// TLS (https, wss) with the certificate, plain HTTP is not, and a renewed
// certificate is served without a restart.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCert(t, certFile, keyFile, "first")
	srv, _ := start(t, Options{Source: simSource(t, 100, 1), TLSCert: certFile, TLSKey: keyFile})
	srv.certs.checkEvery = 0

	client := func(trust *x509.Certificate) *http.Client {
		pool := x509.NewCertPool()
		pool.AddCert(trust)
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	base := "https://" + srv.Addr().String()
	resp, err := client(first).Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.TLS == nil || resp.TLS.PeerCertificates[0].Subject.CommonName != "first" {
		t.Fatalf("served %+v", resp.TLS)
	}
	// Plain HTTP gets Go's 400 "Client sent an HTTP request to an HTTPS
	// server", never the content.
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + srv.Addr().String() + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP on a TLS listener: %d", resp.StatusCode)
		}
	}

	// The stream over wss://.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "wss://"+srv.Addr().String()+"/v2/iex", &websocket.DialOptions{HTTPClient: client(first)})
	if err != nil {
		t.Fatal(err)
	}
	_, msg, err := c.Read(ctx)
	if err != nil || string(msg) != `[{"T":"success","msg":"connected"}]` {
		t.Fatalf("wss: %q %v", msg, err)
	}
	c.Close(websocket.StatusNormalClosure, "")

	// Renewal: new files, served on the next handshake.
	time.Sleep(10 * time.Millisecond) // a distinct modification time
	second := writeCert(t, certFile, keyFile, "second")
	resp, err = client(second).Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cn := resp.TLS.PeerCertificates[0].Subject.CommonName; cn != "second" {
		t.Fatalf("after renewal the server presents %q", cn)
	}

	if _, err := New(Options{DataDir: t.TempDir(), TLSCert: certFile}); err == nil {
		t.Fatal("--tls-cert without --tls-key was accepted")
	}
	os.WriteFile(keyFile, []byte("not a key"), 0o600)
	if _, err := New(Options{DataDir: t.TempDir(), TLSCert: certFile, TLSKey: keyFile}); err == nil {
		t.Fatal("a bad key was accepted")
	}
}
