package calendar

import (
	"testing"
	"time"
)

// publishedHolidays is NYSE's published holiday list
// (nyse.com/markets/hours-calendars) for 2025-2027, plus the 2025-01-09
// closure NYSE announced for President Carter's day of mourning.
var publishedHolidays = map[int]map[string]string{
	2025: {
		"2025-01-01": "New Year's Day",
		"2025-01-09": "National Day of Mourning for former President Jimmy Carter",
		"2025-01-20": "Martin Luther King, Jr. Day",
		"2025-02-17": "Washington's Birthday",
		"2025-04-18": "Good Friday",
		"2025-05-26": "Memorial Day",
		"2025-06-19": "Juneteenth National Independence Day",
		"2025-07-04": "Independence Day",
		"2025-09-01": "Labor Day",
		"2025-11-27": "Thanksgiving Day",
		"2025-12-25": "Christmas Day",
	},
	2026: {
		"2026-01-01": "New Year's Day",
		"2026-01-19": "Martin Luther King, Jr. Day",
		"2026-02-16": "Washington's Birthday",
		"2026-04-03": "Good Friday",
		"2026-05-25": "Memorial Day",
		"2026-06-19": "Juneteenth National Independence Day",
		"2026-07-03": "Independence Day", // July 4 is a Saturday
		"2026-09-07": "Labor Day",
		"2026-11-26": "Thanksgiving Day",
		"2026-12-25": "Christmas Day",
	},
	2027: {
		"2027-01-01": "New Year's Day",
		"2027-01-18": "Martin Luther King, Jr. Day",
		"2027-02-15": "Washington's Birthday",
		"2027-03-26": "Good Friday",
		"2027-05-31": "Memorial Day",
		"2027-06-18": "Juneteenth National Independence Day", // June 19 is a Saturday
		"2027-07-05": "Independence Day",                     // July 4 is a Sunday
		"2027-09-06": "Labor Day",
		"2027-11-25": "Thanksgiving Day",
		"2027-12-24": "Christmas Day", // December 25 is a Saturday
	},
}

// publishedEarlyCloses is NYSE's published list of 1:00 p.m. closes for the
// same years. 2026 has no July early close (July 3 is the holiday) and 2027
// none at Christmas (December 24 is the holiday).
var publishedEarlyCloses = map[int][]string{
	2025: {"2025-07-03", "2025-11-28", "2025-12-24"},
	2026: {"2026-11-27", "2026-12-24"},
	2027: {"2027-11-26"},
}

// TestPublishedYears checks every day of 2025-2027 against NYSE's lists:
// holidays closed with their names, weekends closed, early closes at 13:00,
// every other weekday a full 09:30-16:00 day.
func TestPublishedYears(t *testing.T) {
	for year, hols := range publishedHolidays {
		t.Run(time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).Format("2006"), func(t *testing.T) {
			early := map[Date]bool{}
			for _, s := range publishedEarlyCloses[year] {
				early[date(t, s)] = true
			}
			closed := map[Date]string{}
			for s, name := range hols {
				closed[date(t, s)] = name
			}
			trading := 0
			for d := NewDate(year, time.January, 1); d.Year() == year; d++ {
				day, ok := TradingDay(d)
				name, isHoliday := Holiday(d)
				wd := d.Weekday()
				switch want, hol := closed[d]; {
				case hol:
					if ok || !isHoliday || name != want {
						t.Errorf("%v: trading=%v holiday=%q,%v; want closed for %q", d, ok, name, isHoliday, want)
					}
				case wd == time.Saturday || wd == time.Sunday:
					if ok || isHoliday {
						t.Errorf("%v (%v): trading=%v holiday=%v; want closed, no holiday", d, wd, ok, isHoliday)
					}
				default:
					trading++
					if !ok || isHoliday {
						t.Errorf("%v (%v): trading=%v holiday=%q; want a trading day", d, wd, ok, name)
						continue
					}
					wantClose := "16:00"
					if early[d] {
						wantClose = "13:00"
					}
					if got := day.Close.Format("15:04"); got != wantClose || day.EarlyClose != early[d] {
						t.Errorf("%v: close %s early=%v; want %s", d, got, day.EarlyClose, wantClose)
					}
				}
			}
			// Every weekday not listed trades; the count follows from the
			// lists, so this only guards the loop itself.
			if trading < 249 || trading > 253 {
				t.Errorf("%d trading days", trading)
			}
		})
	}
}

