package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Role is what a node of the cluster is doing.
type Role uint8

// Roles.
const (
	// RoleStandby: following the stream as an edge, watching the lease.
	RoleStandby Role = iota
	// RoleCandidate: holding the lease, still catching up with the stream
	// before claiming it.
	RoleCandidate
	// RoleLeader: the origin — connected upstream, sequencing, publishing.
	RoleLeader
)

func (r Role) String() string {
	switch r {
	case RoleStandby:
		return "standby"
	case RoleCandidate:
		return "candidate"
	case RoleLeader:
		return "leader"
	}
	return "invalid"
}

// RoleChange is a transition reported to RolesOptions.OnChange.
type RoleChange struct {
	Role  Role
	Epoch uint64 // the lease epoch for candidate and leader, else 0
	Cause error  // why a leader or candidate stepped down; nil otherwise
}

// RolesOptions configures Roles. Journal, Follow and Lead are required.
type RolesOptions struct {
	Lease  LeaseOptions
	Stream StreamOptions
	// Journal is the node's journal: what it follows into and leads from.
	Journal Journal
	// Follow runs the node as an edge (an EdgeFeed into a pipeline that
	// keeps sequence numbers) until ctx ends. It must return only once the
	// pipeline has journaled everything the feed emitted: the node leads
	// from that journal next. An error ends Roles.Run.
	Follow func(ctx context.Context) error
	// Lead runs the node as the origin until ctx ends: the upstream feed,
	// a pipeline continuing the journal's sequence, and a Publisher with
	// this epoch. Roles has already claimed the stream for epoch, so the
	// pipeline may sequence at once. Returning (with any error) gives the
	// lease up; the node follows again and may be elected again later.
	Lead func(ctx context.Context, epoch uint64) error
	// OnChange, if set, is called on every transition, from Run's
	// goroutine; it must not block.
	OnChange func(RoleChange)
	Logger   *slog.Logger
}

// Roles is the node's role state machine. A node follows (standby) until
// the lease is free; then it acquires it (candidate), waits until its
// journal holds the stream's last record, stops following, claims the
// stream for its epoch and leads. It leads until the lease is lost (it
// could not renew before the lease would expire, or another node took it),
// Lead returns, or ctx ends — then it releases the lease and follows
// again. One node leads at a time by the lease; a node that believes it
// leads after losing the lease (a pause) cannot write, by the claim.
type Roles struct {
	nc    *nats.Conn
	opts  RolesOptions
	lease *Lease

	role      atomic.Uint32
	epoch     atomic.Uint64
	takeovers atomic.Uint64
	stepDowns atomic.Uint64
	mu        sync.Mutex
	lastCause string
}

// NewRoles returns the state machine for one node.
func NewRoles(nc *nats.Conn, opts RolesOptions) (*Roles, error) {
	if opts.Journal == nil || opts.Follow == nil || opts.Lead == nil {
		return nil, errors.New("cluster: RolesOptions needs Journal, Follow and Lead")
	}
	opts.Stream = opts.Stream.withDefaults()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Roles{nc: nc, opts: opts, lease: NewLease(nc, opts.Lease)}, nil
}

// RolesStats describe the node's role.
type RolesStats struct {
	Role      Role
	Epoch     uint64 // lease epoch while candidate or leader
	Takeovers uint64 // times this node became leader
	StepDowns uint64 // times it stopped leading
	LastCause string // why it last stepped down
	Lease     LeaseStats
}

// Stats returns a snapshot.
func (r *Roles) Stats() RolesStats {
	r.mu.Lock()
	cause := r.lastCause
	r.mu.Unlock()
	return RolesStats{Role: Role(r.role.Load()), Epoch: r.epoch.Load(), Takeovers: r.takeovers.Load(),
		StepDowns: r.stepDowns.Load(), LastCause: cause, Lease: r.lease.Stats()}
}

// Role returns the current role.
func (r *Roles) Role() Role { return Role(r.role.Load()) }

func (r *Roles) set(role Role, epoch uint64, cause error) {
	r.role.Store(uint32(role))
	r.epoch.Store(epoch)
	if cause != nil {
		r.mu.Lock()
		r.lastCause = cause.Error()
		r.mu.Unlock()
	}
	r.opts.Logger.Info("cluster: role", "role", role.String(), "epoch", epoch, "cause", cause)
	if r.opts.OnChange != nil {
		r.opts.OnChange(RoleChange{Role: role, Epoch: epoch, Cause: cause})
	}
}

// Run runs the state machine until ctx ends (returning ctx.Err()), Follow
// fails, or the journal cannot continue the stream (ErrDiverged, ErrGap).
// It releases the lease before returning.
func (r *Roles) Run(ctx context.Context) error {
	js, err := jetstream.New(r.nc)
	if err != nil {
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	var held uint64
	for {
		epoch, err := r.follow(ctx, js, held)
		if err != nil {
			return err
		}
		held, err = r.lead(ctx, js, epoch)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrDiverged) || errors.Is(err, ErrGap) {
			return err
		}
		r.opts.Logger.Warn("cluster: no longer leading", "err", err, "still_holding", held != 0)
		if held == 0 {
			// Give another node the chance to take over before competing again.
			if err := sleep(ctx, r.lease.Options().RenewInterval); err != nil {
				return err
			}
		}
	}
}

// release gives the lease up, even when ctx has ended.
func (r *Roles) release(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := r.lease.Release(rctx); err != nil {
		r.opts.Logger.Warn("cluster: release lease", "err", err)
	}
}

