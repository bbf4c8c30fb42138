package httpapi

import (
	"encoding/base64"
	"encoding/binary"
	"hash/fnv"

	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/options"
)

// A page token is opaque to clients, as Alpaca's are. Inside it is:
//
//	version u8 (=1) | start i64 | end i64 | cursor time i64 | cursor seq u64 | cursor symbol | tag u64
//
// little endian, in unpadded URL-safe base64 (so a client that pastes it
// into a URL unescaped does not corrupt it; Alpaca uses standard base64,
// which has '+' and '/').
//
// The tag is a hash of the query that produced the token followed by the
// token's other bytes. It binds the token to its query: the client must
// repeat the same symbols, timeframe, start, end and sort, and a token from
// another query is refused with 422 "invalid page token" instead of
// silently resuming somewhere meaningless. It also catches a token that was
// truncated or altered. Parameters that do not change the result are left
// out of the query hash: limit (the SDK lowers it on the last page of a
// TotalLimit), adjustment, asof and currency. The feed is in it as the
// view it selects: a walk of the IEX view (feed=iex where Options.IEX has
// one) and a walk of the consolidated view (sip, otc, boats, no feed, and
// iex where there is no IEX view) do not take each other's tokens, as
// their cursors point into different series.
//
// The token also carries the resolved time range, so a walk whose start or
// end was defaulted ("today", "now") keeps the range of its first page.
// Nothing in a token is secret, and a forged one can only ask for what the
// same client could ask for with parameters; the range is re-checked.

const tokenVersion = 1

type pageToken struct {
	start, end int64
	cursor     history.Cursor
}

// Sizes of the fixed parts of a token.
const (
	tokenHeader = 1 + 8*4
	tokenTag    = 8
)

// encodeToken encodes t for the query whose hash is query.
func encodeToken(t *pageToken, query uint64) string {
	b := make([]byte, 0, tokenHeader+len(t.cursor.Symbol)+tokenTag)
	b = append(b, tokenVersion)
	b = binary.LittleEndian.AppendUint64(b, uint64(t.start))
	b = binary.LittleEndian.AppendUint64(b, uint64(t.end))
	b = binary.LittleEndian.AppendUint64(b, uint64(t.cursor.Time))
	b = binary.LittleEndian.AppendUint64(b, t.cursor.Seq)
	b = append(b, t.cursor.Symbol...)
	b = binary.LittleEndian.AppendUint64(b, tokenTagOf(query, b))
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeToken parses a token of the query whose hash is query; ok is false
// for anything encodeToken did not produce for that query.
func decodeToken(s string, query uint64) (t pageToken, ok bool) {
	// The longest valid token is well under 128 characters; refuse more
	// before decoding.
	if len(s) > 2*(tokenHeader+maxSymbolLen+tokenTag) {
		return t, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < tokenHeader+tokenTag || b[0] != tokenVersion {
		return t, false
	}
	body, tag := b[:len(b)-tokenTag], binary.LittleEndian.Uint64(b[len(b)-tokenTag:])
	if tag != tokenTagOf(query, body) {
		return t, false
	}
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(body[1+8*i:]) }
	t.start, t.end = int64(u(0)), int64(u(1))
	t.cursor = history.Cursor{Time: int64(u(2)), Seq: u(3), Symbol: string(body[tokenHeader:])}
	if t.end < t.start {
		return t, false
	}
	// A cursor's symbol is a stock symbol, a crypto pair or an option
	// contract, or empty for
	// a walk that is not by symbol (news).
	if sym := t.cursor.Symbol; sym != "" {
		if canon, valid := canonicalSymbol(sym); (!valid || canon != sym) && !options.IsSymbol(sym) {
			return t, false
		}
	}
	return t, true
}

// tokenTagOf hashes the query hash and a token's body. FNV is enough: the
// tag catches mistakes, not attackers, and it is stable across restarts,
// so a client can resume a walk after Tape restarts.
func tokenTagOf(query uint64, body []byte) uint64 {
	h := fnv.New64a()
	var q [8]byte
	binary.LittleEndian.PutUint64(q[:], query)
	h.Write(q[:])
	h.Write(body)
	return h.Sum64()
}

// queryHash hashes what defines a history query's result stream; iex says
// the IEX view serves it. The consolidated view's hashes are those of
// tokens issued before there was an IEX view, so those stay valid.
func queryHash(k kind, iex bool, symbols []string, tf market.Timeframe, start, end, sort string) uint64 {
	series := k.series()
	if iex {
		series = "iex/" + series
	}
	return hashQuery(series, symbols, tf.String(), start, end, sort)
}

// hashQuery hashes the series a walk reads ("trades", "news"), the
// parameters that decide its result, as the client sent them, and its
// symbols.
func hashQuery(series string, symbols []string, params ...string) uint64 {
	h := fnv.New64a()
	put := func(s string) {
		h.Write([]byte(s))
		h.Write([]byte{0}) // separator: ("ab","c") and ("a","bc") differ
	}
	put(series)
	for _, p := range params {
		put(p)
	}
	for _, s := range symbols {
		put(s)
	}
	return h.Sum64()
}
