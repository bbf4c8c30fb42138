// Package wsapi serves Alpaca's market data stream protocol over websocket,
// so that unmodified Alpaca SDKs connect to Tape by changing only a URL.
// A Server serves one stream family (Options.Stream: stocks by default,
// crypto, crypto perpetuals, options or news), whose channels, echo keys and
// rules (412 for JSON on options, 413 for "*" on option quotes) it follows;
// several Servers can share one hub, since each family has its own channels.
//
// A session follows Alpaca's flow exactly: "connected" on upgrade, auth
// within AuthTimeout (else 404), subscribe/unsubscribe answered with the
// full subscription set, data in batched array frames. The codec is chosen
// by the upgrade's Content-Type (JSON by default, msgpack for every official
// SDK); client messages are parsed by their frame type, so a client that
// mixes them up still gets a sensible answer.
//
// The transport is the package's own (frame.go): an idle session costs one
// goroutine, blocked in a 2-byte read, and no buffer. Writing is
// event-driven (writer.go): the hub notifies a session when data arrives,
// and a few writer goroutines shared by all sessions build its frames in
// their own scratch buffers and write them with one non-blocking syscall;
// only a client whose socket is full gets a goroutine, which waits for it
// with WriteTimeout. One watchdog goroutine per Server pings every session
// each PingInterval. The writer always sends control replies (auth,
// subscription echoes, errors) before queued data: the Go SDK waits at
// most 3 s for an echo, so an echo must never sit behind a backlog of
// quotes.
//
// Limits protect the server: client messages are bounded (MaxMessageBytes,
// error 400 and close 1009 beyond), subscriptions are bounded (MaxSymbols,
// error 405 with the set unchanged), everything a client pins (queued
// messages, a partly written frame, control replies, resume frames) is
// charged to its hub subscriber and bounded by the hub's MaxQueueBytes
// (error 407 and disconnect), writes that stall past WriteTimeout
// disconnect the client, and unauthenticated connections are capped per
// peer and in total (MaxUnauthConnsPerAddr, MaxUnauthConns; the oldest is
// evicted for a newcomer) so that one peer cannot lock others out.
package wsapi
