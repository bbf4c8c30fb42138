package cluster

import (
	"errors"
	"strings"

	"github.com/tapehq/tape/internal/market"
)

// The subject scheme. A data message goes to
//
//	<prefix>.<class>.<kind>.<symbol token>
//
// for example tape.stocks.trade.AAPL, tape.stocks.bar.BRK%2EB,
// tape.crypto.quote.BTC%2FUSD, tape.options.trade.AAPL240119C00190000 and
// tape.news.news._ (news has no single symbol). Class and kind are the
// market package's names, the kind without its class prefix, so
// tape.*.trade.> is every trade of every class and tape.crypto.> is crypto.
// Four tokens always, so "<prefix>.*.*.*" is exactly the data, and the
// writer claims (see Claim) on the two-token <prefix>.claim cannot be
// mistaken for it.
//
// A NATS token cannot contain '.', whitespace, or be a wildcard, and symbols
// have dots (BRK.B) and slashes (BTC/USD). The token is the symbol with every
// byte outside [A-Za-z0-9-] percent-encoded (%2E, %2F, upper-case hex): it is
// injective, so two symbols never share a subject, readable for the common
// case, and reversible (ParseSymbolToken). The empty symbol is "_", which no
// encoded symbol can be ('_' itself encodes as %5F).

// DefaultPrefix is the first token of every subject Tape publishes.
const DefaultPrefix = "tape"

// claimToken is the second token of the claim subject, <prefix>.claim.
const claimToken = "claim"

// kindTokens name each kind within its class.
var kindTokens = [market.NumKinds]string{
	market.KindInvalid:          "invalid",
	market.KindTrade:            "trade",
	market.KindQuote:            "quote",
	market.KindBar:              "bar",
	market.KindUpdatedBar:       "updatedBar",
	market.KindDailyBar:         "dailyBar",
	market.KindStatus:           "status",
	market.KindLULD:             "luld",
	market.KindCorrection:       "correction",
	market.KindCancelError:      "cancelError",
	market.KindImbalance:        "imbalance",
	market.KindCryptoTrade:      "trade",
	market.KindCryptoQuote:      "quote",
	market.KindCryptoBar:        "bar",
	market.KindCryptoUpdatedBar: "updatedBar",
	market.KindCryptoDailyBar:   "dailyBar",
	market.KindCryptoOrderbook:  "orderbook",
	market.KindCryptoPricing:    "pricing",
	market.KindOptionTrade:      "trade",
	market.KindOptionQuote:      "quote",
	market.KindNews:             "news",
	market.KindIEXQuote:         "iexQuote",
	market.KindIEXBar:           "iexBar",
	market.KindIEXUpdatedBar:    "iexUpdatedBar",
	market.KindIEXDailyBar:      "iexDailyBar",
}

// KindToken returns the subject token of kind k within its class ("trade"
// for a trade of any class), or "invalid".
func KindToken(k market.Kind) string {
	if k >= market.NumKinds {
		return kindTokens[market.KindInvalid]
	}
	return kindTokens[k]
}

// AppendSubject appends the data subject of an event of kind k on symbol
// to b. It does not allocate when b has room.
func AppendSubject(b []byte, prefix string, k market.Kind, symbol []byte) []byte {
	b = append(b, prefix...)
	b = append(b, '.')
	b = append(b, k.Class().String()...)
	b = append(b, '.')
	b = append(b, KindToken(k)...)
	b = append(b, '.')
	return AppendSymbolToken(b, symbol)
}

// Subject returns the data subject of e under prefix.
func Subject(prefix string, e *market.Event) string {
	return string(AppendSubject(nil, prefix, e.Kind, []byte(e.Symbol)))
}

// ClaimSubject is the subject of writer claims under prefix.
func ClaimSubject(prefix string) string { return prefix + "." + claimToken }

// DataFilter is the filter subject that matches every data subject under
// prefix and nothing else.
func DataFilter(prefix string) string { return prefix + ".*.*.*" }

const hexDigits = "0123456789ABCDEF"

func rawSymbolByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
}

// AppendSymbolToken appends the subject token of symbol to b.
func AppendSymbolToken(b []byte, symbol []byte) []byte {
	if len(symbol) == 0 {
		return append(b, '_')
	}
	for _, c := range symbol {
		if rawSymbolByte(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return b
}

// SymbolToken returns the subject token of symbol.
func SymbolToken(symbol string) string {
	return string(AppendSymbolToken(make([]byte, 0, len(symbol)+8), []byte(symbol)))
}

// errBadToken is wrapped by ParseSymbolToken's errors.
var errBadToken = errors.New("cluster: malformed symbol token")

// ParseSymbolToken is the inverse of SymbolToken. It accepts exactly what
// SymbolToken produces (upper-case hex, only escaped bytes escaped), so a
// symbol has one token and a token one symbol.
func ParseSymbolToken(tok string) (string, error) {
	if tok == "_" {
		return "", nil
	}
	if tok == "" {
		return "", errBadToken
	}
	if !strings.Contains(tok, "%") {
		for i := 0; i < len(tok); i++ {
			if !rawSymbolByte(tok[i]) {
				return "", errBadToken
			}
		}
		return tok, nil
	}
	out := make([]byte, 0, len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if rawSymbolByte(c) {
			out = append(out, c)
			continue
		}
		if c != '%' || i+2 >= len(tok) {
			return "", errBadToken
		}
		hi, lo := strings.IndexByte(hexDigits, tok[i+1]), strings.IndexByte(hexDigits, tok[i+2])
		if hi < 0 || lo < 0 {
			return "", errBadToken
		}
		v := byte(hi<<4 | lo)
		if rawSymbolByte(v) {
			return "", errBadToken // escaped needlessly: not SymbolToken's output
		}
		out = append(out, v)
		i += 2
	}
	return string(out), nil
}

// ParseSubject splits a data subject under prefix into its kind and
// symbol. ok is false for anything else (a claim, another prefix, a
// malformed token).
func ParseSubject(prefix, subject string) (k market.Kind, symbol string, ok bool) {
	rest, found := strings.CutPrefix(subject, prefix+".")
	if !found {
		return 0, "", false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return 0, "", false
	}
	for kk := market.KindTrade; kk < market.NumKinds; kk++ {
		if kk.Class().String() == parts[0] && kindTokens[kk] == parts[1] {
			k = kk
			break
		}
	}
	if k == market.KindInvalid {
		return 0, "", false
	}
	sym, err := ParseSymbolToken(parts[2])
	if err != nil {
		return 0, "", false
	}
	return k, sym, true
}
