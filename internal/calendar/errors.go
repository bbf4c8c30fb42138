package calendar

import "errors"

var (
	// ErrInvalidDate reports a date that is neither "2006-01-02" nor an
	// RFC 3339 timestamp.
	ErrInvalidDate = errors.New("calendar: invalid date")
	// ErrInvalidDateType reports a /v2/calendar date_type other than
	// TRADING or SETTLEMENT.
	ErrInvalidDateType = errors.New("calendar: invalid date_type")
	// ErrInvalidSession reports an unknown session name or value.
	ErrInvalidSession = errors.New("calendar: invalid session")
)
