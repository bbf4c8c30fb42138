package wsapi

import (
	"context"
	"errors"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/hub"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
)

// Journal is what the resume extension reads (journal.File implements it).
type Journal interface {
	NewReader(from uint64) (journal.Reader, error)
	SeekTime(t int64) (uint64, error)
	First() uint64
}

// Hub formats: the two codecs, then the same with Tape's "#" sequence
// numbers. A server that offers resume builds its hub with all four.
const seqFormats = 2

// HubFormats are the encoders a hub serving this package needs, in order.
var HubFormats = []hub.Encoder{
	alpacawire.AppendJSON, alpacawire.AppendMsgpack, alpacawire.AppendJSONSeq, alpacawire.AppendMsgpackSeq,
}

// format is the session's hub format index.
func (ss *session) format() int {
	if ss.seq && ss.srv.opts.Hub.NumFormats() > seqFormats+int(ss.codec) {
		return seqFormats + int(ss.codec)
	}
	ss.seq = false
	return int(ss.codec)
}

func (ss *session) encoder() hub.Encoder { return HubFormats[ss.format()] }

// canResume checks a resume request can be served, answering 400 if not.
func (ss *session) canResume() bool {
	if ss.srv.opts.Journal == nil {
		ss.logger().Info("resume refused: no journal")
		ss.error(alpacawire.CodeInvalidSyntax)
		return false
	}
	ss.takeMu.Lock()
	busy := ss.resume != nil
	ss.takeMu.Unlock()
	if busy {
		ss.logger().Info("resume refused: one is in progress")
		ss.error(alpacawire.CodeInvalidSyntax)
		return false
	}
	return true
}

// startResume replays the journal from the requested point up to boundary
// (inclusive) for the session's subscription, as frames the writer sends
// before any live data. Caller holds takeMu.
func (ss *session) startResume(ctx context.Context, req *alpacawire.Request, boundary uint64) {
	frames := make(chan []byte, 4)
	ss.resume = frames
	filter := newFilter(&ss.subs, ss.hubChannel)
	enc := ss.encoder()
	j := ss.srv.opts.Journal
	ss.bg.Go(func() {
		defer func() {
			close(frames)
			ss.wake()
		}()
		from := req.FromSeq
		if req.FromTime != 0 {
			var err error
			if from, err = j.SeekTime(req.FromTime); err != nil {
				ss.logger().Warn("resume: seeking the journal", "err", err)
				return
			}
		}
		from = max(from, j.First(), 1)
		if from > boundary {
			return
		}
		r, err := j.NewReader(from)
		if err != nil {
			ss.logger().Warn("resume: reading the journal", "from", from, "err", err)
			return
		}
		defer r.Close()
		var (
			in    market.Interner
			e     market.Event
			msgs  [][]byte
			size  int
			n     int
			limit = ss.srv.opts.MaxFrameBytes
		)
		send := func() bool {
			if len(msgs) == 0 {
				return true
			}
			f := alpacawire.AppendFrame(make([]byte, 0, size+8), ss.codec, msgs)
			ss.srv.stats.messages.Add(uint64(len(msgs)))
			msgs, size = msgs[:0], 0
			// Charged until written, like everything the client pins; a
			// resume at most fills the channel, so it cannot run away.
			ss.sub.Charge(cap(f))
			select {
			case frames <- f:
				ss.wake()
				return true
			case <-ctx.Done():
				return false
			}
		}
		for {
			rec, err := r.Next(ctx)
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					ss.logger().Warn("resume: reading the journal", "err", err)
				}
				return
			}
			if rec.Seq > boundary {
				break
			}
			e.Seq = rec.Seq
			if market.DecodeBinary(rec.Payload, &e, &in) != nil || !filter.match(&e) {
				continue
			}
			m := enc(nil, &e)
			if size+len(m)+1 > limit && !send() {
				return
			}
			msgs = append(msgs, m)
			size += len(m) + 1
			n++
		}
		if send() {
			ss.logger().Debug("resume delivered", "from", from, "to", boundary, "messages", n)
		}
	})
}

// appendResume appends the resume frames that are ready (up to turnBytes)
// and returns what they were charged; done reports that the resume has
// delivered everything, more that frames may be left (the turn was full):
// the resume's wake-ups may all be spent, so the writer must come back.
func (ss *session) appendResume(buf []byte, resume chan []byte) (_ []byte, cost int, done, more bool) {
	op := byte(opText)
	if ss.codec == alpacawire.MsgPack {
		op = opBinary
	}
	for size := 0; size < turnBytes; {
		select {
		case f, ok := <-resume:
			if !ok {
				return buf, cost, true, false
			}
			cost += cap(f)
			if len(f) == 0 {
				continue
			}
			buf = appendFrame(buf, op, f)
			size += len(f)
			ss.srv.stats.frames.Add(1)
		default:
			return buf, cost, false, false
		}
	}
	return buf, cost, false, true
}

// filter matches events against a subscription snapshot.
type filter struct {
	wild [market.NumChannels]bool
	syms [market.NumChannels]map[string]struct{}
}

// newFilter builds the filter of subscription s, whose channels are served
// by the hub channels that at maps them to (the iex feed's, for its clients).
func newFilter(s *alpacawire.Subscription, at func(market.Channel) market.Channel) *filter {
	f := &filter{}
	for sc := range market.NumChannels {
		c := at(sc)
		for _, sym := range s[sc] {
			if sym == "*" {
				f.wild[c] = true
				continue
			}
			if f.syms[c] == nil {
				f.syms[c] = make(map[string]struct{})
			}
			f.syms[c][sym] = struct{}{}
		}
	}
	return f
}

// match reports whether the hub would deliver e to the subscription: on
// the channel of its kind, or for a trade printed on IEX on the iex feed's
// trades too (Hub.Publish).
func (f *filter) match(e *market.Event) bool {
	if e.OnIEX() && f.matchOn(market.ChanIEXTrades, e) {
		return true
	}
	return f.matchOn(e.Kind.Channel(), e)
}

func (f *filter) matchOn(c market.Channel, e *market.Event) bool {
	if c >= market.NumChannels {
		return false
	}
	if f.wild[c] {
		return true
	}
	if e.Kind == market.KindNews {
		// An article matches a subscription to any of its symbols, as the
		// hub routes it (Hub.publishMulti).
		if e.News != nil {
			for _, sym := range e.News.Symbols {
				if _, ok := f.syms[c][sym]; ok {
					return true
				}
			}
		}
		return false
	}
	_, ok := f.syms[c][e.Symbol]
	return ok
}
