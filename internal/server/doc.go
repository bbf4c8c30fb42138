// Package server assembles Tape: the feed, the ingest pipeline (sequencer
// and bar builder), the hub, the Alpaca-compatible stream endpoints,
// /healthz and /metrics, all on one listener. cmd/tape builds a Server from
// flags; tests build one in-process on 127.0.0.1:0.
//
// Shutdown order matters and is fixed here: stop accepting connections,
// close stream sessions (clients get close 1001), then stop the feed and
// the core, so nothing is half-delivered to a client that is still
// connected.
package server
