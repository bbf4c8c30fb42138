package alpacawire

import "github.com/tapehq/tape/internal/market"

// SeqKey is the key of Tape's sequence number extension: with it on, every
// data message carries "#": <seq> as its last key. Alpaca's SDKs skip
// unknown keys, so annotated messages stay readable by them; Tape-aware
// clients use the numbers to resume.
const SeqKey = "#"

// AppendJSONSeq is AppendJSON with "#":seq appended to the object.
func AppendJSONSeq(b []byte, e *market.Event) []byte {
	start := len(b)
	b = AppendJSON(b, e)
	if len(b) == start {
		return b
	}
	b = b[:len(b)-1] // the closing brace
	b = append(b, `,"#":`...)
	b = appendUint(b, e.Seq)
	return append(b, '}')
}

// AppendMsgpackSeq is AppendMsgpack with "#":seq appended to the map. Every
// event map has fewer than 15 keys, so its header is one fixmap byte that can
// be bumped in place.
func AppendMsgpackSeq(b []byte, e *market.Event) []byte {
	start := len(b)
	b = AppendMsgpack(b, e)
	if len(b) == start {
		return b
	}
	b[start]++
	b = append(b, 0xa1, '#')
	return mpUint(b, e.Seq)
}
