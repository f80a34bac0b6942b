package order

import (
	"context"
	"fmt"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/cachewatch"
	"github.com/rosterhq/roster/internal/slimuser"
)

// Index is the ordered index of every organization's users and teams.
type Index struct {
	users, teams *kind
	// UsersProgress and TeamsProgress are the highest resourceVersion each kind's index has
	// applied: a read that must see a write waits there.
	UsersProgress, TeamsProgress *cachewatch.Progress
	// synced are the event handlers' registrations (Track): each says when its handler has
	// applied the informer's initial list, which the cache's own sync does not wait for.
	synced []toolscache.ResourceEventHandlerRegistration
}

// HasSynced reports whether the index has applied every object of the informers' initial
// lists (true for an index not fed by Track). Until then a list would page through a
// half-built index, and the watermarks mean nothing: the initial list arrives in key order,
// not in revision order.
func (x *Index) HasSynced() bool {
	for _, r := range x.synced {
		if !r.HasSynced() {
			return false
		}
	}
	return true
}

// New returns an empty index, fed by Track or by PutUser/PutTeam.
func New() *Index { return newIndex(false) }

func newIndex(perNamespace bool) *Index {
	return &Index{
		users:         newKind(UserName, DisplayName, ExternalID),
		teams:         newKind(DisplayName, ExternalID),
		UsersProgress: cachewatch.New("OrgUserOrder", perNamespace),
		TeamsProgress: cachewatch.New("OrgTeamOrder", perNamespace),
	}
}

// Track returns an index fed by the cache's OrgUser and OrgTeam informers. Call it before the
// cache starts. perNamespace says the cache watches each namespace apart (as
// cachewatch.TrackPerNamespace): the watermarks are then per namespace too.
func Track(ctx context.Context, informers cache.Informers, perNamespace bool) (*Index, error) {
	x := newIndex(perNamespace)
	for _, obj := range []client.Object{&rosterv1.OrgUser{}, &rosterv1.OrgTeam{}} {
		inf, err := informers.GetInformer(ctx, obj)
		if err != nil {
			return nil, fmt.Errorf("informer for %T: %w", obj, err)
		}
		reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { x.apply(o, false) },
			UpdateFunc: func(_, o any) { x.apply(o, false) },
			DeleteFunc: func(o any) { x.apply(o, true) },
		})
		if err != nil {
			return nil, err
		}
		x.synced = append(x.synced, reg)
	}
	return x, nil
}

// apply applies one informer event, then advances the kind's watermark: what the watermark
// says is readable from the index.
func (x *Index) apply(o any, deleted bool) {
	if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		o, deleted = d.Obj, true
	}
	switch obj := o.(type) {
	case *rosterv1.OrgUser:
		// A cache built without slimuser.CacheOptions: the entry keeps the compact form all the
		// same, so that every user entry holds a *slimuser.User.
		x.apply(slimuser.New(obj), deleted)
		return
	case *slimuser.User:
		if deleted {
			x.users.remove(obj.GetNamespace(), obj.GetName())
		} else {
			x.PutUser(obj)
		}
		x.UsersProgress.Observe(obj.GetNamespace(), obj.GetResourceVersion())
	case *rosterv1.OrgTeam:
		if deleted {
			x.teams.remove(obj.Namespace, obj.Name)
		} else {
			x.PutTeam(obj)
		}
		x.TeamsProgress.Observe(obj.Namespace, obj.ResourceVersion)
	}
}

// PutUser adds or replaces a user (the cache's compact form). A terminating user is removed:
// lists leave it out.
func (x *Index) PutUser(u *slimuser.User) {
	if u.GetDeletionTimestamp() != nil {
		x.users.remove(u.GetNamespace(), u.GetName())
		return
	}
	x.users.put(u.GetNamespace(), UserEntry(u))
}

// PutTeam adds or replaces a team. Only SCIM-managed teams that are not terminating are kept:
// /Groups lists no others.
func (x *Index) PutTeam(t *rosterv1.OrgTeam) {
	if t.DeletionTimestamp != nil || t.Spec.ManagedBy != rosterv1.ManagedBySCIM {
		x.teams.remove(t.Namespace, t.Name)
		return
	}
	x.teams.put(t.Namespace, TeamEntry(t))
}

// SelectUsers selects a page of namespace's users. Only copying the candidates holds the
// namespace's lock: a filter's matching runs outside it.
func (x *Index) SelectUsers(namespace string, q Query) (Page, error) {
	return x.users.selectPage(namespace, q)
}

// SelectTeams selects a page of namespace's teams, as SelectUsers does.
func (x *Index) SelectTeams(namespace string, q Query) (Page, error) {
	return x.teams.selectPage(namespace, q)
}

// Holds reports whether the index lists obj (an OrgUser, in either form, or an OrgTeam) under
// its name.
func (x *Index) Holds(obj client.Object) bool {
	var k *kind
	switch obj.(type) {
	case *rosterv1.OrgTeam:
		k = x.teams
	case *rosterv1.OrgUser, *slimuser.User:
		k = x.users
	default:
		return false
	}
	held := false
	_ = k.read(obj.GetNamespace(), func(l *List) error { _, held = l.byName[obj.GetName()]; return nil })
	return held
}

// Users runs fn on namespace's users under a read lock; fn must not keep the list.
func (x *Index) Users(namespace string, fn func(*List) error) error {
	return x.users.read(namespace, fn)
}

// Teams runs fn on namespace's teams under a read lock; fn must not keep the list.
func (x *Index) Teams(namespace string, fn func(*List) error) error {
	return x.teams.read(namespace, fn)
}
