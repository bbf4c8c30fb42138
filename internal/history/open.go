package history

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// The checkpoint (file CHECKPOINT) says how far the store's files are
// durable and which days a flush in progress may have touched:
//
//	magic "TAPC" | version u8 | location name length u8 | reserved u16 |
//	applied seq u64 | day count u32 | days [count]i32 | location name | crc32c u32
//
// It is replaced atomically (write CHECKPOINT.tmp, fsync, rename, fsync the
// directory).
const (
	checkpointName  = "CHECKPOINT"
	checkpointMagic = "TAPC"
)

type checkpoint struct {
	seq  uint64
	days []int32
	loc  string
}

func encodeCheckpoint(c checkpoint) []byte {
	b := make([]byte, 0, 24+4*len(c.days)+len(c.loc)+4)
	b = append(b, checkpointMagic...)
	b = append(b, formatVersion, byte(len(c.loc)), 0, 0)
	b = le.AppendUint64(b, c.seq)
	b = le.AppendUint32(b, uint32(len(c.days)))
	for _, d := range c.days {
		b = le.AppendUint32(b, uint32(d))
	}
	b = append(b, c.loc...)
	return le.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeCheckpoint(b []byte) (checkpoint, error) {
	var c checkpoint
	if len(b) < 24 || string(b[:4]) != checkpointMagic || b[4] != formatVersion ||
		le.Uint32(b[len(b)-4:]) != crc32.Checksum(b[:len(b)-4], castagnoli) {
		return c, ErrCorrupt
	}
	n := int(le.Uint32(b[16:]))
	ll := int(b[5])
	if len(b) != 20+4*n+ll+4 {
		return c, ErrCorrupt
	}
	c.seq = le.Uint64(b[8:])
	for i := range n {
		c.days = append(c.days, int32(le.Uint32(b[20+4*i:])))
	}
	c.loc = string(b[20+4*n : 20+4*n+ll])
	return c, nil
}

func (s *Store) writeCheckpoint(seq uint64, days []int32) error {
	b := encodeCheckpoint(checkpoint{seq: seq, days: days, loc: s.cal.loc.String()})
	tmp := filepath.Join(s.dir, checkpointName+".tmp")
	if err := s.writeFileSync(tmp, b); err != nil {
		return fmt.Errorf("history: checkpoint: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, checkpointName)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("history: checkpoint: %w", err)
	}
	s.disk.Add(int64(len(b)) - s.ckSize)
	s.ckSize = int64(len(b))
	if !s.opts.noSync {
		if err := s.dirf.Sync(); err != nil {
			return fmt.Errorf("history: checkpoint: %w", err)
		}
	}
	return nil
}

// Open opens the store in dir, creating it if needed. It recovers from a
// crash (see docs/history-format.md, "Recovery") and loads the latest
// trade, quote, minute bar and daily bars of every symbol from the ends of
// their files; it reads no file whole.
func Open(dir string, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for _, d := range spaceDirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	s := &Store{
		dir:     dir,
		opts:    opts,
		cal:     calendar{loc: opts.Location},
		log:     opts.Logger,
		files:   newFileCache(max(opts.MaxOpenFiles, 1)),
		closing: make(chan struct{}),
	}
	for i := range s.syms {
		s.syms[i] = make(map[string]*symState)
	}
	s.applyDC.cal, s.flushDC.cal = s.cal, s.cal

	var ck checkpoint
	switch b, err := os.ReadFile(filepath.Join(dir, checkpointName)); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		s.ckSize = int64(len(b))
		if ck, err = decodeCheckpoint(b); err != nil {
			return nil, fmt.Errorf("%w in %s: delete the directory to rebuild it from the journal", err, dir)
		}
		if ck.loc != s.cal.loc.String() {
			return nil, fmt.Errorf("%w: %s was written in %q, opened with %q", ErrLocationMismatch, dir, ck.loc, s.cal.loc)
		}
	}
	os.Remove(filepath.Join(dir, checkpointName+".tmp"))
	s.lastSeq, s.ckDays = ck.seq, ck.days
	s.applied.Store(ck.seq)
	if s.dirf, err = os.Open(dir); err != nil {
		return nil, err
	}

	var syms []*symState
	for sp, d := range spaceDirs {
		ents, err := os.ReadDir(filepath.Join(dir, d))
		if err != nil {
			s.dirf.Close()
			return nil, err
		}
		for _, ent := range ents {
			if name, ok := unescapeSymbol(ent.Name()); ok && ent.IsDir() {
				syms = append(syms, &symState{name: name, space: space(sp), dir: s.symDir(space(sp), ent.Name()), dirMade: true})
			}
		}
	}
	// Loading is a few small reads per symbol, all system calls: spread
	// them over a few goroutines.
	errs := make([]error, len(syms))
	sizes := make([]int64, len(syms))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(openWorkers, len(syms)) {
		wg.Go(func() {
			for i := range next {
				var err error
				if sizes[i], err = s.loadSymbol(syms[i], &ck); err != nil {
					errs[i] = fmt.Errorf("history: open %s: %w", syms[i].dir, err)
				}
			}
		})
	}
	for i := range syms {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		s.dirf.Close()
		return nil, err
	}
	s.disk.Store(s.ckSize)
	for i, sym := range syms {
		s.disk.Add(sizes[i])
		if sym.empty() {
			os.Remove(sym.dir) // left empty by PruneBefore; fails if anything else is there
			continue
		}
		s.syms[sym.space][sym.name] = sym
		if sym.space == iex && (len(sym.quoteDays) > 0 || len(sym.months) > 0 || sym.hasDaily) {
			s.hasIEX.Store(true)
		}
	}
	return s, nil
}

const openWorkers = 8

// loadSymbol lists a symbol's directory, repairs the files a crash may have
// left inconsistent, loads its latest state and returns the size of its
// files.
func (s *Store) loadSymbol(sym *symState, ck *checkpoint) (int64, error) {
	size, err := s.loadSymbolFiles(sym, ck)
	if err != nil {
		return 0, err
	}
	return size, s.loadLatest(sym)
}

func (s *Store) loadSymbolFiles(sym *symState, ck *checkpoint) (int64, error) {
	ents, err := os.ReadDir(sym.dir)
	if err != nil {
		return 0, err
	}
	names := make(map[string]bool, len(ents))
	for _, ent := range ents {
		names[ent.Name()] = true
	}
	for _, ent := range ents {
		name := ent.Name()
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(sym.dir, name)) // an interrupted rewrite
			continue
		}
		if dat := strings.TrimSuffix(name, ".runs") + ".dat"; strings.HasSuffix(name, ".runs") && !names[dat] {
			os.Remove(filepath.Join(sym.dir, name)) // its tick file was removed
			continue
		}
		switch k, n := parseFileName(name); k {
		case kindTrades:
			sym.tradeDays.add(n)
		case kindQuotes:
			sym.quoteDays.add(n)
		case kindMinuteBars:
			sym.months = append(sym.months, n)
		case kindDailyBars:
			sym.hasDaily = true
		}
	}
	slices.Sort(sym.months)

	// Repair: only files of the days named in the checkpoint can have been
	// written after the last completed flush.
	relist := false // a repair rebuilt runs, which may have made a sidecar
	for _, d := range ck.days {
		for _, f := range [...]struct {
			k   fileKind
			set daySet
		}{{kindTrades, sym.tradeDays}, {kindQuotes, sym.quoteDays}} {
			if !f.set.has(d) {
				continue
			}
			rebuilt, err := s.repairTicks(sym.dir+"/"+tickFileName(f.k, d), sym.kind(f.k), ck.seq)
			if err != nil {
				return 0, err
			}
			relist = relist || rebuilt
		}
		if m := monthOfDay(d); slices.Contains(sym.months, m) {
			if err := s.repairBars(sym.dir+"/"+barFileName(m), kindMinuteBars); err != nil {
				return 0, err
			}
		}
	}
	if sym.hasDaily {
		if err := s.repairBars(sym.dir+"/"+dailyFileName, kindDailyBars); err != nil {
			return 0, err
		}
	}

	// Sizes, after the repairs: Info reads a file's size now, and fails
	// for a file a repair removed.
	if relist {
		if ents, err = os.ReadDir(sym.dir); err != nil {
			return 0, err
		}
	}
	var size int64
	for _, ent := range ents {
		if info, err := ent.Info(); err == nil && info.Mode().IsRegular() {
			size += info.Size()
		}
	}
	return size, nil
}

