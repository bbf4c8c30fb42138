package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestOpenAcceptsAnything(t *testing.T) {
	var k *Keys
	if !k.Open() || !k.Check("x", "y") {
		t.Fatal("nil Keys must be open")
	}
	if !NewKeys(nil).Check("", "") {
		t.Fatal("empty Keys must be open")
	}
}

func TestCheck(t *testing.T) {
	k := NewKeys(map[string]string{"AK1": "s1", "AK2": "s2"})
	for _, c := range []struct {
		key, secret string
		ok          bool
	}{{"AK1", "s1", true}, {"AK2", "s2", true}, {"AK1", "s2", false}, {"AK3", "s1", false}, {"", "", false}, {"AK1", "", false}} {
		if got := k.Check(c.key, c.secret); got != c.ok {
			t.Errorf("Check(%q,%q) = %v", c.key, c.secret, got)
		}
	}
}

func TestConnectionLimit(t *testing.T) {
	k := NewKeys(nil)
	k.MaxConnsPerKey = 1
	if err := k.Acquire("a"); err != nil {
		t.Fatal(err)
	}
	if err := k.Acquire("a"); !errors.Is(err, ErrConnectionLimit) {
		t.Fatalf("second acquire: %v", err)
	}
	if err := k.Acquire("b"); err != nil {
		t.Fatal("limit is per key")
	}
	k.Release("a")
	if err := k.Acquire("a"); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func TestParsePairs(t *testing.T) {
	got, err := ParsePairs(strings.NewReader("# keys\nAK1:s1\n\n AK2 : s2 \n"))
	if err != nil || len(got) != 2 || got["AK1"] != "s1" || got["AK2"] != "s2" {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := ParsePairs(strings.NewReader("nocolon\n")); err == nil {
		t.Fatal("want error for a line without a secret")
	}
}
