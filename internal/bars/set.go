package bars

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// Set is the bar builders of every asset class that derives bars — stocks
// (Builder), optionally the iex feed's view of stocks (a second Builder),
// and crypto (CryptoBuilder) — as one: what the ingest pipeline applies
// events to, advances, and checkpoints.
type Set struct {
	// Stock builds the consolidated (SIP) bars from every stock trade,
	// correction and cancel.
	Stock *Builder
	// IEX, if not nil, builds the iex feed's bars: it is fed only the
	// events for which market.Event.OnIEX is true (trades printed on IEX,
	// and corrections and cancels of them), under the same
	// consolidated-tape rules as Stock (see the package doc), and what it
	// emits comes out as the iex kinds (market.Kind.IEX: KindIEXBar,
	// KindIEXUpdatedBar, KindIEXDailyBar), as Alpaca's iex feed builds its
	// bars from IEX's own trades. Give it the same Options as Stock
	// (NewSetWithIEX does). Its Stats count its own events: BarsEmitted
	// counts IEX minute bars, and so on.
	//
	// nil (NewSet): no IEX bars. The Set then applies, emits and
	// checkpoints exactly what it did before IEX bars existed.
	IEX    *Builder
	Crypto *CryptoBuilder
}

// NewSet returns a Set of fresh builders without IEX bars (IEX nil).
func NewSet(opts Options) *Set { return &Set{Stock: New(opts), Crypto: NewCryptoBuilder()} }

// NewSetWithIEX returns a Set of fresh builders that also builds the iex
// feed's bars (see Set.IEX), Stock and IEX both with opts.
func NewSetWithIEX(opts Options) *Set {
	s := NewSet(opts)
	s.IEX = New(opts)
	return s
}

// Apply feeds e to the builder of its class: crypto events to Crypto,
// every other event to Stock and, if it is on IEX (market.Event.OnIEX),
// to IEX as well.
func (s *Set) Apply(e *market.Event) {
	if e.Kind.Class() == market.ClassCrypto {
		s.Crypto.Apply(e)
		return
	}
	s.Stock.Apply(e)
	if s.IEX != nil && e.OnIEX() {
		s.IEX.Apply(e)
	}
}

// Advance advances every clock, in a fixed order: stock bars first, then
// IEX bars (with their kinds turned into the iex kinds), then crypto bars.
func (s *Set) Advance(now int64, out []market.Event) []market.Event {
	out = s.Stock.Advance(now, out)
	if s.IEX != nil {
		n := len(out)
		out = s.IEX.Advance(now, out)
		for i := n; i < len(out); i++ {
			out[i].Kind = out[i].Kind.IEX()
		}
	}
	return s.Crypto.Advance(now, out)
}

// The Set's state has two forms. Without IEX it is the form written before
// IEX bars existed (version 1, unmarked), so that such a Set writes what
// older versions read:
//
//	stock len u32 | stock | crypto
//
// With IEX (version 2):
//
//	"TSET" | version u8 | stock len u32 | stock | iex len u32 | iex | crypto
//
// (u32 little endian; stock and iex are Builder.AppendState snapshots,
// crypto CryptoBuilder.AppendState's.) The first five bytes tell them
// apart: in version 1 they are a length followed by the stock snapshot's
// "TBST" magic, so the fifth byte is 'T', never a version of the marked
// form.
const (
	setMagic   = "TSET"
	setVersion = 2
)

// AppendState appends every builder's state, in the form above: version 1
// without IEX, version 2 with it.
func (s *Set) AppendState(dst []byte) []byte {
	if s.IEX != nil {
		dst = append(dst, setMagic...)
		dst = append(dst, setVersion)
	}
	dst = appendSection(dst, s.Stock)
	if s.IEX != nil {
		dst = appendSection(dst, s.IEX)
	}
	return s.Crypto.AppendState(dst)
}

// appendSection appends b's snapshot after its length.
func appendSection(dst []byte, b *Builder) []byte {
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = b.AppendState(dst)
	binary.LittleEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst
}

var errBadSetState = fmt.Errorf("%w: malformed set state", ErrBadState)

// section splits a length-prefixed section off p.
func section(p []byte) (v, rest []byte, err error) {
	if len(p) < 4 {
		return nil, nil, errBadSetState
	}
	n := binary.LittleEndian.Uint32(p)
	if uint64(n) > uint64(len(p)-4) {
		return nil, nil, errBadSetState
	}
	return p[4 : 4+n], p[4+n:], nil
}

// RestoreState restores what AppendState wrote, of either form, into a Set
// made with the same Options. A state without IEX (version 1: written
// before IEX bars existed, or by a Set without them) leaves a Set with IEX
// a fresh IEX builder, whose bars then cover only the trades applied after
// the restore; a Set without IEX ignores the IEX part of a version 2
// state. On error no builder changes (a stock or IEX snapshot's errors
// wrap ErrBadState or ErrStateOptions, as Builder.RestoreState's do).
func (s *Set) RestoreState(p []byte) error {
	marked := len(p) > len(setMagic) && string(p[:len(setMagic)]) == setMagic && p[len(setMagic)] != stateMagic[0]
	if marked {
		if v := p[len(setMagic)]; v != setVersion {
			return fmt.Errorf("%w: set state version %d, want %d", ErrBadState, v, setVersion)
		}
		p = p[len(setMagic)+1:]
	}
	stock, p, err := section(p)
	if err != nil {
		return err
	}
	var iex []byte
	if marked {
		if iex, p, err = section(p); err != nil {
			return err
		}
	}
	// Restore into fresh builders, and take them only once all are good.
	ns := s.Stock.fresh()
	if err := ns.RestoreState(stock); err != nil {
		return err
	}
	var ni *Builder
	if s.IEX != nil {
		ni = s.IEX.fresh()
		if marked {
			if err := ni.RestoreState(iex); err != nil {
				return fmt.Errorf("iex: %w", err)
			}
		}
	}
	nc := NewCryptoBuilder()
	if err := nc.RestoreState(p); err != nil {
		return err
	}
	*s.Stock = *ns
	if ni != nil {
		*s.IEX = *ni
	}
	*s.Crypto = *nc
	return nil
}

// fresh returns a new Builder with b's Options.
func (b *Builder) fresh() *Builder {
	return New(Options{Location: b.loc, Window: time.Duration(b.window)})
}
