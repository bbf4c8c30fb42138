package alpacawire

// Codec is a wire format of the stream protocol.
type Codec uint8

// The two codecs Alpaca serves. Clients choose with the Content-Type header of
// the websocket upgrade; JSON is the default, every official SDK asks for
// msgpack.
const (
	JSON Codec = iota
	MsgPack
	NumCodecs
)

func (c Codec) String() string {
	if c == MsgPack {
		return "msgpack"
	}
	return "json"
}

// CodecForContentType returns the codec selected by an upgrade request's
// Content-Type header value.
func CodecForContentType(ct string) Codec {
	// Accept parameters ("application/msgpack; charset=...") and case variants.
	for i := 0; i < len(ct); i++ {
		if ct[i] == ';' {
			ct = ct[:i]
			break
		}
	}
	switch trimLower(ct) {
	case "application/msgpack", "application/x-msgpack", "application/vnd.msgpack":
		return MsgPack
	}
	return JSON
}

func trimLower(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// AppendFrame appends a frame holding the pre-encoded messages msgs (each one
// JSON object or one msgpack map, as produced by AppendEvent) to dst.
func AppendFrame(dst []byte, c Codec, msgs [][]byte) []byte {
	if c == MsgPack {
		dst = mpArrayHeader(dst, len(msgs))
		for _, m := range msgs {
			dst = append(dst, m...)
		}
		return dst
	}
	dst = append(dst, '[')
	for i, m := range msgs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, m...)
	}
	return append(dst, ']')
}

// FrameOverhead returns the bytes a frame of n messages adds to the sum of
// the messages' sizes; the hub uses it to cut frames at a size limit.
func FrameOverhead(c Codec, n int) int {
	if c == MsgPack {
		switch {
		case n < 16:
			return 1
		case n < 1<<16:
			return 3
		}
		return 5
	}
	if n == 0 {
		return 2
	}
	return n + 1
}
