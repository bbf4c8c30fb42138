package alpacawire

import "github.com/tapehq/tape/internal/jsonenc"

// The JSON primitives live in internal/jsonenc, shared with the REST API
// and the CSV writer; these short names keep the encoders readable.

func jsStr(b []byte, s string) []byte     { return jsonenc.AppendString(b, s) }
func jsChar(b []byte, c byte) []byte      { return jsonenc.AppendChar(b, c) }
func jsCharBody(b []byte, c byte) []byte  { return jsonenc.AppendCharBody(b, c) }
func jsFloat(b []byte, f float64) []byte  { return jsonenc.AppendFloat(b, f) }
func jsConds(b []byte, c []byte) []byte   { return jsonenc.AppendConds(b, c) }
func jsStrs(b []byte, ss []string) []byte { return jsonenc.AppendStrings(b, ss) }
func jsTime(b []byte, ns int64) []byte    { return jsonenc.AppendTime(b, ns) }
func civil(z int64) (y, m, d int64)       { return jsonenc.Civil(z) }
