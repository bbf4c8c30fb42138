package history

import (
	"errors"
	"log/slog"
	"time"

	_ "time/tzdata" // the default Location must load without a system zoneinfo

	"github.com/tapehq/tape/internal/market"
)

// Defaults.
const (
	DefaultFlushInterval = 200 * time.Millisecond
	DefaultMaxOpenFiles  = 1024
)

// Options configures a Store. The zero value is valid: every zero field
// takes its documented default.
type Options struct {
	// Location sets the session day: trade and quote files hold one
	// calendar day there, minute bar files one calendar month, and weeks and
	// months of aggregated bars are counted there. It must stay the same for
	// the life of a store directory (Open refuses a different one). Default
	// America/New_York.
	Location *time.Location
	// FlushInterval is how often the flusher (Run) writes what Apply
	// buffered and advances AppliedSeq. It bounds how much a crash makes the
	// journal replay, not what queries see (they read memory too). Default
	// 200 ms.
	FlushInterval time.Duration
	// MaxOpenFiles bounds the data files kept open (an LRU). A flush writes
	// up to four files per active symbol (trades, quotes, minute and daily
	// bars); below that many handles every flush reopens files. Default
	// 1024.
	MaxOpenFiles int
	// Logger receives flush failures and recovery actions. Default: discard.
	Logger *slog.Logger

	// noSync skips fsync and syncfs. Tests only, where durability against
	// power loss is not what is tested and fsync makes tests slow.
	noSync bool
}

func (o Options) withDefaults() (Options, error) {
	if o.Location == nil {
		o.Location = market.NewYork
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.MaxOpenFiles == 0 {
		o.MaxOpenFiles = DefaultMaxOpenFiles
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.FlushInterval < 0 || o.MaxOpenFiles < 0 {
		return o, errors.New("history: negative FlushInterval or MaxOpenFiles")
	}
	return o, nil
}
