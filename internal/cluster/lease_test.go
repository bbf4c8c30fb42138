package cluster_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/cluster"
	"github.com/tapehq/tape/internal/cluster/clustertest"
)

func TestLease(t *testing.T) {
	c := clustertest.Single(t)
	ctx := testCtx(t)
	lo := cluster.LeaseOptions{Bucket: "lease_test", TTL: time.Second, Memory: true}
	a := cluster.NewLease(c.Connect(t), withHolder(lo, "A"))
	b := cluster.NewLease(c.Connect(t), withHolder(lo, "B"))

	e1, ok, err := a.Acquire(ctx)
	if err != nil || !ok || e1 == 0 {
		t.Fatalf("A: acquire a free lease: %d %v %v", e1, ok, err)
	}
	if _, ok, err := b.Acquire(ctx); err != nil || ok {
		t.Fatalf("B: acquire a held lease: %v %v", ok, err)
	}
	if v, _, ok, err := b.Current(ctx); err != nil || !ok || v.Holder != "A" || v.Epoch != e1 {
		t.Fatalf("B sees %+v %v %v, want A at epoch %d", v, ok, err, e1)
	}
	before := a.ValidUntil()
	if err := a.Renew(ctx); err != nil {
		t.Fatalf("A: renew: %v", err)
	}
	if !a.ValidUntil().After(before) {
		t.Fatal("a renewal did not extend the lease")
	}
	if v, _, _, _ := b.Current(ctx); v.Epoch != e1 {
		t.Fatalf("renewal changed the epoch to %d, want %d", v.Epoch, e1)
	}

	// A clean handover: A releases, B takes it at once.
	if err := a.Release(ctx); err != nil {
		t.Fatalf("A: release: %v", err)
	}
	e2, ok, err := b.Acquire(ctx)
	if err != nil || !ok || e2 <= e1 {
		t.Fatalf("B: acquire after release: %d %v %v, want an epoch above %d", e2, ok, err, e1)
	}
	if err := a.Renew(ctx); !errors.Is(err, cluster.ErrLeaseLost) {
		t.Fatalf("A: renew after release: %v, want ErrLeaseLost", err)
	}

	// B stops renewing (dead or paused): the lease expires and A takes it.
	var e3 uint64
	waitFor(t, "B's lease to expire", func() bool {
		e, ok, err := a.Acquire(ctx)
		if err != nil {
			t.Fatalf("A: acquire: %v", err)
		}
		e3 = e
		return ok
	})
	if e3 <= e2 {
		t.Fatalf("A's epoch %d after B's %d", e3, e2)
	}
	if err := b.Renew(ctx); !errors.Is(err, cluster.ErrLeaseLost) {
		t.Fatalf("B: renew after expiry and takeover: %v, want ErrLeaseLost", err)
	}
	if st := b.Stats(); st.Epoch != 0 || st.Lost != 1 || st.Acquired != 1 {
		t.Fatalf("B's stats %+v", st)
	}
	if st := a.Stats(); st.Epoch != e3 || st.Acquired != 2 {
		t.Fatalf("A's stats %+v", st)
	}
}
