package controllers

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/access"
	"github.com/rosterhq/roster/internal/slimuser"
)

// TestUserSubjectOfCachedUser: the subject the controllers render of a cached (compact) user
// is access.UserSubject's of the OrgUser, for either claim, and the emails are decoded only
// when the claim is email. One scratch serves every case, as a render's loop reuses it.
func TestUserSubjectOfCachedUser(t *testing.T) {
	specs := map[string]*rosterv1.AccessSpec{
		"nil":             nil,
		"default":         {Subjects: rosterv1.SubjectsUser},
		"userName prefix": {Subjects: rosterv1.SubjectsUser, UserClaim: rosterv1.UserClaimUserName, UserPrefix: "oidc:"},
		"email":           {Subjects: rosterv1.SubjectsUser, UserClaim: rosterv1.UserClaimEmail},
		"email prefix":    {Subjects: rosterv1.SubjectsUser, UserClaim: rosterv1.UserClaimEmail, UserPrefix: "oidc:"},
	}
	deleted := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	user := func(name string, edit func(*rosterv1.OrgUser)) *rosterv1.OrgUser {
		u := &rosterv1.OrgUser{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "org-acme", ResourceVersion: "7", Generation: 2},
			Spec: rosterv1.OrgUserSpec{UserName: "ada@example.com", DisplayName: "Ada",
				Emails: []rosterv1.MultiValued{{Value: "ada@home.org", Type: "home"}, {Value: "ada@work.com", Type: "work", Primary: ptr.To(true)}}},
		}
		edit(u)
		return u
	}
	users := []*rosterv1.OrgUser{
		user("primary second", func(*rosterv1.OrgUser) {}),
		user("no primary", func(u *rosterv1.OrgUser) { u.Spec.Emails[1].Primary = nil }),
		user("primary false", func(u *rosterv1.OrgUser) { u.Spec.Emails[0].Primary = ptr.To(false) }),
		user("primary empty", func(u *rosterv1.OrgUser) { u.Spec.Emails[1].Value = "" }),
		// Okta's usual: the email is the userName (the compact form refers to it).
		user("email is userName", func(u *rosterv1.OrgUser) {
			u.Spec.Emails = []rosterv1.MultiValued{{Value: u.Spec.UserName, Primary: ptr.To(true)}}
		}),
		user("email is userName, not primary", func(u *rosterv1.OrgUser) {
			u.Spec.Emails = []rosterv1.MultiValued{{Value: "b@x.org"}, {Value: u.Spec.UserName}}
		}),
		user("no emails", func(u *rosterv1.OrgUser) { u.Spec.Emails = nil }),
		user("empty emails", func(u *rosterv1.OrgUser) { u.Spec.Emails = []rosterv1.MultiValued{{Type: "work"}} }),
		user("no userName", func(u *rosterv1.OrgUser) { u.Spec.UserName = "" }),
		user("active", func(u *rosterv1.OrgUser) { u.Spec.Active = ptr.To(true) }),
		user("inactive", func(u *rosterv1.OrgUser) { u.Spec.Active = ptr.To(false) }),
		user("deleting", func(u *rosterv1.OrgUser) {
			u.DeletionTimestamp, u.Finalizers = &deleted, []string{Finalizer}
		}),
		user("inactive and deleting", func(u *rosterv1.OrgUser) {
			u.Spec.Active, u.DeletionTimestamp, u.Finalizers = ptr.To(false), &deleted, []string{Finalizer}
		}),
	}
	var scratch rosterv1.OrgUser
	given := 0
	for specName, a := range specs {
		for _, u := range users {
			t.Run(fmt.Sprintf("%s/%s", specName, u.Name), func(t *testing.T) {
				want, wantOK := access.UserSubject(a, u)
				got, ok := userSubject(a, slimuser.New(u), &scratch)
				if got != want || ok != wantOK {
					t.Errorf("userSubject = %+v, %v; access.UserSubject = %+v, %v", got, ok, want, wantOK)
				}
				if wantOK {
					given++
				}
				emailClaim := a != nil && a.UserClaim == rosterv1.UserClaimEmail
				if !emailClaim && scratch.Spec.Emails != nil {
					t.Errorf("%s: the emails were decoded (%v)", specName, scratch.Spec.Emails)
				}
			})
		}
	}
	// The table is not all refusals: both outcomes are compared.
	if given == 0 || given == len(specs)*len(users) {
		t.Errorf("%d of %d cases give a subject: the table compares one outcome only", given, len(specs)*len(users))
	}
}
