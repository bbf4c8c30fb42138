package history

import "errors"

var (
	// ErrClosed is returned by queries on a closed Store.
	ErrClosed = errors.New("history: store closed")
	// ErrBadQuery is returned for a query with Limit <= 0 or an unsupported
	// timeframe.
	ErrBadQuery = errors.New("history: invalid query")
	// ErrLocationMismatch is returned by Open when Options.Location differs
	// from the one the directory was written with: files are split by local
	// day, so a different zone would split the same data differently.
	ErrLocationMismatch = errors.New("history: store was written with a different Location")
	// ErrCorrupt is returned by Open when the checkpoint is unreadable. The
	// store is derived data: delete the directory and the journal replay
	// rebuilds it.
	ErrCorrupt = errors.New("history: corrupt checkpoint")
)
