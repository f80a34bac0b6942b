package directory

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/naming"
)

// GetUser reads a user by id (its object name). Ids that cannot be user names are not found
// without a round trip.
func (d *Directory) GetUser(ctx context.Context, namespace, id string) (*rosterv1.OrgUser, error) {
	return d.readUser(ctx, namespace, id, false)
}

func (d *Directory) readUser(ctx context.Context, namespace, id string, live bool) (*rosterv1.OrgUser, error) {
	if !naming.IsUserObjectName(id) {
		return nil, ErrNotFound
	}
	var u rosterv1.OrgUser
	if err := d.get(ctx, types.NamespacedName{Namespace: namespace, Name: id}, &u, live); err != nil {
		return nil, err
	}
	return &u, nil
}

// Users lists a namespace's users from the cache, as copies (decoded from the cache's compact
// form, internal/slimuser): O(users) allocations, for a Directory without an ordered index
// only. Filters find users through the ordered index (SelectUsers).
func (d *Directory) Users(ctx context.Context, namespace string) ([]rosterv1.OrgUser, error) {
	var list rosterv1.OrgUserList
	return list.Items, d.list(ctx, namespace, &list, nil)
}

// CreateUser creates a user of org. Its object name derives from the userName, so the
// apiserver refuses a duplicate even when two replicas race: exactly one create wins.
func (d *Directory) CreateUser(ctx context.Context, org *rosterv1.Organization, spec rosterv1.OrgUserSpec) (*rosterv1.OrgUser, error) {
	u := &rosterv1.OrgUser{Spec: spec}
	u.Name = naming.UserObjectName(spec.UserName)
	u.Namespace = org.Spec.Namespace
	u.Labels = map[string]string{rosterv1.OrgLabel: org.Name}
	rosterv1.StampLastModified(u, d.now())
	d.stampFinalizer(u)
	if err := d.client.Create(ctx, u); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, d.userNameTaken(ctx, u)
		}
		return nil, err
	}
	d.noteWrite(ctx, u)
	// The id derives from the userName: memberships that a previous user of this userName left
	// behind (its delete raced a membership change) are not this user's. The cache's member
	// index answers almost always with nothing, without a write. Best effort: the user exists
	// now, so the create must be answered as done; the deleted user's finalizer and the team
	// controller's pruning remove leftovers too.
	if res, err := d.members.ForgetUser(ctx, u.Namespace, u.Name); err == nil {
		d.noteResults(ctx, res)
	}
	return u, nil
}

// userNameTaken explains a create refused because the object exists: the userName is taken,
// or its previous user is still being deleted (Entra deletes and re-creates users).
func (d *Directory) userNameTaken(ctx context.Context, u *rosterv1.OrgUser) error {
	var existing rosterv1.OrgUser
	err := d.api.Get(ctx, client.ObjectKeyFromObject(u), &existing)
	switch {
	case err != nil && !apierrors.IsNotFound(err):
		return err // not known to be taken: the identity provider must retry, not give up
	case apierrors.IsNotFound(err):
		// Gone between the create and this read: the previous user finished deleting.
		return &BeingDeletedError{Detail: fmt.Sprintf("the previous User with userName %q was just deleted; retry", u.Spec.UserName)}
	case err == nil && existing.DeletionTimestamp != nil:
		return &BeingDeletedError{Detail: fmt.Sprintf("the previous User with userName %q is still being deleted; retry shortly", u.Spec.UserName)}
	}
	return &NameTakenError{Detail: fmt.Sprintf("a User with userName %q already exists", u.Spec.UserName)}
}

// UpdateUser runs a read-modify-write of one user with optimistic concurrency. mutate changes
// the user's spec (it must not have side effects: it may run more than once); an error from it
// is returned as is and nothing is written.
//
// The decision is never taken on stale state: with a precondition the user is read from the
// apiserver and the write carries the resourceVersion the precondition was checked on; without
// one the cache is read first, a write planned from it carries its resourceVersion (a stale
// copy conflicts), and "no change needed" is confirmed against the apiserver — a deactivation
// that the cache calls a no-op may be undoing a reactivation another replica just made.
func (d *Directory) UpdateUser(ctx context.Context, namespace, id string, pre Precondition, mutate func(*rosterv1.OrgUser) error) (*rosterv1.OrgUser, error) {
	live := len(pre) > 0
	var out *rosterv1.OrgUser
	err := retry.OnError(membership.ConflictBackoff, apierrors.IsConflict, func() error {
		for {
			u, err := d.readUser(ctx, namespace, id, live)
			if err != nil {
				return err
			}
			if err := pre.check(UserVersion(u)); err != nil {
				return err
			}
			next := u.DeepCopy()
			if err := mutate(next); err != nil {
				return err
			}
			if equality.Semantic.DeepEqual(u.Spec, next.Spec) {
				if !live {
					live = true // "no change" is a decision too: confirm it with the apiserver
					continue
				}
				out = u
				return nil
			}
			rosterv1.StampLastModified(next, d.now())
			if err := d.client.Update(ctx, next); err != nil {
				live = true // after a conflict the cache may still lag
				return err
			}
			d.noteWrite(ctx, next)
			out = next
			return nil
		}
	})
	if apierrors.IsConflict(err) {
		return nil, ErrContention
	}
	return out, err
}

// DeleteUser deletes a user, then takes it out of every team. The order matters: a refused
// delete (a stale precondition) changes nothing, and the user's finalizer repeats the team
// removal, so a failure after the delete still converges.
func (d *Directory) DeleteUser(ctx context.Context, namespace, id string, pre Precondition) error {
	live := len(pre) > 0
	var deleted *rosterv1.OrgUser
	err := retry.OnError(membership.ConflictBackoff, apierrors.IsConflict, func() error {
		u, err := d.readUser(ctx, namespace, id, live)
		if err != nil {
			return err
		}
		if err := pre.check(UserVersion(u)); err != nil {
			return err
		}
		// The UID keeps a re-created user of the same userName safe from this delete; with a
		// precondition the resourceVersion it was checked on goes along.
		p := client.Preconditions{UID: &u.UID}
		if live {
			p.ResourceVersion = &u.ResourceVersion
		}
		live = true
		if err := d.client.Delete(ctx, u, p); err != nil {
			if apierrors.IsNotFound(err) {
				return ErrNotFound
			}
			return err
		}
		deleted = u
		recordWrite(ctx, kindUser, u.Name)
		return nil
	})
	if apierrors.IsConflict(err) {
		return ErrContention
	}
	if err != nil {
		return err
	}
	// The delete is durable whatever happens next: if this removal fails, the user's
	// finalizer (and the team controller's pruning) removes it from its teams again.
	if res, err := d.members.RemoveUserEverywhere(ctx, namespace, id); err == nil {
		d.noteResults(ctx, res)
	}
	d.awaitGone(ctx, deleted)
	return nil
}
