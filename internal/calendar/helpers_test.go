package calendar

import (
	"testing"
	"time"
)

// date parses "2006-01-02".
func date(t testing.TB, s string) Date {
	t.Helper()
	d, err := ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// ny parses a New York wall-clock time "2006-01-02 15:04:05".
func ny(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation(time.DateTime, s, NewYork())
	if err != nil {
		t.Fatal(err)
	}
	return v
}
