package market

import "testing"

func TestParseTimeframe(t *testing.T) {
	good := map[string]string{"1Min": "1Min", "5Min": "5Min", "59T": "59Min", "15min": "15Min", "1Hour": "1Hour",
		"4H": "4Hour", "23Hour": "23Hour", "1Day": "1Day", "1D": "1Day", "1Week": "1Week", "1W": "1Week",
		"1Month": "1Month", "3M": "3Month", "12Month": "12Month"}
	for in, want := range good {
		tf, err := ParseTimeframe(in)
		if err != nil || tf.String() != want {
			t.Errorf("%s: %v %v", in, tf, err)
		}
	}
	for _, bad := range []string{"", "Min", "0Min", "60Min", "24Hour", "2Day", "2Week", "5Month", "1Year", "1Mins", "1000Min", "-1Min"} {
		if _, err := ParseTimeframe(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