func TestGoodFriday(t *testing.T) {
	// Western Easter Sundays, from published tables.
	easters := []string{
		"1990-04-15", "1995-04-16", "1999-04-04", "2000-04-23", "2001-04-15",
		"2002-03-31", "2005-03-27", "2008-03-23", "2011-04-24", "2013-03-31",
		"2016-03-27", "2018-04-01", "2019-04-21", "2021-04-04", "2022-04-17",
		"2023-04-09", "2024-03-31", "2025-04-20", "2026-04-05", "2027-03-28",
		"2028-04-16", "2029-04-01", "2030-04-21", "2038-04-25",
	}
	for _, s := range easters {
		e := date(t, s)
		if got := easter(e.Year()); got != e {
			t.Errorf("easter(%d) = %v, want %v", e.Year(), got, e)
		}
		gf := e - 2
		if name, ok := Holiday(gf); !ok || name != "Good Friday" || IsTradingDay(gf) {
			t.Errorf("%v: holiday %q,%v trading %v; want Good Friday", gf, name, ok, IsTradingDay(gf))
		}
		// The Thursday before trades a full day, the Monday after too.
		for _, d := range []Date{gf - 1, gf + 3} {
			if day, ok := TradingDay(d); !ok || day.EarlyClose {
				t.Errorf("%v: trading %v early %v; want a full day", d, ok, day.EarlyClose)
			}
		}
	}
}

func TestObservanceRules(t *testing.T) {
	tests := []struct {
		name    string
		date    string
		trading bool
		holiday string
	}{
		// New Year's Day on a Saturday closes nothing (Rule 7.2).
		{"2022 new year saturday: friday trades", "2021-12-31", true, ""},
		{"2022 new year saturday: monday trades", "2022-01-03", true, ""},
		{"2011 new year saturday: friday trades", "2010-12-31", true, ""},
		{"2028 new year saturday: friday trades", "2027-12-31", true, ""},
		{"2023 new year sunday: monday closed", "2023-01-02", false, "New Year's Day"},
		{"2017 new year sunday: monday closed", "2017-01-02", false, "New Year's Day"},
		// Juneteenth from 2022 only, nearest weekday.
		{"juneteenth 2021 not yet", "2021-06-18", true, ""},
		{"juneteenth 2022 sunday -> monday", "2022-06-20", false, "Juneteenth National Independence Day"},
		{"juneteenth 2022 friday before trades", "2022-06-17", true, ""},
		{"juneteenth 2023 monday", "2023-06-19", false, "Juneteenth National Independence Day"},
		{"juneteenth 2027 saturday -> friday", "2027-06-18", false, "Juneteenth National Independence Day"},
		// MLK Day from 1998 only.
		{"mlk 1997 not yet", "1997-01-20", true, ""},
		{"mlk 1998", "1998-01-19", false, "Martin Luther King, Jr. Day"},
		// Independence Day and Christmas: nearest weekday.
		{"july 4 2020 saturday -> friday", "2020-07-03", false, "Independence Day"},
		{"july 4 2021 sunday -> monday", "2021-07-05", false, "Independence Day"},
		{"july 4 2021: friday trades", "2021-07-02", true, ""},
		{"christmas 2021 saturday -> friday", "2021-12-24", false, "Christmas Day"},
		{"christmas 2021: thursday trades", "2021-12-23", true, ""},
		{"christmas 2022 sunday -> monday", "2022-12-26", false, "Christmas Day"},
		{"christmas 2022: friday trades", "2022-12-23", true, ""},
		// Monday holidays.
		{"memorial day 2025", "2025-05-26", false, "Memorial Day"},
		{"memorial day 2021 (31st)", "2021-05-31", false, "Memorial Day"},
		{"labor day 2026", "2026-09-07", false, "Labor Day"},
		{"presidents day 2024", "2024-02-19", false, "Washington's Birthday"},
		{"thanksgiving 2024 (28th)", "2024-11-28", false, "Thanksgiving Day"},
		// Bank holidays are trading days.
		{"columbus day trades", "2025-10-13", true, ""},
		{"veterans day trades", "2025-11-11", true, ""},
		// Far ends of the table and beyond (extrapolated).
		{"first day", "1990-01-02", true, ""},
		{"1990 new year", "1990-01-01", false, "New Year's Day"},
		{"2100 christmas", "2100-12-24", false, "Christmas Day"}, // Saturday the 25th
		{"2101 new year saturday: 2100-12-31 trades", "2100-12-31", true, ""},
		{"2102 new year sunday -> monday (extrapolated)", "2102-01-02", false, "New Year's Day"},
		{"1989 christmas (extrapolated)", "1989-12-25", false, "Christmas Day"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := date(t, tt.date)
			name, _ := Holiday(d)
			if got := IsTradingDay(d); got != tt.trading || name != tt.holiday {
				t.Errorf("%v (%v): trading=%v holiday=%q; want %v %q", d, d.Weekday(), got, name, tt.trading, tt.holiday)
			}
		})
	}
}

func TestSpecialClosures(t *testing.T) {
	closed := []string{
		"1994-04-27",
		"2001-09-11", "2001-09-12", "2001-09-13", "2001-09-14",
		"2004-06-11", "2007-01-02", "2012-10-29", "2012-10-30",
		"2018-12-05", "2025-01-09",
	}
	for _, s := range closed {
		d := date(t, s)
		name, ok := Holiday(d)
		if IsTradingDay(d) || !ok || name == "" {
			t.Errorf("%v: trading=%v holiday=%q,%v; want an unscheduled closure", d, IsTradingDay(d), name, ok)
		}
	}
	// The days around them traded.
	for _, s := range []string{"2001-09-10", "2001-09-17", "2012-10-26", "2012-10-31", "2025-01-08", "2025-01-10"} {
		if d := date(t, s); !IsTradingDay(d) {
			t.Errorf("%v: closed, want trading", d)
		}
	}
	if got := NextTradingDay(date(t, "2001-09-10")); got != date(t, "2001-09-17") {
		t.Errorf("NextTradingDay(2001-09-10) = %v, want 2001-09-17", got)
	}
}

