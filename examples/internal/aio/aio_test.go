package aio_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tapehq/tape/examples/internal/aio"
)

func TestSleep(t *testing.T) {
	t.Run("full", func(t *testing.T) {
		if err := aio.Sleep(t.Context(), time.Millisecond); err != nil {
			t.Fatalf("Sleep = %v, want nil", err)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		// d <= 0 would make the timer ready at once too: a done ctx must
		// still win, every time.
		for _, d := range []time.Duration{-1, 0, time.Hour} {
			if err := aio.Sleep(ctx, d); !errors.Is(err, context.Canceled) {
				t.Errorf("Sleep(%v) = %v, want context.Canceled", d, err)
			}
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		// If Sleep ignored ctx the test would hang for an hour and time
		// out; no wall-clock assertion is needed.
		ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
		defer cancel()
		if err := aio.Sleep(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Sleep = %v, want context.DeadlineExceeded", err)
		}
	})
}
