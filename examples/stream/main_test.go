package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tapehq/tape/examples/internal/aiotest"
)

func TestMain(m *testing.M) { aiotest.VerifyTestMain(m) }

// TestRun streams from an in-process Tape for a moment and stops on the
// timeout, leaving no goroutine behind.
func TestRun(t *testing.T) {
	aiotest.NoLeak(t)
	var out bytes.Buffer
	err := run(t.Context(), &out, options{feed: "sip", symbols: []string{"AAPL", "SPY"}, duration: 1500 * time.Millisecond, speed: 60})
	if err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"started Tape in-process", "subscribed to AAPL,SPY", "AAPL   quote", "SPY    trade", "stopped after"} {
		if !strings.Contains(text, want) {
			t.Fatalf("output lacks %q:\n%s", want, head(text))
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if strings.Contains(line, " trade ") || strings.Contains(line, " quote ") {
			if !strings.Contains(line, "AAPL") && !strings.Contains(line, "SPY") {
				t.Fatalf("an update for a symbol not subscribed: %q", line)
			}
		}
	}
}

func head(s string) string {
	lines := strings.SplitN(s, "\n", 20)
	return strings.Join(lines[:min(len(lines), 19)], "\n")
}