// loadLatest loads a symbol's latest trade, quote, minute bar and daily bars.
func (s *Store) loadLatest(sym *symState) error {
	// Latest state from the ends of the newest files.
	if err := s.loadLatestTick(sym, sym.kind(kindTrades)); err != nil {
		return err
	}
	if err := s.loadLatestTick(sym, sym.kind(kindQuotes)); err != nil {
		return err
	}
	for i := len(sym.months) - 1; i >= 0 && !sym.hasBar; i-- {
		v, n, err := lastBars(sym.dir+"/"+barFileName(sym.months[i]), 1)
		if err != nil {
			return err
		}
		if n > 0 {
			sym.lastBar, sym.hasBar = v[0], true
		}
	}
	if sym.hasDaily {
		v, n, err := lastBars(sym.dir+"/"+dailyFileName, 2)
		if err != nil {
			return err
		}
		for i := n - 1; i >= 0; i-- {
			sym.noteDaily(v[i])
		}
	}
	return nil
}

// repairTicks truncates a tick file to its last whole record whose seq is
// at most the checkpoint's: a torn record, zeroes from a power loss, and
// records the checkpoint does not cover (the replay re-applies them) go.
// Then it checks the file's runs; rebuilt says it rebuilt them.
func (s *Store) repairTicks(path string, k fileKind, ckSeq uint64) (rebuilt bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	if st.Size() < headerSize {
		// The file was created and the crash came before its header.
		s.log.Warn("history: removing tick file without header", "path", path, "size", st.Size())
		os.Remove(runsPath(path))
		return false, os.Remove(path)
	}
	count := int((st.Size() - headerSize) / tickRecSize)
	keep := count
	const block = 1024
	buf := make([]byte, block*tickRecSize)
scan:
	for keep > 0 {
		n := min(block, keep)
		b := buf[:n*tickRecSize]
		if err := readFull(f, b, recOff(keep-n, tickRecSize)); err != nil {
			return false, err
		}
		for off := len(b) - tickRecSize; off >= 0; off -= tickRecSize {
			if seq := recSeq(b[off:]); seq != 0 && seq <= ckSeq {
				break scan
			}
			keep--
		}
	}
	changed := false
	if want := recOff(keep, tickRecSize); want != st.Size() {
		s.log.Warn("history: truncating tick file", "path", path, "records", count, "kept", keep, "bytes", st.Size()-want)
		if err := f.Truncate(want); err != nil {
			return false, err
		}
		changed = true
	}
	// The runs: a header or sidecar the crash left ahead of the records (or
	// torn), and a version 1 file, are rebuilt from the records.
	var serr error
	_, why, err := tickRunsState(f, k, keep, func(create bool) (*os.File, func(), error) {
		flag := os.O_RDWR
		if create {
			flag |= os.O_CREATE
		}
		rf, err := os.OpenFile(runsPath(path), flag, 0o644)
		if err != nil {
			return nil, nil, err
		}
		return rf, func() {
			if create && !s.opts.noSync {
				serr = rf.Sync()
			}
			rf.Close()
		}, nil
	}, func(int64) {})
	if err != nil {
		return false, err
	}
	if serr != nil {
		return false, serr
	}
	if why != "" {
		s.log.Warn("history: rebuilt the runs of a tick file", "path", path, "why", why)
		changed = true
	}
	if changed && !s.opts.noSync {
		return why != "", f.Sync()
	}
	return why != "", nil
}

