package calendar

import (
	"testing"
	"time"
)

func TestTradingDayFields(t *testing.T) {
	day, ok := TradingDay(date(t, "2025-06-16")) // a Monday
	if !ok {
		t.Fatal("not a trading day")
	}
	want := map[string]struct {
		got  time.Time
		want string
	}{
		"OvernightOpen": {day.OvernightOpen, "2025-06-15 20:00:00"}, // Sunday evening
		"SessionOpen":   {day.SessionOpen, "2025-06-16 04:00:00"},
		"Open":          {day.Open, "2025-06-16 09:30:00"},
		"Close":         {day.Close, "2025-06-16 16:00:00"},
		"SessionClose":  {day.SessionClose, "2025-06-16 20:00:00"},
	}
	for name, w := range want {
		if !w.got.Equal(ny(t, w.want)) || w.got.Location() != NewYork() {
			t.Errorf("%s = %v, want %s New York", name, w.got, w.want)
		}
	}
	if day.EarlyClose || day.Date != date(t, "2025-06-16") {
		t.Errorf("day = %+v", day)
	}
	if d, ok := TradingDay(date(t, "2025-06-14")); ok || d.Date != date(t, "2025-06-14") || !d.Open.IsZero() {
		t.Errorf("Saturday: %+v, %v", d, ok)
	}
}

func TestNextOpenClose(t *testing.T) {
	tests := []struct {
		name, at, open, close string
	}{
		{"before pre-market", "2025-06-10 03:00:00", "2025-06-10 09:30:00", "2025-06-10 16:00:00"},
		{"one ns before open", "2025-06-10 09:29:59.999999999", "2025-06-10 09:30:00", "2025-06-10 16:00:00"},
		{"at the open", "2025-06-10 09:30:00", "2025-06-11 09:30:00", "2025-06-10 16:00:00"},
		{"during session", "2025-06-10 12:00:00", "2025-06-11 09:30:00", "2025-06-10 16:00:00"},
		{"at the close", "2025-06-10 16:00:00", "2025-06-11 09:30:00", "2025-06-11 16:00:00"},
		{"labor day weekend", "2025-08-29 16:00:00", "2025-09-02 09:30:00", "2025-09-02 16:00:00"},
		{"on labor day", "2025-09-01 12:00:00", "2025-09-02 09:30:00", "2025-09-02 16:00:00"},
		{"easter weekend 2026", "2026-04-02 17:00:00", "2026-04-06 09:30:00", "2026-04-06 16:00:00"},
		{"christmas 2026", "2026-12-24 13:00:00", "2026-12-28 09:30:00", "2026-12-28 16:00:00"},
		{"early close day", "2025-11-28 10:00:00", "2025-12-01 09:30:00", "2025-11-28 13:00:00"},
		{"september 2001", "2001-09-10 16:30:00", "2001-09-17 09:30:00", "2001-09-17 16:00:00"},
		{"new year 2027", "2026-12-31 16:00:00", "2027-01-04 09:30:00", "2027-01-04 16:00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", tt.at, NewYork())
			if err != nil {
				t.Fatal(err)
			}
			if got := NextOpen(at); !got.Equal(ny(t, tt.open)) {
				t.Errorf("NextOpen = %v, want %s", got, tt.open)
			}
			if got := NextClose(at); !got.Equal(ny(t, tt.close)) {
				t.Errorf("NextClose = %v, want %s", got, tt.close)
			}
			// The answer does not depend on the zone of the argument.
			if got := NextOpen(at.UTC()); !got.Equal(ny(t, tt.open)) {
				t.Errorf("NextOpen(UTC) = %v, want %s", got, tt.open)
			}
		})
	}
}

func TestNextPrevTradingDay(t *testing.T) {
	tests := []struct{ from, next, prev string }{
		{"2025-07-03", "2025-07-07", "2025-07-02"},
		{"2025-07-04", "2025-07-07", "2025-07-03"},
		{"2025-07-05", "2025-07-07", "2025-07-03"},
		{"2026-04-06", "2026-04-07", "2026-04-02"},
		{"2025-01-10", "2025-01-13", "2025-01-08"},
	}
	for _, tt := range tests {
		d := date(t, tt.from)
		if got := NextTradingDay(d); got != date(t, tt.next) {
			t.Errorf("NextTradingDay(%v) = %v, want %s", d, got, tt.next)
		}
		if got := PrevTradingDay(d); got != date(t, tt.prev) {
			t.Errorf("PrevTradingDay(%v) = %v, want %s", d, got, tt.prev)
		}
	}
}

