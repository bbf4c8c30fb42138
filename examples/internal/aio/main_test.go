package aio_test

import (
	"testing"

	"github.com/tapehq/tape/examples/internal/aiotest"
)

// Every helper promises that no goroutine outlives it; this checks the
// promise over the whole package.
func TestMain(m *testing.M) { aiotest.VerifyTestMain(m) }
