// Package cluster takes Tape beyond one machine on NATS JetStream: more
// clients than one box can write to, a record that survives the loss of a
// box, and one upstream connection for the whole cluster that fails over.
//
// One node, the origin, holds the upstream connection and sequences as
// before (ingest, journal). Its Publisher tails the journal and copies each
// record into a JetStream stream, one message per record on
// <prefix>.<class>.<kind>.<symbol>, payload unchanged. Every other node is
// an edge: an EdgeFeed reads the stream in order and feeds its own pipeline,
// which keeps the origin's sequence numbers, so its journal, history and
// clients see the origin's record exactly. Roles elects the origin with a
// Lease in a JetStream key-value bucket; standbys run as edges, so the one
// that takes over continues the sequence from the stream's last record.
//
// The stream is the arbiter. Each record is published with the stream
// sequence its writer expects before it (Nats-Expected-Last-Sequence), and
// a writer starts by claiming the stream (an atomic batch written with
// compare-and-set) that moves its end past anything an earlier writer still
// has in flight. So the stream holds each record once, in order, without a
// gap, and a deposed origin — paused past its lease, partitioned, or simply
// slow to notice — cannot add to it: the stream refuses its writes. See
// Claim for the argument and docs/cluster.md for the design, the failure
// cases and a three-node recipe.
//
// Subpackage embedded runs a NATS server inside Tape; clustertest starts
// real servers in-process for tests.
package cluster
