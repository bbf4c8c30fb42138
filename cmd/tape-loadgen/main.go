// Command tape-loadgen measures websocket fan-out: Tape's hub and stream
// endpoint against nats-server's websocket listener, on the same work.
//
//	tape-loadgen serve [-addr A] [-control C] [-client-queue BYTES]
//	    the bench server: Tape's hub and wsapi, publishing one-trade events
//	    as the generator asks (see serve.go)
//	tape-loadgen run -proto tape|nats -url WS -pid PID -scenario S ...
//	    holds N websocket clients in this process and prints one JSON line:
//	    deliveries/s, p50/p99 latency, server CPU seconds per million
//	    deliveries (from /proc/PID/stat), server RSS
//	tape-loadgen table FILE
//	    prints the JSON lines of FILE as one side-by-side table
//
// scripts/bench.sh builds both servers and runs every scenario.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, errUsage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "run":
		err = run(os.Args[2:])
	case "table":
		err = table(os.Args[2:])
	default:
		err = errUsage
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tape-loadgen:", err)
		os.Exit(1)
	}
}
