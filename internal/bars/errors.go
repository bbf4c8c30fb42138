package bars

import "errors"

// Sentinel errors of RestoreState. Wrapped errors carry details; test with
// errors.Is.
var (
	// ErrBadState: the bytes are not a snapshot this version can read (wrong
	// magic or version, bad checksum) or describe an impossible state
	// (truncated, unsorted, out of range).
	ErrBadState = errors.New("bars: bad state snapshot")
	// ErrStateOptions: the snapshot was taken by a Builder with another
	// Window or Location; its minutes and days would not line up.
	ErrStateOptions = errors.New("bars: state snapshot taken with other options")
)
