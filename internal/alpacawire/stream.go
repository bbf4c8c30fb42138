package alpacawire

import "github.com/tapehq/tape/internal/market"

// Stream describes one of Alpaca's stream families: which channels its
// subscribe messages name and its echo lists, what its message letters mean,
// and the rules it enforces. One upstream connection and one downstream
// endpoint serve one Stream; the proxy and wsapi are configured with it
// rather than with per-stream code.
//
// Streams are shared, immutable values: use the predefined ones.
type Stream struct {
	// Name identifies the stream in logs and metrics.
	Name string
	// Class is the asset class of its data: the kinds the shared wire
	// letters decode to ("t" is a crypto trade on a crypto stream) and the
	// channels its keys name.
	Class market.Class
	// Keys are the keys of its subscription echo, in Alpaca's order. A
	// mirror key repeats another channel's list and cannot be subscribed to
	// on its own (stock corrections and cancelErrors follow trades).
	Keys []StreamKey
	// MsgpackOnly streams refuse JSON clients with error 412 (options).
	MsgpackOnly bool
	// NoWildcard lists the channels on which "*" is refused with error 413
	// (option quotes: the full OPRA quote feed is too much for anyone).
	NoWildcard []market.Channel
}

// StreamKey is one key of a stream's subscription echo.
type StreamKey struct {
	Name    string
	Channel market.Channel
	Mirror  bool
}

// The streams Alpaca serves, by endpoint (alpaca-protocol.md §1.1, §1.2).
var (
	// StreamStocks: /v2/{iex,sip,delayed_sip,test}, /v1beta1/{boats,overnight}.
	StreamStocks = &Stream{Name: "stocks", Class: market.ClassStocks, Keys: []StreamKey{
		{"trades", market.ChanTrades, false},
		{"quotes", market.ChanQuotes, false},
		{"bars", market.ChanBars, false},
		{"updatedBars", market.ChanUpdatedBars, false},
		{"dailyBars", market.ChanDailyBars, false},
		{"statuses", market.ChanStatuses, false},
		{"lulds", market.ChanLULDs, false},
		{"corrections", market.ChanTrades, true},
		{"cancelErrors", market.ChanTrades, true},
		{"imbalances", market.ChanImbalances, false},
	}}
	// StreamCrypto: /v1beta3/crypto/{us,us-1,eu-1,...}.
	StreamCrypto = &Stream{Name: "crypto", Class: market.ClassCrypto, Keys: cryptoKeys}
	// StreamCryptoPerps: /v1beta1/crypto-perps/global, the crypto channels
	// plus perpetual futures pricing. Spot crypto has no pricing channel
	// (error 410), hence a stream of its own.
	StreamCryptoPerps = &Stream{Name: "crypto-perps", Class: market.ClassCrypto,
		Keys: append(cryptoKeys[:len(cryptoKeys):len(cryptoKeys)], StreamKey{"pricing", market.ChanCryptoPricing, false})}
	// StreamOptions: /v1beta1/{opra,indicative}; msgpack only.
	StreamOptions = &Stream{Name: "options", Class: market.ClassOptions, Keys: []StreamKey{
		{"trades", market.ChanOptionTrades, false},
		{"quotes", market.ChanOptionQuotes, false},
	}, MsgpackOnly: true, NoWildcard: []market.Channel{market.ChanOptionQuotes}}
	// StreamNews: /v1beta1/news.
	StreamNews = &Stream{Name: "news", Class: market.ClassNews, Keys: []StreamKey{
		{"news", market.ChanNews, false},
	}}
)

var cryptoKeys = []StreamKey{
	{"trades", market.ChanCryptoTrades, false},
	{"quotes", market.ChanCryptoQuotes, false},
	{"orderbooks", market.ChanCryptoOrderbooks, false},
	{"bars", market.ChanCryptoBars, false},
	{"updatedBars", market.ChanCryptoUpdatedBars, false},
	{"dailyBars", market.ChanCryptoDailyBars, false},
}

// Streams lists every stream.
var Streams = []*Stream{StreamStocks, StreamCrypto, StreamCryptoPerps, StreamOptions, StreamNews}

// Channel returns the channel a subscribe key names on s. Mirror keys are
// not channels (see IsMirror).
func (s *Stream) Channel(key string) (market.Channel, bool) {
	for _, k := range s.Keys {
		if k.Name == key && !k.Mirror {
			return k.Channel, true
		}
	}
	return 0, false
}

// IsMirror reports whether key is one of s's mirror keys, which a subscribe
// may name (and Alpaca ignores) but which select nothing.
func (s *Stream) IsMirror(key string) bool {
	for _, k := range s.Keys {
		if k.Name == key {
			return k.Mirror
		}
	}
	return false
}

// Channels returns the channels s offers, in echo order.
func (s *Stream) Channels() []market.Channel {
	var out []market.Channel
	for _, k := range s.Keys {
		if !k.Mirror {
			out = append(out, k.Channel)
		}
	}
	return out
}

// Has reports whether s offers channel ch.
func (s *Stream) Has(ch market.Channel) bool {
	for _, k := range s.Keys {
		if k.Channel == ch && !k.Mirror {
			return true
		}
	}
	return false
}

// WildcardAllowed reports whether "*" may be subscribed on ch (else error
// 413).
func (s *Stream) WildcardAllowed(ch market.Channel) bool {
	for _, c := range s.NoWildcard {
		if c == ch {
			return false
		}
	}
	return true
}

// AppendSubscription appends the one-message frame echoing sub on s: every
// key of s, in order, with its channel's symbols.
func (s *Stream) AppendSubscription(b []byte, c Codec, sub *Subscription) []byte {
	if c == MsgPack {
		b = append(b, 0x91)
		b = mpMapHeader(b, 1+len(s.Keys))
		b = append(b, 0xa1, 'T')
		b = mpStr(b, "subscription")
		for _, k := range s.Keys {
			b = mpStr(b, k.Name)
			b = mpStrs(b, sub[k.Channel])
		}
		return b
	}
	b = append(b, `[{"T":"subscription"`...)
	for _, k := range s.Keys {
		b = append(b, ',', '"')
		b = append(b, k.Name...)
		b = append(b, '"', ':')
		b = jsStrs(b, sub[k.Channel])
	}
	return append(b, "}]"...)
}

// channelKey maps an echo key to its slot's channel for the decoder:
// non-mirror keys of s only.
func (s *Stream) channelKey(key []byte) (market.Channel, bool) {
	for _, k := range s.Keys {
		if !k.Mirror && k.Name == string(key) {
			return k.Channel, true
		}
	}
	return 0, false
}
