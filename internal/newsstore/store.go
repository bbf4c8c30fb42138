package newsstore

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapehq/tape/internal/httpapi"
	"github.com/tapehq/tape/internal/market"
)

// Options configures a Store. The zero value works.
type Options struct {
	// FlushInterval is how often Run writes the articles applied since the
	// last flush, syncs them and advances AppliedSeq; default 1 s.
	FlushInterval time.Duration
	// Logger receives repairs and flush failures; nil discards.
	Logger *slog.Logger
}

const (
	dataFile      = "news.dat"
	ckptFile      = "applied"
	fileMagic     = "TAPENEWS"
	ckptMagic     = "TAPENCKP"
	fileVersion   = 1
	headerSize    = 16
	recHeaderSize = 16
	ckptSize      = 20
	maxRecord     = 16 << 20
	defaultFlush  = time.Second
	compactMin    = 1024 // superseded index entries tolerated before a compaction
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// entry is one article's latest version in the index.
type entry struct {
	time    int64 // UpdatedAt, or CreatedAt when 0
	id      int64
	off     int64  // the record's offset in news.dat
	n       uint32 // payload length
	set     uint32 // interned symbol set
	content bool
	dead    bool // superseded by a later version; dropped at the next compaction
}

func cmpKey(t1, id1, t2, id2 int64) int {
	if c := cmp.Compare(t1, t2); c != 0 {
		return c
	}
	return cmp.Compare(id1, id2)
}

// Store is the news store. Its methods are safe for concurrent use, except
// that Apply must be called from one goroutine at a time.
type Store struct {
	dir  string
	opts Options
	log  *slog.Logger
	f    *os.File

	mu      sync.RWMutex
	idx     []entry         // sorted by (time, id)
	dead    int             // entries marked dead
	byID    map[int64]int64 // article ID -> time of its version in idx
	sets    [][]string
	setIDs  map[string]uint32
	key     []byte // scratch for interning
	maxSeq  uint64 // highest seq applied (events at or below it are ignored)
	logical int64  // bytes of records placed: written, being written and pending
	durable int64  // bytes written to the file
	pend    []byte // records from pendAt to logical; never changed once appended
	pendAt  int64
	flying  []byte // records being written, from flyingAt
	flyAt   int64
	closed  bool

	life    sync.RWMutex // held shared by queries, exclusively by Close
	flushMu sync.Mutex
	applied atomic.Uint64
	failed  error // a write or sync failed: AppliedSeq no longer advances (under flushMu)
	closeMu sync.Mutex
	closing chan struct{}
	closeEr error
	isShut  bool
}

// Open opens (creating it if need be) the store in dir, reads its data
// file to rebuild the index, and repairs a torn or corrupt tail.
func Open(dir string, o Options) (*Store, error) {
	if o.FlushInterval <= 0 {
		o.FlushInterval = defaultFlush
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("newsstore: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, dataFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("newsstore: %w", err)
	}
	s := &Store{dir: dir, opts: o, log: o.Logger, f: f, byID: map[int64]int64{}, setIDs: map[string]uint32{},
		closing: make(chan struct{})}
	if err := s.load(); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// load reads news.dat into the index (see Open).
func (s *Store) load() error {
	st, err := s.f.Stat()
	if err != nil {
		return fmt.Errorf("newsstore: %w", err)
	}
	if st.Size() == 0 {
		var h [headerSize]byte
		copy(h[:], fileMagic)
		binary.LittleEndian.PutUint32(h[8:], fileVersion)
		if _, err := s.f.WriteAt(h[:], 0); err != nil {
			return fmt.Errorf("newsstore: writing the header: %w", err)
		}
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("newsstore: %w", err)
		}
		if err := syncDir(s.dir); err != nil {
			return err
		}
		s.logical, s.durable, s.pendAt = headerSize, headerSize, headerSize
		s.maxSeq = readCheckpoint(filepath.Join(s.dir, ckptFile))
		s.applied.Store(s.maxSeq)
		return nil
	}
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, 0, st.Size()), 1<<16)
	var h [headerSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil || string(h[:8]) != fileMagic || binary.LittleEndian.Uint32(h[8:]) != fileVersion {
		return fmt.Errorf("%w: %s", ErrNotNewsFile, filepath.Join(s.dir, dataFile))
	}
	off := int64(headerSize)
	var lastSeq uint64
	var bad error
	buf := make([]byte, 0, 4096)
	for {
		var n int
		var seq uint64
		n, seq, buf, bad = readRecord(r, buf)
		if bad == io.EOF {
			bad = nil
			break
		}
		var v version
		if bad == nil {
			var ok bool
			if v, ok = s.peek(buf); !ok {
				bad = errNotNews
			}
		}
		if bad != nil {
			break
		}
		v.off, v.n = off, uint32(len(buf))
		s.index(v)
		lastSeq = max(lastSeq, seq)
		off += int64(n)
	}
	s.logical, s.durable, s.pendAt = off, off, off
	ckpt := readCheckpoint(filepath.Join(s.dir, ckptFile))
	s.maxSeq = max(ckpt, lastSeq)
	if bad != nil {
		// Whatever followed the bad record is lost here but not in the
		// journal: replay from the last good record.
		s.log.Warn("news store: truncating the data file at a bad record; the journal replay restores what followed",
			"file", filepath.Join(s.dir, dataFile), "offset", off, "size", st.Size(), "err", bad, "replay_from_seq", lastSeq+1)
		if err := s.f.Truncate(off); err != nil {
			return fmt.Errorf("newsstore: repairing: %w", err)
		}
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("newsstore: repairing: %w", err)
		}
		s.maxSeq = lastSeq
		if err := writeCheckpoint(s.dir, lastSeq); err != nil {
			return err
		}
	}
	s.applied.Store(s.maxSeq)
	return nil
}

