package newsstore

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by queries on a closed Store.
	ErrClosed = errors.New("newsstore: store closed")
	// ErrBadQuery is returned for a query with Limit <= 0.
	ErrBadQuery = errors.New("newsstore: invalid query")
	// ErrNotNewsFile is returned by Open for a data file that does not
	// start with the news file's header. The store is derived from the
	// journal: move the directory aside and replay the journal to rebuild
	// it.
	ErrNotNewsFile = errors.New("newsstore: not a news file")
)

// CorruptionError is a record that failed its checks when it was read
// back: its offset in the data file and why. Open repairs a corrupt tail
// by truncating at the first bad record (and says so in the log); a query
// that meets one returns it.
type CorruptionError struct {
	Offset int64
	Err    error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("newsstore: corrupt record at offset %d: %v", e.Offset, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

// Reasons a record is corrupt.
var (
	errTorn     = errors.New("truncated record")
	errChecksum = errors.New("checksum mismatch")
	errTooLarge = errors.New("record length beyond the limit")
	errNotNews  = errors.New("not a news event")
)
