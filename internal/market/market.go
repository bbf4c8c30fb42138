package market

import (
	"strconv"
	"strings"
	"time"
)

// Kind says which payload of an Event is valid.
//
// Every stream family (stocks, crypto, options, news) has kinds of its own,
// even where Alpaca reuses a wire letter ("t" is a trade on every stream):
// a crypto trade has a fractional size and a taker side, an option trade a
// single condition, so they cannot share a kind without every consumer
// (bar builder, history, hub routing) having to ask which stream an event
// came from. With distinct kinds, code that switches on the stock kinds
// ignores the others without change. Values are stable: they are stored in
// the journal, so new kinds are only ever appended.
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

	KindCryptoTrade      // "t" on a crypto stream
	KindCryptoQuote      // "q" on a crypto stream
	KindCryptoBar        // "b" on a crypto stream
	KindCryptoUpdatedBar // "u" on a crypto stream
	KindCryptoDailyBar   // "d" on a crypto stream
	KindCryptoOrderbook  // "o": order book snapshot or update
	KindCryptoPricing    // "p": perpetual futures pricing (index, mark, funding)
	KindOptionTrade      // "t" on an option stream
	KindOptionQuote      // "q" on an option stream
	KindNews             // "n": a news article

	// The IEX view of a stock (see IEXExchange): IEX's own top of book and
	// the bars of IEX's own trades, which differ from the consolidated
	// (SIP) quotes and bars above. IEX trades need no kind of their own:
	// they are the stock trades whose Exchange is IEXExchange.
	KindIEXQuote      // "q" on the iex feed
	KindIEXBar        // "b" on the iex feed
	KindIEXUpdatedBar // "u" on the iex feed
	KindIEXDailyBar   // "d" on the iex feed

	NumKinds // one past the last kind
)

var kindLetters = [NumKinds]string{"", "t", "q", "b", "u", "d", "s", "l", "c", "x", "i",
	"t", "q", "b", "u", "d", "o", "p", "t", "q", "n", "q", "b", "u", "d"}

var kindNames = [NumKinds]string{"invalid", "trade", "quote", "bar", "updatedBar", "dailyBar",
	"status", "luld", "correction", "cancelError", "imbalance",
	"cryptoTrade", "cryptoQuote", "cryptoBar", "cryptoUpdatedBar", "cryptoDailyBar", "cryptoOrderbook",
	"cryptoPricing", "optionTrade", "optionQuote", "news", "iexQuote", "iexBar", "iexUpdatedBar", "iexDailyBar"}

// Letter returns the Alpaca "T" value of the kind ("t" for a trade of any
// class).
func (k Kind) Letter() string {
	if k >= NumKinds {
		return ""
	}
	return kindLetters[k]
}

func (k Kind) String() string {
	if k >= NumKinds {
		return "invalid"
	}
	return kindNames[k]
}

// KindOfLetter is the inverse of Letter for the stock stream; it returns
// KindInvalid for an unknown letter. Use KindIn for other streams, whose
// letters mean other kinds.
func KindOfLetter(s string) Kind { return KindIn(ClassStocks, s) }

// KindIn returns the kind the letter s means on a stream of class c, or
// KindInvalid if that stream has no such message. For stocks that is the
// consolidated kind ("q" is KindQuote): a feed that is received, not
// simulated, is one view, recorded as such.
func KindIn(c Class, s string) Kind {
	for k := KindTrade; k < NumKinds; k++ {
		if kindLetters[k] == s && k.Class() == c {
			return k
		}
	}
	return KindInvalid
}

// Class is an asset class: which of Alpaca's stream families carries a kind
// or a channel.
type Class uint8

// Asset classes.
const (
	ClassStocks Class = iota
	ClassCrypto       // crypto spot and perpetual futures
	ClassOptions
	ClassNews
	NumClasses
)

var classNames = [NumClasses]string{"stocks", "crypto", "options", "news"}

func (c Class) String() string {
	if c >= NumClasses {
		return "invalid"
	}
	return classNames[c]
}

