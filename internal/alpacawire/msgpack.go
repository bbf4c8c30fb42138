package alpacawire

import (
	"encoding/binary"
	"math"
)

// Minimal msgpack appenders, covering exactly the types the stream protocol
// uses. Each returns the extended slice, like strconv.Append*.

func mpMapHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n < 1<<16:
		return append(b, 0xde, byte(n>>8), byte(n))
	}
	return append(b, 0xdf, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func mpArrayHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n < 1<<16:
		return append(b, 0xdc, byte(n>>8), byte(n))
	}
	return append(b, 0xdd, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func mpStr(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n < 1<<8:
		b = append(b, 0xd9, byte(n))
	case n < 1<<16:
		b = append(b, 0xda, byte(n>>8), byte(n))
	default:
		b = append(b, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, s...)
}

// mpChar writes a one-character string, or an empty string for 0.
func mpChar(b []byte, c byte) []byte {
	if c == 0 {
		return append(b, 0xa0)
	}
	return append(b, 0xa1, c)
}

func mpUint(b []byte, v uint64) []byte {
	switch {
	case v < 128:
		return append(b, byte(v))
	case v < 1<<8:
		return append(b, 0xcc, byte(v))
	case v < 1<<16:
		return append(b, 0xcd, byte(v>>8), byte(v))
	case v < 1<<32:
		return append(b, 0xce, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	b = append(b, 0xcf)
	return binary.BigEndian.AppendUint64(b, v)
}

func mpInt(b []byte, v int64) []byte {
	if v >= 0 {
		return mpUint(b, uint64(v))
	}
	if v >= -32 {
		return append(b, byte(v))
	}
	b = append(b, 0xd3)
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

func mpFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		f = 0 // never emitted by Tape's sources; keep the frame decodable anyway
	}
	b = append(b, 0xcb)
	return binary.BigEndian.AppendUint64(b, math.Float64bits(f))
}

func mpNil(b []byte) []byte { return append(b, 0xc0) }

// mpTime writes the msgpack timestamp extension (type -1) in its smallest form.
func mpTime(b []byte, ns int64) []byte {
	sec := ns / 1e9
	nsec := ns % 1e9
	if nsec < 0 {
		sec--
		nsec += 1e9
	}
	if sec>>34 == 0 {
		data := uint64(nsec)<<34 | uint64(sec)
		if data&0xffffffff00000000 == 0 {
			b = append(b, 0xd6, 0xff)
			return binary.BigEndian.AppendUint32(b, uint32(data))
		}
		b = append(b, 0xd7, 0xff)
		return binary.BigEndian.AppendUint64(b, data)
	}
	b = append(b, 0xc7, 12, 0xff)
	b = binary.BigEndian.AppendUint32(b, uint32(nsec))
	return binary.BigEndian.AppendUint64(b, uint64(sec))
}

func mpConds(b []byte, c []byte) []byte {
	n := 0
	for n < len(c) && c[n] != 0 {
		n++
	}
	b = append(b, 0x90|byte(n))
	for i := 0; i < n; i++ {
		b = append(b, 0xa1, c[i])
	}
	return b
}

func mpStrs(b []byte, ss []string) []byte {
	b = mpArrayHeader(b, len(ss))
	for _, s := range ss {
		b = mpStr(b, s)
	}
	return b
}
