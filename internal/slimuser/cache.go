package slimuser

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/cacheopts"
	"github.com/rosterhq/roster/internal/cachescan"
	"github.com/rosterhq/roster/internal/cachetrim"
	"github.com/rosterhq/roster/internal/memberids"
)

// Transform is the cache's transform of OrgUsers: cachetrim's, then the compact form. A User
// passes through unchanged (a resync hands the store's own objects to the transform again);
// any other object gets cachetrim's transform only.
func Transform(obj any) (any, error) {
	switch o := obj.(type) {
	case *User:
		return o, nil
	case *rosterv1.OrgUser:
		if _, err := cachetrim.Transform(o); err != nil {
			return nil, err
		}
		return New(o), nil
	}
	return cachetrim.Transform(obj)
}

// CacheOptions sets the transforms of a cache of Roster's objects: cachetrim's for every kind,
// Transform for OrgUsers and memberids.Transform for OrgTeamMemberSlices (keeping the other
// settings of those kinds' entries in ByObject: a kind with a ByObject transform does not get
// the default one, so both compose cachetrim's). The manager's cache is built with it, and so
// is every cache a test builds in its stead, so that tests read users and members as the
// manager does.
func CacheOptions(opts *cache.Options) {
	opts.DefaultTransform = cachetrim.Transform
	if opts.ByObject == nil {
		opts.ByObject = map[client.Object]cache.ByObject{}
	}
	cacheopts.Edit(opts.ByObject, &rosterv1.OrgUser{}, func(c *cache.ByObject) { c.Transform = Transform })
	cacheopts.Edit(opts.ByObject, &rosterv1.OrgTeamMemberSlice{}, func(c *cache.ByObject) { c.Transform = memberids.Transform })
}

// Reader reads users from a cache in place, where a client's Get with
// client.UnsafeDisableDeepCopy would fail: the cache holds a *User, not a *rosterv1.OrgUser.
type Reader struct {
	// Cache is the manager's cache (cache.Cache; a shard's too when built by
	// cachescan.NewCache, as the manager's is). Any other reader (a client, a cache whose
	// stores cannot be reached) is read with a copying Get, and the user it returns made
	// compact: correct, not cheap.
	Cache client.Reader
}

// orgUserKind names the kind to cachescan (which only reads its type): one value for every
// read, where a new &rosterv1.OrgUser{} per Get escaped to the heap, one ~700-byte object per
// member id that membership.Store.Users looks up (100,000 on a PUT of a large team). Never
// written.
var orgUserKind client.Object = &rosterv1.OrgUser{}

// Get returns the cached user key names: the cache's own object, read-only. A user the cache
// does not hold is an apierrors NotFound error, as from the cache's Get.
func (r Reader) Get(ctx context.Context, key types.NamespacedName) (*User, error) {
	obj, exists, walked, err := cachescan.GetStored(ctx, r.Cache, orgUserKind, key)
	if err != nil {
		return nil, err
	}
	if !walked {
		var u rosterv1.OrgUser
		if err := r.Cache.Get(ctx, key, &u); err != nil {
			return nil, err
		}
		return New(&u), nil
	}
	if !exists {
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: rosterv1.GroupVersion.Group, Resource: "OrgUser"}, key.Name)
	}
	return asUser(obj)
}

// asUser is a cached object as the User it must be.
func asUser(obj any) (*User, error) {
	u, ok := obj.(*User)
	if !ok {
		return nil, fmt.Errorf("slimuser: the cache holds %T, not *slimuser.User: it was built without slimuser.CacheOptions", obj)
	}
	return u, nil
}

// GetEach calls fn with each of names' index and its cached user (nil when the cache holds
// none), read in place as Get reads one (read-only; fn must not keep it). It reads the
// cache's stores once for all names; a reader whose stores cannot be reached is read with
// Get, one name at a time.
func (r Reader) GetEach(ctx context.Context, namespace string, names []string, fn func(i int, u *User)) error {
	var badErr error
	walked, err := cachescan.GetStoredEach(ctx, r.Cache, orgUserKind, namespace, names, func(i int, obj any) {
		if obj == nil {
			fn(i, nil)
			return
		}
		u, err := asUser(obj)
		if err != nil {
			badErr = err
			return
		}
		fn(i, u)
	})
	if err == nil {
		err = badErr
	}
	if err != nil {
		return err
	}
	if walked {
		return nil
	}
	for i, name := range names {
		u, err := r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name})
		switch {
		case apierrors.IsNotFound(err):
			fn(i, nil)
		case err != nil:
			return err
		default:
			fn(i, u)
		}
	}
	return nil
}

// Each calls fn with every user r holds in namespace ("": in every namespace), in place (see
// cachescan.Each; fn must neither change nor keep the user). A reader whose store cannot be
// reached is listed with copies, each made compact.
func Each(ctx context.Context, r client.Reader, namespace string, fn func(*User)) error {
	walked, err := cachescan.EachStored(ctx, r, orgUserKind, namespace, fn)
	if walked || err != nil {
		return err
	}
	var list rosterv1.OrgUserList
	opts := []client.ListOption{}
	if namespace != "" {
		opts = append(opts, client.InNamespace(namespace))
	}
	if err := r.List(ctx, &list, opts...); err != nil {
		return err
	}
	for i := range list.Items {
		fn(New(&list.Items[i]))
	}
	return nil
}
