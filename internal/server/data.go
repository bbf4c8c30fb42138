package server

import (
	"context"
	"time"

	"github.com/tapehq/tape/internal/datadir"
	"github.com/tapehq/tape/internal/journal"
)

// openData opens the data directory (datadir.Open: lock, journal repair,
// history catch-up, record state) and says in the log what it found.
func (s *Server) openData(ctx context.Context) (*datadir.Dir, error) {
	policy, _ := journal.ParseFsyncPolicy(s.opts.Fsync) // validated in New
	d, err := datadir.Open(ctx, s.opts.DataDir, datadir.Options{Create: true, Holder: "tape serve",
		Fsync: policy, RetainAge: s.opts.RetainAge,
		NoState: !s.kind.journals(), IEXBars: s.kind.derivesBars(), Logger: s.log})
	if err != nil {
		return nil, err
	}
	rep := d.Report
	jr := rep.Journal
	attrs := []any{"records", jr.Last - min(jr.First, jr.Last+1) + 1, "first_seq", jr.First, "last_seq", jr.Last,
		"segments", jr.Segments, "open_time", jr.Duration.Round(time.Microsecond), "fsync", policy.String()}
	if jr.Last == 0 {
		attrs[1] = 0
	}
	if jr.Truncated > 0 || len(jr.Removed) > 0 {
		// The journal itself warned, with the details of the repair.
		attrs = append(attrs, "repaired", true)
	}
	s.log.Info("journal opened", attrs...)
	if rep.HistoryFrom != 0 {
		s.log.Info("history caught up with the journal", "from_seq", rep.HistoryFrom, "events", rep.HistoryEvents)
	}
	if st := d.State; st != nil && st.Seq > 0 {
		s.log.Info("record state restored", "checkpoint_seq", rep.State.CheckpointSeq, "replayed", rep.State.Replayed,
			"record_ends", time.Unix(0, max(st.Clock, st.FeedNow)).UTC().Format(time.RFC3339Nano),
			"took", rep.State.Took.Round(time.Millisecond))
	}
	s.log.Info("data directory open", "dir", d.Path, "took", rep.Took.Round(time.Millisecond))
	return d, nil
}

// DefaultDiskBudget caps the data directory (journal plus history) when
// RetainBytes is 0: at --speed 60 the simulator writes gigabytes an hour,
// and a full disk stops the journal. It is further capped at half the
// space the directory could use (what it holds plus what is free).
const DefaultDiskBudget = 20 << 30

// startRetention starts the disk budget: RetainBytes (0: the default,
// negative: none) over journal plus history, RetainAge over both, and a
// warning before the disk is full. The log states the budget.
func (s *Server) startRetention(d *datadir.Dir) *datadir.Retention {
	r := &datadir.Retention{MaxAge: s.opts.RetainAge, Logger: s.log,
		Now: func() int64 { return s.feedClock().UnixNano() }}
	u := r.Usage(d)
	switch b := s.opts.RetainBytes; {
	case b > 0:
		r.MaxBytes = b
	case b == 0:
		r.MaxBytes = DefaultDiskBudget
		if u.Free >= 0 {
			r.MaxBytes = min(r.MaxBytes, (u.Free+u.JournalBytes+u.HistoryBytes)/2)
		}
	}
	attrs := []any{"journal_bytes", u.JournalBytes, "history_bytes", u.HistoryBytes, "free_bytes", u.Free}
	if r.MaxBytes > 0 {
		s.log.Info("disk budget: the journal and history are kept under it, the oldest data deleted first (--retain-bytes to change, --retain-bytes=-1 for none)",
			append(attrs, "budget_bytes", r.MaxBytes)...)
	} else {
		s.log.Warn("no disk budget (--retain-bytes=-1): the data directory grows until the disk is full", attrs...)
	}
	return r
}
