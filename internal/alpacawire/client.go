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
// unsubscribe) message for the non-empty channels of s.
func AppendSubscribe(b []byte, c Codec, subscribe bool, s *Subscription) []byte {
	return appendSubscribe(b, c, subscribe, s, 0)
}

// AppendSubscribeFrom appends a subscribe with Tape's resume extension:
// "tape_from_seq": from (see docs/resume.md). Only a Tape understands it.
func AppendSubscribeFrom(b []byte, c Codec, s *Subscription, from uint64) []byte {
	return appendSubscribe(b, c, true, s, from)
}

func appendSubscribe(b []byte, c Codec, subscribe bool, s *Subscription, from uint64) []byte {
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
	if from > 0 {
		n++
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
		if from > 0 {
			b = mpStr(b, "tape_from_seq")
			b = mpUint(b, from)
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
	if from > 0 {
		b = append(b, `,"tape_from_seq":`...)
		b = appendUint(b, from)
	}
	return append(b, '}')
}