// Class returns the asset class of events of kind k (stocks for
// KindInvalid).
func (k Kind) Class() Class {
	switch {
	case k >= KindCryptoTrade && k <= KindCryptoPricing:
		return ClassCrypto
	case k == KindOptionTrade || k == KindOptionQuote:
		return ClassOptions
	case k == KindNews:
		return ClassNews
	}
	return ClassStocks
}

// Channel is a subscription channel of one asset class, as named by Alpaca
// (Name). The same name means a different Channel on each stream ("trades"
// is ChanTrades on a stock stream, ChanCryptoTrades on a crypto one), so a
// subscriber of crypto trades never receives stock trades from a shared hub.
type Channel uint8

// Channels. Stock corrections and cancel errors have no channel of their
// own: they ride on Trades, as they do at Alpaca.
const (
	ChanTrades Channel = iota
	ChanQuotes
	ChanBars
	ChanUpdatedBars
	ChanDailyBars
	ChanStatuses
	ChanLULDs
	ChanImbalances

	ChanCryptoTrades
	ChanCryptoQuotes
	ChanCryptoBars
	ChanCryptoUpdatedBars
	ChanCryptoDailyBars
	ChanCryptoOrderbooks
	ChanCryptoPricing // perpetual futures only

	ChanOptionTrades
	ChanOptionQuotes

	ChanNews

	// The iex feed's channels (see KindIEXQuote): same names as the stock
	// channels, subscribed to by clients of the iex feed when the record
	// holds an IEX view. ChanIEXTrades carries the stock trades (and their
	// corrections and cancels) whose Exchange is IEXExchange.
	ChanIEXTrades
	ChanIEXQuotes
	ChanIEXBars
	ChanIEXUpdatedBars
	ChanIEXDailyBars

	NumChannels
)

// channelNames are Alpaca's subscribe keys; channelStrings qualify the ones
// other classes share with stocks, for logs and metrics.
var (
	channelNames = [NumChannels]string{"trades", "quotes", "bars", "updatedBars", "dailyBars",
		"statuses", "lulds", "imbalances",
		"trades", "quotes", "bars", "updatedBars", "dailyBars", "orderbooks", "pricing",
		"trades", "quotes",
		"news",
		"trades", "quotes", "bars", "updatedBars", "dailyBars"}
	channelStrings = [NumChannels]string{"trades", "quotes", "bars", "updatedBars", "dailyBars",
		"statuses", "lulds", "imbalances",
		"crypto.trades", "crypto.quotes", "crypto.bars", "crypto.updatedBars", "crypto.dailyBars",
		"crypto.orderbooks", "crypto.pricing",
		"options.trades", "options.quotes",
		"news",
		"iex.trades", "iex.quotes", "iex.bars", "iex.updatedBars", "iex.dailyBars"}
	channelClasses = [NumChannels]Class{ClassStocks, ClassStocks, ClassStocks, ClassStocks, ClassStocks,
		ClassStocks, ClassStocks, ClassStocks,
		ClassCrypto, ClassCrypto, ClassCrypto, ClassCrypto, ClassCrypto, ClassCrypto, ClassCrypto,
		ClassOptions, ClassOptions,
		ClassNews,
		ClassStocks, ClassStocks, ClassStocks, ClassStocks, ClassStocks}
)

// Name returns Alpaca's subscribe key of the channel ("trades" for the
// trades of every class).
func (c Channel) Name() string {
	if c >= NumChannels {
		return "invalid"
	}
	return channelNames[c]
}

// String returns the channel's name, qualified by its class unless it is a
// stock channel or news ("crypto.trades").
func (c Channel) String() string {
	if c >= NumChannels {
		return "invalid"
	}
	return channelStrings[c]
}

// Class returns the asset class whose stream offers the channel.
func (c Channel) Class() Class {
	if c >= NumChannels {
		return NumClasses
	}
	return channelClasses[c]
}

