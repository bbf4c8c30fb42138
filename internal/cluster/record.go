package cluster

import (
	"encoding/binary"
	"fmt"

	"github.com/tapehq/tape/internal/market"
)

// recordHead is what the publisher needs from a journal payload to route it:
// the fixed head of market.AppendBinary's layout. Reading it is a few loads;
// decoding the whole event (market.DecodeBinary) would cost an allocation
// per symbol and per rare kind for nothing, since the payload is forwarded
// as it is.
type recordHead struct {
	kind   market.Kind
	flags  market.Flags
	time   int64
	symbol []byte // aliases the payload
}

// peekRecord reads the head of a binary event:
//
//	version u8 (1) | kind u8 | time i64 | symbol len u8 | symbol
//	version u8 (2) | kind u8 | flags u8 | time i64 | symbol len u8 | symbol
//
// It checks only what it reads; the edge decodes and validates the rest.
func peekRecord(p []byte) (recordHead, error) {
	var h recordHead
	if len(p) < 2 {
		return h, fmt.Errorf("%w: %d bytes", market.ErrBadBinary, len(p))
	}
	v, i := p[0], 2
	h.kind = market.Kind(p[1])
	switch v {
	case 1:
	case 2:
		if len(p) < 3 {
			return h, fmt.Errorf("%w: %d bytes", market.ErrBadBinary, len(p))
		}
		h.flags = market.Flags(p[2])
		i = 3
	default:
		return h, fmt.Errorf("%w: version %d", market.ErrBadBinary, v)
	}
	if h.kind == market.KindInvalid || h.kind >= market.NumKinds {
		return h, fmt.Errorf("%w: kind %d", market.ErrBadBinary, h.kind)
	}
	if len(p) < i+9 {
		return h, fmt.Errorf("%w: %d bytes", market.ErrBadBinary, len(p))
	}
	h.time = int64(binary.LittleEndian.Uint64(p[i:]))
	n := int(p[i+8])
	i += 9
	if len(p) < i+n {
		return h, fmt.Errorf("%w: symbol of %d bytes in %d", market.ErrBadBinary, n, len(p))
	}
	h.symbol = p[i : i+n : i+n]
	return h, nil
}
