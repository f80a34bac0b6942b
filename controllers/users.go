package controllers

import (
	"context"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/access"
	"github.com/rosterhq/roster/internal/slimuser"
)

// The manager's cache holds users in compact form (internal/slimuser): a read of the cached
// object itself (what client.UnsafeDisableDeepCopy gave before) goes through slimuser.Reader.

// userReader reads cached users in place from cache (the manager's, set by SetupWithManager),
// or with a copy per read from c when there is none (a reconciler built by hand in a test).
func userReader(cache, c client.Reader) slimuser.Reader {
	if cache != nil {
		return slimuser.Reader{Cache: cache}
	}
	return slimuser.Reader{Cache: c}
}

// subjectMask is what userSubject decodes.
var subjectMask = func() slimuser.Mask {
	m, ok := slimuser.SpecMask(access.SubjectAttributes...)
	if !ok {
		panic("access.SubjectAttributes names an attribute OrgUserSpec does not have")
	}
	return m
}()

// userSubject is access.UserSubject of a cached user, decoding only what it reads into
// scratch (reused by the caller for each member: nothing of it is kept).
func userSubject(a *rosterv1.AccessSpec, u *slimuser.User, scratch *rosterv1.OrgUser) (rbacv1.Subject, bool) {
	*scratch = rosterv1.OrgUser{}
	u.DecodeInto(scratch, subjectMask)
	scratch.DeletionTimestamp = u.GetDeletionTimestamp()
	return access.UserSubject(a, scratch)
}

// cachedUser reads one cached user in place.
func cachedUser(ctx context.Context, r slimuser.Reader, namespace, name string) (*slimuser.User, error) {
	return r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name})
}
