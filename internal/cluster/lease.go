package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// LeaseOptions configures a Lease. The zero value works.
type LeaseOptions struct {
	// Bucket is the key-value bucket holding the lease. Default
	// "tape_lease".
	Bucket string
	// Key is the lease's key. Default "origin".
	Key string
	// Holder names this node in the lease. Default "<hostname>:<pid>".
	Holder string
	// TTL is how long the lease outlives its last renewal: the longest a
	// dead leader keeps the role. It is the bucket's max age, so every node
	// must use the same. Default 5 s.
	TTL time.Duration
	// RenewInterval is how often the leader renews and a standby looks for
	// a free lease: takeover after a crash takes at most TTL +
	// RenewInterval, after a clean shutdown at most RenewInterval.
	// Default TTL/5.
	RenewInterval time.Duration
	// Replicas of the bucket: 3 on a cluster, so that the lease survives
	// the loss of a server. Default 1.
	Replicas int
	// Memory keeps the bucket in memory (tests).
	Memory bool
}

// Defaults of LeaseOptions.
const (
	DefaultLeaseBucket = "tape_lease"
	DefaultLeaseKey    = "origin"
	DefaultLeaseTTL    = 5 * time.Second
)

func (o LeaseOptions) withDefaults() LeaseOptions {
	if o.Bucket == "" {
		o.Bucket = DefaultLeaseBucket
	}
	if o.Key == "" {
		o.Key = DefaultLeaseKey
	}
	if o.Holder == "" {
		h, _ := os.Hostname()
		o.Holder = h + ":" + strconv.Itoa(os.Getpid())
	}
	if o.TTL <= 0 {
		o.TTL = DefaultLeaseTTL
	}
	if o.RenewInterval <= 0 {
		o.RenewInterval = o.TTL / 5
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	return o
}

// LeaseValue is what the lease's key holds.
type LeaseValue struct {
	Holder string `json:"holder"`
	// Epoch is the revision at which the holder acquired the lease. KV
	// revisions only grow, so a later holder always has a larger epoch: it
	// is the writer epoch of Claim and the Publisher.
	Epoch uint64 `json:"epoch"`
}

// Lease is the cluster's single-origin lock: a key in a JetStream
// key-value bucket whose max age is the TTL. Acquire creates the key only
// if it is absent (expired, released or never set); Renew updates it only
// at the revision this holder last wrote, so a holder that was paused past
// its TTL and replaced finds out at its next renewal — and, because its
// epoch is older, the stream already refuses its writes (see Claim).
//
// A Lease is used by one goroutine (Roles.Run); Stats may be called from
// any.
type Lease struct {
	nc   *nats.Conn
	opts LeaseOptions

	mu         sync.Mutex
	kv         jetstream.KeyValue
	epoch      uint64 // 0 when not held
	revision   uint64 // our last write
	validUntil time.Time
	acquired   uint64 // times acquired
	lost       uint64 // times lost to expiry or another holder
}

// NewLease returns a lease over nc; nothing is sent until Acquire.
func NewLease(nc *nats.Conn, opts LeaseOptions) *Lease {
	return &Lease{nc: nc, opts: opts.withDefaults()}
}

// Options returns the options with defaults applied.
func (l *Lease) Options() LeaseOptions { return l.opts }

func (l *Lease) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	l.mu.Lock()
	kv := l.kv
	l.mu.Unlock()
	if kv != nil {
		return kv, nil
	}
	js, err := jetstream.New(l.nc)
	if err != nil {
		return nil, fmt.Errorf("cluster: jetstream: %w", err)
	}
	cfg := jetstream.KeyValueConfig{Bucket: l.opts.Bucket, Description: "Tape's origin lease",
		History: 1, TTL: l.opts.TTL, Replicas: l.opts.Replicas, Storage: jetstream.FileStorage}
	if l.opts.Memory {
		cfg.Storage = jetstream.MemoryStorage
	}
	kv, err = js.CreateOrUpdateKeyValue(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster: lease bucket %s: %w", l.opts.Bucket, err)
	}
	l.mu.Lock()
	l.kv = kv
	l.mu.Unlock()
	return kv, nil
}