// follow runs Follow until this node holds the lease (held, or acquired
// here) and its journal has the stream's last record; it returns the epoch
// with Follow stopped.
func (r *Roles) follow(ctx context.Context, js jetstream.JetStream, held uint64) (uint64, error) {
	o := r.opts
	lo := r.lease.Options()
	epoch := held
	if epoch == 0 {
		r.set(RoleStandby, 0, nil)
	} else {
		r.set(RoleCandidate, epoch, nil)
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fdone := make(chan error, 1)
	go func() { fdone <- o.Follow(fctx) }()
	stop := func() error { cancel(); return <-fdone }

	// A candidate polls its catch-up often; a standby only looks for a free
	// lease once per renew interval. Renewals keep their own schedule.
	const catchUpPoll = 20 * time.Millisecond
	timer := time.NewTimer(0)
	defer timer.Stop()
	lastRenew := time.Now()
	var s jetstream.Stream
	for {
		select {
		case <-ctx.Done():
			stop()
			if epoch != 0 {
				r.release(ctx)
			}
			return 0, ctx.Err()
		case err := <-fdone:
			if epoch != 0 {
				r.release(ctx)
			}
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			if err == nil {
				err = errors.New("returned")
			}
			return 0, fmt.Errorf("cluster: follow: %w", err)
		case <-timer.C:
		}
		if epoch == 0 {
			timer.Reset(lo.RenewInterval)
			e, ok, err := r.lease.Acquire(ctx)
			if err != nil {
				o.Logger.Warn("cluster: acquire lease", "err", err)
				continue
			}
			if !ok {
				continue
			}
			epoch, lastRenew = e, time.Now()
			r.set(RoleCandidate, epoch, nil)
		} else if time.Since(lastRenew) >= lo.RenewInterval {
			if err := r.lease.Renew(ctx); err != nil {
				if errors.Is(err, ErrLeaseLost) || time.Now().After(r.lease.ValidUntil()) {
					epoch = 0
					r.stepDowns.Add(1)
					r.set(RoleStandby, 0, err)
					timer.Reset(lo.RenewInterval)
					continue
				}
				o.Logger.Warn("cluster: renew lease", "err", err)
			} else {
				lastRenew = time.Now()
			}
		}
		timer.Reset(catchUpPoll)
		if s == nil {
			var err error
			if s, err = js.Stream(ctx, o.Stream.Name); err != nil {
				if errors.Is(err, jetstream.ErrStreamNotFound) {
					// Nobody ever published: nothing to catch up with.
					stop()
					return epoch, nil
				}
				o.Logger.Warn("cluster: stream", "err", err)
				continue
			}
		}
		t, err := readTail(ctx, s, o.Stream.Prefix)
		if err != nil {
			o.Logger.Warn("cluster: read the stream's tail", "err", err)
			continue
		}
		if o.Journal.Last() < t.last.tapeSeq {
			continue // still catching up
		}
		if err := stop(); err != nil && !errors.Is(err, context.Canceled) {
			o.Logger.Warn("cluster: follow ended with an error on promotion", "err", err)
		}
		return epoch, nil
	}
}

// lead claims the stream for epoch and runs Lead while renewing the lease.
// It returns the epoch still held (after ErrBehind: follow on and retry)
// or 0 with the lease released.
func (r *Roles) lead(ctx context.Context, js jetstream.JetStream, epoch uint64) (uint64, error) {
	o := r.opts
	lo := r.lease.Options()
	s, err := EnsureStream(ctx, js, o.Stream)
	if err == nil {
		_, err = claimStream(ctx, r.nc, s, o.Stream.Prefix, epoch, o.Journal)
	}
	if err != nil {
		if errors.Is(err, ErrBehind) {
			return epoch, err // a deposed writer got more in before our claim
		}
		r.release(ctx)
		r.set(RoleStandby, 0, err)
		return 0, err
	}
	r.takeovers.Add(1)
	r.set(RoleLeader, epoch, nil)

	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ldone := make(chan error, 1)
	go func() { ldone <- o.Lead(lctx, epoch) }()
	stop := func() error { cancel(); return <-ldone }

	ticker := time.NewTicker(lo.RenewInterval)
	defer ticker.Stop()
	var cause error
	for cause == nil {
		select {
		case <-ctx.Done():
			stop()
			r.release(ctx)
			r.stepDowns.Add(1)
			r.set(RoleStandby, 0, ctx.Err())
			return 0, ctx.Err()
		case err := <-ldone:
			if err == nil {
				err = errors.New("returned")
			}
			cause = fmt.Errorf("cluster: lead: %w", err)
			r.release(ctx)
		case <-ticker.C:
			err := r.lease.Renew(ctx)
			switch {
			case err == nil:
			case errors.Is(err, ErrLeaseLost):
				cause = err
				stop()
			case time.Now().Add(lo.RenewInterval).After(r.lease.ValidUntil()):
				// Renewals fail and the lease would expire before the next
				// attempt: stop leading while it is still ours.
				cause = fmt.Errorf("%w: cannot renew before it expires: %w", ErrLeaseLost, err)
				stop()
				r.release(ctx)
			default:
				o.Logger.Warn("cluster: renew lease", "err", err)
			}
		}
	}
	r.stepDowns.Add(1)
	r.set(RoleStandby, 0, cause)
	return 0, cause
}
