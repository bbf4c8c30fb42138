package calendar_test

import (
	"fmt"
	"time"

	"github.com/tapehq/tape/internal/calendar"
)

func Example() {
	ny := calendar.NewYork()

	// Saturday morning trades nothing; Sunday evening opens the overnight
	// session into Monday.
	fmt.Println(calendar.SessionAt(time.Date(2025, time.July, 5, 10, 0, 0, 0, ny)))
	fmt.Println(calendar.SessionAt(time.Date(2025, time.July, 6, 21, 0, 0, 0, ny)))

	// The day before Independence Day closes at 13:00.
	day, _ := calendar.TradingDay(calendar.NewDate(2025, time.July, 3))
	fmt.Println(day.Date, day.Open.Format("15:04"), day.Close.Format("15:04"), day.EarlyClose)
	fmt.Println(calendar.SessionAt(time.Date(2025, time.July, 3, 14, 0, 0, 0, ny)))

	// Independence Day itself.
	name, _ := calendar.Holiday(calendar.NewDate(2025, time.July, 4))
	fmt.Println(name)
	fmt.Println(calendar.NextOpen(day.Close))
	fmt.Println(calendar.SettlementDate(day.Date))
	// Output:
	// closed
	// overnight
	// 2025-07-03 09:30 13:00 true
	// after-hours
	// Independence Day
	// 2025-07-07 09:30:00 -0400 EDT
	// 2025-07-07
}
