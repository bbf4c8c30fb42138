// Package alpacawire speaks Alpaca's market data stream protocol on both
// sides: it encodes Tape's events and control messages exactly as Alpaca's
// servers do (JSON in text frames, msgpack in binary frames), decodes what
// clients send (auth, subscribe, unsubscribe), encodes those client messages
// for Tape's own client, and decodes server frames (Decoder) for `tape
// watch` and the Alpaca upstream.
//
// Alpaca runs one protocol over several stream families — stocks, crypto
// (spot and perpetual futures), options, news — that share message letters
// and channel names but not fields. A Stream describes one family: its
// channels and echo keys, its rules (options are msgpack only and refuse
// "*" on quotes), and the decoder mode that maps its letters to its kinds
// (NewDecoderFor). Encoding needs no mode: an event's kind says its family.
//
// The encoders are hand-written append functions rather than reflection-based
// marshalling, for two reasons that a benchmark in this package measures:
//   - Alpaca's SDKs require "T" to be the first key of every map (the Go SDK
//     drops the rest of the frame otherwise), so key order must be fixed;
//   - the hub encodes every event once per wire format on the hot path, so an
//     encoder that allocates or reflects would cap fan-out throughput.
//
// An encoded event is one JSON object or one msgpack map. Frames are arrays of
// them; AppendFrame joins pre-encoded events without re-encoding, which is
// what lets the hub share one encoding among all subscribers.
//
// Timestamps follow Alpaca: RFC 3339 with nanoseconds in JSON, the msgpack
// timestamp extension (type -1) in msgpack — alpaca-py and the JS SDK reject
// anything else.
package alpacawire
