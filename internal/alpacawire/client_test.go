package alpacawire

import (
	"testing"

	"github.com/tapehq/tape/internal/market"
)

// TestClientMessagesParse: what the client side writes, the server side
// reads back, in both codecs.
func TestClientMessagesParse(t *testing.T) {
	var s Subscription
	s[market.ChanTrades] = []string{"AAPL", "MSFT"}
	s[market.ChanBars] = []string{"*"}
	for _, c := range []Codec{JSON, MsgPack} {
		r, err := ParseRequest(c, AppendAuth(nil, c, "AK", `s"ecret`))
		if err != nil || r.Action != ActionAuth || r.Key != "AK" || r.Secret != `s"ecret` {
			t.Fatalf("%v auth: %+v %v", c, r, err)
		}
		for _, sub := range []bool{true, false} {
			r, err = ParseRequest(c, AppendSubscribe(nil, c, sub, &s))
			want := ActionUnsubscribe
			if sub {
				want = ActionSubscribe
			}
			if err != nil || r.Action != want || len(r.Lists) != 2 || len(r.Lists["trades"]) != 2 || r.Lists["bars"][0] != "*" {
				t.Fatalf("%v subscribe=%v: %+v %v", c, sub, r, err)
			}
		}
	}
}

func TestSubscribeFrom(t *testing.T) {
	var s Subscription
	s[market.ChanTrades] = []string{"*"}
	for _, c := range []Codec{JSON, MsgPack} {
		r, err := ParseRequest(c, AppendSubscribeFrom(nil, c, &s, 12345))
		if err != nil || !r.HasFrom || r.FromSeq != 12345 || r.Lists["trades"][0] != "*" {
			t.Fatalf("%v: %+v %v", c, r, err)
		}
	}
}
