package membership

import (
	"context"
	"slices"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/slimuser"
)

// liveLookupsMax is how many unknown ids are looked up one by one (in parallel) before one
// list of every user's metadata is cheaper.
const liveLookupsMax = 64

// Users returns the ids among ids that name a user of the namespace that exists and is not
// being deleted. The cache answers first; an id it does not know — a user created a moment
// ago through another replica, which Okta and Entra add to a group right after creating it —
// is looked up in the apiserver before it is called unresolved.
func (s *Store) Users(ctx context.Context, namespace string, ids []string) (Set, error) {
	users := make(Set, len(ids))
	var unknown []string
	named := ids
	if slices.ContainsFunc(ids, func(id string) bool { return !naming.IsUserObjectName(id) }) {
		named = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !naming.IsUserObjectName(id) })
	}
	// The cached objects themselves, all read in one pass: only existence and deletion matter.
	err := slimuser.Reader{Cache: s.users()}.GetEach(ctx, namespace, named, func(i int, u *slimuser.User) {
		if u != nil && u.GetDeletionTimestamp() == nil {
			users[named[i]] = struct{}{}
			return
		}
		// Unknown, or being deleted in the cache: Entra deletes a user, creates it again and
		// adds it to a group, and the new user may not be in this cache yet.
		unknown = append(unknown, named[i])
	})
	if err != nil {
		return nil, err
	}
	if len(unknown) == 0 {
		return users, nil
	}
	// Once each: a request may name a member twice, and each is a live lookup.
	slices.Sort(unknown)
	unknown = slices.Compact(unknown)
	live, err := s.liveUsers(ctx, namespace, unknown)
	for id := range live {
		users[id] = struct{}{}
	}
	return users, err
}

// liveUsers asks the apiserver which of ids are users that exist and are not being deleted.
func (s *Store) liveUsers(ctx context.Context, namespace string, ids []string) (Set, error) {
	out := Set{}
	if len(ids) > liveLookupsMax {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(rosterv1.GroupVersion.WithKind("OrgUserList"))
		if err := s.API.List(ctx, list, client.InNamespace(namespace)); err != nil {
			return nil, err
		}
		want := NewSet(ids...)
		for i := range list.Items {
			if _, ok := want[list.Items[i].Name]; ok && list.Items[i].DeletionTimestamp == nil {
				out[list.Items[i].Name] = struct{}{}
			}
		}
		return out, nil
	}
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			m := &metav1.PartialObjectMetadata{}
			m.SetGroupVersionKind(rosterv1.GroupVersion.WithKind("OrgUser"))
			err := s.API.Get(ctx, types.NamespacedName{Namespace: namespace, Name: id}, m)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && m.DeletionTimestamp == nil:
				out[id] = struct{}{}
			case err != nil && !apierrors.IsNotFound(err) && firstErr == nil:
				firstErr = err
			}
		}()
	}
	wg.Wait()
	return out, firstErr
}
