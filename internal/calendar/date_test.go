package calendar

import (
	"errors"
	"testing"
	"time"
)

func TestDateCivil(t *testing.T) {
	// Every day from 1900 to 2200 against the time package.
	ref := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	d := NewDate(1900, time.January, 1)
	for ; ref.Year() < 2200; ref, d = ref.AddDate(0, 0, 1), d+1 {
		y, m, day := d.Civil()
		if y != ref.Year() || m != ref.Month() || day != ref.Day() || d.Weekday() != ref.Weekday() {
			t.Fatalf("%d: %d-%d-%d %v, want %v %v", d, y, m, day, d.Weekday(), ref, ref.Weekday())
		}
		if s := d.String(); s != ref.Format(time.DateOnly) {
			t.Fatalf("String = %q, want %q", s, ref.Format(time.DateOnly))
		}
	}
	for d, want := range map[Date]string{First: "1990-01-01", Last: "2100-12-31", T1Start: "2024-05-28"} {
		if d.String() != want {
			t.Errorf("constant %d is %v, want %s", d, d, want)
		}
	}
	if Date(0).String() != "1970-01-01" {
		t.Errorf("zero Date is %v", Date(0))
	}
	if got := NewDate(2025, time.January, 32); got != NewDate(2025, time.February, 1) {
		t.Errorf("normalisation: %v", got)
	}
}

func TestDateOf(t *testing.T) {
	tests := []struct{ at, want string }{
		{"2025-07-04T03:59:00Z", "2025-07-03"}, // 23:59 EDT
		{"2025-07-04T04:00:00Z", "2025-07-04"},
		{"2025-01-01T04:59:00Z", "2024-12-31"}, // 23:59 EST
		{"2025-01-01T05:00:00Z", "2025-01-01"},
	}
	for _, tt := range tests {
		at, _ := time.Parse(time.RFC3339, tt.at)
		if got := DateOf(at); got.String() != tt.want {
			t.Errorf("DateOf(%s) = %v, want %s", tt.at, got, tt.want)
		}
	}
	d := date(t, "2025-07-03")
	if !d.Time().Equal(ny(t, "2025-07-03 00:00:00")) || !d.At(9, 30).Equal(ny(t, "2025-07-03 09:30:00")) {
		t.Errorf("Time %v At %v", d.Time(), d.At(9, 30))
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in, want string // want "" for an error
	}{
		{"2025-07-03", "2025-07-03"},
		{"2025-07-03T23:00:00-04:00", "2025-07-03"}, // the written date, not New York's
		{"2025-07-03T01:00:00Z", "2025-07-03"},
		{"2025-07-03T01:00:00.123456789Z", "2025-07-03"},
		{"2025-02-30", ""},
		{"2025-7-3", ""},
		{"20250703", ""},
		{"", ""},
		{"2025-07-03T25:00:00Z", ""},
	}
	for _, tt := range tests {
		d, err := ParseDate(tt.in)
		switch {
		case tt.want == "" && !errors.Is(err, ErrInvalidDate):
			t.Errorf("ParseDate(%q) = %v, %v; want ErrInvalidDate", tt.in, d, err)
		case tt.want != "" && (err != nil || d.String() != tt.want):
			t.Errorf("ParseDate(%q) = %v, %v; want %s", tt.in, d, err, tt.want)
		}
	}
	var d Date
	if err := d.UnmarshalText([]byte("2026-11-27")); err != nil || d.String() != "2026-11-27" {
		t.Errorf("UnmarshalText: %v %v", d, err)
	}
	if b, _ := d.MarshalText(); string(b) != "2026-11-27" {
		t.Errorf("MarshalText: %s", b)
	}
}

// FuzzParseDate checks that ParseDate, which reads query parameters, never
// panics and that whatever it accepts round-trips through String.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{
		"2025-07-03", "1970-01-01", "2100-12-31", "2025-07-03T23:00:00-04:00",
		"2024-03-22T16:36:27.528041708-04:00", "0000-01-01", "9999-12-31", "2025-13-01", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDate(s)
		if err != nil {
			return
		}
		back, err := ParseDate(d.String())
		if err != nil || back != d {
			t.Fatalf("%q -> %v -> %v, %v", s, d, back, err)
		}
	})
}
