package server

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certReloader serves the certificate in certFile/keyFile and reloads it
// when either file changes (a renewal by certbot or cert-manager), without
// a restart. It checks the files' modification times at most once per
// checkEvery, on a handshake; a pair that fails to load keeps the previous
// certificate in service and is logged.
type certReloader struct {
	certFile, keyFile string
	checkEvery        time.Duration
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	mtimes  [2]time.Time
	checked time.Time
	reloads int
}

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, checkEvery: 5 * time.Second, log: log}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) modTimes() ([2]time.Time, error) {
	var m [2]time.Time
	for i, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return m, err
		}
		m[i] = fi.ModTime()
	}
	return m, nil
}

// load reads the pair; the caller holds mu or owns r.
func (r *certReloader) load() error {
	m, err := r.modTimes()
	if err != nil {
		return fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("--tls-cert/--tls-key: %w (want PEM files: the certificate chain and its private key)", err)
	}
	r.cert, r.mtimes, r.checked = &c, m, time.Now()
	return nil
}

// getCertificate is tls.Config.GetCertificate.
func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) >= r.checkEvery {
		r.checked = time.Now()
		if m, err := r.modTimes(); err == nil && m != r.mtimes {
			if err := r.load(); err != nil {
				r.log.Error("TLS certificate changed but does not load; still serving the previous one", "err", err)
				r.mtimes = m // do not retry every handshake; the next change is tried again
			} else {
				r.reloads++
				r.log.Info("TLS certificate reloaded", "cert", r.certFile)
			}
		}
	}
	return r.cert, nil
}

// tlsConfig is the server's TLS configuration: modern versions only.
func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.getCertificate, NextProtos: []string{"http/1.1"}} // websockets need HTTP/1.1 upgrades
}