// Acquire takes the lease if it is free. It returns the new epoch and true,
// or 0 and false if another node holds it.
func (l *Lease) Acquire(ctx context.Context) (epoch uint64, ok bool, err error) {
	kv, err := l.bucket(ctx)
	if err != nil {
		return 0, false, err
	}
	sent := time.Now()
	// The epoch is the revision Create returns, which is only known after
	// the write; the value written carries the epoch the holder will use,
	// so it is set by the first renewal. Readers take Epoch = the create
	// revision when the value says 0.
	val, _ := json.Marshal(LeaseValue{Holder: l.opts.Holder})
	rev, err := kv.Create(ctx, l.opts.Key, val)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("cluster: acquire lease: %w", err)
	}
	l.mu.Lock()
	l.epoch, l.revision, l.validUntil = rev, rev, sent.Add(l.opts.TTL)
	l.acquired++
	l.mu.Unlock()
	return rev, true, nil
}

// Renew extends the lease. It returns ErrLeaseLost if the lease expired or
// another node took it, and another error if it could not tell (the
// caller compares ValidUntil with the clock).
func (l *Lease) Renew(ctx context.Context) error {
	kv, err := l.bucket(ctx)
	if err != nil {
		return err
	}
	l.mu.Lock()
	epoch, rev := l.epoch, l.revision
	l.mu.Unlock()
	if epoch == 0 {
		return ErrLeaseLost
	}
	sent := time.Now()
	val, _ := json.Marshal(LeaseValue{Holder: l.opts.Holder, Epoch: epoch})
	nrev, err := kv.Update(ctx, l.opts.Key, val, rev)
	if err != nil {
		if isWrongLast(err) || errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound) {
			l.mu.Lock()
			if l.epoch == epoch {
				l.epoch, l.lost = 0, l.lost+1
			}
			l.mu.Unlock()
			return fmt.Errorf("%w: epoch %d: %w", ErrLeaseLost, epoch, err)
		}
		return fmt.Errorf("cluster: renew lease: %w", err)
	}
	l.mu.Lock()
	l.revision, l.validUntil = nrev, sent.Add(l.opts.TTL)
	l.mu.Unlock()
	return nil
}

// Release gives the lease up (deleting the key at our revision) so that a
// standby can take over at once rather than after the TTL. Releasing a
// lease already lost is not an error.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	epoch, rev := l.epoch, l.revision
	l.epoch = 0
	l.mu.Unlock()
	if epoch == 0 {
		return nil
	}
	kv, err := l.bucket(ctx)
	if err != nil {
		return err
	}
	err = kv.Delete(ctx, l.opts.Key, jetstream.LastRevision(rev))
	if err != nil && !isWrongLast(err) {
		return fmt.Errorf("cluster: release lease: %w", err)
	}
	return nil
}

// Held returns the epoch while the lease is held by us, else 0.
func (l *Lease) Held() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch
}

// ValidUntil is when the lease expires unless renewed, by our clock,
// measured from when the last successful write was sent: the server's
// timer starts later, so the lease is ours at least until then.
func (l *Lease) ValidUntil() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.validUntil
}

// Current reads who holds the lease now. ok is false if nobody does.
func (l *Lease) Current(ctx context.Context) (v LeaseValue, revision uint64, ok bool, err error) {
	kv, err := l.bucket(ctx)
	if err != nil {
		return v, 0, false, err
	}
	e, err := kv.Get(ctx, l.opts.Key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return v, 0, false, nil
	}
	if err != nil {
		return v, 0, false, fmt.Errorf("cluster: read lease: %w", err)
	}
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return v, 0, false, fmt.Errorf("cluster: lease value: %w", err)
	}
	if v.Epoch == 0 {
		v.Epoch = e.Revision()
	}
	return v, e.Revision(), true, nil
}

// LeaseStats describe the lease as this node sees it.
type LeaseStats struct {
	Holder   string // this node's name
	Epoch    uint64 // our epoch while we hold the lease, else 0
	Revision uint64 // our last write
	Acquired uint64 // times this node acquired the lease
	Lost     uint64 // times it lost the lease without releasing it
}

// Stats returns a snapshot.
func (l *Lease) Stats() LeaseStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return LeaseStats{Holder: l.opts.Holder, Epoch: l.epoch, Revision: l.revision, Acquired: l.acquired, Lost: l.lost}
}