// readRecord reads one record into buf (its payload) and returns the bytes
// it took, its seq, and io.EOF at a clean end or the reason it is bad.
func readRecord(r *bufio.Reader, buf []byte) (int, uint64, []byte, error) {
	var h [recHeaderSize]byte
	switch n, err := io.ReadFull(r, h[:]); {
	case n == 0 && err == io.EOF:
		return 0, 0, buf, io.EOF
	case err != nil:
		return 0, 0, buf, errTorn
	}
	length := binary.LittleEndian.Uint32(h[0:])
	if length > maxRecord {
		return 0, 0, buf, errTooLarge
	}
	buf = slices.Grow(buf[:0], int(length))[:length]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, 0, buf, errTorn
	}
	if crc32.Update(crc32.Checksum(h[8:16], castagnoli), castagnoli, buf) != binary.LittleEndian.Uint32(h[4:]) {
		return 0, 0, buf, errChecksum
	}
	return recHeaderSize + int(length), binary.LittleEndian.Uint64(h[8:]), buf, nil
}

// appendRecord appends e's record to b.
func appendRecord(b []byte, e *market.Event) []byte {
	at := len(b)
	b = append(b, make([]byte, recHeaderSize)...)
	b = market.AppendBinary(b, e)
	rec := b[at:]
	binary.LittleEndian.PutUint32(rec[0:], uint32(len(rec)-recHeaderSize))
	binary.LittleEndian.PutUint64(rec[8:], e.Seq)
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(rec[8:], castagnoli))
	return b
}

func readCheckpoint(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil || len(b) != ckptSize || string(b[:8]) != ckptMagic ||
		crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:]) {
		return 0 // none or unreadable: the records' seqs decide
	}
	return binary.LittleEndian.Uint64(b[8:])
}

func writeCheckpoint(dir string, seq uint64) error {
	var b [ckptSize]byte
	copy(b[:], ckptMagic)
	binary.LittleEndian.PutUint64(b[8:], seq)
	binary.LittleEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	tmp := filepath.Join(dir, ckptFile+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("newsstore: checkpoint: %w", err)
	}
	_, err = f.Write(b[:])
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, ckptFile))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("newsstore: checkpoint: %w", err)
	}
	return nil
}

// syncDir makes a directory's entries (a new file, a rename) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("newsstore: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("newsstore: syncing %s: %w", dir, err)
	}
	return nil
}

// newsTime is an article's time: UpdatedAt, or CreatedAt when it is 0.
func newsTime(n *market.News) int64 {
	if n.UpdatedAt != 0 {
		return n.UpdatedAt
	}
	return n.CreatedAt
}

// version is what the index needs of an article's version.
type version struct {
	time, id int64
	off      int64
	n        uint32
	set      uint32
	content  bool
}

