package controllers

import (
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

// emailsMask is what userSubject decodes, and only with userClaim email: the default claim,
// userName, is read in place.
var emailsMask = func() slimuser.Mask {
	m, ok := slimuser.SpecMask("emails")
	if !ok {
		panic("OrgUserSpec has no emails")
	}
	return m
}()

// userSubject is access.UserSubject of a cached user. It reads what the decision needs in
// place (active, deletion, userName) and decodes the emails into scratch (reused by the caller
// for each member: nothing of it is kept) only when the subject is the email: rendering a
// team of 100,000 members reads each of them.
func userSubject(a *rosterv1.AccessSpec, u *slimuser.User, scratch *rosterv1.OrgUser) (rbacv1.Subject, bool) {
	if !u.Active() || !u.GetDeletionTimestamp().IsZero() {
		return rbacv1.Subject{}, false
	}
	*scratch = rosterv1.OrgUser{}
	if a != nil && a.UserClaim == rosterv1.UserClaimEmail {
		u.DecodeInto(scratch, emailsMask)
	} else {
		scratch.Spec.UserName = u.UserName()
	}
	return access.UserSubject(a, scratch)
}
