package calendar

import (
	"sync"
	"testing"
	"time"
)

// naiveSession is an independent statement of the session rules, written
// from the wall clock rather than from spans, to check SessionAt and its
// cache against.
func naiveSession(t time.Time) Session {
	l := t.In(NewYork())
	d := NewDate(l.Date())
	if day, ok := TradingDay(d); ok {
		switch {
		case l.Hour() < 4:
			return Overnight
		case t.Before(day.Open):
			return PreMarket
		case t.Before(day.Close):
			return Regular
		case t.Before(day.SessionClose):
			return AfterHours
		}
	}
	if l.Hour() >= 20 && IsTradingDay(d+1) {
		return Overnight
	}
	return Closed
}

func TestSessionAt(t *testing.T) {
	tests := []struct {
		name string
		at   string // New York
		want Session
	}{
		// An ordinary Tuesday, boundaries at their exact instants.
		{"tue 00:00", "2025-06-10 00:00:00", Overnight},
		{"tue 03:59:59", "2025-06-10 03:59:59", Overnight},
		{"tue 04:00", "2025-06-10 04:00:00", PreMarket},
		{"tue 09:29:59", "2025-06-10 09:29:59", PreMarket},
		{"tue 09:30", "2025-06-10 09:30:00", Regular},
		{"tue 15:59:59", "2025-06-10 15:59:59", Regular},
		{"tue 16:00", "2025-06-10 16:00:00", AfterHours},
		{"tue 19:59:59", "2025-06-10 19:59:59", AfterHours},
		{"tue 20:00", "2025-06-10 20:00:00", Overnight},
		// The weekend: Friday night to Sunday 20:00 closed.
		{"fri 19:59", "2025-06-13 19:59:00", AfterHours},
		{"fri 20:00", "2025-06-13 20:00:00", Closed},
		{"sat 10:00", "2025-06-14 10:00:00", Closed},
		{"sun 19:59:59", "2025-06-15 19:59:59", Closed},
		{"sun 20:00", "2025-06-15 20:00:00", Overnight},
		{"mon 02:00", "2025-06-16 02:00:00", Overnight},
		// Holidays interrupt the overnight session: none into a holiday,
		// one on the holiday's evening.
		{"eve of thanksgiving 20:00", "2025-11-26 20:00:00", Closed},
		{"thanksgiving 10:00", "2025-11-27 10:00:00", Closed},
		{"thanksgiving 20:00", "2025-11-27 20:00:00", Overnight},
		{"labor day 12:00", "2025-09-01 12:00:00", Closed},
		{"labor day 20:00", "2025-09-01 20:00:00", Overnight},
		{"sunday before labor day 21:00", "2025-08-31 21:00:00", Closed},
		{"good friday 2026 03:00", "2026-04-03 03:00:00", Closed},
		{"thu before good friday 20:00", "2026-04-02 20:00:00", Closed},
		// Early closes: regular to 13:00, after-hours to 17:00, then closed.
		{"2025-07-03 12:59", "2025-07-03 12:59:59", Regular},
		{"2025-07-03 13:00", "2025-07-03 13:00:00", AfterHours},
		{"2025-07-03 16:59", "2025-07-03 16:59:59", AfterHours},
		{"2025-07-03 17:00", "2025-07-03 17:00:00", Closed},
		{"2025-07-03 20:00 (july 4 next)", "2025-07-03 20:00:00", Closed},
		{"2025-12-24 13:30", "2025-12-24 13:30:00", AfterHours},
		{"2025-12-24 18:00", "2025-12-24 18:00:00", Closed},
		{"2025-12-25 20:00", "2025-12-25 20:00:00", Overnight},
		{"2025-12-26 09:30", "2025-12-26 09:30:00", Regular},
		{"2026-12-24 12:00", "2026-12-24 12:00:00", Regular},
		{"2026-11-27 13:00", "2026-11-27 13:00:00", AfterHours},
		// Saturday 10:00 runs no session (the bug that motivated this package).
		{"saturday 10:00", "2026-05-16 10:00:00", Closed},
		// Special closure.
		{"2025-01-09 10:00", "2025-01-09 10:00:00", Closed},
		{"2025-01-08 20:00", "2025-01-08 20:00:00", Closed},
		{"2025-01-09 20:00", "2025-01-09 20:00:00", Overnight},
		// DST: sessions stay at their New York wall-clock times.
		{"spring forward sunday 20:00", "2025-03-09 20:00:00", Overnight},
		{"spring forward monday 09:30", "2025-03-10 09:30:00", Regular},
		{"fall back sunday 01:30", "2025-11-02 01:30:00", Closed},
		{"fall back monday 09:29", "2025-11-03 09:29:00", PreMarket},
		{"fall back monday 09:30", "2025-11-03 09:30:00", Regular},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := ny(t, tt.at)
			if got := SessionAt(at); got != tt.want {
				t.Errorf("SessionAt(%v) = %v, want %v", at, got, tt.want)
			}
			// Once more, now that the span is cached.
			if got := SessionAt(at); got != tt.want {
				t.Errorf("cached SessionAt(%v) = %v, want %v", at, got, tt.want)
			}
			if got := naiveSession(at); got != tt.want {
				t.Errorf("reference naiveSession(%v) = %v: the test's reference is wrong", at, got)
			}
			if s := SpanAt(at); s.Session != tt.want || at.Before(s.Start) || !at.Before(s.End) {
				t.Errorf("SpanAt(%v) = %v [%v, %v)", at, s.Session, s.Start, s.End)
			}
		})
	}
}

