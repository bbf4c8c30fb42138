package calendar

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/alpaca"
)

func TestClockJSON(t *testing.T) {
	tests := []struct {
		name, at, want string
	}{
		{
			"open", "2025-07-03T12:07:04.451420928-04:00",
			`{"timestamp":"2025-07-03T12:07:04.451420928-04:00","is_open":true,` +
				`"next_open":"2025-07-07T09:30:00-04:00","next_close":"2025-07-03T13:00:00-04:00"}`,
		},
		{
			"closed, winter offset, asked in UTC", "2025-12-24T18:30:00Z",
			`{"timestamp":"2025-12-24T13:30:00-05:00","is_open":false,` +
				`"next_open":"2025-12-26T09:30:00-05:00","next_close":"2025-12-26T16:00:00-05:00"}`,
		},
		{
			"pre-market is not open", "2026-03-09T08:00:00-04:00",
			`{"timestamp":"2026-03-09T08:00:00-04:00","is_open":false,` +
				`"next_open":"2026-03-09T09:30:00-04:00","next_close":"2026-03-09T16:00:00-04:00"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, err := time.Parse(time.RFC3339Nano, tt.at)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(ClockAt(at))
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("got  %s\nwant %s", b, tt.want)
			}
		})
	}
}

func TestCalendarJSON(t *testing.T) {
	b, err := json.Marshal(Calendar(date(t, "2026-11-25"), date(t, "2026-11-30"), ByTradeDate))
	if err != nil {
		t.Fatal(err)
	}
	want := `[` +
		`{"date":"2026-11-25","open":"09:30","close":"16:00","session_open":"0400","session_close":"2000","settlement_date":"2026-11-27"},` +
		`{"date":"2026-11-27","open":"09:30","close":"13:00","session_open":"0400","session_close":"1700","settlement_date":"2026-11-30"},` +
		`{"date":"2026-11-30","open":"09:30","close":"16:00","session_open":"0400","session_close":"2000","settlement_date":"2026-12-01"}` +
		`]`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	if b, _ := json.Marshal(Calendar(date(t, "2026-11-26"), date(t, "2026-11-26"), ByTradeDate)); string(b) != "[]" {
		t.Errorf("a holiday alone: %s, want []", b)
	}
	if b, _ := json.Marshal(Calendar(date(t, "2026-11-30"), date(t, "2026-11-25"), ByTradeDate)); string(b) != "[]" {
		t.Errorf("start after end: %s, want []", b)
	}
}

func TestCalendarBySettlement(t *testing.T) {
	tests := []struct {
		start, end string
		want       []string // trade dates
	}{
		// 2024-05-29 settled both the last T+2 and the first T+1 trades.
		{"2024-05-29", "2024-05-29", []string{"2024-05-24", "2024-05-28"}},
		// Nothing settles on Columbus Day; the Tuesday after settles
		// Friday's and Monday's trades.
		{"2025-10-13", "2025-10-13", nil},
		{"2025-10-14", "2025-10-14", []string{"2025-10-10", "2025-10-13"}},
		{"2025-12-29", "2025-12-31", []string{"2025-12-26", "2025-12-29", "2025-12-30"}},
	}
	for _, tt := range tests {
		t.Run(tt.start, func(t *testing.T) {
			got := Calendar(date(t, tt.start), date(t, tt.end), BySettlementDate)
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want trade dates %v", got, tt.want)
			}
			for i, c := range got {
				if c.Date != tt.want[i] {
					t.Errorf("[%d] = %s, want %s", i, c.Date, tt.want[i])
				}
			}
		})
	}
}

func TestParseDateType(t *testing.T) {
	for in, want := range map[string]DateType{
		"": ByTradeDate, "TRADING": ByTradeDate, "trading": ByTradeDate,
		"SETTLEMENT": BySettlementDate, "settlement": BySettlementDate,
	} {
		if got, err := ParseDateType(in); err != nil || got != want {
			t.Errorf("ParseDateType(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseDateType("SETTLE"); !errors.Is(err, ErrInvalidDateType) {
		t.Errorf("ParseDateType(SETTLE) error %v", err)
	}
}

// TestSDKDecodes serves ClockAt and Calendar the way the REST API will and
// reads them back with the official Go SDK's own client and types.
func TestSDKDecodes(t *testing.T) {
	at := ny(t, "2025-11-28 12:00:00")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/clock", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(ClockAt(at))
	})
	var query string
	mux.HandleFunc("GET /v2/calendar", func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		start, err1 := ParseDate(r.URL.Query().Get("start"))
		end, err2 := ParseDate(r.URL.Query().Get("end"))
		if err := errors.Join(err1, err2); err != nil {
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		_ = json.NewEncoder(w).Encode(Calendar(start, end, ByTradeDate))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := alpaca.NewClient(alpaca.ClientOpts{APIKey: "k", APISecret: "s", BaseURL: srv.URL, RetryLimit: 1})

	clock, err := client.GetClock()
	if err != nil {
		t.Fatal(err)
	}
	if !clock.Timestamp.Equal(at) || !clock.IsOpen ||
		!clock.NextOpen.Equal(ny(t, "2025-12-01 09:30:00")) || !clock.NextClose.Equal(ny(t, "2025-11-28 13:00:00")) {
		t.Errorf("SDK clock = %+v", clock)
	}

	days, err := client.GetCalendar(alpaca.GetCalendarRequest{
		Start: time.Date(2025, 11, 26, 0, 0, 0, 0, time.UTC),
		End:   time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	if query != "end=2025-12-01&start=2025-11-26" {
		t.Errorf("the SDK sent %q", query)
	}
	want := []alpaca.CalendarDay{
		{Date: "2025-11-26", Open: "09:30", Close: "16:00"},
		{Date: "2025-11-28", Open: "09:30", Close: "13:00"},
		{Date: "2025-12-01", Open: "09:30", Close: "16:00"},
	}
	if len(days) != len(want) {
		t.Fatalf("SDK calendar = %+v", days)
	}
	for i := range want {
		if days[i] != want[i] {
			t.Errorf("SDK calendar[%d] = %+v, want %+v", i, days[i], want[i])
		}
	}
}

func BenchmarkClockAt(b *testing.B) {
	at := ny(b, "2025-06-10 10:00:00")
	b.ReportAllocs()
	for b.Loop() {
		_ = ClockAt(at)
	}
}
