// Package auth checks API key pairs for Tape's stream and REST endpoints, and
// counts connections per key for Alpaca's connection limit (error 406).
//
// With no keys configured, Keys is open: any key and secret are accepted.
// That is only safe on loopback, which is why the server refuses to listen
// elsewhere without keys (see Keys.Open and server.Options.Validate).
package auth

import (
	"bufio"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// ErrConnectionLimit is returned by Acquire when a key already holds its
// allowed number of connections.
var ErrConnectionLimit = errors.New("auth: connection limit exceeded")

// Keys is a set of accepted key/secret pairs plus per-key connection counts.
// The zero value is open (accepts anything) and unlimited.
type Keys struct {
	pairs map[string]string

	// MaxConnsPerKey limits concurrent stream connections per key; 0 means
	// unlimited. Alpaca allows 1, which is exactly the pain Tape removes, so
	// Tape defaults to unlimited and offers the limit for operators.
	MaxConnsPerKey int

	mu    sync.Mutex
	conns map[string]int
}

// NewKeys returns a key set accepting pairs (key → secret).
func NewKeys(pairs map[string]string) *Keys {
	k := &Keys{pairs: make(map[string]string, len(pairs))}
	for key, secret := range pairs {
		k.pairs[key] = secret
	}
	return k
}

// Open reports whether no keys are configured, so that any pair is accepted.
func (k *Keys) Open() bool { return k == nil || len(k.pairs) == 0 }

// Len returns the number of configured keys.
func (k *Keys) Len() int {
	if k == nil {
		return 0
	}
	return len(k.pairs)
}

// Check reports whether key and secret are accepted. The comparison takes
// the same time whether the key exists or not.
func (k *Keys) Check(key, secret string) bool {
	if k.Open() {
		return true
	}
	want, ok := k.pairs[key]
	if !ok {
		want = "\x00invalid" // compare anyway, to keep the timing flat
	}
	eq := subtle.ConstantTimeCompare([]byte(secret), []byte(want)) == 1
	return ok && eq
}

// Acquire counts one more connection for key, or returns
// ErrConnectionLimit. Every successful Acquire needs one Release.
func (k *Keys) Acquire(key string) error {
	if k == nil || k.MaxConnsPerKey <= 0 {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conns == nil {
		k.conns = make(map[string]int)
	}
	if k.conns[key] >= k.MaxConnsPerKey {
		return ErrConnectionLimit
	}
	k.conns[key]++
	return nil
}

// Release undoes one Acquire.
func (k *Keys) Release(key string) {
	if k == nil || k.MaxConnsPerKey <= 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conns[key]--; k.conns[key] <= 0 {
		delete(k.conns, key)
	}
}

// ParsePairs reads "key:secret" pairs, one per line; blank lines and lines
// starting with # are ignored.
func ParsePairs(r io.Reader) (map[string]string, error) {
	out := make(map[string]string)
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		key, secret, ok := strings.Cut(s, ":")
		key, secret = strings.TrimSpace(key), strings.TrimSpace(secret)
		if !ok || key == "" || secret == "" {
			return nil, fmt.Errorf("line %d: want key:secret", line)
		}
		out[key] = secret
	}
	return out, sc.Err()
}

// LoadFile reads pairs from a file in ParsePairs format.
func LoadFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	defer f.Close()
	pairs, err := ParsePairs(f)
	if err != nil {
		return nil, fmt.Errorf("auth: %s: %w", path, err)
	}
	return pairs, nil
}
