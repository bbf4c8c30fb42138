package server

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
)

type seqClient struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialSeq(t *testing.T, srv *Server) *seqClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+srv.Addr().String()+"/v2/sip?tape_seq=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(-1)
	t.Cleanup(func() { conn.CloseNow() })
	c := &seqClient{t: t, conn: conn}
	c.read() // connected
	c.send(`{"action":"auth","key":"k","secret":"s"}`)
	c.read() // authenticated
	return c
}

func (c *seqClient) send(s string) {
	c.t.Helper()
	if err := c.conn.Write(context.Background(), websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

type seqMsg struct {
	T, S string
	Seq  uint64
}

func (c *seqClient) read() []seqMsg {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, data, err := c.conn.Read(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	// Maps, not a struct: encoding/json matches keys case-insensitively, and
	// Alpaca has both "S" (symbol) and "s" (size).
	var raw []map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		c.t.Fatal(err)
	}
	msgs := make([]seqMsg, len(raw))
	for i, m := range raw {
		msgs[i].T, _ = m["T"].(string)
		msgs[i].S, _ = m["S"].(string)
		if f, ok := m["#"].(float64); ok {
			msgs[i].Seq = uint64(f)
		}
	}
	return msgs
}

// TestResumeNoGapNoDuplicate: a client that stopped at sequence S resumes
// from S+1 while the market keeps moving, and receives every trade-channel
// event after S exactly once, in order, from the journal and then live.
func TestResumeNoGapNoDuplicate(t *testing.T) {
	dir := t.TempDir()
	srv, stop := start(t, Options{DataDir: dir, Source: simSource(t, 3000, 10)})

	a := dialSeq(t, srv)
	a.send(`{"action":"subscribe","trades":["*"]}`)
	var last uint64
	for n := 0; n < 500; {
		for _, m := range a.read() {
			if m.Seq == 0 {
				continue // the echo
			}
			if m.Seq <= last {
				t.Fatalf("seq went from %d to %d", last, m.Seq)
			}
			last = m.Seq
			n++
		}
	}
	a.conn.Close(websocket.StatusNormalClosure, "")
	time.Sleep(300 * time.Millisecond) // the market moves on: a real gap to fill

	b := dialSeq(t, srv)
	b.send(fmt.Sprintf(`{"action":"subscribe","trades":["*"],"tape_from_seq":%d}`, last+1))
	var got []seqMsg
	liveAt := srv.pipe().Stats().Released + 2000 // well past the resume boundary
	for len(got) == 0 || got[len(got)-1].Seq < liveAt {
		for _, m := range b.read() {
			if m.T == "subscription" {
				if len(got) > 0 {
					t.Fatal("echo after data")
				}
				continue
			}
			got = append(got, m)
		}
	}
	stop()

	// Every trade-channel event of the journal after `last`, up to the last
	// one received, exactly once and in order.
	j, err := journal.Open(dir+"/journal", journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	r, _ := j.NewReader(last + 1)
	defer r.Close()
	var in market.Interner
	var e market.Event
	i := 0
	for {
		rec, ok, err := r.TryNext()
		if err != nil || !ok || rec.Seq > got[len(got)-1].Seq {
			break
		}
		if market.DecodeBinary(rec.Payload, &e, &in) != nil || e.Kind.Channel() != market.ChanTrades {
			continue
		}
		if i >= len(got) || got[i].Seq != rec.Seq || got[i].T != e.Kind.Letter() || got[i].S != e.Symbol {
			t.Fatalf("position %d: journal has seq %d (%s %s), client got %+v", i, rec.Seq, e.Kind, e.Symbol, got[min(i, len(got)-1)])
		}
		i++
	}
	if i != len(got) {
		t.Fatalf("client got %d events, journal has %d", len(got), i)
	}
	if got[0].Seq <= last {
		t.Fatalf("resume started at %d, before %d", got[0].Seq, last+1)
	}
}
