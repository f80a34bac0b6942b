package slimuser

import (
	"reflect"
	"testing"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// TestAccessorsDoNotAllocate: what the Organization's counts, the ordered index and the
// controllers read of every cached user costs no allocation, whatever the user holds (a
// packed UID or annotation time is skipped, not formatted).
func TestAccessorsDoNotAllocate(t *testing.T) {
	u := filledUser(t)
	u.UID = "8f1f7a3e-1c2d-4e5f-9a8b-7c6d5e4f3a2b"
	u.Annotations = map[string]string{rosterv1.LastModifiedAnnotation: "2026-01-02T03:04:05.123456Z"}
	u.Spec.Emails[0].Value = u.Spec.UserName
	s := New(u)
	cond := u.Status.Conditions[1].Type
	for name, fn := range map[string]func(){
		"Condition":        func() { s.Condition(cond) },
		"Condition (none)": func() { s.Condition("Nope") },
		"Active":           func() { s.Active() },
		"UserName":         func() { _ = s.UserName() },
		"DisplayName":      func() { _ = s.DisplayName() },
		"ExternalID":       func() { _ = s.ExternalID() },
		"Created":          func() { s.GetCreationTimestamp() },
		"Emails": func() {
			for range s.Emails() {
			}
		},
	} {
		if n := testing.AllocsPerRun(100, fn); n > 0 {
			t.Errorf("%s: %.0f allocations", name, n)
		}
	}
}

// TestGetFinalizersInPlace: the finalizers the store controllers' predicate reads of every
// update event's old and new user are those of the OrgUser, read without decoding one (only
// the returned slice is allocated; none when there are no finalizers).
func TestGetFinalizersInPlace(t *testing.T) {
	for name, tc := range map[string]struct {
		finalizers []string
		allocs     float64
	}{
		"none":    {nil, 0},
		"empty":   {[]string{}, 0},
		"one":     {[]string{"scim.roster.dev/identity-store"}, 1},
		"several": {[]string{"scim.roster.dev/identity-store", "example.com/other", "foregroundDeletion"}, 1},
	} {
		t.Run(name, func(t *testing.T) {
			u := filledUser(t)
			u.Finalizers = tc.finalizers
			s := New(u)
			got := s.GetFinalizers()
			if !reflect.DeepEqual(got, u.Finalizers) {
				t.Errorf("GetFinalizers() = %#v, want %#v", got, u.Finalizers)
			}
			if want := s.OrgUser().Finalizers; !reflect.DeepEqual(got, want) {
				t.Errorf("GetFinalizers() = %#v, the decoded OrgUser's %#v", got, want)
			}
			if n := testing.AllocsPerRun(100, func() { s.GetFinalizers() }); n != tc.allocs {
				t.Errorf("GetFinalizers: %.0f allocations, want %.0f", n, tc.allocs)
			}
		})
	}
}
