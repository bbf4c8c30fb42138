package server

import (
	"errors"
	"fmt"

	"github.com/tapehq/tape/internal/datadir"
)

// lockDir takes the data directory's lock (datadir.Lock), so two Tapes, or
// a Tape and an offline `tape import`, never write the same files.
func lockDir(dir string) (unlock func(), err error) {
	unlock, err = datadir.Lock(dir)
	if errors.Is(err, datadir.ErrLocked) {
		return nil, fmt.Errorf("data directory %s is in use by another tape (use --data to pick another): %w", dir, err)
	}
	return unlock, err
}
