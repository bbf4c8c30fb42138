package alpacawire

import (
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/tapehq/tape/internal/market"
)

// The JSON half of the frame decoder: a hand-written scanner over RFC 8259
// JSON (no reflection, no intermediate tree), with the same position-passing
// convention as the msgpack scanner (a negative position is a recorded
// failure).
//
// Values are read as encoding/json would read them into the SDK's structs:
// null leaves a field zero; integer fields take integer literals in range
// (no fraction or exponent, no sign for unsigned ones); strings are unescaped,
// with invalid UTF-8 and lone surrogates replaced by U+FFFD, as encoding/json
// does (which is also what lets a decoded string survive Tape's JSON encoder
// unchanged). Unknown values are validated and skipped up to maxSkipDepth
// levels of nesting.

// jsFrame decodes a JSON frame: an array (or null) of objects.
func (d *Decoder) jsFrame(b []byte, dst []Message) ([]Message, bool) {
	i := jsWS(b, 0)
	if i >= len(b) {
		d.fail(i, "empty frame")
		return dst, false
	}
	switch b[i] {
	case 'n':
		i = d.jsLit(b, i, "null")
	case '[':
		i = jsWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			i++
			break
		}
		for i >= 0 {
			if i >= len(b) {
				d.fail(i, "truncated frame")
				return dst, false
			}
			switch b[i] {
			case '{':
				dst = append(dst, Message{})
				var keep bool
				i, keep = d.jsMessage(b, i, &dst[len(dst)-1])
				if !keep || i < 0 {
					dst = dst[:len(dst)-1]
				}
			case 'n': // a null element is skipped, like a msgpack nil
				i = d.jsLit(b, i, "null")
			default:
				i = d.fail(i, "want object")
			}
			if i < 0 {
				return dst, false
			}
			if i = jsWS(b, i); i < len(b) && b[i] == ',' {
				i = jsWS(b, i+1)
				continue
			}
			if i < len(b) && b[i] == ']' {
				i++
				break
			}
			d.fail(i, "want , or ]")
			return dst, false
		}
	default:
		i = d.fail(i, "want array")
	}
	if i < 0 {
		return dst, false
	}
	if i = jsWS(b, i); i != len(b) {
		d.fail(i, "trailing data after frame")
		return dst, false
	}
	return dst, true
}

// jsMessage decodes the object at b[i] == '{' into m. keep is false for an
// empty object, which is skipped as the SDK skips an empty map.
func (d *Decoder) jsMessage(b []byte, i int, m *Message) (_ int, keep bool) {
	open := i
	i = jsWS(b, i+1)
	if i >= len(b) {
		return d.fail(i, "truncated frame"), false
	}
	if b[i] == '}' {
		return i + 1, false
	}
	var t []byte
	found := false
	atKey := true // whether i is at a key (else after a value)
	if len(b)-i > 3 && b[i] == '"' && b[i+1] == 'T' && b[i+2] == '"' {
		// Fast path: "T" first. Continue after its value.
		if i = d.jsColon(b, i+3); i < 0 {
			return i, false
		}
		if t, i = d.jsStrOrNull(b, i); i < 0 {
			return i, false
		}
		found, atKey = true, false
	} else {
		// Look for "T" anywhere (validating as we go), then decode every
		// pair from the start.
		if found, t, i = d.jsFindT(b, i); i < 0 {
			return i, false
		}
		i = jsWS(b, open+1)
	}
	cl, kind, typ := classOther, market.KindInvalid, ""
	if found {
		cl, kind, typ = d.classify(t)
	}
	m.Type = typ
	m.Event.Kind = kind
	d.startMessage(cl, kind)
	for {
		if !atKey {
			if i = jsWS(b, i); i >= len(b) {
				return d.fail(i, "truncated frame"), false
			}
			if b[i] == '}' {
				break
			}
			if b[i] != ',' {
				return d.fail(i, "want , or }"), false
			}
			i = jsWS(b, i+1)
		}
		atKey = false
		if i >= len(b) || b[i] != '"' {
			return d.fail(i, "want key"), false
		}
		var key []byte
		if key, i = d.jsStr(b, i); i < 0 {
			return i, false
		}
		s := d.slotFor(cl, kind, key)
		if i = d.jsColon(b, i); i < 0 {
			return i, false
		}
		if i = d.jsValue(b, i, m, s); i < 0 {
			return i, false
		}
	}
	d.finishMessage(m, cl)
	return i + 1, true
}

