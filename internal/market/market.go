package market

import (
	"strings"
	"time"
)

// Kind says which payload of an Event is valid.
type Kind uint8

// Event kinds. The wire letter of each (Alpaca's "T" field) is Kind.Letter.
const (
	KindInvalid     Kind = iota
	KindTrade            // "t"
	KindQuote            // "q"
	KindBar              // "b": a minute bar, emitted after its minute closes
	KindUpdatedBar       // "u": a correction of an already emitted minute bar
	KindDailyBar         // "d": the running session aggregate, at minute closes that changed it
	KindStatus           // "s": trading status (halt, resume, ...)
	KindLULD             // "l": limit up / limit down price band
	KindCorrection       // "c": a trade correction
	KindCancelError      // "x": a trade cancel or error
	KindImbalance        // "i": order imbalance
	numKinds
)

var kindLetters = [numKinds]string{"", "t", "q", "b", "u", "d", "s", "l", "c", "x", "i"}

var kindNames = [numKinds]string{"invalid", "trade", "quote", "bar", "updatedBar", "dailyBar",
	"status", "luld", "correction", "cancelError", "imbalance"}

// Letter returns the Alpaca "T" value of the kind ("t" for a trade).
func (k Kind) Letter() string {
	if k >= numKinds {
		return ""
	}
	return kindLetters[k]
}

func (k Kind) String() string {
	if k >= numKinds {
		return "invalid"
	}
	return kindNames[k]
}

// KindOfLetter is the inverse of Letter; it returns KindInvalid for an
// unknown letter.
func KindOfLetter(s string) Kind {
	for k := KindTrade; k < numKinds; k++ {
		if kindLetters[k] == s {
			return k
		}
	}
	return KindInvalid
}

// Channel is a stock stream subscription channel, as named by Alpaca.
type Channel uint8

// Stock channels. Corrections and cancel errors have no channel of their own:
// they ride on Trades, as they do at Alpaca.
const (
	ChanTrades Channel = iota
	ChanQuotes
	ChanBars
	ChanUpdatedBars
	ChanDailyBars
	ChanStatuses
	ChanLULDs
	ChanImbalances
	NumChannels
)

var channelNames = [NumChannels]string{"trades", "quotes", "bars", "updatedBars", "dailyBars",
	"statuses", "lulds", "imbalances"}

func (c Channel) String() string {
	if c >= NumChannels {
		return "invalid"
	}
	return channelNames[c]
}

// ChannelByName returns the channel with Alpaca's name s.
func ChannelByName(s string) (Channel, bool) {
	for c := Channel(0); c < NumChannels; c++ {
		if channelNames[c] == s {
			return c, true
		}
	}
	return 0, false
}

// Channel returns the subscription channel that carries events of kind k.
func (k Kind) Channel() Channel {
	switch k {
	case KindTrade, KindCorrection, KindCancelError:
		return ChanTrades
	case KindQuote:
		return ChanQuotes
	case KindBar:
		return ChanBars
	case KindUpdatedBar:
		return ChanUpdatedBars
	case KindDailyBar:
		return ChanDailyBars
	case KindStatus:
		return ChanStatuses
	case KindLULD:
		return ChanLULDs
	case KindImbalance:
		return ChanImbalances
	}
	return NumChannels
}

// Lossless reports whether a subscriber must receive every event of the
// channel (trades, bars, statuses, ...) rather than only the latest value
// (quotes). A slow subscriber is disconnected rather than silently losing a
// lossless event; a latest-value event may be conflated instead.
func (c Channel) Lossless() bool { return c != ChanQuotes }

// Conditions holds up to four single-character condition codes ("@", "F",
// "T", "I", ...), as used by the CTA and UTP plans. Unused slots are zero.
type Conditions [4]byte

// MakeConditions builds Conditions from single-character codes; longer or
// empty codes and codes beyond the fourth are ignored.
func MakeConditions(codes ...string) Conditions {
	var c Conditions
	n := 0
	for _, s := range codes {
		if len(s) != 1 || n == len(c) {
			continue
		}
		c[n] = s[0]
		n++
	}
	return c
}

// Len returns the number of codes present.
func (c Conditions) Len() int {
	n := 0
	for n < len(c) && c[n] != 0 {
		n++
	}
	return n
}

// Has reports whether code is among the conditions.
func (c Conditions) Has(code byte) bool {
	for _, x := range c {
		if x == 0 {
			return false
		}
		if x == code {
			return true
		}
	}
	return false
}

// Strings returns the codes as one-character strings (allocates; for tests
// and cold paths).
func (c Conditions) Strings() []string {
	out := make([]string, 0, c.Len())
	for i := 0; i < c.Len(); i++ {
		out = append(out, string(c[i]))
	}
	return out
}

func (c Conditions) String() string { return strings.Join(c.Strings(), ",") }

// Trade is one reported stock trade.
type Trade struct {
	ID         int64
	Price      float64
	Size       uint32
	Exchange   byte // e.g. 'V' IEX, 'Q' Nasdaq, 'N' NYSE
	Tape       byte // 'A', 'B', 'C' (or 'O' for OTC)
	Conditions Conditions
}

// Quote is a national best bid and offer update.
type Quote struct {
	BidPrice    float64
	AskPrice    float64
	BidSize     uint32 // round lots
	AskSize     uint32 // round lots
	BidExchange byte
	AskExchange byte
	Tape        byte
	Conditions  Conditions
}

// Bar is an OHLCV aggregate. The event's Time is the bar's start.
type Bar struct {
	Open       float64
	High       float64
	Low        float64
	Close      float64
	VWAP       float64
	Volume     uint64
	TradeCount uint64
}

// Status is a trading status change (halt, pause, resume).
type Status struct {
	StatusCode string
	StatusMsg  string
	ReasonCode string
	ReasonMsg  string
	Tape       byte
}

// LULD is a limit up / limit down price band.
type LULD struct {
	LimitUp   float64
	LimitDown float64
	Indicator byte
	Tape      byte
}

// Correction replaces an earlier trade with corrected values.
type Correction struct {
	Exchange  byte
	Tape      byte
	OrigID    int64
	OrigPrice float64
	OrigSize  uint32
	OrigConds Conditions
	CorrID    int64
	CorrPrice float64
	CorrSize  uint32
	CorrConds Conditions
}

// CancelError cancels or errors an earlier trade.
type CancelError struct {
	ID       int64
	Price    float64
	Size     uint32
	Exchange byte
	Tape     byte
	Action   byte // 'C' cancel, 'E' error
}

// Imbalance is an order imbalance.
type Imbalance struct {
	Price float64
	Tape  byte
}

// Event is one market data message. Kind selects the valid payload: Trade,
// Quote and Bar are inline; the rare kinds use the pointer fields, which are
// immutable once the event is published (subscribers share them).
type Event struct {
	Seq    uint64 // assigned by the sequencer; 0 before it
	Time   int64  // event time in ns since the Unix epoch; bar start for bars
	Symbol string
	Kind   Kind

	Trade Trade
	Quote Quote
	Bar   Bar

	Status      *Status
	LULD        *LULD
	Correction  *Correction
	CancelError *CancelError
	Imbalance   *Imbalance
}

// Timestamp returns Time as a time.Time in UTC.
func (e *Event) Timestamp() time.Time { return time.Unix(0, e.Time).UTC() }