// index adds v, unless the store already holds the article at the same or
// a later time; it reports whether it did. Callers hold mu (or own the
// store, in Open).
func (s *Store) index(v version) bool {
	if old, ok := s.byID[v.id]; ok {
		if v.time <= old {
			return false
		}
		if i, found := s.find(old, v.id); found {
			s.idx[i].dead = true
			s.dead++
		}
	}
	en := entry{time: v.time, id: v.id, off: v.off, n: v.n, set: v.set, content: v.content}
	if k := len(s.idx); k == 0 || cmpKey(s.idx[k-1].time, s.idx[k-1].id, v.time, v.id) < 0 {
		s.idx = append(s.idx, en)
	} else {
		i, _ := s.find(v.time, v.id)
		s.idx = slices.Insert(s.idx, i, en)
	}
	s.byID[v.id] = v.time
	if s.dead > compactMin && s.dead > len(s.idx)/4 {
		s.idx = slices.DeleteFunc(s.idx, func(e entry) bool { return e.dead })
		s.dead = 0
	}
	return true
}

// peek reads what the index needs from a news event's binary form
// (market.AppendBinary) without decoding its text: ok is false for
// anything else. It interns the symbols.
func (s *Store) peek(b []byte) (v version, ok bool) {
	if len(b) < 2 || b[1] != byte(market.KindNews) {
		return v, false
	}
	p := 2
	switch b[0] {
	case 1:
	case 2:
		p++ // flags
	default:
		return v, false
	}
	p += 8 // time
	if p >= len(b) {
		return v, false
	}
	p += 1 + int(b[p]) // the event's symbol (empty for news)
	if p+24 > len(b) {
		return v, false
	}
	v.id = int64(binary.LittleEndian.Uint64(b[p:]))
	created, updated := int64(binary.LittleEndian.Uint64(b[p+8:])), int64(binary.LittleEndian.Uint64(b[p+16:]))
	v.time = cmp.Or(updated, created)
	p += 24
	for i := range 6 { // headline, summary, author, url, content, source
		if p+4 > len(b) {
			return v, false
		}
		n := int(binary.LittleEndian.Uint32(b[p:]))
		p += 4
		if n > len(b)-p {
			return v, false
		}
		if i == 4 {
			v.content = n > 0
		}
		p += n
	}
	if p+2 > len(b) {
		return v, false
	}
	k := int(binary.LittleEndian.Uint16(b[p:]))
	p += 2
	key := s.key[:0]
	for i := range k {
		if p >= len(b) || p+1+int(b[p]) > len(b) {
			return v, false
		}
		if i > 0 {
			key = append(key, 0)
		}
		key = append(key, b[p+1:p+1+int(b[p])]...)
		p += 1 + int(b[p])
	}
	s.key = key
	if p != len(b) {
		return v, false
	}
	v.set = s.internKey(key)
	return v, true
}

// find returns the position of (t, id) in the index, or where it would go.
func (s *Store) find(t, id int64) (int, bool) {
	return slices.BinarySearchFunc(s.idx, entry{time: t, id: id}, func(a, b entry) int { return cmpKey(a.time, a.id, b.time, b.id) })
}

// intern returns the ID of a set of symbols, adding it if it is new.
func (s *Store) intern(syms []string) uint32 {
	key := s.key[:0]
	for i, sym := range syms {
		if i > 0 {
			key = append(key, 0)
		}
		key = append(key, sym...)
	}
	s.key = key
	return s.internKey(key)
}

// internKey interns a set by its symbols joined with NULs.
func (s *Store) internKey(key []byte) uint32 {
	if id, ok := s.setIDs[string(key)]; ok { // no allocation for a known set
		return id
	}
	id := uint32(len(s.sets))
	var syms []string
	if len(key) > 0 {
		syms = strings.Split(string(key), "\x00")
	}
	s.sets = append(s.sets, syms)
	s.setIDs[string(key)] = id
	return id
}

