// Command tape is a real-time market-data hub: it ingests market data (a
// deterministic simulator by default), builds bars, and serves it through
// Alpaca's own stream protocol so unmodified Alpaca SDKs connect to it.
//
//	tape serve            # simulator + stream server on 127.0.0.1:8080
//	tape watch AAPL MSFT  # print the live stream in the terminal
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/tapehq/tape/internal/server"
)

func main() {
	// /tape/v1/status and the poll feed's User-Agent name this build.
	server.Version = versionString()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "tape:", err)
		}
		os.Exit(exitCode(err))
	}
}

// errReported marks an error the command already printed.
var errReported = errors.New("reported")