// repairBars truncates a bar file's torn or zeroed tail. Bars are keyed by
// time, so records past the checkpoint can stay: the replay rewrites them
// with the same values.
func (s *Store) repairBars(path string, k fileKind) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() < headerSize {
		s.log.Warn("history: removing bar file without header", "path", path, "size", st.Size())
		return os.Remove(path)
	}
	keep := int((st.Size() - headerSize) / barRecSize)
	var r [barRecSize]byte
	for keep > 0 {
		if err := readFull(f, r[:], recOff(keep-1, barRecSize)); err != nil {
			return err
		}
		if recSeq(r[:]) != 0 {
			break
		}
		keep--
	}
	if want := recOff(keep, barRecSize); want != st.Size() {
		s.log.Warn("history: truncating bar file", "path", path, "kept", keep, "bytes", st.Size()-want)
		if err := f.Truncate(want); err != nil {
			return err
		}
		if !s.opts.noSync {
			return f.Sync()
		}
	}
	return nil
}

// loadLatestTick finds the latest record (by time, then seq) of the newest
// non-empty day file. Records of a run are out of time order by at most
// the run's lateness, so a backward scan of a run can stop once the best
// time seen is at least that lateness above the smallest time after the
// current position: nothing earlier in the run can beat it.
func (s *Store) loadLatestTick(sym *symState, k fileKind) error {
	set := sym.tradeDays
	if k.isQuotes() {
		set = sym.quoteDays
	}
	days := set.appendRange(nil, math.MinInt32, math.MaxInt32)
	for i := len(days) - 1; i >= 0; i-- {
		rec, ok, err := latestInFile(sym.dir+"/"+tickFileName(k, days[i]), k)
		if err != nil {
			return err
		}
		if ok {
			if !k.isQuotes() {
				sym.lastTrade, sym.hasTrade = rec, true
			} else {
				sym.lastQuote, sym.hasQuote = rec, true
			}
			return nil
		}
	}
	return nil
}

