package ingest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/market"
)

// A checkpoint is the record's State and the live bar builder's state as of
// one sequence number, so that a restart reads them back and replays only
// the journal after it — constant time, whatever the size of the day —
// instead of replaying the whole day into the bar builder.
//
// File (dir/checkpoint, replaced atomically: temporary file, fsync, rename,
// directory fsync), little endian:
//
//	magic "TAPECKPT" | version u8 | seq u64 | state len u32 | state | bars len u32 | bars | crc32c u32
//
// The CRC covers everything before it. A checkpoint is written only once
// the journal has fsynced its sequence number, so it is never ahead of the
// journal unless the journal itself was damaged; one that is (or is corrupt)
// is ignored, and the state is rebuilt from the journal instead.

const (
	checkpointMagic   = "TAPECKPT"
	checkpointVersion = 1
	checkpointName    = "checkpoint"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BarState is the part of the bar builder a checkpoint holds.
// *bars.Builder and *bars.Set implement it; a Set's state holds its IEX
// builder too, if it has one, and a Set with IEX restores the state of one
// without (an older checkpoint) with a fresh IEX builder.
type BarState interface {
	AppendState(dst []byte) []byte
	RestoreState(p []byte) error
}

// BarApplier is the part of the bar builder that rebuilds it from the
// journal: events as the sequencer applied them, and its clock.
type BarApplier interface {
	Apply(e *market.Event)
	Advance(now int64, out []market.Event) []market.Event
}

// checkpoint is a decoded checkpoint file.
type checkpoint struct {
	seq   uint64
	state []byte
	bars  []byte
}

func encodeCheckpoint(c checkpoint) []byte {
	b := make([]byte, 0, len(checkpointMagic)+1+8+4+len(c.state)+4+len(c.bars)+4)
	b = append(b, checkpointMagic...)
	b = append(b, checkpointVersion)
	b = binary.LittleEndian.AppendUint64(b, c.seq)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(c.state)))
	b = append(b, c.state...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(c.bars)))
	b = append(b, c.bars...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

var errBadCheckpoint = errors.New("malformed checkpoint")

func decodeCheckpoint(p []byte) (checkpoint, error) {
	const head = len(checkpointMagic) + 1 + 8
	if len(p) < head+4+4+4 || !bytes.Equal(p[:len(checkpointMagic)], []byte(checkpointMagic)) {
		return checkpoint{}, errBadCheckpoint
	}
	body, sum := p[:len(p)-4], binary.LittleEndian.Uint32(p[len(p)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return checkpoint{}, fmt.Errorf("%w: checksum mismatch", errBadCheckpoint)
	}
	if body[len(checkpointMagic)] != checkpointVersion {
		return checkpoint{}, fmt.Errorf("%w: version %d", errBadCheckpoint, body[len(checkpointMagic)])
	}
	c := checkpoint{seq: binary.LittleEndian.Uint64(body[len(checkpointMagic)+1:])}
	rest := body[head:]
	take := func() ([]byte, bool) {
		if len(rest) < 4 {
			return nil, false
		}
		n := binary.LittleEndian.Uint32(rest)
		if uint64(n) > uint64(len(rest)-4) {
			return nil, false
		}
		v := rest[4 : 4+n]
		rest = rest[4+n:]
		return v, true
	}
	var ok1, ok2 bool
	c.state, ok1 = take()
	c.bars, ok2 = take()
	if !ok1 || !ok2 || len(rest) != 0 {
		return checkpoint{}, errBadCheckpoint
	}
	return c, nil
}

// writeCheckpoint replaces dir's checkpoint durably.
func writeCheckpoint(dir string, c checkpoint) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	final := filepath.Join(dir, checkpointName)
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(encodeCheckpoint(c)); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// readCheckpoint reads dir's checkpoint; ok is false if there is none.
func readCheckpoint(dir string) (c checkpoint, ok bool, err error) {
	p, err := os.ReadFile(filepath.Join(dir, checkpointName))
	if errors.Is(err, fs.ErrNotExist) {
		return checkpoint{}, false, nil
	}
	if err != nil {
		return checkpoint{}, false, err
	}
	c, err = decodeCheckpoint(p)
	return c, err == nil, err
}

// RecoverOptions configures Recover.
type RecoverOptions struct {
	// Dir holds the checkpoint (the data directory's state/ folder).
	Dir string
	// Bars is the live bar builder to bring back: restored from the
	// checkpoint when it implements BarState, then fed the journal after
	// it. nil: no bars. A *bars.Set with IEX (bars.NewSetWithIEX) gets its
	// IEX builder back too; from a checkpoint written without one (before
	// IEX bars, or with them off) that builder starts fresh at the
	// checkpoint, so its bars of the minutes and day then in progress lack
	// the IEX trades before it.
	Bars BarApplier
	// Logger; nil logs nothing.
	Logger *slog.Logger
}

// RecoverReport says how Recover rebuilt the state.
type RecoverReport struct {
	// CheckpointSeq is the checkpoint's sequence number; 0 without one.
	CheckpointSeq uint64
	// Discarded says why a checkpoint was not used ("" if it was, or none
	// existed).
	Discarded string
	// Replayed is how many journal records were read after the checkpoint
	// (or, without one, to rebuild the state).
	Replayed int
	// BarsFrom is the first record fed to the bar builder (0: none).
	BarsFrom uint64
	Took     time.Duration
}

// RecoverJournal is the part of the journal Recover reads.
type RecoverJournal interface {
	First() uint64
	Last() uint64
	NewReader(from uint64) (journal.Reader, error)
	SeekTime(t int64) (uint64, error)
}

// Recover rebuilds the record's State, and the live bar builder, as they
// were after the journal's last record: from the checkpoint in o.Dir plus
// the records after it, which is constant time whatever the journal's size.
// Without a usable checkpoint (a data directory from before checkpoints, or
// one damaged) it reads the whole journal for the State, and the current
// session day for the bar builder, once; the next checkpoint makes later
// restarts fast.
//
// Records flagged market.FlagBackfill (imports, backfills) update the State
// but never the live bar builder: their bars were derived when they were
// written.
func Recover(ctx context.Context, j RecoverJournal, o RecoverOptions) (*State, RecoverReport, error) {
	began := time.Now()
	var rep RecoverReport
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st := NewState()
	last := j.Last()
	from := j.First()
	barsFrom := uint64(0)
	ck, ok, err := readCheckpoint(o.Dir)
	switch {
	case err != nil:
		rep.Discarded = err.Error()
	case ok && ck.seq > last:
		rep.Discarded = fmt.Sprintf("it is at seq %d, beyond the journal's last record %d (the journal lost its tail)", ck.seq, last)
	case ok && ck.seq < from-1 && from > 0:
		rep.Discarded = fmt.Sprintf("it is at seq %d, before the journal's first retained record %d", ck.seq, from)
	case ok:
		s, err := DecodeState(ck.state)
		if err != nil {
			rep.Discarded = err.Error()
			break
		}
		bs, restorable := o.Bars.(BarState)
		if o.Bars != nil && len(ck.bars) > 0 && restorable {
			if err := bs.RestoreState(ck.bars); err != nil {
				rep.Discarded = "bars: " + err.Error()
				break
			}
		} else if o.Bars != nil {
			rep.Discarded = "it holds no bar state"
			break
		}
		st = s
		rep.CheckpointSeq = ck.seq
		from = ck.seq + 1
		barsFrom = from
	}
	if rep.Discarded != "" {
		log.Warn("checkpoint not used: rebuilding the record state from the journal", "reason", rep.Discarded)
	}
	if last == 0 || from > last {
		st.Seq = max(st.Seq, last)
		rep.Took = time.Since(began)
		return st, rep, nil
	}
	if rep.CheckpointSeq == 0 && o.Bars != nil {
		// No checkpoint: the bar builder needs the current session day (its
		// open minutes and the daily bar), found by the last record's time.
		if barsFrom, err = dayStartSeq(j, last); err != nil {
			return nil, rep, err
		}
	}
	r, err := j.NewReader(from)
	if err != nil {
		return nil, rep, fmt.Errorf("journal: %w", err)
	}
	defer r.Close()
	var (
		in      market.Interner
		e       market.Event
		scratch []market.Event
		lastTS  int64 // the record time of the last derived record seen
		eventNs int64 // the latest raw event time fed to the bars
	)
	for {
		if rep.Replayed%65536 == 0 && ctx.Err() != nil {
			return nil, rep, ctx.Err()
		}
		rec, ok, err := r.TryNext()
		if err != nil {
			return nil, rep, fmt.Errorf("journal: rebuilding the record state: %w", err)
		}
		if !ok {
			break
		}
		rep.Replayed++
		e.Seq = rec.Seq
		if err := market.DecodeBinary(rec.Payload, &e, &in); err != nil {
			return nil, rep, fmt.Errorf("journal: record %d: %w", rec.Seq, err)
		}
		st.Observe(&e, rec.TS)
		if o.Bars == nil || barsFrom == 0 || rec.Seq < barsFrom || e.Flags.Has(market.FlagBackfill) {
			continue
		}
		switch e.Kind {
		case market.KindTrade, market.KindCorrection, market.KindCancelError,
			market.KindCryptoTrade, market.KindCryptoQuote:
			// A *bars.Set routes them: IEX's trades to its IEX builder
			// too, crypto trades and quotes (a quote's mid price sets a
			// pair's flat bars) to its crypto builder.
			o.Bars.Apply(&e)
			eventNs = max(eventNs, e.Time)
		case market.KindBar, market.KindUpdatedBar, market.KindDailyBar,
			market.KindIEXBar, market.KindIEXUpdatedBar, market.KindIEXDailyBar,
			market.KindCryptoBar, market.KindCryptoUpdatedBar, market.KindCryptoDailyBar:
			// The sequencer stamps derived bars with the batch clock that
			// emitted them: advancing to it replays that Advance. The IEX
			// builder may emit at a clock where the consolidated one did
			// not (an IEX correction that changes nothing consolidated).
			// Advancing a Set advances all its builders, some at a clock
			// that emitted nothing of theirs; the live run advanced every
			// builder at every batch clock, so each clock replayed brings
			// the replay closer to it.
			//
			// A bar from the feed (the simulator's synthetic past) was
			// applied live too: a crypto builder counts its minute
			// towards the day's bar.
			if e.Flags.Has(market.FlagSynthetic) {
				o.Bars.Apply(&e)
			}
			if rec.TS != lastTS {
				scratch = o.Bars.Advance(rec.TS, scratch[:0])
				lastTS = rec.TS
			}
		}
	}
	if o.Bars != nil && eventNs > lastTS {
		o.Bars.Advance(eventNs, scratch[:0])
	}
	rep.BarsFrom = barsFrom
	rep.Took = time.Since(began)
	return st, rep, nil
}

// dayStartSeq returns the first record of the New York session day of the
// journal's record last.
func dayStartSeq(j RecoverJournal, last uint64) (uint64, error) {
	r, err := j.NewReader(last)
	if err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	rec, ok, err := r.TryNext()
	r.Close()
	if err != nil || !ok {
		return 0, fmt.Errorf("journal: reading the last record: %v", err)
	}
	t := time.Unix(0, rec.TS).In(market.NewYork)
	start := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, market.NewYork).UnixNano()
	seq, err := j.SeekTime(start)
	if err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	return seq, nil
}