// jsFindT scans the pairs of a non-empty object from its first key to its
// end, and returns the value of its first "T" key, if any.
func (d *Decoder) jsFindT(b []byte, i int) (found bool, t []byte, _ int) {
	for {
		if i >= len(b) || b[i] != '"' {
			return false, nil, d.fail(i, "want key")
		}
		var key []byte
		if key, i = d.jsStr(b, i); i < 0 {
			return false, nil, i
		}
		isT := len(key) == 1 && key[0] == 'T'
		if i = d.jsColon(b, i); i < 0 {
			return false, nil, i
		}
		if isT {
			t, i = d.jsStrOrNull(b, i)
			return i >= 0, t, i
		}
		if i = d.jsSkip(b, i, 0); i < 0 {
			return false, nil, i
		}
		if i = jsWS(b, i); i < len(b) && b[i] == ',' {
			i = jsWS(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return false, nil, i
		}
		return false, nil, d.fail(i, "want , or }")
	}
}

// jsColon consumes the ':' after a key and the whitespace around it.
func (d *Decoder) jsColon(b []byte, i int) int {
	if i = jsWS(b, i); i >= len(b) || b[i] != ':' {
		return d.fail(i, "want :")
	}
	return jsWS(b, i+1)
}

// jsValue reads the value for slot s at i and stores it.
func (d *Decoder) jsValue(b []byte, i int, m *Message, s slot) int {
	switch vt := slotTypes[s]; vt {
	case vtFloat:
		var f float64
		if f, i = d.jsFloat(b, i); i >= 0 {
			d.setFloat(m, s, f)
		}
	case vtInt64, vtUint32, vtUint64, vtInt:
		var u uint64
		if u, i = d.jsInt(b, i, vt); i >= 0 {
			d.setInt(m, s, u)
		}
	case vtChar:
		var v []byte
		if v, i = d.jsStrOrNull(b, i); i >= 0 {
			d.setChar(m, s, v)
		}
	case vtStr, vtMsg, vtMsgOrSkip:
		if vt == vtMsgOrSkip && (i >= len(b) || b[i] != '"' && b[i] != 'n') {
			return d.jsSkip(b, i, 0)
		}
		var v []byte
		if v, i = d.jsStrOrNull(b, i); i >= 0 {
			d.setStr(m, s, v)
		}
	case vtTime:
		if i < len(b) && b[i] == 'n' {
			return d.jsLit(b, i, "null") // leaves the time unset, as encoding/json does
		}
		var v []byte
		pos := i
		if v, i = d.jsStrOrNull(b, i); i >= 0 {
			ns, ok := parseTime(v)
			if !ok {
				return d.fail(pos, "bad timestamp")
			}
			d.setTime(m, s, ns)
		}
	case vtConds:
		var c market.Conditions
		if c, i = d.jsConds(b, i); i >= 0 {
			d.setConds(m, s, c)
		}
	case vtList:
		var l []string
		if l, i = d.jsList(b, i, false); i >= 0 {
			d.sub[s-slotSubFirst] = l
		}
	case vtSyms:
		var l []string
		if l, i = d.jsList(b, i, true); i >= 0 {
			d.rare.news.Symbols = l
		}
	case vtCode:
		var v []byte
		if v, i = d.jsStrOrNull(b, i); i >= 0 {
			d.setCode(m, s, v)
		}
	case vtBool:
		switch {
		case i < len(b) && b[i] == 't':
			d.rare.reset = true
			i = d.jsLit(b, i, "true")
		case i < len(b) && b[i] == 'f':
			d.rare.reset = false
			i = d.jsLit(b, i, "false")
		case i < len(b) && b[i] == 'n':
			i = d.jsLit(b, i, "null") // leaves it unset, as encoding/json does
		default:
			return d.fail(i, "want bool")
		}
	case vtLevels:
		if s == slotBookBids {
			d.rare.bids, i = d.jsLevels(b, i, d.rare.bids[:0])
		} else {
			d.rare.asks, i = d.jsLevels(b, i, d.rare.asks[:0])
		}
	default:
		i = d.jsSkip(b, i, 0)
	}
	return i
}

// jsLevels reads an order book side: an array (or null) of objects (or null,
// a zero level) whose "p" and "s" are numbers, other keys skipped.
func (d *Decoder) jsLevels(b []byte, i int, dst []market.BookLevel) ([]market.BookLevel, int) {
	if i < len(b) && b[i] == 'n' {
		return dst, d.jsLit(b, i, "null")
	}
	if i >= len(b) || b[i] != '[' {
		return dst, d.fail(i, "want array")
	}
	if i = jsWS(b, i+1); i < len(b) && b[i] == ']' {
		return dst, i + 1
	}
	for {
		var l market.BookLevel
		switch {
		case i < len(b) && b[i] == 'n':
			i = d.jsLit(b, i, "null")
		case i < len(b) && b[i] == '{':
			i = jsWS(b, i+1)
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			for {
				if i >= len(b) || b[i] != '"' {
					return dst, d.fail(i, "want key")
				}
				var key []byte
				if key, i = d.jsStr(b, i); i < 0 {
					return dst, i
				}
				k := key2(key)
				if i = d.jsColon(b, i); i < 0 {
					return dst, i
				}
				switch k {
				case kp:
					l.Price, i = d.jsFloat(b, i)
				case ks:
					l.Size, i = d.jsFloat(b, i)
				default:
					i = d.jsSkip(b, i, 1)
				}
				if i < 0 {
					return dst, i
				}
				if i = jsWS(b, i); i < len(b) && b[i] == ',' {
					i = jsWS(b, i+1)
					continue
				}
				if i < len(b) && b[i] == '}' {
					i++
					break
				}
				return dst, d.fail(i, "want , or }")
			}
		default:
			return dst, d.fail(i, "want object")
		}
		if i < 0 {
			return dst, i
		}
		dst = append(dst, l)
		if i = jsWS(b, i); i < len(b) && b[i] == ',' {
			i = jsWS(b, i+1)
			continue
		}
		if i < len(b) && b[i] == ']' {
			return dst, i + 1
		}
		return dst, d.fail(i, "want , or ]")
	}
}

// jsWS skips JSON whitespace.
func jsWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// jsLit consumes the literal lit (null, true, false).
func (d *Decoder) jsLit(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return d.fail(i, "bad literal")
	}
	return i + len(lit)
}