// TestDSTInstants pins the UTC instants of the open on both sides of each
// 2025 transition: 09:30 New York is 14:30 UTC in winter, 13:30 in summer.
func TestDSTInstants(t *testing.T) {
	tests := []struct {
		date, openUTC string
	}{
		{"2025-03-07", "2025-03-07T14:30:00Z"}, // Friday before spring forward
		{"2025-03-10", "2025-03-10T13:30:00Z"}, // Monday after
		{"2025-10-31", "2025-10-31T13:30:00Z"}, // Friday before fall back
		{"2025-11-03", "2025-11-03T14:30:00Z"}, // Monday after
	}
	for _, tt := range tests {
		t.Run(tt.date, func(t *testing.T) {
			day, ok := TradingDay(date(t, tt.date))
			if !ok {
				t.Fatal("not a trading day")
			}
			want, _ := time.Parse(time.RFC3339, tt.openUTC)
			if !day.Open.Equal(want) {
				t.Errorf("open %v, want %v", day.Open.UTC(), want)
			}
			if SessionAt(want.Add(-time.Nanosecond)) != PreMarket || SessionAt(want) != Regular {
				t.Errorf("sessions around %v: %v, %v", want, SessionAt(want.Add(-time.Nanosecond)), SessionAt(want))
			}
			if got := day.Close.Sub(day.Open); got != 390*time.Minute {
				t.Errorf("regular session lasts %v", got)
			}
		})
	}
	// The Sunday overnight session after spring forward starts at 20:00
	// EDT, 00:00 UTC.
	mon, _ := TradingDay(date(t, "2025-03-10"))
	if want := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC); !mon.OvernightOpen.Equal(want) {
		t.Errorf("overnight open %v, want %v", mon.OvernightOpen.UTC(), want)
	}
}

// TestSessionAtMatchesReference walks 2024-2027 in 7-minute steps (which
// drift across every minute of the day) and through every session
// boundary, comparing the cached SessionAt with the reference.
func TestSessionAtMatchesReference(t *testing.T) {
	from, to := ny(t, "2024-01-01 00:00:00"), ny(t, "2028-01-01 00:00:00")
	for at := from; at.Before(to); at = at.Add(7 * time.Minute) {
		if got, want := SessionAt(at), naiveSession(at); got != want {
			t.Fatalf("SessionAt(%v) = %v, want %v", at, got, want)
		}
	}
	for _, day := range Days(DateOf(from), DateOf(to)) {
		for _, b := range []time.Time{day.OvernightOpen, day.SessionOpen, day.Open, day.Close, day.SessionClose} {
			for _, at := range []time.Time{b.Add(-time.Nanosecond), b, b.Add(time.Nanosecond)} {
				if got, want := SessionAt(at), naiveSession(at); got != want {
					t.Fatalf("SessionAt(%v) = %v, want %v", at, got, want)
				}
			}
		}
	}
}

// TestSpansTile walks span to span through 2025-2026: each span starts
// where the previous ended, adjacent spans differ, and the session at both
// ends of each agrees with the reference.
func TestSpansTile(t *testing.T) {
	at := SpanAt(ny(t, "2025-01-01 00:00:00")).Start // 2024-12-31 20:00, after-hours ended
	end := ny(t, "2027-01-01 00:00:00")
	prev := SpanAt(at.Add(-time.Nanosecond))
	n := 0
	for ; at.Before(end); n++ {
		s := SpanAt(at)
		if !s.Start.Equal(prev.End) || !s.Start.Equal(at) {
			t.Fatalf("span %v [%v, %v) after [%v, %v)", s.Session, s.Start, s.End, prev.Start, prev.End)
		}
		if s.Session == prev.Session {
			t.Fatalf("two %v spans meet at %v", s.Session, at)
		}
		if !s.End.After(s.Start) {
			t.Fatalf("empty span at %v", at)
		}
		for _, x := range []time.Time{s.Start, s.End.Add(-time.Nanosecond)} {
			if want := naiveSession(x); want != s.Session {
				t.Fatalf("span %v [%v, %v): reference says %v at %v", s.Session, s.Start, s.End, want, x)
			}
		}
		prev, at = s, s.End
	}
	// 501 trading days of four sessions each, plus the closed gaps.
	if n < 4*501 {
		t.Errorf("walked only %d spans", n)
	}
}

// TestSessionAtConcurrent hammers the shared cache from goroutines asking
// about different days, so that each one's span keeps evicting the
// others'. Run with -race.
func TestSessionAtConcurrent(t *testing.T) {
	base := ny(t, "2025-11-24 00:00:00") // Thanksgiving week
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				at := base.Add(time.Duration(g*24+i%97) * 29 * time.Minute)
				if got, want := SessionAt(at), naiveSession(at); got != want {
					select {
					case errs <- at.String() + ": " + got.String() + " != " + want.String():
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestSessionText(t *testing.T) {
	for s := Closed; s <= AfterHours; s++ {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Session
		if err := back.UnmarshalText(b); err != nil || back != s || string(b) != s.String() {
			t.Errorf("%v: %q -> %v, %v", s, b, back, err)
		}
	}
	if _, err := Session(99).MarshalText(); err == nil {
		t.Error("Session(99) marshals")
	}
	var s Session
	if err := s.UnmarshalText([]byte("lunch")); err == nil {
		t.Error(`"lunch" unmarshals`)
	}
	if got := Session(99).String(); got != "Session(99)" {
		t.Errorf("String = %q", got)
	}
}
