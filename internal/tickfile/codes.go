package tickfile

import (
	"errors"
	"strings"

	"github.com/tapehq/tape/internal/market"
)

// Condition codes are written as the codes separated by single spaces:
// "@ F I". Every code is one character, so the string is read back by
// position (codes at even offsets, spaces at odd ones), which keeps the
// rare space code itself (" " is a regular sale on the UTP tape) lossless:
// [' ', '@'] is written "  @". Pandas users split it with str.split().
//
// On reading, two other spellings are accepted so that files from
// elsewhere import: comma-separated ("@,F", as market.Conditions.String
// and many tools print them) and concatenated ("@F").

// appendConds appends c in the file form.
func appendConds(b []byte, c *market.Conditions) []byte {
	for i := 0; i < len(c) && c[i] != 0; i++ {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, c[i])
	}
	return b
}

var errTooManyConds = errors.New("more than 4 condition codes")

// parseConds parses any accepted spelling of condition codes.
func parseConds(s string) (market.Conditions, error) {
	var c market.Conditions
	switch {
	case s == "":
		return c, nil
	case positional(s):
		n := (len(s) + 1) / 2
		if n > len(c) {
			return c, errTooManyConds
		}
		for i := range n {
			c[i] = s[2*i]
		}
	case strings.Contains(s, ","):
		n := 0
		for part := range strings.SplitSeq(s, ",") {
			if part != " " {
				part = strings.TrimSpace(part)
			}
			if len(part) != 1 {
				return c, errors.New("condition codes are one character each")
			}
			if n == len(c) {
				return c, errTooManyConds
			}
			c[n] = part[0]
			n++
		}
	default:
		if len(s) > len(c) {
			return c, errTooManyConds
		}
		if strings.Contains(s, " ") {
			return c, errors.New("condition codes are one character each, separated by single spaces")
		}
		copy(c[:], s)
	}
	for _, x := range c {
		if x != 0 && (x < 0x20 || x > 0x7e) {
			return market.Conditions{}, errors.New("condition codes must be printable ASCII")
		}
	}
	return c, nil
}

// positional reports whether s is codes separated by single spaces: odd
// length, a space at every odd offset.
func positional(s string) bool {
	if len(s)%2 == 0 {
		return false
	}
	for i := 1; i < len(s); i += 2 {
		if s[i] != ' ' {
			return false
		}
	}
	return true
}

// charStrings holds the one-character string of every byte, so writing an
// exchange or tape code to Parquet allocates nothing.
var charStrings = func() (t [256]string) {
	for i := 1; i < 256; i++ {
		t[i] = string([]byte{byte(i)})
	}
	return t
}()

// parseChar parses an exchange or tape code: "" is none (0), otherwise
// exactly one printable ASCII character.
func parseChar(s string) (byte, error) {
	switch {
	case s == "":
		return 0, nil
	case len(s) != 1:
		return 0, errors.New("want a one-character code")
	case s[0] < 0x20 || s[0] > 0x7e:
		return 0, errors.New("code must be printable ASCII")
	}
	return s[0], nil
}

// maxSymbolLen bounds a symbol: a root, a share class and a suffix (BRK.B,
// ABR-PD) with room to spare. It is the REST API's limit, so every
// imported symbol can be queried.
const maxSymbolLen = 16

// canonicalSymbol upper-cases s and checks it is a stock symbol as Tape's
// REST API accepts them: up to 16 ASCII letters and digits with single
// '.', '-' or '/' separators between them (BRK.B, BF-B, BRK/B). A symbol
// the API could not be asked for would be imported for nothing.
func canonicalSymbol(s string) (string, bool) {
	if len(s) == 0 || len(s) > maxSymbolLen {
		return "", false
	}
	sep := true // no separator first
	lower := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			sep = false
		case c >= 'a' && c <= 'z':
			sep, lower = false, true
		case (c == '.' || c == '-' || c == '/') && !sep:
			sep = true
		default:
			return "", false
		}
	}
	if sep {
		return "", false
	}
	if lower {
		s = strings.ToUpper(s)
	}
	return s, true
}

// CanonicalSymbol is canonicalSymbol for the commands: it upper-cases s and
// reports whether it is a symbol Tape stores and serves.
func CanonicalSymbol(s string) (string, bool) { return canonicalSymbol(s) }
