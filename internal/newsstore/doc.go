// Package newsstore keeps the news Tape has seen (Alpaca's news stream
// recorded, or the simulator's articles) and answers /v1beta1/news from it:
// *Store implements httpapi.NewsStore.
//
// Like the history store it is derived from the journal: the pipeline
// hands it every released event (Apply, or Publish as an
// ingest.Publisher), it keeps the KindNews ones, and AppliedSeq says how
// far it is durable, so that after a crash, or with the directory gone,
// replaying the journal from AppliedSeq()+1 (datadir.CatchUpHistory takes
// any store with AppliedSeq and Apply) brings it back. Events at or below
// the highest sequence number it has seen are ignored, so an overlapping
// replay is harmless.
//
// # Articles and versions
//
// An article's time is its UpdatedAt, or its CreatedAt when UpdatedAt is
// 0. An update (the same ID, a later time) replaces the earlier version:
// queries see each article once, at its latest time, as Alpaca's API does.
// A version no later than the one held (a replayed duplicate, a stale
// update) is ignored.
//
// # Files
//
// The directory holds two files. news.dat is append-only:
//
//	header:  "TAPENEWS" | version u32 (1) | reserved u32
//	record:  length u32 | crc u32 | seq u64 | payload (length bytes)
//
// little endian, where the payload is the event's binary form
// (market.AppendBinary, the journal's), length is at most 16 MiB, and the
// CRC (Castagnoli) covers seq and payload. Every version of an article is
// a record; superseded ones stay in the file but not in the index.
// applied is the checkpoint: "TAPENCKP" | seq u64 | crc u32 (of the first
// 16 bytes), replaced atomically (temporary file, fsync, rename).
//
// Run writes what Apply gathered every FlushInterval: the new records,
// fsync, then the checkpoint with the highest seq applied, so the
// checkpoint never names records that are not durable. Open reads
// news.dat through, rebuilds the index, and truncates it at the first
// record that is torn or fails its CRC (a crash mid-write, or a corrupt
// disk); AppliedSeq is then the last good record's seq, so the replay
// restores whatever followed. Without a truncation it is the larger of
// the checkpoint and the last record's seq.
//
// # Memory
//
// The index holds, per article, its time, ID, record offset and length,
// whether it has content and which set of symbols it concerns (sets are
// interned): about 90 bytes with the map from ID to version, never the
// text. Records not yet written stay in memory until the next flush.
// Queries walk the index in (time, ID) order in their direction, filter,
// and read only the articles they return from the file.
//
// # Concurrency
//
// Apply (one goroutine at a time), Run and any number of queries run
// concurrently. Apply and the flusher's swaps take the store's lock
// briefly; a query holds it shared while it walks the index, then reads
// records without it: the file only grows, and records in memory are
// never changed once appended.
package newsstore