// Apply takes the KindNews events of a sequenced batch (the others only
// move the applied seq). It never waits on the disk: the records wait in
// memory for Run's next flush, and queries see them at once. It ignores
// events at or below the highest seq applied (an overlapping journal
// replay); an event with Seq 0 (not sequenced) is always taken. It does not
// retain events (the article's immutable strings, yes).
func (s *Store) Apply(events []market.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	for i := range events {
		e := &events[i]
		if e.Seq != 0 {
			if e.Seq <= s.maxSeq {
				continue
			}
			s.maxSeq = e.Seq
		}
		if e.Kind != market.KindNews || e.News == nil {
			continue
		}
		if old, ok := s.byID[e.News.ID]; ok && newsTime(e.News) <= old {
			continue // a version no later than the one held
		}
		at := len(s.pend)
		s.pend = appendRecord(s.pend, e)
		a := e.News
		s.index(version{time: newsTime(a), id: a.ID, off: s.logical, n: uint32(len(s.pend) - at - recHeaderSize),
			set: s.intern(a.Symbols), content: a.Content != ""})
		s.logical += int64(len(s.pend) - at)
	}
}

// Publish is Apply, so that the store is an ingest.Publisher.
func (s *Store) Publish(events []market.Event) { s.Apply(events) }

// AppliedSeq is the highest sequence number whose effects are durable:
// replaying the journal from AppliedSeq()+1 restores everything else.
func (s *Store) AppliedSeq() uint64 { return s.applied.Load() }

// Len is the number of articles held (each counted once, whatever its
// versions).
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.idx) - s.dead
}

// Run flushes every FlushInterval until ctx is done, then flushes once
// more and returns that flush's error. A failed flush is logged and
// retried at the next tick (see Flush).
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return s.Flush()
		case <-s.closing:
			return nil
		case <-t.C:
			if err := s.Flush(); err != nil {
				s.log.Error("news store: flush failed", "err", err)
			}
		}
	}
}

// Flush writes the records applied since the last flush, syncs them, then
// checkpoints the highest seq applied, which AppliedSeq then returns. After
// a failed write or sync it keeps failing (the kernel may have dropped the
// data, and a later sync would not say so): the articles stay queryable
// from memory, AppliedSeq stops, and a restart replays the journal.
func (s *Store) Flush() error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	if s.failed != nil {
		return s.failed
	}
	s.mu.Lock()
	buf, at, seq := s.pend, s.pendAt, s.maxSeq
	if len(buf) > 0 {
		s.flying, s.flyAt = buf, at
		s.pend, s.pendAt = nil, s.logical
	}
	s.mu.Unlock()
	if len(buf) > 0 {
		_, err := s.f.WriteAt(buf, at)
		if err == nil {
			err = s.f.Sync()
		}
		if err != nil {
			s.failed = fmt.Errorf("newsstore: writing %s: %w", dataFile, err)
			return s.failed
		}
		s.mu.Lock()
		s.durable, s.flying = at+int64(len(buf)), nil
		s.mu.Unlock()
	}
	if seq > s.applied.Load() {
		if err := writeCheckpoint(s.dir, seq); err != nil {
			return err // the data is durable; the next flush retries the checkpoint
		}
		s.applied.Store(seq)
	}
	return nil
}

// Close flushes and closes the store. It is idempotent; queries after it
// return ErrClosed and Apply ignores its input.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.isShut {
		return s.closeEr
	}
	s.isShut = true
	close(s.closing)
	err := s.Flush()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.life.Lock() // wait for queries reading the file
	defer s.life.Unlock()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.closeEr = err
	return err
}

// hit is an article a query returns: where its record is, in memory or
// in the file.
type hit struct {
	off int64
	n   uint32
	mem []byte // the payload, when not yet written
}

