package alpacawire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Action is what a client message asks for.
type Action uint8

// Client actions.
const (
	ActionAuth Action = iota + 1
	ActionSubscribe
	ActionUnsubscribe
)

// ErrInvalidSyntax is returned for any client message that does not follow
// the protocol; the server answers it with error 400.
var ErrInvalidSyntax = errors.New("alpacawire: invalid syntax")

// MaxSymbolLen bounds one symbol; the longest real ones are OCC option
// symbols (21 characters).
const MaxSymbolLen = 32

// Request is a decoded client message.
type Request struct {
	Action Action
	Key    string // auth
	Secret string // auth

	// FromSeq or FromTime (ns since the epoch), when HasFrom, ask Tape to
	// resume: replay the journal from there for the new subscription before
	// going live (the "tape_from_seq" / "tape_from_time" extension keys of a
	// subscribe message).
	HasFrom  bool
	FromSeq  uint64
	FromTime int64

	// Lists holds every channel key of a subscribe or unsubscribe whose value
	// was a list, by channel name, with symbols validated and upper-cased.
	// Keys whose value was null are left out: the Go SDK sends
	// "orderbooks":nil, "news":nil and "pricing":nil on every stock
	// subscribe, and those must not count as requests for those channels.
	Lists map[string][]string
}

// ParseRequest decodes one client message in codec c.
func ParseRequest(c Codec, data []byte) (*Request, error) {
	var m map[string]any
	if c == MsgPack {
		// vmihailenco/msgpack allocates whatever length a header claims: a
		// 13-byte message claiming 2^32 elements would exhaust memory. Check
		// the structure against the bytes actually present first.
		if !mpWellFormed(data, 32) {
			return nil, fmt.Errorf("%w: malformed msgpack", ErrInvalidSyntax)
		}
		dec := msgpack.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidSyntax, err)
		}
		if _, err := dec.PeekCode(); err == nil {
			return nil, fmt.Errorf("%w: trailing data", ErrInvalidSyntax)
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidSyntax, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("%w: trailing data", ErrInvalidSyntax)
		}
	}
	if m == nil {
		return nil, fmt.Errorf("%w: not an object", ErrInvalidSyntax)
	}
	return requestFromMap(m)
}

func requestFromMap(m map[string]any) (*Request, error) {
	action, ok := m["action"].(string)
	if !ok {
		return nil, fmt.Errorf("%w: missing action", ErrInvalidSyntax)
	}
	r := &Request{}
	switch action {
	case "auth":
		r.Action = ActionAuth
		key, ok1 := m["key"].(string)
		secret, ok2 := m["secret"].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%w: auth needs key and secret strings", ErrInvalidSyntax)
		}
		r.Key, r.Secret = key, secret
		return r, nil
	case "subscribe":
		r.Action = ActionSubscribe
	case "unsubscribe":
		r.Action = ActionUnsubscribe
	default:
		return nil, fmt.Errorf("%w: unknown action %q", ErrInvalidSyntax, action)
	}
	if err := r.parseFrom(m); err != nil {
		return nil, err
	}
	for k, v := range m {
		if k == "action" || k == "tape_from_seq" || k == "tape_from_time" || v == nil {
			continue
		}
		list, ok := v.([]any)
		if !ok {
			// Non-list values under other keys (a stray "key", say) carry
			// no subscription; Alpaca ignores them and so do we.
			continue
		}
		syms := make([]string, 0, len(list))
		for _, x := range list {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("%w: %s: symbol is not a string", ErrInvalidSyntax, k)
			}
			s, ok = NormalizeSymbol(s)
			if !ok {
				return nil, fmt.Errorf("%w: %s: malformed symbol", ErrInvalidSyntax, k)
			}
			syms = append(syms, s)
		}
		if r.Lists == nil {
			r.Lists = make(map[string][]string)
		}
		r.Lists[k] = syms
	}
	return r, nil
}

// NormalizeSymbol validates a subscription symbol and upper-cases it. "*" is
// the wildcard. Letters, digits and . / - are allowed (BRK.B, BTC/USD,
// OCC option symbols).
func NormalizeSymbol(s string) (string, bool) {
	if s == "*" {
		return s, true
	}
	if len(s) == 0 || len(s) > MaxSymbolLen {
		return "", false
	}
	lower := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '/', c == '-':
		case 'a' <= c && c <= 'z':
			lower = true
		default:
			return "", false
		}
	}
	if !lower {
		return s, true
	}
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b), true
}

// parseFrom reads Tape's resume extension keys of a subscribe.
func (r *Request) parseFrom(m map[string]any) error {
	if v, ok := m["tape_from_seq"]; ok && v != nil {
		var seq uint64
		switch n := v.(type) {
		case float64: // JSON
			if n < 0 || n != float64(uint64(n)) || n > 1<<53 {
				return fmt.Errorf("%w: tape_from_seq must be a non-negative integer", ErrInvalidSyntax)
			}
			seq = uint64(n)
		case int64:
			if n < 0 {
				return fmt.Errorf("%w: tape_from_seq must be non-negative", ErrInvalidSyntax)
			}
			seq = uint64(n)
		case uint64:
			seq = n
		case int8, int16, int32, uint8, uint16, uint32:
			seq = uint64(reflectInt(n))
		default:
			return fmt.Errorf("%w: tape_from_seq must be a number", ErrInvalidSyntax)
		}
		r.HasFrom, r.FromSeq = true, seq
	}
	if v, ok := m["tape_from_time"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%w: tape_from_time must be an RFC 3339 string", ErrInvalidSyntax)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("%w: tape_from_time: %v", ErrInvalidSyntax, err)
		}
		if r.HasFrom {
			return fmt.Errorf("%w: give tape_from_seq or tape_from_time, not both", ErrInvalidSyntax)
		}
		r.HasFrom, r.FromTime = true, t.UnixNano()
	}
	if r.HasFrom && r.Action != ActionSubscribe {
		return fmt.Errorf("%w: tape_from_* only goes with subscribe", ErrInvalidSyntax)
	}
	return nil
}

func reflectInt(v any) int64 {
	switch n := v.(type) {
	case int8:
		return int64(n)
	case int16:
		return int64(n)
	case int32:
		return int64(n)
	case uint8:
		return int64(n)
	case uint16:
		return int64(n)
	case uint32:
		return int64(n)
	}
	return -1
}
