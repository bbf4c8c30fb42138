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
// Each session runs three goroutines, all owned by the session and waited
// for: the reader (the HTTP handler's goroutine), the writer and the pinger.
// The writer always sends control replies (auth, subscription echoes,
// errors) before queued data: the Go SDK waits at most 3 s for an echo, so an
// echo must never sit behind a backlog of quotes.
//
// Limits protect the server: client messages are bounded (MaxMessageBytes,
// error 400 and close 1009 beyond), subscriptions are bounded (MaxSymbols,
// error 405 with the set unchanged), the outgoing queue is bounded by the
// hub (error 407 and disconnect), and writes that stall past WriteTimeout
// disconnect the client.
package wsapi