// ChannelByName returns the stock channel with Alpaca's name s.
func ChannelByName(s string) (Channel, bool) { return ChannelIn(ClassStocks, s) }

// ChannelIn returns the channel with Alpaca's name s on a stream of class
// cl.
func ChannelIn(cl Class, s string) (Channel, bool) {
	for c := Channel(0); c < NumChannels; c++ {
		if channelNames[c] == s && channelClasses[c] == cl {
			return c, true
		}
	}
	return 0, false
}

// Channel returns the subscription channel that carries events of kind k
// (NumChannels for KindInvalid). A table, not a switch: the hub asks it
// for every event it publishes.
func (k Kind) Channel() Channel {
	if k >= NumKinds {
		return NumChannels
	}
	return kindChannels[k]
}

var kindChannels = [NumKinds]Channel{
	KindInvalid:          NumChannels,
	KindTrade:            ChanTrades,
	KindQuote:            ChanQuotes,
	KindBar:              ChanBars,
	KindUpdatedBar:       ChanUpdatedBars,
	KindDailyBar:         ChanDailyBars,
	KindStatus:           ChanStatuses,
	KindLULD:             ChanLULDs,
	KindCorrection:       ChanTrades, // corrections and cancels ride on trades
	KindCancelError:      ChanTrades,
	KindImbalance:        ChanImbalances,
	KindCryptoTrade:      ChanCryptoTrades,
	KindCryptoQuote:      ChanCryptoQuotes,
	KindCryptoBar:        ChanCryptoBars,
	KindCryptoUpdatedBar: ChanCryptoUpdatedBars,
	KindCryptoDailyBar:   ChanCryptoDailyBars,
	KindCryptoOrderbook:  ChanCryptoOrderbooks,
	KindCryptoPricing:    ChanCryptoPricing,
	KindOptionTrade:      ChanOptionTrades,
	KindOptionQuote:      ChanOptionQuotes,
	KindNews:             ChanNews,
	KindIEXQuote:         ChanIEXQuotes,
	KindIEXBar:           ChanIEXBars,
	KindIEXUpdatedBar:    ChanIEXUpdatedBars,
	KindIEXDailyBar:      ChanIEXDailyBars,
}

// IEXExchange is IEX's exchange code: its trades are the iex feed's trades.
const IEXExchange = 'V'

// IEX returns the iex feed's twin of a consolidated stock kind (KindQuote
// → KindIEXQuote, the bars likewise), and k itself for every other kind
// (trades are shared: the IEX ones are those printed on IEX).
func (k Kind) IEX() Kind {
	switch k {
	case KindQuote:
		return KindIEXQuote
	case KindBar:
		return KindIEXBar
	case KindUpdatedBar:
		return KindIEXUpdatedBar
	case KindDailyBar:
		return KindIEXDailyBar
	}
	return k
}

// Consolidated is the inverse of IEX: the consolidated kind an iex-feed
// kind mirrors (KindIEXQuote → KindQuote), and k itself otherwise. Code
// that handles stock quotes and bars alike on both views switches on
// k.Consolidated().
func (k Kind) Consolidated() Kind {
	switch k {
	case KindIEXQuote:
		return KindQuote
	case KindIEXBar:
		return KindBar
	case KindIEXUpdatedBar:
		return KindUpdatedBar
	case KindIEXDailyBar:
		return KindDailyBar
	}
	return k
}

// IsIEX reports whether k is one of the iex feed's own kinds.
func (k Kind) IsIEX() bool { return k >= KindIEXQuote && k <= KindIEXDailyBar }

// IEX returns the iex feed's twin of a stock channel: trades, quotes and
// the bars have one; statuses, LULDs and imbalances are the same on both
// feeds, so c itself.
func (c Channel) IEX() Channel {
	switch c {
	case ChanTrades:
		return ChanIEXTrades
	case ChanQuotes:
		return ChanIEXQuotes
	case ChanBars:
		return ChanIEXBars
	case ChanUpdatedBars:
		return ChanIEXUpdatedBars
	case ChanDailyBars:
		return ChanIEXDailyBars
	}
	return c
}