func TestDays(t *testing.T) {
	days := Days(date(t, "2025-12-20"), date(t, "2026-01-05"))
	var got []string
	for _, d := range days {
		got = append(got, d.Date.String()+" "+d.Close.Format("15:04"))
	}
	want := []string{
		"2025-12-22 16:00", "2025-12-23 16:00", "2025-12-24 13:00", "2025-12-26 16:00",
		"2025-12-29 16:00", "2025-12-30 16:00", "2025-12-31 16:00", "2026-01-02 16:00",
		"2026-01-05 16:00",
	}
	if len(got) != len(want) {
		t.Fatalf("Days = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Days = %v, want %v", got, want)
		}
	}
	if d := Days(date(t, "2025-01-02"), date(t, "2025-01-01")); d != nil {
		t.Errorf("reversed range: %v", d)
	}
	if d := Days(date(t, "2025-07-04"), date(t, "2025-07-06")); len(d) != 0 {
		t.Errorf("closed range: %v", d)
	}
	// Whole table: Days agrees with IsTradingDay.
	all := Days(First, Last)
	n := 0
	for d := First; d <= Last; d++ {
		if IsTradingDay(d) {
			if all[n].Date != d {
				t.Fatalf("Days[%d] = %v, want %v", n, all[n].Date, d)
			}
			n++
		}
	}
	if n != len(all) {
		t.Fatalf("Days has %d entries, IsTradingDay %d", len(all), n)
	}
}

func TestSettlementDate(t *testing.T) {
	tests := []struct{ trade, settle, why string }{
		{"1970-01-02", "1970-01-06", "Alpaca's documented sample: T+2 before 2024"},
		{"1970-01-08", "1970-01-12", "Alpaca's documented sample, over a weekend"},
		{"2018-01-03", "2018-01-05", "Alpaca's documented sample"},
		{"2024-05-23", "2024-05-28", "T+2 over Memorial Day"},
		{"2024-05-24", "2024-05-29", "last T+2 trade date"},
		{"2024-05-28", "2024-05-29", "first T+1 trade date settles the same day"},
		{"2025-06-10", "2025-06-11", "T+1"},
		{"2025-07-03", "2025-07-07", "over Independence Day and a weekend"},
		{"2025-12-24", "2025-12-26", "over Christmas"},
		{"2026-11-25", "2026-11-27", "over Thanksgiving"},
		{"2026-04-02", "2026-04-06", "over Good Friday"},
		{"2025-10-10", "2025-10-14", "Columbus Day: NYSE open, no settlement"},
		{"2025-10-13", "2025-10-14", "a trade on Columbus Day"},
		{"2025-11-10", "2025-11-12", "Veterans Day (Tuesday)"},
		{"2024-11-08", "2024-11-12", "Veterans Day (Monday)"},
		{"2018-11-09", "2018-11-14", "T+2 over Veterans Day observed Monday the 12th"},
		{"2023-11-10", "2023-11-14", "Veterans Day on a Saturday is not observed"},
		{"2025-01-08", "2025-01-10", "over the Carter closure"},
		{"2001-09-10", "2001-09-18", "T+2 over the September 2001 closure"},
	}
	for _, tt := range tests {
		t.Run(tt.trade, func(t *testing.T) {
			if got := SettlementDate(date(t, tt.trade)); got != date(t, tt.settle) {
				t.Errorf("SettlementDate(%s) = %v, want %s (%s)", tt.trade, got, tt.settle, tt.why)
			}
		})
	}
	// No trade date settles further out than Calendar's search window.
	for d := First; d <= Last; d = NextTradingDay(d) {
		if lag := SettlementDate(d) - d; lag < 1 || lag > maxSettlementLag {
			t.Fatalf("%v settles %d days later", d, lag)
		}
	}
}
