package history

import (
	"container/list"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// fileCache keeps a bounded number of data files open, least recently used
// first out. A store with thousands of symbols has far more files than a
// process may hold open; queries and the flusher open them through here.
// A handle in use is never closed under its user: eviction of a referenced
// handle only detaches it, and the last release closes it.
type fileCache struct {
	mu  sync.Mutex
	m   map[string]*handle
	lru list.List // of *handle, most recent at the front
	max int
}

type handle struct {
	path string
	f    *os.File
	refs int
	elem *list.Element // nil once detached from the cache
	// Write-side state, touched only by the flusher (which holds flushMu
	// and the symbol's file lock); nil until the flusher first needs it.
	tick *tickMeta
	bar  *barMeta
}

func newFileCache(max int) *fileCache {
	c := &fileCache{m: make(map[string]*handle), max: max}
	c.lru.Init()
	return c
}

// acquire returns an open handle on path, opening (and with create,
// creating) the file if needed. It fails with an error satisfying
// errors.Is(err, fs.ErrNotExist) when the file does not exist and create is
// false. Release the handle when done.
func (c *fileCache) acquire(path string, create bool) (*handle, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h := c.m[path]; h != nil {
		h.refs++
		c.lru.MoveToFront(h.elem)
		return h, nil
	}
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, err
	}
	h := &handle{path: path, f: f, refs: 1}
	h.elem = c.lru.PushFront(h)
	c.m[path] = h
	c.evictLocked()
	return h, nil
}

func (c *fileCache) evictLocked() {
	for e := c.lru.Back(); e != nil && c.lru.Len() > c.max; {
		h := e.Value.(*handle)
		prev := e.Prev()
		if h.refs == 0 {
			c.detachLocked(h)
		}
		e = prev
	}
}

func (c *fileCache) detachLocked(h *handle) {
	if h.elem == nil {
		return
	}
	c.lru.Remove(h.elem)
	h.elem = nil
	delete(c.m, h.path)
	if h.refs == 0 {
		h.f.Close()
	}
}

func (c *fileCache) release(h *handle) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h.refs--
	if h.refs == 0 && h.elem == nil {
		h.f.Close()
		return
	}
	c.evictLocked()
}

// forget detaches path's handle, so the next acquire reopens the file: the
// flusher calls it after replacing a file by rename.
func (c *fileCache) forget(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h := c.m[path]; h != nil {
		c.detachLocked(h)
	}
}

// closeAll closes every unreferenced handle and detaches the rest.
func (c *fileCache) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range c.m {
		c.detachLocked(h)
	}
}

func (c *fileCache) openCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// readFull reads len(b) bytes at off.
func readFull(f *os.File, b []byte, off int64) error {
	n, err := f.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("history: read %s at %d: %w", f.Name(), off, err)
}

// recordCount returns the number of whole records in an open data file.
func recordCount(f *os.File, recSize int) (int, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if st.Size() < headerSize {
		return 0, nil
	}
	return int((st.Size() - headerSize) / int64(recSize)), nil
}

func recOff(i, recSize int) int64 { return headerSize + int64(i)*int64(recSize) }
