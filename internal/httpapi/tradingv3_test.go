package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/calendar"
	"github.com/tapehq/tape/internal/httpapi"
)

// TestV3ClockAndCalendar: the trading API's v3 clock and calendar (the JS
// SDK v4's default clock() and calendar()): the phase at the feed's time,
// the next open and close, and a calendar week with its early close, in
// the shapes the SDK's generated models read.
func TestV3ClockAndCalendar(t *testing.T) {
	ny := calendar.NewYork()
	cases := []struct {
		now   time.Time
		phase string
		day   bool
		until time.Time
	}{
		{time.Date(2026, 12, 4, 11, 0, 0, 0, ny), "core", true, time.Date(2026, 12, 4, 16, 0, 0, 0, ny)},
		{time.Date(2026, 12, 4, 7, 0, 0, 0, ny), "pre", true, time.Date(2026, 12, 4, 9, 30, 0, 0, ny)},
		{time.Date(2026, 12, 4, 17, 0, 0, 0, ny), "post", true, time.Date(2026, 12, 4, 20, 0, 0, 0, ny)},
		{time.Date(2026, 12, 5, 12, 0, 0, 0, ny), "closed", false, time.Date(2026, 12, 7, 9, 30, 0, 0, ny)},
	}
	for _, tc := range cases {
		e := newEnv(t, httpapi.Options{Now: func() time.Time { return tc.now }})
		resp, err := http.Get(e.srv.URL + "/v3/clock")
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Clocks []struct {
				Market struct {
					MIC, Timezone string
				} `json:"market"`
				Timestamp   time.Time `json:"timestamp"`
				IsMarketDay bool      `json:"is_market_day"`
				Phase       string    `json:"phase"`
				PhaseUntil  time.Time `json:"phase_until"`
				NextOpen    time.Time `json:"next_market_open"`
			} `json:"clocks"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if len(body.Clocks) != 1 {
			t.Fatalf("%v: %+v", tc.now, body)
		}
		c := body.Clocks[0]
		if c.Phase != tc.phase || c.IsMarketDay != tc.day || !c.PhaseUntil.Equal(tc.until) || !c.Timestamp.Equal(tc.now) ||
			c.Market.MIC != "XNYS" || c.NextOpen.Before(tc.now) {
			t.Errorf("%v: %+v", tc.now, c)
		}
	}
	e := newEnv(t, httpapi.Options{})
	resp, err := http.Get(e.srv.URL + "/v3/calendar/XNYS?start=2026-11-23&end=2026-11-29")
	if err != nil {
		t.Fatal(err)
	}
	var cal struct {
		Calendar []struct {
			Date    string    `json:"date"`
			CoreEnd time.Time `json:"core_end"`
			PostEnd time.Time `json:"post_end"`
		} `json:"calendar"`
	}
	json.NewDecoder(resp.Body).Decode(&cal)
	resp.Body.Close()
	var got []string
	for _, d := range cal.Calendar {
		got = append(got, d.Date+" "+d.CoreEnd.In(ny).Format("15:04"))
	}
	if want := "[2026-11-23 16:00 2026-11-24 16:00 2026-11-25 16:00 2026-11-27 13:00]"; fmt.Sprint(got) != want {
		t.Fatalf("Thanksgiving week: %v, want %s", got, want)
	}
	if resp, _ := http.Get(e.srv.URL + "/v3/calendar/XLON"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown market: %d", resp.StatusCode)
	}
}