// jsPlain marks the bytes that can appear in a string with no special
// handling: printable ASCII other than '"' and '\\'.
var jsPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// jsStrOrNull reads a string, or null as an empty one.
func (d *Decoder) jsStrOrNull(b []byte, i int) ([]byte, int) {
	if i < len(b) && b[i] == 'n' {
		return nil, d.jsLit(b, i, "null")
	}
	if i >= len(b) || b[i] != '"' {
		return nil, d.fail(i, "want string")
	}
	return d.jsStr(b, i)
}

// jsStr reads the string at b[i] == '"'. The result is a view of b when the
// string needs no unescaping (the common case), else of d.scratch, valid
// until the next string is read.
func (d *Decoder) jsStr(b []byte, i int) ([]byte, int) {
	i++
	start := i
	for {
		// Skip eight plain bytes at a time (timestamps are 20-30 bytes):
		// a word is plain if no byte is '"', '\\', < 0x20 or ≥ 0x80. The
		// test is exact about whether such a byte exists, not which.
		for len(b)-i >= 8 {
			x := binary.LittleEndian.Uint64(b[i:])
			q, bs := x^(lsb*'"'), x^(lsb*'\\')
			if ((q-lsb)&^q|(bs-lsb)&^bs|(x-lsb*0x20)&^x|x)&msb != 0 {
				break
			}
			i += 8
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		if jsPlain[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			return b[start:i], i + 1
		case c == '\\':
			return d.jsStrSlow(b, start, i)
		case c < 0x20:
			return nil, d.fail(i, "control character in string")
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return d.jsStrSlow(b, start, i)
		}
		i += size
	}
	return nil, d.fail(i, "unterminated string")
}

// SWAR constants: a one in every byte, and every byte's top bit.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// jsStrSlow finishes a string that needs unescaping or UTF-8 repair, from i,
// with b[start:i] already scanned and plain.
func (d *Decoder) jsStrSlow(b []byte, start, i int) ([]byte, int) {
	buf := append(d.scratch[:0], b[start:i]...)
	defer func() {
		// Keep the buffer for the next string unless one huge string grew
		// it: a decoder should not pin a frame-sized buffer forever.
		if cap(buf) <= 1<<16 {
			d.scratch = buf[:0]
		} else {
			d.scratch = nil
		}
	}()
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return buf, i + 1
		case c == '\\':
			if i+1 >= len(b) {
				return nil, d.fail(i, "unterminated string")
			}
			switch e := b[i+1]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r := getu4(b[i:])
				if r < 0 {
					return nil, d.fail(i, "bad \\u escape")
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// A valid pair is one rune; anything else is U+FFFD
					// and the next escape, if any, is read on its own
					// (encoding/json's rule).
					if dec := utf16.DecodeRune(r, getu4(b[i:])); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				buf = utf8.AppendRune(buf, r)
				continue
			default:
				return nil, d.fail(i, "bad escape")
			}
			i += 2
		case c < 0x20:
			return nil, d.fail(i, "control character in string")
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				buf = utf8.AppendRune(buf, utf8.RuneError)
			} else {
				buf = append(buf, b[i:i+size]...)
			}
			i += size
		}
	}
	return nil, d.fail(i, "unterminated string")
}