// News implements httpapi.NewsStore: the latest version of the articles
// whose time is in [Start, End] and that concern at least one of
// q.Symbols (any article when it is empty), with content unless
// ExcludeContentless says otherwise, ordered by (time, ID) in q's
// direction, at most q.Limit of them, strictly after q.After when set.
// Next is set exactly when more follow.
func (s *Store) News(ctx context.Context, q httpapi.NewsQuery) (httpapi.NewsResult, error) {
	if q.Limit <= 0 {
		return httpapi.NewsResult{}, ErrBadQuery
	}
	s.life.RLock()
	defer s.life.RUnlock()
	hits, next, err := s.walk(ctx, &q)
	if err != nil {
		return httpapi.NewsResult{}, err
	}
	res := httpapi.NewsResult{Articles: make([]*market.News, 0, len(hits)), Next: next}
	var in market.Interner
	var buf []byte
	for _, h := range hits {
		payload := h.mem
		if payload == nil {
			buf = slices.Grow(buf[:0], recHeaderSize+int(h.n))[:recHeaderSize+int(h.n)]
			if _, err := s.f.ReadAt(buf, h.off); err != nil {
				return httpapi.NewsResult{}, fmt.Errorf("newsstore: reading: %w", err)
			}
			if crc32.Checksum(buf[8:], castagnoli) != binary.LittleEndian.Uint32(buf[4:]) ||
				binary.LittleEndian.Uint32(buf) != h.n {
				return httpapi.NewsResult{}, &CorruptionError{Offset: h.off, Err: errChecksum}
			}
			payload = buf[recHeaderSize:]
		}
		var e market.Event
		if err := market.DecodeBinary(payload, &e, &in); err != nil || e.News == nil {
			return httpapi.NewsResult{}, &CorruptionError{Offset: h.off, Err: cmp.Or(err, errNotNews)}
		}
		res.Articles = append(res.Articles, e.News)
	}
	return res, nil
}

// walk finds the articles of q under the read lock: up to Limit hits, and
// the cursor of the last one when another follows.
func (s *Store) walk(ctx context.Context, q *httpapi.NewsQuery) ([]hit, *httpapi.NewsCursor, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, nil, ErrClosed
	}
	match := func(set uint32) bool { return true }
	if len(q.Symbols) > 0 {
		memo := make([]int8, len(s.sets)) // 0 unknown, 1 matches, -1 does not
		match = func(set uint32) bool {
			if memo[set] == 0 {
				memo[set] = -1
				for _, sym := range s.sets[set] {
					if _, found := slices.BinarySearch(q.Symbols, sym); found {
						memo[set] = 1
						break
					}
				}
			}
			return memo[set] > 0
		}
	}
	var hits []hit
	var next *httpapi.NewsCursor
	// The walk keeps the index positions of its hits to build the cursor.
	var pos []int
	step, i, end := 1, 0, len(s.idx)
	if !q.Desc {
		lo, loID := q.Start, int64(-1<<63)
		if a := q.After; a != nil && cmpKey(a.Time, a.ID, lo, loID) >= 0 {
			lo, loID = a.Time, a.ID
			i, _ = s.find(lo, loID)
			if i < len(s.idx) && s.idx[i].time == lo && s.idx[i].id == loID {
				i++
			}
		} else {
			i, _ = s.find(lo, loID)
		}
	} else {
		step, end = -1, -1
		hi, hiID := q.End, int64(1<<63-1)
		if a := q.After; a != nil && cmpKey(a.Time, a.ID, hi, hiID) <= 0 {
			hi, hiID = a.Time, a.ID
			i, _ = s.find(hi, hiID) // the first at or after the cursor: the walk starts before it
			i--
		} else {
			// The last at or before (End, MaxInt64): no article has that ID.
			i, _ = s.find(hi, hiID)
			i--
		}
	}
	for n := 0; i != end; i, n = i+step, n+1 {
		en := &s.idx[i]
		if !q.Desc && en.time > q.End || q.Desc && en.time < q.Start {
			break
		}
		if n&4095 == 4095 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		if en.dead || (q.ExcludeContentless && !en.content) || !match(en.set) {
			continue
		}
		if len(hits) == q.Limit {
			last := &s.idx[pos[len(pos)-1]]
			next = &httpapi.NewsCursor{Time: last.time, ID: last.id}
			break
		}
		h := hit{off: en.off, n: en.n}
		if en.off >= s.durable {
			h.mem = s.payloadInMemory(en.off, en.n)
		}
		hits = append(hits, h)
		pos = append(pos, i)
	}
	return hits, next, nil
}

// payloadInMemory returns the payload of a record not yet written (under
// mu): a slice of a buffer that is never changed once appended to.
func (s *Store) payloadInMemory(off int64, n uint32) []byte {
	buf, at := s.pend, s.pendAt
	if s.flying != nil && off < s.pendAt {
		buf, at = s.flying, s.flyAt
	}
	rec := buf[off-at:]
	return rec[recHeaderSize : recHeaderSize+int(n) : recHeaderSize+int(n)]
}

var _ httpapi.NewsStore = (*Store)(nil)
