package journal_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/tapehq/tape/internal/journal"
)

// The ingest loop appends and commits per batch; a resuming client reads
// from a sequence number; after a restart the sequence continues.
func Example() {
	dir, err := os.MkdirTemp("", "journal-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	pol, _ := journal.ParseFsyncPolicy("interval=100ms") // the --fsync flag
	j, err := journal.Open(dir, journal.Options{Fsync: pol})
	if err != nil {
		log.Fatal(err)
	}
	for seq := uint64(1); seq <= 5; seq++ {
		if err := j.Append(seq, int64(seq)*1e9, []byte(fmt.Sprintf("event %d", seq))); err != nil {
			log.Fatal(err)
		}
	}
	j.Commit() // once per batch

	ctx := context.Background()
	r, err := j.NewReader(3)
	if err != nil {
		log.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		rec, err := r.Next(ctx) // waits for the flusher to write
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%d %s\n", rec.Seq, rec.Payload)
	}
	r.Close()
	j.Close()

	j, err = journal.Open(dir, journal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	fmt.Println("next seq:", j.Last()+1, "repair:", j.Report().Reason)
	// Output:
	// 3 event 3
	// 4 event 4
	// 5 event 5
	// next seq: 6 repair: none
}
