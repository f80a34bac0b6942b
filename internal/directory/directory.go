// Package directory keeps an organization's Users and Teams as OrgUser and OrgTeam objects.
// It is the one owner of their invariants — unique userNames and display names, preconditions,
// the order of effects, read-your-writes — and knows Kubernetes but neither SCIM documents nor
// HTTP: it takes and returns Go values, and the SCIM server (webhook/scim) maps its errors.
//
// Several replicas serve the same organization with no session affinity, each reading from
// its own informer cache, which lags the apiserver. So every decision that leads to a write, or
// to "no write needed", is made on state at least as new as the last write any replica
// acknowledged: a precondition is checked against the apiserver and carried into the write as
// a resourceVersion, "no change" is confirmed live, member ids the cache does not know are
// looked up live, and membership commits are fenced (internal/membership). Reads stay on the
// cache, but wait until it holds this replica's own acknowledged writes (reads.go).
package directory

import (
	"errors"
	"strconv"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/cachewatch"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/order"
)

// Options configures a Directory.
type Options struct {
	// Client reads from the manager's cache and writes to the apiserver.
	Client client.Client
	// APIReader reads from the apiserver.
	APIReader client.Reader
	// Members is the process's one membership store.
	Members *membership.Store
	// Now returns the current time (time.Now when nil).
	Now func() time.Time
	// Users, Teams and Slices say how far the cache has got for each kind (cachewatch.Track);
	// reads wait there for this replica's own writes. Nil: reads do not wait.
	Users, Teams, Slices *cachewatch.Progress
	// Order is the ordered index lists page through (order.Track). Nil: each list builds
	// one from the cache, O(n log n) per request (tests that need no scale).
	Order *order.Index
	// Finalizer, when set, is on every OrgUser and OrgTeam the directory creates. The
	// identity-store controllers add their finalizer in an object's first reconcile, one more
	// apiserver write (and admission call) per object; created with it, they find it and write
	// nothing. Set it only when this install runs those controllers (internal/app: an identity
	// store is configured): nothing else would ever remove it, and the objects could not be
	// deleted.
	Finalizer string
}

// Directory is the Users and Teams repositories of every organization served by a replica.
type Directory struct {
	client  client.Client
	api     client.Reader
	members *membership.Store
	now     func() time.Time
	own     *ownWrites
	order   *order.Index
	// finalizer is Options.Finalizer.
	finalizer string
}

// New returns a Directory.
func New(o Options) (*Directory, error) {
	if o.Client == nil || o.APIReader == nil || o.Members == nil {
		return nil, errors.New("directory: Client, APIReader and Members are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	own := &ownWrites{wrote: map[ownKey]uint64{}, progress: map[string]*cachewatch.Progress{
		kindUser: o.Users, kindTeam: o.Teams, kindSlice: o.Slices,
	}}
	return &Directory{client: o.Client, api: o.APIReader, members: o.Members, now: o.Now, own: own, order: o.Order, finalizer: o.Finalizer}, nil
}

// stampFinalizer puts the configured finalizer on an object about to be created.
func (d *Directory) stampFinalizer(obj client.Object) {
	if d.finalizer != "" {
		obj.SetFinalizers([]string{d.finalizer})
	}
}

// Errors a caller maps to its protocol (the SCIM server to status codes, once).
var (
	// ErrNotFound: no such resource, or it is being deleted.
	ErrNotFound = errors.New("not found")
	// ErrPreconditionFailed: the resource is not at a version the precondition allows.
	ErrPreconditionFailed = errors.New("the resource has changed since the version given")
	// ErrContention: the resource kept changing under many concurrent writers; retry.
	ErrContention = errors.New("the resource is being changed by many writers at once")
)

// NameTakenError says a unique name (userName, displayName) is held by another resource.
type NameTakenError struct {
	// Detail says which name and by what, for a person.
	Detail string
}

func (e *NameTakenError) Error() string { return e.Detail }

// BeingDeletedError says the previous holder of a unique name is still being deleted (its
// finalizer waits for the identity store): the same request succeeds shortly, so callers
// answer "retry" (SCIM: 503 + Retry-After), never "conflict", which identity providers take as
// permanent.
type BeingDeletedError struct {
	// Detail says which name and what to do, for a person.
	Detail string
}

func (e *BeingDeletedError) Error() string { return e.Detail }

// Precondition lists the versions a write may start from (If-Match); "*" allows any existing
// version, and an empty Precondition allows any.
type Precondition []string

// Allows reports whether the precondition admits version.
func (p Precondition) Allows(version string) bool {
	if len(p) == 0 {
		return true
	}
	for _, v := range p {
		if v == "*" || v == version {
			return true
		}
	}
	return false
}

// check returns ErrPreconditionFailed unless the precondition admits version.
func (p Precondition) check(version string) error {
	if p.Allows(version) {
		return nil
	}
	return ErrPreconditionFailed
}

// LastModified is the time of the last SCIM write of an object, else its creation.
func LastModified(obj client.Object) time.Time {
	// Looked up first: parsing a missing annotation allocates an error, once per user of a
	// list page.
	if v, ok := obj.GetAnnotations()[rosterv1.LastModifiedAnnotation]; ok {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t
		}
	}
	return obj.GetCreationTimestamp().Time
}

// UserVersion is the version of a user as SCIM sees it: metadata.generation, which the
// apiserver moves on spec changes only (never on a finalizer, label, annotation or status
// write), and its UID, so a re-created user of the same userName never has an old version.
// Every replica computes the same value from the same object. (Built in one allocation: a
// list page computes one per user.)
func UserVersion(u *rosterv1.OrgUser) string {
	var buf [64]byte
	b := strconv.AppendInt(buf[:0], u.Generation, 10)
	b = append(b, '-')
	return string(appendShortUID(b, string(u.UID)))
}

// appendShortUID appends the first 12 characters of uid that are not '-'.
func appendShortUID(b []byte, uid string) []byte {
	n := 0
	for i := 0; i < len(uid) && n < 12; i++ {
		if uid[i] != '-' {
			b = append(b, uid[i])
			n++
		}
	}
	return b
}
