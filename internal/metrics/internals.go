package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The metrics below describe Roster's internals: how far behind its caches are, how its
// membership group commits and the identity store behave, and which replica leads. Hot paths
// record through children resolved once (a label lookup per operation at most), never through
// WithLabelValues on each call.

// waitBuckets cover a watch round trip (about a millisecond) up to the longest waits Roster
// allows (2 s for reads, longer for fences).
var waitBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

var (
	// CacheWait observes how long a read or a membership fence waited for this replica's
	// informer cache to deliver a write it knew of (its own acknowledged write, or a team's
	// watermark), by kind. Only reads that had to wait are observed: it is the cache's lag
	// behind the apiserver where the lag mattered.
	CacheWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "roster_cache_wait_seconds",
		Help:    "Time reads and membership fences waited for this replica's informer cache to deliver a known write, by kind.",
		Buckets: waitBuckets,
	}, []string{"kind"})

	// CacheWaitTimeouts counts the waits of CacheWait that gave up: a read was then served
	// from a cache that lacked the write, or a fence listed from the apiserver instead.
	CacheWaitTimeouts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roster_cache_wait_timeouts_total",
		Help: "Waits for this replica's informer cache that timed out before it delivered the write, by kind.",
	}, []string{"kind"})

	// MembershipQueueDepth is the number of membership changes on this replica that wait for
	// a group commit or are being committed.
	MembershipQueueDepth = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "roster_membership_commit_queue_depth",
		Help: "Membership changes on this replica waiting for a group commit or being committed.",
	})

	// MembershipConflictRetries counts group commit attempts repeated because a slice or team
	// write lost a race with another writer (a conflict, or a slice deleted meanwhile).
	MembershipConflictRetries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "roster_membership_conflict_retries_total",
		Help: "Membership commit attempts repeated after a write lost a race with another writer.",
	})

	// MembershipSliceWrites counts writes of OrgTeamMemberSlices by membership commits and
	// slice cleanup, by Kubernetes verb (create, update, delete, deletecollection).
	MembershipSliceWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roster_membership_slice_writes_total",
		Help: "Successful OrgTeamMemberSlice writes of membership commits and cleanup, by verb.",
	}, []string{"op"})

	// MembershipCommitDuration observes each group commit, from its first fence to its last
	// write (retries included).
	MembershipCommitDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "roster_membership_commit_duration_seconds",
		Help:    "Duration of membership group commits (fence, writes and retries).",
		Buckets: waitBuckets,
	})

	// StoreOperationDuration observes identity store operations by operation (the
	// identitystore.Store method: CreateUser, AddMembers, …), failed ones included.
	StoreOperationDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "roster_store_operation_duration_seconds",
		Help:    "Identity store operation latency by operation, failures included.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 15},
	}, []string{"operation"})

	// StoreOperationErrors counts failed identity store operations by operation and reason
	// (Unavailable, Conflict, Invalid, Canceled, Error). "Not found" is an answer, not an error.
	StoreOperationErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roster_store_operation_errors_total",
		Help: "Failed identity store operations by operation and reason.",
	}, []string{"operation", "reason"})

	// Leader is 1 on the replica that holds the controllers' leader election (and on a
	// manager without leader election), 0 on the others.
	Leader = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "roster_leader",
		Help: "1 if this replica runs the controllers (holds the leader election), else 0.",
	})
)

// Slice write counters, resolved once.
var (
	SliceCreates           = MembershipSliceWrites.WithLabelValues("create")
	SliceUpdates           = MembershipSliceWrites.WithLabelValues("update")
	SliceDeletes           = MembershipSliceWrites.WithLabelValues("delete")
	SliceDeleteCollections = MembershipSliceWrites.WithLabelValues("deletecollection")
)

// CacheWaitFor returns the observer and the timeout counter of CacheWait for a kind, to keep
// next to the thing that waits.
func CacheWaitFor(kind string) (prometheus.Observer, prometheus.Counter) {
	return CacheWait.WithLabelValues(kind), CacheWaitTimeouts.WithLabelValues(kind)
}

// StoreOperation records one kind of identity store operation. Make one per operation, once.
type StoreOperation struct {
	name     string
	duration prometheus.Observer
}

// NewStoreOperation returns the recorder of an identity store operation.
func NewStoreOperation(name string) StoreOperation {
	return StoreOperation{name: name, duration: StoreOperationDuration.WithLabelValues(name)}
}

// Done records an operation that took d; reason is "" when it succeeded (or found nothing),
// else why it failed. Failures are rare, so their label lookup is left to them.
func (o StoreOperation) Done(d time.Duration, reason string) {
	o.duration.Observe(d.Seconds())
	if reason != "" {
		StoreOperationErrors.WithLabelValues(o.name, reason).Inc()
	}
}