// OnIEX reports whether e belongs to the iex feed's trades: a stock trade,
// correction or cancel printed on IEX.
func (e *Event) OnIEX() bool {
	if e.Kind == KindTrade { // the hot case, inlined
		return e.Trade.Exchange == IEXExchange
	}
	return e.Kind > KindTrade && e.rareOnIEX()
}

//go:noinline
func (e *Event) rareOnIEX() bool { // kept out of line: OnIEX's callers are hot loops
	switch e.Kind {
	case KindCorrection:
		return e.Correction != nil && e.Correction.Exchange == IEXExchange
	case KindCancelError:
		return e.CancelError != nil && e.CancelError.Exchange == IEXExchange
	}
	return false
}

// Lossless reports whether a subscriber must receive every event of the
// channel (trades, bars, statuses, ...) rather than only the latest value
// (quotes). A slow subscriber is disconnected rather than silently losing a
// lossless event; a latest-value event may be conflated instead. Quotes of
// every class are latest-value; order book updates are not (they are
// deltas: dropping one corrupts the book), nor is anything else.
func (c Channel) Lossless() bool {
	return c != ChanQuotes && c != ChanCryptoQuotes && c != ChanOptionQuotes && c != ChanIEXQuotes
}

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

// OptionCondition packs an option message's condition, which Alpaca sends as
// one string rather than a list ("c":"S"), into Conditions: its bytes, in
// order. OPRA condition codes are one character; up to four ASCII
// characters fit. ok is false, and c zero, for anything else (longer, or
// bytes outside 1..127), which Tape then drops rather than mangles.
func OptionCondition(s string) (c Conditions, ok bool) {
	if len(s) > len(c) {
		return Conditions{}, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 || s[i] >= 0x80 {
			return Conditions{}, false
		}
		c[i] = s[i]
	}
	return c, true
}

// Code returns the codes as one string: the inverse of OptionCondition
// (allocates; for tests and cold paths).
func (c Conditions) Code() string { return string(c[:c.Len()]) }

// Trade is one reported stock or option trade. An option trade (KindOptionTrade)
// has no ID or Tape, and its Conditions hold its single condition string
// (see OptionCondition).
type Trade struct {
	ID         int64
	Price      float64
	Size       uint32
	Exchange   byte // e.g. 'V' IEX, 'Q' Nasdaq, 'N' NYSE
	Tape       byte // 'A', 'B', 'C' (or 'O' for OTC)
	Conditions Conditions
}

// Quote is a national best bid and offer update of a stock, or an option's
// (KindOptionQuote: no Tape; Conditions hold its single condition string).
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

// CryptoTrade is one crypto trade. Sizes are fractional (0.0025 BTC), hence
// float64, as in Alpaca's schema and the SDK.
type CryptoTrade struct {
	ID        int64
	Price     float64
	Size      float64
	TakerSide byte // "tks": 'B' (buyer took), 'S' (seller took) or '-'; 0 if absent
}

// CryptoQuote is a crypto best bid and offer; sizes are fractional.
type CryptoQuote struct {
	BidPrice float64
	BidSize  float64
	AskPrice float64
	AskSize  float64
}

// CryptoBar is a crypto OHLCV aggregate. Unlike a stock bar its volume is
// fractional, and Alpaca emits one for every minute, trades or not (volume 0,
// prices from quote midpoints). The event's Time is the bar's start.
type CryptoBar struct {
	Open       float64
	High       float64
	Low        float64
	Close      float64
	Volume     float64
	VWAP       float64
	TradeCount uint64
}

// BookLevel is one price level of an order book update; Size 0 deletes the
// level.
type BookLevel struct {
	Price float64
	Size  float64
}

// Orderbook is a crypto order book message: a full snapshot when Reset is
// set (the first message for a symbol, and after any gap), else the changed
// levels only.
type Orderbook struct {
	Bids  []BookLevel
	Asks  []BookLevel
	Reset bool
}

