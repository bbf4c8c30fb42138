package alpacawire

import "github.com/tapehq/tape/internal/market"

// AppendAuth appends a client's auth message.
func AppendAuth(b []byte, c Codec, key, secret string) []byte {
	if c == MsgPack {
		b = append(b, 0x83)
		b = mpStr(b, "action")
		b = mpStr(b, "auth")
		b = mpStr(b, "key")
		b = mpStr(b, key)
		b = mpStr(b, "secret")
		return mpStr(b, secret)
	}
	b = append(b, `{"action":"auth","key":`...)
	b = jsStr(b, key)
	b = append(b, `,"secret":`...)
	b = jsStr(b, secret)
	return append(b, '}')
}

// AppendSubscribe appends a client's subscribe (or, with subscribe false,
// unsubscribe) message for the non-empty channels of s, keyed by their
// Alpaca names. s must hold the channels of one class only (one stream's):
// "trades" of two classes would be two keys of the same name.
func AppendSubscribe(b []byte, c Codec, subscribe bool, s *Subscription) []byte {
	action := "unsubscribe"
	if subscribe {
		action = "subscribe"
	}
	n := 0
	for ch := range market.NumChannels {
		if len(s[ch]) > 0 {
			n++
		}
	}
	if c == MsgPack {
		b = mpMapHeader(b, n+1)
		b = mpStr(b, "action")
		b = mpStr(b, action)
		for ch := range market.NumChannels {
			if len(s[ch]) > 0 {
				b = mpStr(b, ch.Name())
				b = mpStrs(b, s[ch])
			}
		}
		return b
	}
	b = append(b, `{"action":`...)
	b = jsStr(b, action)
	for ch := range market.NumChannels {
		if len(s[ch]) > 0 {
			b = append(b, ',')
			b = jsStr(b, ch.Name())
			b = append(b, ':')
			b = jsStrs(b, s[ch])
		}
	}
	return append(b, '}')
}
