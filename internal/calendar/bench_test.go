package calendar

import (
	"testing"
	"time"
)

var sink Session

// BenchmarkSessionAt measures the simulator's call pattern: consecutive
// instants inside one session (cached), and the worst case of alternating
// between two days (every call a miss).
func BenchmarkSessionAt(b *testing.B) {
	b.Run("cached", func(b *testing.B) {
		at := ny(b, "2025-06-10 10:00:00")
		SessionAt(at)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			// Walk a second at a time through the regular session.
			sink = SessionAt(at.Add(time.Duration(i%20000) * time.Second))
		}
	})
	b.Run("miss", func(b *testing.B) {
		at := [2]time.Time{ny(b, "2025-06-10 10:00:00"), ny(b, "2025-06-14 10:00:00")}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sink = SessionAt(at[i&1])
		}
	})
}

func BenchmarkTradingDay(b *testing.B) {
	d := NewDate(2025, time.June, 10)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := TradingDay(d); !ok {
			b.Fatal("closed")
		}
	}
}
