package jsonenc

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

func TestAppendTimeMatchesTimeFormat(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []int64{0, 1, -1, 999_999_999, 1_000_000_000, time.Date(2021, 2, 22, 15, 45, 44, 208_000_000, time.UTC).UnixNano(), time.Date(2000, 2, 29, 23, 59, 59, 100, time.UTC).UnixNano(),
		time.Date(1969, 12, 31, 23, 59, 59, 5, time.UTC).UnixNano()}
	for range 100000 {
		cases = append(cases, r.Int64N(1<<62)-(1<<61))
	}
	for _, ns := range cases {
		want := `"` + time.Unix(0, ns).UTC().Format(time.RFC3339Nano) + `"`
		if got := string(AppendTime(nil, ns)); got != want {
			t.Fatalf("%d: got %s want %s", ns, got, want)
		}
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "AAPL", `a"b\c`, "line\nbreak\t\x01", "<tag>&amp;", "héllo ✓", "\u2028\u2029", "bad\xffutf8"} {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("%q: got %s want %s", s, got, want)
		}
	}
}

func TestAppendFloatMatchesStrconv(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := []float64{0, 1, -1, 0.01, 0.1, 0.3, 229.91, 229.9, 230, 1e12 + 0.01, 9999999999999.99, 1e13, 1e15 + 0.25, -0.07, 389.062639, 1e-9, 5e-324}
	for range 200000 {
		cases = append(cases, float64(r.Int64N(1e9))/100, float64(r.Int64N(1e15))/100, r.Float64()*1000, r.NormFloat64()*1e6)
	}
	for _, f := range cases {
		want := strconv.FormatFloat(f, 'f', -1, 64)
		if got := string(AppendFloat(nil, f)); got != want {
			t.Fatalf("%v: got %s want %s", f, got, want)
		}
	}
}
