package market

import (
	"time"
	_ "time/tzdata" // New York must load on hosts without a zoneinfo database
)

// NewYork is America/New_York, where US equity session days start and end
// and every date in Tape's interfaces is read. It is loaded once; the
// embedded tzdata makes the load infallible.
var NewYork = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic("market: loading America/New_York: " + err.Error()) // unreachable: tzdata is embedded
	}
	return loc
}()
