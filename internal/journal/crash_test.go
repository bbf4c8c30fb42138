package journal

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The crash test re-executes the test binary as a child (the pattern of
// prometheus cmd/prometheus/main_test.go). The child appends as fast as it
// can and prints every Written/Synced watermark it observes; the parent
// SIGKILLs it at a random moment, reopens the journal and checks that
// everything the child reported is there, intact and in order, and that the
// sequence continues at Last()+1. Lives of the child accumulate in one
// directory, so each reopen also repairs what the previous kill left.
//
// SIGKILL tests the process-crash guarantee (Written survives). The power
// loss guarantee (Synced survives) cannot be tested without a machine to
// unplug; the child reports Synced too, and since Synced <= Written the same
// check covers it against kill -9.

const (
	crashEnv     = "TAPE_JOURNAL_CRASH_CHILD"
	crashSeedEnv = "TAPE_JOURNAL_CRASH_SEED"
	crashLives   = 12      // per policy
	crashCap     = 300_000 // records per life, to bound the verification work
)

// TestCrashChild is the child; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	spec := os.Getenv(crashEnv)
	if spec == "" {
		t.Skip("the child half of TestCrash")
	}
	dir, pol, _ := strings.Cut(spec, "|")
	p, err := ParseFsyncPolicy(pol)
	if err != nil {
		fmt.Printf("E %v\n", err)
		os.Exit(3)
	}
	// Small segments and buffers: kills land on rolls and on back-pressure.
	j, err := Open(dir, Options{Fsync: p, SegmentBytes: 256 << 10, BufferBytes: 64 << 10})
	if err != nil {
		fmt.Printf("E %v\n", err)
		os.Exit(3)
	}
	out := os.Stdout // unbuffered: a printed line is in the pipe before we go on
	fmt.Fprintf(out, "O %d\n", j.Last())
	seq := j.Last() + 1
	rng := rand.New(rand.NewPCG(seq, 7))
	buf := make([]byte, 128)
	var w, s uint64
	report := func() {
		// Synced is read before Written and printed after it: the writer
		// goroutine advances both meanwhile, and only this order keeps every
		// prefix of what the parent sees at Synced <= Written (reading
		// Written first let a later Synced overtake it).
		vs := j.Synced()
		vw := j.Written()
		if vw > w {
			w = vw
			fmt.Fprintf(out, "W %d\n", w)
		}
		if vs > s {
			s = vs
			fmt.Fprintf(out, "S %d\n", s)
		}
	}
	for limit := seq + crashCap; seq < limit; {
		for k := 1 + rng.IntN(64); k > 0; k-- {
			pl := buf[:payloadLen(seq)]
			fillPayload(pl, seq)
			if err := j.Append(seq, tsFor(seq), pl); err != nil {
				fmt.Printf("E append %d: %v\n", seq, err)
				os.Exit(3)
			}
			seq++
		}
		j.Commit()
		report()
	}
	// At the cap: report the final watermarks and wait to be killed (with a
	// safety exit in case the parent is gone).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	j.Sync(ctx)
	report()
	<-ctx.Done()
	os.Exit(4)
}

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary; skipped with -short")
	}
	seed := uint64(1)
	if v := os.Getenv(crashSeedEnv); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("%s: %v", crashSeedEnv, err)
		}
	}
	t.Logf("seed %d (set %s to vary)", seed, crashSeedEnv)
	for _, pol := range []string{"always", "interval=2ms"} {
		t.Run(pol, func(t *testing.T) {
			h := fnv.New64a()
			h.Write([]byte(pol))
			rng := rand.New(rand.NewPCG(seed, h.Sum64()))
			dir := t.TempDir()
			var durable uint64 // the highest watermark any life reported
			var repairs []string
			for life := 1; life <= crashLives; life++ {
				w, s := crashLife(t, dir, pol, time.Duration(rng.IntN(50))*time.Millisecond)
				durable = max(durable, w, s)
				rep, last := verifyAfterCrash(t, dir, durable)
				repairs = append(repairs, fmt.Sprintf("%v(%s,%dB)", rep.Duration.Round(time.Microsecond), rep.Reason, rep.Truncated))
				t.Logf("life %2d: child reported W=%d S=%d; reopen: last=%d segments=%d repair=%s truncated=%dB in %v",
					life, w, s, last, rep.Segments, rep.Reason, rep.Truncated, rep.Duration)
				durable = last // verifyAfterCrash appended and closed: it is all durable now
			}
			t.Logf("%d lives, repair times: %s", crashLives, strings.Join(repairs, " "))
		})
	}
}

// crashLife runs one child and kills it `after` it has opened the journal.
// It returns the highest Written and Synced the child reported.
func crashLife(t *testing.T, dir, pol string, after time.Duration) (w, s uint64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir+"|"+pol)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	opened := false
	for line := range lines {
		if strings.HasPrefix(line, "O ") {
			opened = true
			break
		}
		if strings.HasPrefix(line, "E ") {
			break
		}
	}
	if !opened {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child did not open the journal:\n%s", stderr.String())
	}
	time.Sleep(after) // a random moment, not an assertion
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	for line := range lines { // everything the child printed before dying
		kind, v, _ := strings.Cut(line, " ")
		n, _ := strconv.ParseUint(v, 10, 64)
		switch kind {
		case "W":
			w = max(w, n)
		case "S":
			s = max(s, n)
		case "E":
			t.Fatalf("child failed: %s\n%s", line, stderr.String())
		}
	}
	cmd.Wait() // "signal: killed" is the expected outcome
	if s > w {
		t.Fatalf("child reported Synced %d above Written %d", s, w)
	}
	return w, s
}

// verifyAfterCrash reopens the journal, checks every record from 1 to Last
// and that Last covers `durable`, appends Last+1 and closes.
func verifyAfterCrash(t *testing.T, dir string, durable uint64) (OpenReport, uint64) {
	t.Helper()
	j, err := Open(dir, Options{Fsync: FsyncPolicy{Mode: FsyncNever}})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer j.Close()
	rep := j.Report()
	last := j.Last()
	if last < durable {
		t.Fatalf("lost records the child reported durable: Last=%d < %d (report %+v)", last, durable, rep)
	}
	r, err := j.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := uint64(1)
	buf := make([]byte, 128)
	for {
		rec, ok, err := r.TryNext()
		if err != nil {
			t.Fatalf("reading after kill at seq %d: %v", want, err)
		}
		if !ok {
			break
		}
		pl := buf[:payloadLen(want)]
		fillPayload(pl, want)
		if rec.Seq != want || rec.TS != tsFor(want) || !bytes.Equal(rec.Payload, pl) {
			t.Fatalf("record %d damaged after kill: seq %d ts %d", want, rec.Seq, rec.TS)
		}
		want++
	}
	if want != last+1 {
		t.Fatalf("read up to %d, Last is %d", want-1, last)
	}
	if err := j.Append(last+1, tsFor(last+1), payloadFor(last+1)); err != nil {
		t.Fatalf("Append(Last+1) after kill: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return rep, last + 1
}
