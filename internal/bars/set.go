package bars

import (
	"encoding/binary"
	"errors"

	"github.com/tapehq/tape/internal/market"
)

// Set is the bar builders of every asset class that derives bars — stocks
// (Builder) and crypto (CryptoBuilder) — as one: what the ingest pipeline
// applies events to, advances, and checkpoints.
type Set struct {
	Stock  *Builder
	Crypto *CryptoBuilder
}

// NewSet returns a Set of fresh builders.
func NewSet(opts Options) *Set { return &Set{Stock: New(opts), Crypto: NewCryptoBuilder()} }

// Apply feeds e to the builder of its class.
func (s *Set) Apply(e *market.Event) {
	if e.Kind.Class() == market.ClassCrypto {
		s.Crypto.Apply(e)
		return
	}
	s.Stock.Apply(e)
}

// Advance advances both clocks: stock bars first, then crypto bars.
func (s *Set) Advance(now int64, out []market.Event) []market.Event {
	out = s.Stock.Advance(now, out)
	return s.Crypto.Advance(now, out)
}

// AppendState appends both builders' states: stock len u32 | stock | crypto.
func (s *Set) AppendState(dst []byte) []byte {
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = s.Stock.AppendState(dst)
	binary.LittleEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return s.Crypto.AppendState(dst)
}

var errBadSetState = errors.New("bars: malformed state")

// RestoreState restores what AppendState wrote.
func (s *Set) RestoreState(p []byte) error {
	if len(p) < 4 {
		return errBadSetState
	}
	n := binary.LittleEndian.Uint32(p)
	if uint64(n) > uint64(len(p)-4) {
		return errBadSetState
	}
	if err := s.Stock.RestoreState(p[4 : 4+n]); err != nil {
		return err
	}
	return s.Crypto.RestoreState(p[4+n:])
}
