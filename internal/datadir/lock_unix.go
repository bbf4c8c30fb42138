//go:build unix

package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Lock takes an exclusive lock on dir (the file dir/LOCK) so that two
// programs never write the same journal and store, and writes holder (a
// command line such as "tape serve") and its process ID into the file, so
// that a refused program can say who holds it. The lock is an flock(2),
// which dies with the process: a kill -9 leaves nothing stale to clean up.
// If another process holds it, the error wraps ErrLocked and names it.
func Lock(dir, holder string) (unlock func(), err error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := "another process"
			if b, rerr := os.ReadFile(path); rerr == nil && len(strings.TrimSpace(string(b))) > 0 {
				who = strings.TrimSpace(string(b))
			}
			return nil, fmt.Errorf("%w: %s holds %s", ErrLocked, who, dir)
		}
		return nil, fmt.Errorf("data directory lock %s: %w", path, err)
	}
	if holder == "" {
		holder = filepath.Base(os.Args[0])
	}
	// Best effort: the lock is the flock, the text only informs.
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "%s (pid %d)\n", holder, os.Getpid())
	}
	return func() { f.Close() }, nil
}