func latestInFile(path string, k fileKind) (best [tickRecSize]byte, ok bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return best, false, nil
	}
	if err != nil {
		return best, false, err
	}
	defer f.Close()
	count, err := recordCount(f, tickRecSize)
	if err != nil || count == 0 {
		return best, false, err
	}
	var hb [headerSize]byte
	if err := readFull(f, hb[:], 0); err != nil {
		return best, false, err
	}
	// A bad header (only damage outside Tape can leave one where Open does
	// not repair) makes the file one run of unknown order: scanned whole.
	hdr, herr := decodeHeader(hb[:], k)
	runs := fileRuns(nil, hdr, herr == nil, count, func(closed uint32, end int64) ([]runEntry, error) {
		rf, err := os.Open(runsPath(path))
		if err != nil {
			return nil, err
		}
		defer rf.Close()
		return readRuns(rf, kindRuns, closed, end)
	})
	const block = 256
	buf := make([]byte, block*tickRecSize)
	// Later runs first: the latest record is normally in the last one, and
	// a run whose largest time is not above the best found cannot beat it
	// (on equal times the later run's larger seqs already won).
	for ri := len(runs) - 1; ri >= 0; ri-- {
		run := runs[ri]
		if ok && run.max <= recTime(best[:]) {
			continue
		}
		suffixMin := int64(math.MaxInt64)
	run:
		for end := run.b; end > run.a; {
			n := min(block, end-run.a)
			b := buf[:n*tickRecSize]
			if err := readFull(f, b, recOff(end-n, tickRecSize)); err != nil {
				return best, false, err
			}
			for off := len(b) - tickRecSize; off >= 0; off -= tickRecSize {
				r := b[off : off+tickRecSize]
				t := recTime(r)
				if !ok || t > recTime(best[:]) || (t == recTime(best[:]) && recSeq(r) > recSeq(best[:])) {
					copy(best[:], r)
					ok = true
				}
				suffixMin = min(suffixMin, t)
				if recTime(best[:]) >= satAdd(suffixMin, run.late) {
					break run
				}
			}
			end -= n
		}
	}
	return best, ok, nil
}

// lastBars returns up to n last records of a bar file, newest first.
func lastBars(path string, n int) ([]barVal, int, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	count, err := recordCount(f, barRecSize)
	if err != nil {
		return nil, 0, err
	}
	n = min(n, count)
	out := make([]barVal, n)
	var r [barRecSize]byte
	for i := range n {
		if err := readFull(f, r[:], recOff(count-1-i, barRecSize)); err != nil {
			return nil, 0, err
		}
		out[i] = getBar(r[:])
	}
	return out, n, nil
}

// satAdd and satSub are a+b and a-b clamped to the int64 range: query
// bounds may be anything.
func satAdd(a, b int64) int64 {
	c := a + b
	if (c > a) != (b > 0) {
		if b > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return c
}

func satSub(a, b int64) int64 {
	if b == math.MinInt64 {
		return satAdd(satAdd(a, math.MaxInt64), 1)
	}
	return satAdd(a, -b)
}