// getu4 decodes the escape \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// pow10 holds the powers of ten that are exact in a float64.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// jsFloat reads a number (or null as 0). Prices have few digits, so most
// take the exact fast path: a mantissa below 2^53 times or divided by an
// exact power of ten is one correctly rounded operation, the same result
// strconv.ParseFloat gives. Everything else goes to strconv. Numbers too
// large for a float64 are rejected, as encoding/json rejects them.
func (d *Decoder) jsFloat(b []byte, i int) (float64, int) {
	if i < len(b) && b[i] == 'n' {
		return 0, d.jsLit(b, i, "null")
	}
	start := i
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	var mant uint64
	nd, exp, exact := 0, 0, true // significant digits in mant; decimal exponent
	if i >= len(b) {
		return 0, d.fail(i, "want number")
	}
	switch c := b[i]; {
	case c == '0':
		i++
	case c >= '1' && c <= '9':
		for ; i < len(b) && b[i]-'0' <= 9; i++ {
			if nd < 19 {
				mant = mant*10 + uint64(b[i]-'0')
				nd++
			} else {
				exp++
				exact = exact && b[i] == '0'
			}
		}
	default:
		return 0, d.fail(i, "want number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i]-'0' > 9 {
			return 0, d.fail(i, "bad number")
		}
		for ; i < len(b) && b[i]-'0' <= 9; i++ {
			if nd < 19 {
				mant = mant*10 + uint64(b[i]-'0')
				exp--
				if mant != 0 {
					nd++
				}
			} else {
				exact = exact && b[i] == '0'
			}
		}
	}
	if i < len(b) && b[i]|0x20 == 'e' {
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		if i >= len(b) || b[i]-'0' > 9 {
			return 0, d.fail(i, "bad number")
		}
		e := 0
		for ; i < len(b) && b[i]-'0' <= 9; i++ {
			if e < 1e6 {
				e = e*10 + int(b[i]-'0')
			}
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if exact && mant < 1<<53 && exp >= -22 && exp <= 22 {
		f := float64(mant)
		if exp < 0 {
			f /= pow10[-exp]
		} else {
			f *= pow10[exp]
		}
		if neg {
			f = -f
		}
		return f, i
	}
	f, err := strconv.ParseFloat(string(b[start:i]), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, d.fail(start, "number out of range")
	}
	return f, i
}

// jsInt reads an integer literal (or null as 0) for a field of type vt and
// returns it as a 64-bit two's complement pattern.
func (d *Decoder) jsInt(b []byte, i int, vt valType) (uint64, int) {
	if i < len(b) && b[i] == 'n' {
		return 0, d.jsLit(b, i, "null")
	}
	start := i
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	if i >= len(b) || b[i]-'0' > 9 {
		return 0, d.fail(i, "want integer")
	}
	var u uint64
	if b[i] == '0' {
		i++
	} else {
		for ; i < len(b) && b[i]-'0' <= 9; i++ {
			dg := uint64(b[i] - '0')
			if u > (math.MaxUint64-dg)/10 {
				return 0, d.fail(start, "integer out of range")
			}
			u = u*10 + dg
		}
	}
	if i < len(b) && (b[i] == '.' || b[i]|0x20 == 'e') {
		return 0, d.fail(start, "want integer")
	}
	switch vt {
	case vtUint32:
		if neg || u > math.MaxUint32 {
			return 0, d.fail(start, "integer out of range")
		}
	case vtUint64:
		if neg {
			return 0, d.fail(start, "integer out of range")
		}
	default: // int64, int
		if neg {
			if u > 1<<63 {
				return 0, d.fail(start, "integer out of range")
			}
			return -u, i
		}
		if u > math.MaxInt64 {
			return 0, d.fail(start, "integer out of range")
		}
	}
	return u, i
}

// jsConds reads a condition list (null is empty; null elements are "").
func (d *Decoder) jsConds(b []byte, i int) (market.Conditions, int) {
	var c market.Conditions
	k := 0
	i = d.jsArray(b, i, func(s []byte) { addCond(&c, &k, s) })
	return c, i
}

// jsList reads a list of strings (null and empty give nil), interned if
// intern is set.
func (d *Decoder) jsList(b []byte, i int, intern bool) ([]string, int) {
	var l []string
	i = d.jsArray(b, i, func(s []byte) {
		if intern {
			l = append(l, d.intern(s))
		} else {
			l = append(l, string(s))
		}
	})
	return l, i
}

// jsArray reads an array of strings (or null), calling f on each element.
func (d *Decoder) jsArray(b []byte, i int, f func([]byte)) int {
	if i < len(b) && b[i] == 'n' {
		return d.jsLit(b, i, "null")
	}
	if i >= len(b) || b[i] != '[' {
		return d.fail(i, "want array")
	}
	if i = jsWS(b, i+1); i < len(b) && b[i] == ']' {
		return i + 1
	}
	for {
		var s []byte
		if s, i = d.jsStrOrNull(b, i); i < 0 {
			return i
		}
		f(s)
		if i = jsWS(b, i); i < len(b) && b[i] == ',' {
			i = jsWS(b, i+1)
			continue
		}
		if i < len(b) && b[i] == ']' {
			return i + 1
		}
		return d.fail(i, "want , or ]")
	}
}

// jsSkip validates and skips any value, nesting at most maxSkipDepth deep.
func (d *Decoder) jsSkip(b []byte, i, depth int) int {
	if i >= len(b) {
		return d.fail(i, "truncated frame")
	}
	switch c := b[i]; c {
	case '"':
		return d.jsSkipStr(b, i)
	case '{', '[':
		if depth >= maxSkipDepth {
			return d.fail(i, "nesting too deep")
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		if i = jsWS(b, i+1); i < len(b) && b[i] == end {
			return i + 1
		}
		for {
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return d.fail(i, "want key")
				}
				if i = d.jsSkipStr(b, i); i < 0 {
					return i
				}
				if i = d.jsColon(b, i); i < 0 {
					return i
				}
			}
			if i = d.jsSkip(b, i, depth+1); i < 0 {
				return i
			}
			if i = jsWS(b, i); i < len(b) && b[i] == ',' {
				i = jsWS(b, i+1)
				continue
			}
			if i < len(b) && b[i] == end {
				return i + 1
			}
			return d.fail(i, "want , or "+string(end))
		}
	case 't':
		return d.jsLit(b, i, "true")
	case 'f':
		return d.jsLit(b, i, "false")
	case 'n':
		return d.jsLit(b, i, "null")
	}
	return d.jsSkipNum(b, i)
}

// jsSkipStr validates and skips a string without unescaping it.
func (d *Decoder) jsSkipStr(b []byte, i int) int {
	for i++; i < len(b); {
		c := b[i]
		switch {
		case c == '"':
			return i + 1
		case c == '\\':
			if i+1 >= len(b) {
				return d.fail(i, "unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if getu4(b[i:]) < 0 {
					return d.fail(i, "bad \\u escape")
				}
				i += 6
			default:
				return d.fail(i, "bad escape")
			}
		case c < 0x20:
			return d.fail(i, "control character in string")
		default:
			i++
		}
	}
	return d.fail(i, "unterminated string")
}

// jsSkipNum validates and skips a number:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *Decoder) jsSkipNum(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() bool {
		j := i
		for i < len(b) && b[i]-'0' <= 9 {
			i++
		}
		return i > j
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i]-'1' <= 8:
		digits()
	default:
		return d.fail(i, "want value")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return d.fail(i, "bad number")
		}
	}
	if i < len(b) && b[i]|0x20 == 'e' {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return d.fail(i, "bad number")
		}
	}
	return i
}
