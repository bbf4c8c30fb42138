package alpacawire

import "github.com/tapehq/tape/internal/market"

// Error codes of the stream protocol (alpaca-protocol.md §1.5).
const (
	CodeInvalidSyntax        = 400
	CodeNotAuthenticated     = 401
	CodeAuthFailed           = 402
	CodeAlreadyAuthenticated = 403
	CodeAuthTimeout          = 404
	CodeSymbolLimit          = 405
	CodeConnectionLimit      = 406
	CodeSlowClient           = 407
	CodeInsufficientSub      = 409
	CodeInvalidSubscribe     = 410
	CodeInsufficientScope    = 411
	CodeMsgpackOnly          = 412
	CodeStarOptionQuotes     = 413
	CodeInternal             = 500
)

// ErrorText returns Alpaca's message for an error code.
func ErrorText(code int) string {
	switch code {
	case CodeInvalidSyntax:
		return "invalid syntax"
	case CodeNotAuthenticated:
		return "not authenticated"
	case CodeAuthFailed:
		return "auth failed"
	case CodeAlreadyAuthenticated:
		return "already authenticated"
	case CodeAuthTimeout:
		return "auth timeout"
	case CodeSymbolLimit:
		return "symbol limit exceeded"
	case CodeConnectionLimit:
		return "connection limit exceeded"
	case CodeSlowClient:
		return "slow client"
	case CodeInsufficientSub:
		return "insufficient subscription"
	case CodeInvalidSubscribe:
		return "invalid subscribe action for this feed"
	case CodeInsufficientScope:
		return "insufficient scope"
	case CodeMsgpackOnly:
		return "option messages are only available in MsgPack format"
	case CodeStarOptionQuotes:
		return "star subscription is not allowed for option quotes"
	case CodeInternal:
		return "internal error"
	}
	return "error"
}

// AppendSuccess appends the frame [{"T":"success","msg":msg}].
func AppendSuccess(b []byte, c Codec, msg string) []byte {
	if c == MsgPack {
		b = append(b, 0x91, 0x82, 0xa1, 'T')
		b = mpStr(b, "success")
		b = mpStr(b, "msg")
		return mpStr(b, msg)
	}
	b = append(b, `[{"T":"success","msg":`...)
	b = jsStr(b, msg)
	return append(b, "}]"...)
}

// AppendError appends the frame [{"T":"error","code":code,"msg":ErrorText(code)}].
func AppendError(b []byte, c Codec, code int) []byte {
	msg := ErrorText(code)
	if c == MsgPack {
		b = append(b, 0x91, 0x83, 0xa1, 'T')
		b = mpStr(b, "error")
		b = mpStr(b, "code")
		b = mpInt(b, int64(code))
		b = mpStr(b, "msg")
		return mpStr(b, msg)
	}
	b = append(b, `[{"T":"error","code":`...)
	b = appendInt(b, int64(code))
	b = append(b, `,"msg":`...)
	b = jsStr(b, msg)
	return append(b, "}]"...)
}

// Subscription is a client's full subscription set, as echoed after every
// subscribe and unsubscribe, indexed by channel. A stream uses only its own
// class's channels (see Stream). Symbols are kept in the order the client
// first asked for them; "*" is a symbol like any other here.
type Subscription [market.NumChannels][]string

// AppendSubscription appends the one-message frame echoing s on a stock
// stream (StreamStocks.AppendSubscription).
func AppendSubscription(b []byte, c Codec, s *Subscription) []byte {
	return StreamStocks.AppendSubscription(b, c, s)
}
