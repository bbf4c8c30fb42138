package server

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/tapehq/tape/internal/feed/replay"
	"github.com/tapehq/tape/internal/ingest"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
)

// openJournal opens (and if needed repairs) the journal, warms the bar
// builder up from it, and builds the pipeline on top.
func (s *Server) openJournal(ctx context.Context) error {
	policy, _ := journal.ParseFsyncPolicy(s.opts.Fsync) // validated in New
	j, err := journal.Open(filepath.Join(s.opts.DataDir, "journal"), journal.Options{
		Fsync: policy, MaxAge: s.opts.RetainAge, MaxBytes: s.opts.RetainBytes, Logger: s.log})
	if err != nil {
		return fmt.Errorf("journal: %w (the files are under %s; move them aside to start fresh)", err, s.opts.DataDir)
	}
	rep := j.Report()
	attrs := []any{"records", rep.Last - min(rep.First, rep.Last+1) + 1, "first_seq", rep.First, "last_seq", rep.Last,
		"segments", rep.Segments, "open_time", rep.Duration.Round(time.Microsecond), "fsync", policy.String()}
	if rep.Last == 0 {
		attrs[1] = 0
	}
	if rep.Truncated > 0 || len(rep.Removed) > 0 {
		s.log.Warn("journal repaired: a torn tail was cut", append(attrs, "reason", rep.Reason, "detail", rep.Detail,
			"bytes_cut", rep.Truncated, "removed", rep.Removed)...)
	} else {
		s.log.Info("journal opened", attrs...)
	}
	s.journal = j
	s.stream.SetJournal(j)
	if s.opts.Feed == "replay" && s.opts.Source == nil {
		// A replay publishes the journal's records as they are: same
		// sequence numbers, the bars as derived then, nothing journaled again.
		rf, err := replay.New(replay.Options{Source: j, From: s.opts.ReplayFrom, To: s.opts.ReplayTo,
			Speed: replaySpeed(s.opts.Speed), Loop: s.opts.ReplayLoop, Backlog: s.hub.MaxBacklog,
			MaxBacklog: s.opts.ClientQueueBytes / 4, WaitFor: s.hub.Subscribed, Logger: s.log})
		if err != nil {
			j.Close()
			return err
		}
		s.feed = rf
		s.pipeline = ingest.New(ingest.Options{Publish: s.hub, KeepSeq: true, Logger: s.log})
		return nil
	}
	bars := s.bars
	if s.opts.Feed == "alpaca" || s.opts.Feed == "poll" {
		// Alpaca sends its own bars (and updatedBars, dailyBars; polled,
		// its latest minute bars): pass them through rather than derive a
		// second set.
		bars = nil
	} else if err := s.warmBars(ctx); err != nil {
		j.Close()
		return err
	}
	s.pipeline = ingest.New(ingest.Options{Publish: s.hub, Bars: bars, Journal: j,
		ReleaseSynced: policy.Mode == journal.FsyncAlways, Logger: s.log})
	return nil
}

// replaySpeed maps --speed to the replay's: +Inf ("max") is 0, "no pacing".
func replaySpeed(s float64) float64 {
	if math.IsInf(s, 1) {
		return 0
	}
	return s
}

// warmBars replays the journal's current session day into the bar builder,
// discarding what it derives (those bars are already in the journal), so
// that after a restart the minute in progress and the daily bar continue
// from where they were instead of starting empty.
func (s *Server) warmBars(ctx context.Context) error {
	j := s.journal
	if j.Last() == 0 {
		return nil
	}
	start := time.Now()
	// Find the last event's time, then go back to the start of its day.
	r, err := j.NewReader(j.Last())
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	rec, ok, err := r.TryNext()
	r.Close()
	if err != nil || !ok {
		return fmt.Errorf("journal: reading the last record: %v", err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	t := time.Unix(0, rec.TS).In(ny)
	dayStart := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, ny).UnixNano()
	from, err := j.SeekTime(dayStart)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	r, err = j.NewReader(from)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer r.Close()
	var (
		in      market.Interner
		e       market.Event
		now     int64
		scratch []market.Event
		n       int
	)
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rec, ok, err := r.TryNext()
		if err != nil {
			return fmt.Errorf("journal: warming bars up: %w", err)
		}
		if !ok {
			break
		}
		if err := market.DecodeBinary(rec.Payload, &e, &in); err != nil {
			return fmt.Errorf("journal: record %d: %w", rec.Seq, err)
		}
		n++
		switch e.Kind {
		case market.KindTrade, market.KindCorrection, market.KindCancelError:
			s.bars.Apply(&e)
			now = max(now, e.Time)
		case market.KindBar, market.KindUpdatedBar:
			// A bar in the journal means its minute had closed.
			now = max(now, e.Time+int64(time.Minute))
		}
		if n%4096 == 0 {
			scratch = s.bars.Advance(now, scratch[:0])
		}
	}
	s.bars.Advance(now, scratch[:0])
	s.log.Info("bars warmed up from the journal", "events", n, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