func TestEarlyCloses(t *testing.T) {
	tests := []struct {
		date  string
		close string // "" for a full day
	}{
		{"2025-07-03", "13:00"}, // Thursday before a Friday July 4
		{"2025-11-28", "13:00"}, // day after Thanksgiving
		{"2025-12-24", "13:00"}, // Wednesday Christmas Eve
		{"2026-11-27", "13:00"},
		{"2026-12-24", "13:00"}, // Thursday Christmas Eve
		{"2026-07-02", ""},      // July 3 2026 is the observed holiday; Thursday July 2 is a full day
		{"2024-07-03", "13:00"}, // Wednesday July 3, since 2013
		{"2024-07-05", ""},
		{"2013-07-03", "13:00"},
		{"2013-07-05", ""},
		{"2002-07-03", ""}, // before 2013 a Thursday July 4 was followed by ...
		{"2002-07-05", "13:00"},
		{"1996-07-05", "13:00"},
		{"2023-07-03", "13:00"}, // Monday July 3
		{"2018-07-03", "13:00"}, // Tuesday July 3
		{"1994-07-01", ""},      // no July early close before 1995
		{"1995-07-03", "13:00"},
		{"2021-12-23", ""},      // Christmas Eve is the observed holiday
		{"2022-07-01", ""},      // July 4 on a Monday: no early close
		{"1997-12-26", "13:00"}, // ad hoc
		{"2003-12-26", "13:00"}, // ad hoc
		{"1992-11-27", "14:00"}, // 2:00 p.m. before 1993
		{"1991-11-29", ""},      // day after Thanksgiving was a full day before 1992
		{"1990-12-24", "14:00"},
		{"1993-11-26", "13:00"},
		{"2099-12-24", "13:00"}, // Thursday
	}
	for _, tt := range tests {
		t.Run(tt.date, func(t *testing.T) {
			day, ok := TradingDay(date(t, tt.date))
			if !ok {
				t.Fatalf("%s is not a trading day", tt.date)
			}
			wantClose, wantAfter := tt.close, "20:00"
			if wantClose == "" {
				wantClose = "16:00"
			} else {
				wantAfter = "17:00"
			}
			if got := day.Close.Format("15:04"); got != wantClose || day.EarlyClose != (tt.close != "") {
				t.Errorf("close %s early %v; want %s", got, day.EarlyClose, wantClose)
			}
			if got := day.SessionClose.Format("15:04"); got != wantAfter {
				t.Errorf("session close %s; want %s", got, wantAfter)
			}
			if got := day.Open.Format("15:04"); got != "09:30" {
				t.Errorf("open %s", got)
			}
		})
	}
}

// TestRangeInvariants sweeps the whole table: no weekend trades, each year
// has its rule holidays on weekdays (eight, plus MLK Day from 1998 and
// Juneteenth from 2022, less a Saturday New Year's Day), and the table
// agrees with the rules.
func TestRangeInvariants(t *testing.T) {
	for d := First - 400; d <= Last+400; d++ {
		in := info(d)
		if wd := d.Weekday(); (wd == time.Saturday || wd == time.Sunday) && in.close != noClose {
			t.Fatalf("%v: weekend trades", d)
		}
		if d >= First && d <= Last && in != classify(d) {
			t.Fatalf("%v: table %+v, rules %+v", d, in, classify(d))
		}
		if in.close != noClose && in.close != fullDayClose && in.close != earlyCloseMin && in.close != earlyClose92 {
			t.Fatalf("%v: close at minute %d", d, in.close)
		}
	}
	for y := First.Year(); y <= Last.Year(); y++ {
		want := 8
		if y >= 1998 {
			want++
		}
		if y >= 2022 {
			want++
		}
		seen := map[reason]bool{}
		for _, h := range holidays(y) {
			if h.date.Year() != y {
				t.Errorf("%d: %v observed in another year", y, h.date)
			}
			if wd := h.date.Weekday(); wd == time.Saturday || wd == time.Sunday {
				t.Errorf("%d: %v observed on %v", y, h.date, wd)
			}
			if IsTradingDay(h.date) {
				t.Errorf("%d: %v trades", y, h.date)
			}
			seen[h.why] = true
		}
		// A Saturday New Year's Day is not observed: one fewer.
		if NewDate(y, time.January, 1).Weekday() == time.Saturday {
			want--
		}
		if len(seen) != want {
			t.Errorf("%d: %d distinct holidays, want %d", y, len(seen), want)
		}
	}
}