// PerpPricing is the pricing of a perpetual future: index and mark prices,
// funding rate, open interest and the next funding time.
type PerpPricing struct {
	IndexPrice      float64
	MarkPrice       float64
	FundingRate     float64
	OpenInterest    float64
	NextFundingTime int64 // ns since the Unix epoch
}

// News is one news article. It concerns any number of symbols, so its
// event's Symbol is empty and the hub routes it by Symbols instead.
type News struct {
	ID        int64
	Headline  string
	Summary   string
	Author    string
	CreatedAt int64 // ns since the Unix epoch
	UpdatedAt int64 // ns since the Unix epoch; the event's Time is this (or CreatedAt if 0)
	URL       string
	Content   string // may hold HTML
	Symbols   []string
	Source    string // "benzinga", ...
}

// Event is one market data message. Kind selects the valid payload: the hot
// kinds (stock and option trades and quotes, stock bars, crypto trades and
// quotes) are inline so that decoding, sequencing and fanning them out
// allocates nothing; the rare or variable-size kinds use the pointer fields,
// which are immutable once the event is published (subscribers share them).
//
// Option trades and quotes reuse Trade and Quote (same fields, see there)
// rather than adding payloads of their own: every byte of Event is copied
// for every event of every class, so the struct only grows where a shape is
// genuinely new (fractional crypto sizes).
type Event struct {
	Seq    uint64 // assigned by the sequencer; 0 before it
	Time   int64  // event time in ns since the Unix epoch; bar start for bars
	Symbol string // empty for news (see News.Symbols)
	Kind   Kind
	Flags  Flags // how the event entered the record; 0 for live, in-order data

	Trade       Trade       // KindTrade, KindOptionTrade
	Quote       Quote       // KindQuote, KindOptionQuote
	Bar         Bar         // KindBar, KindUpdatedBar, KindDailyBar
	CryptoTrade CryptoTrade // KindCryptoTrade
	CryptoQuote CryptoQuote // KindCryptoQuote

	Status      *Status
	LULD        *LULD
	Correction  *Correction
	CancelError *CancelError
	Imbalance   *Imbalance
	CryptoBar   *CryptoBar   // KindCryptoBar, KindCryptoUpdatedBar, KindCryptoDailyBar
	Orderbook   *Orderbook   // KindCryptoOrderbook
	Pricing     *PerpPricing // KindCryptoPricing
	News        *News        // KindNews
}

// Flags say how an event entered Tape's record when that was not "live, in
// time order". They are Tape's own: the Alpaca wire encoders never send
// them, so unmodified clients see no difference. They are journaled.
type Flags uint8

// Event flags.
const (
	// FlagLate marks an event whose time was already behind the record's
	// clock when it was sequenced (by more than the ingest tolerance): a
	// late report, or anything a feed delivered out of time order. The
	// journal records it at the record clock, not at its own time, so
	// journal time never goes backwards.
	FlagLate Flags = 1 << iota
	// FlagBackfill marks an event written after the fact from another
	// source: tape import and tape backfill.
	FlagBackfill
	// FlagGapFill marks an event fetched from Alpaca's REST API to fill a
	// window the upstream stream missed.
	FlagGapFill
	// FlagSynthetic marks simulated history generated for a period the
	// simulator did not run live (the deterministic past).
	FlagSynthetic
)

// Has reports whether every flag of g is set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

func (f Flags) String() string {
	if f == 0 {
		return "live"
	}
	var parts []string
	for i, name := range []string{"late", "backfill", "gapfill", "synthetic"} {
		if f&(1<<i) != 0 {
			parts = append(parts, name)
		}
	}
	if rest := f &^ (FlagLate | FlagBackfill | FlagGapFill | FlagSynthetic); rest != 0 {
		parts = append(parts, "0x"+strconv.FormatUint(uint64(rest), 16))
	}
	return strings.Join(parts, "|")
}

// Timestamp returns Time as a time.Time in UTC.
func (e *Event) Timestamp() time.Time { return time.Unix(0, e.Time).UTC() }
