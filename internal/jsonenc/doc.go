// Package jsonenc holds the hand-written JSON appenders Tape's hot paths
// share: the stream encoders (alpacawire), the history REST API (httpapi)
// and the CSV writer (tickfile). Each is strconv-style — it appends to and
// returns a byte slice, without allocating — and each is proven equal to
// encoding/json or the time package on the values Tape writes (see the
// tests). They exist because reflection-based encoding costs 6-30x more per
// message, and every message passes through them.
package jsonenc
